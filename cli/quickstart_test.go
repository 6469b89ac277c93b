package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
	if !strings.Contains(r.stdout, "no NIR file: NIR cannot express the AGMM gates") {
		t.Errorf("the summary does not say why no NIR file was written:\n%s", r.stdout)
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

// TestQuickstartWithoutAGMMToNIR: `quickstart --agmm off` writes a BSNN
// without gates and its NIR file; the command line takes the quickstart's
// model to NIR and back (export --profile nir, then import, which checks
// the model read back against the NIR graph), and reads the quickstart's
// own bsnn.nir.
func TestQuickstartWithoutAGMMToNIR(t *testing.T) {
	dir := t.TempDir()
	r := bsnnctl(t, "quickstart", "--out", dir, "--agmm", "off", "--epochs", "1", "--train-limit", "256", "--test-limit", "128").ok(t)
	if !strings.Contains(r.stdout, "AGMM off") || !strings.Contains(r.stdout, filepath.Join(dir, "bsnn.nir")) {
		t.Errorf("the summary does not name the import without gates and the NIR file:\n%s", r.stdout)
	}
	nirFile, back := filepath.Join(dir, "cli.nir"), filepath.Join(dir, "back.onnx")
	bsnnctl(t, "export", filepath.Join(dir, "bsnn_portable.onnx"), "--profile", "nir", "-o", nirFile).ok(t)
	for _, f := range []string{nirFile, filepath.Join(dir, "bsnn.nir")} {
		r := bsnnctl(t, "import", f, "-o", back, "--json").ok(t)
		if !strings.Contains(r.stdout, `"verified": true`) {
			t.Errorf("import %s: not verified:\n%s", f, r.stdout)
		}
		m, err := onnx.DecodeFile(back)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(bsnn.BinaryLayers(m)); got != 2 {
			t.Errorf("import %s: %d binary layers, want 2", f, got)
		}
	}
}
