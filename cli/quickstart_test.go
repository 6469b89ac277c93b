package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// TestQuickstartShort runs a shortened quickstart (one epoch on a few
// hundred images) and checks what it promises: the files, a printed test
// accuracy, exported files that onnx's checker accepts, and no file with an
// unnamed output or a node input listed twice.
func TestQuickstartShort(t *testing.T) {
	dir := t.TempDir()
	r := bsnnctl(t, "quickstart", "--out", dir, "--epochs", "1", "--train-limit", "512", "--test-limit", "256").ok(t)
	m := regexp.MustCompile(`(?m)^test accuracy: ([0-9.]+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no final test accuracy line:\n%s", r.stdout)
	}
	acc, _ := strconv.ParseFloat(m[1], 64)
	// Even one short epoch of a converted, pretrained network is far above
	// chance (10%).
	if acc < 0.3 {
		t.Errorf("test accuracy %.3f after a short run: the pipeline is broken", acc)
	}
	for _, f := range []string{"ann.onnx", "bsnn.onnx", "run/metrics.jsonl", "run/final.onnx", "run/best.onnx", "bsnn_portable.onnx", "bsnn_packed.onnx"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	// Every file the quickstart writes survives QONNX's cleanup: no output
	// without a name, no node listing one tensor twice (issue 16).
	for _, f := range onnxFiles(t, dir) {
		for _, p := range namingProblems(t, f) {
			t.Error(p)
		}
	}
	for _, f := range []string{"bsnn_portable.onnx", "bsnn_packed.onnx"} {
		path := filepath.Join(dir, f)
		m, err := onnx.DecodeFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(bsnn.BinaryLayers(m)) == 0 {
			t.Errorf("%s: no binary layers", f)
		}
		if err := interop.PythonONNXAvailable(); err != nil {
			interop.Need(t, "Python onnx", err)
			continue
		}
		if err := interop.CheckModel(path); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
