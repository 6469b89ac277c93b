package onnxruntime_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/internal/onnxruntime"
)

func TestLibPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BSNNCTL_ORT_LIB", "")
	t.Setenv("BSNNCTL_CACHE", dir)
	if _, err := onnxruntime.LibPath(); !errors.Is(err, onnxruntime.ErrUnavailable) {
		t.Fatalf("empty cache: LibPath error = %v, want ErrUnavailable", err)
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		lib := filepath.Join(dir, "ort/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1")
		if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lib, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if p, err := onnxruntime.LibPath(); err != nil || p != lib {
			t.Fatalf("LibPath = %q, %v; want %q", p, err, lib)
		}
	}
	t.Setenv("BSNNCTL_ORT_LIB", filepath.Join(dir, "nope.so"))
	if _, err := onnxruntime.LibPath(); !errors.Is(err, onnxruntime.ErrUnavailable) {
		t.Fatalf("missing BSNNCTL_ORT_LIB: error = %v, want ErrUnavailable", err)
	}
}

// TestSessionRunsLeNet runs the LeNet fixture twice through one prepared
// call (the second run reuses the outputs of the first) and compares with
// PyTorch's output.
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
	s, err := onnxruntime.NewSession(model, onnxruntime.Options{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if in := s.Inputs(); len(in) != 1 || in[0] != "input" {
		t.Fatalf("inputs %v, want [input]", in)
	}
	if _, err := s.Prepare([]onnxruntime.Tensor{{Name: "nope", Shape: []int64{1}, Float32: []float32{0}}}); err == nil ||
		!strings.Contains(err.Error(), `no input "nope"`) {
		t.Fatalf("Prepare with a wrong name: %v", err)
	}
	if _, err := s.Prepare([]onnxruntime.Tensor{{Name: "input", Shape: x.Dims, Float32: x.Floats()[1:]}}); err == nil {
		t.Fatal("Prepare with too few values: no error")
	}
	c, err := s.Prepare([]onnxruntime.Tensor{{Name: "input", Shape: x.Dims, Float32: x.Floats()}})
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
		got := outs[0].Float32
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
	if _, err := onnxruntime.NewSession([]byte("not a model"), onnxruntime.Options{}); err == nil {
		t.Fatal("NewSession of garbage: no error")
	}
}
