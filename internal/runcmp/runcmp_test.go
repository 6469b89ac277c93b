package runcmp

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
)

func TestRelL2(t *testing.T) {
	for _, tc := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{3, 4}, []float32{3, 4}, 0},
		{[]float32{3, 5}, []float32{3, 4}, 0.2},
		{[]float32{0, 1e-3}, []float32{0, 0}, 1e-3},
	} {
		if got := RelL2(tc.a, tc.b); got < tc.want*(1-1e-6) || got > tc.want*(1+1e-6) {
			t.Errorf("RelL2(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestGradientFree: in the LeNet with its BatchNormalizations kept, the
// biases of the layers a BatchNormalization follows, and those
// BatchNormalizations' running means.
func TestGradientFree(t *testing.T) {
	m, err := onnx.DecodeFile(filepath.Join("..", "..", "testmodels", "fixtures", "lenet_op13_keepbn_dynamic", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := GradientFree(m)
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(maps.Keys(got))
	t.Log(names)
	if !got["conv1.bias"] || !got["bn1.running_mean"] || got["bn1.running_var"] || got["fc3.bias"] {
		t.Errorf("GradientFree = %v", names)
	}
}

// TestRuns: a run compares equal to itself and not to a run whose losses
// differ.
func TestRuns(t *testing.T) {
	model := filepath.Join("..", "..", "testmodels", "fixtures", "lenet_op13_keepbn_dynamic", "model.onnx")
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	write := func(loss string) string {
		dir := t.TempDir()
		lines := `{"kind":"step","step":1,"loss":2.5}` + "\n" + `{"kind":"step","step":2,"loss":` + loss + "}\n" + `{"kind":"epoch","loss":9}` + "\n"
		if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(lines), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "final.onnx"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, same, other := write("2.25"), write("2.2500000001"), write("2.3")
	if d, err := Runs(same, a, Tol, nil); err != nil || len(d) != 0 {
		t.Errorf("equal runs: %v %v", d, err)
	}
	if d, err := Runs(other, a, Tol, nil); err != nil || len(d) != 1 {
		t.Errorf("runs with another loss at step 2: %v %v", d, err)
	}
}
