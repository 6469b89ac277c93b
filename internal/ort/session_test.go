package ort_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/internal/ort"
)

// TestSessionRunsLeNet runs the LeNet fixture twice through one prepared
// call (the second run reuses the outputs of the first) on two intra-op
// threads and compares with PyTorch's output.
func TestSessionRunsLeNet(t *testing.T) {
	interop.NeedORT(t)
	dir := filepath.Join("..", "..", "testmodels", "fixtures", "lenet_op13_folded_dynamic")
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(dir, "output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(model, ort.SessionOptions{IntraOpThreads: 2, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if in := s.Inputs(); len(in) != 1 || in[0] != "input" {
		t.Fatalf("inputs %v, want [input]", in)
	}
	if _, err := s.Prepare(map[string]ort.Tensor{"nope": {Shape: []int64{1}, Float: []float32{0}}}); err == nil ||
		!strings.Contains(err.Error(), `no input "nope"`) {
		t.Fatalf("Prepare with a wrong name: %v", err)
	}
	if _, err := s.Prepare(map[string]ort.Tensor{"input": {Shape: x.Dims, Float: x.Floats()[1:]}}); err == nil {
		t.Fatal("Prepare with too few values: no error")
	}
	c, err := s.Prepare(map[string]ort.Tensor{"input": {Shape: x.Dims, Float: x.Floats()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for run := range 2 {
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		outs, err := c.Outputs()
		if err != nil {
			t.Fatal(err)
		}
		got := outs[0].Float
		if len(got) != want.Len() {
			t.Fatalf("run %d: %d outputs, want %d", run, len(got), want.Len())
		}
		for i, w := range want.Floats() {
			if math.Abs(float64(got[i]-w)) > 1e-4*(1+math.Abs(float64(w))) {
				t.Fatalf("run %d: output[%d] = %v, PyTorch %v", run, i, got[i], w)
			}
		}
	}
}

func TestNewSessionRejectsGarbage(t *testing.T) {
	interop.NeedORT(t)
	if _, err := ort.NewSession([]byte("not a model"), ort.SessionOptions{}); err == nil {
		t.Fatal("NewSession of garbage: no error")
	}
}
