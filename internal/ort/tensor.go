package ort

import (
	"errors"
	"fmt"
	"sort"
)

// ErrUnavailable is wrapped by every error that means "onnxruntime is not
// there" (no library, or a build without cgo), as opposed to "onnxruntime
// ran and rejected the model".
var ErrUnavailable = errors.New("interop tool unavailable")

// Tensor is a dense tensor passed to or returned by Run. Exactly one of
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
