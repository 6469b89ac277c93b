package onnxruntime

import "fmt"

// A Tensor is a named float32 or int64 tensor: exactly one of Float32 and
// Int64 holds its values, row-major in Shape.
type Tensor struct {
	Name    string
	Shape   []int64
	Float32 []float32
	Int64   []int64
}

func (t Tensor) check() error {
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("input %q: negative dimension in shape %v", t.Name, t.Shape)
		}
		n *= d
	}
	switch {
	case t.Float32 != nil && t.Int64 != nil:
		return fmt.Errorf("input %q holds both float32 and int64 values", t.Name)
	case t.Int64 != nil && int64(len(t.Int64)) != n, t.Int64 == nil && int64(len(t.Float32)) != n:
		return fmt.Errorf("input %q: %d values for shape %v", t.Name, max(len(t.Float32), len(t.Int64)), t.Shape)
	}
	return nil
}

// Options configure a session. Graph optimizations stay onnxruntime's
// default (all).
type Options struct {
	// IntraOpThreads and InterOpThreads size onnxruntime's thread pools
	// (0: onnxruntime's default, the number of physical cores).
	IntraOpThreads, InterOpThreads int
}
