package interop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestTensorValidate(t *testing.T) {
	cases := []struct {
		name string
		t    Tensor
		ok   bool
	}{
		{"float", Tensor{Shape: []int64{2, 3}, Float: make([]float32, 6)}, true},
		{"int64", Tensor{Shape: []int64{4}, Int64: make([]int64, 4)}, true},
		{"scalar", Tensor{Float: []float32{1}}, true},
		{"empty", Tensor{Shape: []int64{0, 3}}, true},
		{"short", Tensor{Shape: []int64{2, 3}, Float: make([]float32, 5)}, false},
		{"long", Tensor{Shape: []int64{2}, Int64: make([]int64, 3)}, false},
		{"both", Tensor{Shape: []int64{1}, Float: []float32{1}, Int64: []int64{1}}, false},
		{"none", Tensor{Shape: []int64{1}}, false},
		{"negative", Tensor{Shape: []int64{-1}, Float: []float32{}}, false},
		{"scalar without value", Tensor{Float: []float32{}}, false},
	}
	for _, c := range cases {
		if err := c.t.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// Invalid inputs are reported before onnxruntime is even needed.
func TestRunORTRejectsInvalidInput(t *testing.T) {
	_, err := RunORT("unused.onnx", map[string]Tensor{"X": {Shape: []int64{2}, Float: []float32{1}}}, nil)
	if err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `"X"`) {
		t.Fatalf("RunORT = %v; want an input error naming X", err)
	}
}

// fakeTB records what Need does instead of ending the test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Fatalf(s string, a ...any) { f.fatal = fmt.Sprintf(s, a...) }
func (f *fakeTB) Skipf(s string, a ...any)  { f.skip = fmt.Sprintf(s, a...) }

func TestNeed(t *testing.T) {
	missing := fmt.Errorf("%w: nothing here", ErrUnavailable)
	for _, env := range []string{"", "0", "1"} {
		t.Run("BSNNCTL_INTEROP="+env, func(t *testing.T) {
			t.Setenv("BSNNCTL_INTEROP", env)
			f := &fakeTB{TB: t}
			Need(f, "tool", nil)
			if f.fatal != "" || f.skip != "" {
				t.Fatalf("Need with nil error ended the test: %+v", f)
			}
			Need(f, "tool", missing)
			if env == "1" {
				if f.fatal == "" || f.skip != "" || !strings.Contains(f.fatal, "nothing here") {
					t.Fatalf("required: fatal=%q skip=%q", f.fatal, f.skip)
				}
			} else if f.skip == "" || f.fatal != "" || !strings.Contains(f.skip, "tool") {
				t.Fatalf("optional: fatal=%q skip=%q", f.fatal, f.skip)
			}
		})
	}
}

func TestORTLibPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BSNNCTL_ORT_LIB", "")
	t.Setenv("BSNNCTL_CACHE", dir)
	if _, err := ORTLibPath(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("empty cache: ORTLibPath error = %v, want ErrUnavailable", err)
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		lib := filepath.Join(dir, "ort/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1")
		if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lib, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if p, err := ORTLibPath(); err != nil || p != lib {
			t.Fatalf("ORTLibPath = %q, %v; want %q", p, err, lib)
		}
	}
	t.Setenv("BSNNCTL_ORT_LIB", filepath.Join(dir, "nope.so"))
	if _, err := ORTLibPath(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("missing BSNNCTL_ORT_LIB: error = %v, want ErrUnavailable", err)
	}
}

func TestToolVersions(t *testing.T) {
	t.Run("onnxruntime", func(t *testing.T) {
		NeedORT(t)
		v, err := ORTVersion()
		if err != nil || v == "" {
			t.Fatalf("ORTVersion = %q, %v", v, err)
		}
		lib, _ := ORTLibPath()
		t.Logf("onnxruntime %s from %s", v, lib)
	})
	t.Run("python onnx", func(t *testing.T) {
		NeedPythonONNX(t)
		v, err := PythonONNXVersion()
		if err != nil || v == "" {
			t.Fatalf("PythonONNXVersion = %q, %v", v, err)
		}
		t.Logf("python3 onnx %s", v)
	})
}
