package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// namingProblems lists, independently of bsnn.CheckNames, what QONNX's
// cleanup would break in a file: an output listed without a name, and a
// node listing one tensor twice among its inputs.
func namingProblems(t *testing.T, path string) []string {
	t.Helper()
	m, err := onnx.DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, n := range m.Proto.Graph.Node {
		for k, o := range n.Output {
			if o == "" {
				bad = append(bad, fmt.Sprintf("%s: node %q output %d has no name", filepath.Base(path), n.GetName(), k))
			}
		}
		seen := map[string]bool{}
		for _, in := range n.Input {
			if in != "" && seen[in] {
				bad = append(bad, fmt.Sprintf("%s: node %q lists %q twice", filepath.Base(path), n.GetName(), in))
			}
			seen[in] = true
		}
	}
	return bad
}

// onnxFiles lists the .onnx files under dir.
func onnxFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".onnx") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFinetuneOldFile fine-tunes a file written before the naming rules
// (empty LIF outputs, the input repeated by a Concat of four copies) for two
// steps: it still trains, and every file the run writes obeys the rules.
func TestFinetuneOldFile(t *testing.T) {
	old := filepath.Join("..", "export", "testdata", "v1_mlp_portable.onnx")
	if p := namingProblems(t, old); len(p) == 0 {
		t.Fatal("the old-style fixture obeys the naming rules")
	}
	dir := t.TempDir()
	bsnnctl(t, "finetune", old, "--data", "fashion-mnist", "--out", dir, "--epochs", "1", "--max-steps", "2",
		"--batch", "16", "--train-limit", "64", "--test-limit", "64", "--no-progress").ok(t)
	files := onnxFiles(t, dir)
	if len(files) < 2 {
		t.Fatalf("the run wrote %d .onnx files: %v", len(files), files)
	}
	for _, f := range files {
		for _, p := range namingProblems(t, f) {
			t.Error(p)
		}
	}
}
