package interop

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"testing"
)

// ErrUnavailable is wrapped by every error that means "the external tool is
// not there" (as opposed to "the tool ran and rejected the model").
var ErrUnavailable = errors.New("interop tool unavailable")

// Required reports whether interop tools are mandatory: BSNNCTL_INTEROP=1.
func Required() bool { return os.Getenv("BSNNCTL_INTEROP") == "1" }

// Need ends the test when err (the result of an availability check such as
// InitORT or PythonONNXAvailable) is non-nil: with t.Fatalf when Required(),
// else with t.Skipf. what names the tool in the message.
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("%s is required (BSNNCTL_INTEROP=1) but unavailable: %v", what, err)
		return
	}
	t.Skipf("skipping: %s unavailable (BSNNCTL_INTEROP=1 makes this a failure): %v", what, err)
}

// NeedORT is Need(t, "onnxruntime", InitORT()).
func NeedORT(t testing.TB) {
	t.Helper()
	Need(t, "onnxruntime", InitORT())
}

// NeedPythonONNX is Need(t, "python3 onnx", PythonONNXAvailable()).
func NeedPythonONNX(t testing.TB) {
	t.Helper()
	Need(t, "python3 onnx", PythonONNXAvailable())
}

// Tensor is a dense tensor passed to or returned by RunORT. Exactly one of
// Float (float32) and Int64 holds the row-major data; a tensor with no
// elements and both nil is float32. An empty (non-nil or nil) Shape is a
// scalar holding one element.
type Tensor struct {
	Shape []int64
	Float []float32
	Int64 []int64
}

// NumElements is the product of Shape (1 for a scalar), or -1 when a
// dimension is negative.
func (t Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}

// IsInt64 reports whether t holds int64 data.
func (t Tensor) IsInt64() bool { return t.Int64 != nil }

// Validate checks that the data matches the shape and that one type is set.
func (t Tensor) Validate() error {
	n := t.NumElements()
	if n < 0 {
		return fmt.Errorf("negative dimension in shape %v", t.Shape)
	}
	switch {
	case t.Float != nil && t.Int64 != nil:
		return errors.New("both Float and Int64 are set")
	case t.Float != nil:
		if int64(len(t.Float)) != n {
			return fmt.Errorf("shape %v needs %d elements, Float has %d", t.Shape, n, len(t.Float))
		}
	case t.Int64 != nil:
		if int64(len(t.Int64)) != n {
			return fmt.Errorf("shape %v needs %d elements, Int64 has %d", t.Shape, n, len(t.Int64))
		}
	default:
		if n != 0 {
			return fmt.Errorf("shape %v needs %d elements, but neither Float nor Int64 is set", t.Shape, n)
		}
	}
	return nil
}

// validateInputs checks every input tensor and returns the names sorted.
func validateInputs(modelPath string, inputs map[string]Tensor) ([]string, error) {
	names := make([]string, 0, len(inputs))
	for name, t := range inputs {
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("onnxruntime: %s: input %q: %w", modelPath, name, err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}
