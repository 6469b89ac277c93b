package bsnn_test

import (
	"os/exec"
	"strings"
	"testing"
)

// engineFree are the packages that read and write BSNN files without the
// Gorgonia engine: they must never link it, nor onnx-go (which links it).
var engineFree = []string{"./bsnn", "./convert", "./export", "./ops/static", "./ops/spiking", "./onnx"}

func isEngine(path string) bool {
	return strings.HasPrefix(path, "gorgonia.org/") || strings.HasPrefix(path, "github.com/owulveryck/onnx-go")
}

// TestNoEngineDependency runs `go list -deps` on the format, converter and
// exporter packages and fails, naming the importer, on any Gorgonia or
// onnx-go package among their (non-test) dependencies.
func TestNoEngineDependency(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	args := append([]string{"list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`}, engineFree...)
	cmd := exec.Command(goBin, args...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < len(engineFree) {
		t.Fatalf("go list printed %d packages for %v:\n%s", len(lines), engineFree, out)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if isEngine(imp) && !isEngine(f[0]) {
				t.Errorf("%s imports %s: %v must not depend on the engine", f[0], imp, engineFree)
			}
		}
	}
}
