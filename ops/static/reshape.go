package static

import (
	"fmt"
	"slices"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// The reshape family: Reshape, Flatten, Squeeze, Unsqueeze (data kept,
// shape changed: folding one is Reshaped with the inferred shape) and
// Shape (whose value is its input's shape).

// Reshaped returns t with new dimensions and the same data.
func Reshaped(t *onnx.Tensor, dims []int64) *onnx.Tensor {
	r := *t
	r.Name = ""
	r.Dims = slices.Clone(dims)
	return &r
}

// ReshapeTarget reads Reshape's target shape: the shape attribute before
// opset 5, the constant second input after.
func ReshapeTarget(n *onnx.Node, opset int, in []Input) ([]int64, error) {
	if opset < 5 {
		return n.Ints("shape", nil), nil
	}
	if !present(in, 1) {
		return nil, fmt.Errorf("Reshape without a shape input")
	}
	return constInts(in, 1, "Reshape shape")
}

// Reshape infers Reshape's output shape for input shape x and target: 0
// copies the input's dimension at the same axis (unless allowZero, where it
// is a zero-size dimension), one -1 takes whatever size is left. Symbolic
// dimensions of x may be copied, moved or stand for themselves in the
// target, and a -1 absorbs them only when no other factor remains (the
// symbolic size is never merged with a known one).
func Reshape(x, target []int64, allowZero bool) ([]int64, error) {
	out := make([]int64, len(target))
	neg := -1
	for i, d := range target {
		switch {
		case d == 0 && !allowZero:
			if i >= len(x) {
				return nil, fmt.Errorf("Reshape target %s copies dimension %d of a rank-%d input", FormatShape(target), i, len(x))
			}
			out[i] = x[i]
		case d == -1:
			if neg >= 0 {
				return nil, fmt.Errorf("Reshape target %s has two -1", FormatShape(target))
			}
			neg = i
		case d < 0 && d != Symbolic:
			return nil, fmt.Errorf("Reshape target %s is invalid", FormatShape(target))
		default:
			out[i] = d
		}
	}
	xs, xn := symbolicFactor(x)
	os, on := symbolicFactor(slices.Delete(slices.Clone(out), max(neg, 0), max(neg+1, 0)))
	if neg < 0 {
		if xs != os || xn != on {
			return nil, fmt.Errorf("cannot reshape %s to %s: the element counts differ", FormatShape(x), FormatShape(target))
		}
		return out, nil
	}
	switch {
	case on == 0 || xn%on != 0 || xs < os:
		return nil, fmt.Errorf("cannot infer the -1 of %s for an input of shape %s", FormatShape(target), FormatShape(x))
	case xs == os:
		out[neg] = xn / on
	case xs == os+1 && xn == on:
		out[neg] = Symbolic
	default:
		return nil, fmt.Errorf("reshaping %s to %s merges a size known only at run time with others", FormatShape(x), FormatShape(target))
	}
	return out, nil
}

// FlattenAxis reads Flatten's axis for an input of the given rank.
func FlattenAxis(n *onnx.Node, rank int) (int, error) {
	a, err := normAxisIncl(n.Int("axis", 1), rank)
	if err != nil {
		return 0, fmt.Errorf("Flatten %w", err)
	}
	return a, nil
}

// Flatten infers Flatten's output [Prod(x[:axis]), Prod(x[axis:])]; a
// Symbolic dimension survives only as a whole side of its own.
func Flatten(x []int64, axis int) ([]int64, error) {
	var out []int64
	for _, part := range [][]int64{x[:axis], x[axis:]} {
		s, n := symbolicFactor(part)
		switch {
		case s == 0:
			out = append(out, n)
		case s == 1 && n == 1:
			out = append(out, Symbolic)
		default:
			return nil, fmt.Errorf("Flatten(axis=%d) of %s merges a size known only at run time with others", axis, FormatShape(x))
		}
	}
	return out, nil
}

// Axes reads the axes of Squeeze, Unsqueeze and the reductions: the
// attribute before opset inputSince, the optional constant second input
// from then on. given is false when the node has none.
func Axes(n *onnx.Node, opset, inputSince int, in []Input) (axes []int64, given bool, err error) {
	if opset < inputSince {
		return n.Ints("axes", nil), n.Has("axes"), nil
	}
	axes, err = constInts(in, 1, "axes")
	return axes, present(in, 1), err
}

// Squeeze infers Squeeze's output: the listed axes (which must have size 1)
// removed, or every size-1 axis when axes is empty. It also returns the
// removed axes, normalized and sorted.
func Squeeze(x []int64, axes []int64) (out, removed []int64, err error) {
	drop := make([]bool, len(x))
	for _, a := range axes {
		ax, err := NormAxis(a, len(x))
		if err != nil {
			return nil, nil, fmt.Errorf("Squeeze %w", err)
		}
		if x[ax] != 1 {
			return nil, nil, fmt.Errorf("cannot squeeze axis %d of size %s", ax, formatDim(x[ax]))
		}
		drop[ax] = true
	}
	for i, d := range x {
		if drop[i] || len(axes) == 0 && d == 1 {
			removed = append(removed, int64(i))
			continue
		}
		out = append(out, d)
	}
	return out, removed, nil
}

// Unsqueeze infers Unsqueeze's output: a size-1 axis inserted at each of
// axes (positions in the output). It also returns the inserted axes,
// normalized and sorted.
func Unsqueeze(x []int64, axes []int64) (out, inserted []int64, err error) {
	r := len(x) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		ax, err := NormAxis(a, r)
		if err != nil {
			return nil, nil, fmt.Errorf("Unsqueeze %w", err)
		}
		if ins[ax] {
			return nil, nil, fmt.Errorf("Unsqueeze axis %d repeated in %v", ax, axes)
		}
		ins[ax] = true
	}
	k := 0
	for i := range r {
		if ins[i] {
			out = append(out, 1)
			inserted = append(inserted, int64(i))
			continue
		}
		out = append(out, x[k])
		k++
	}
	return out, inserted, nil
}

// Shape folds the Shape op: its input's shape from start to end (opset 15
// attributes; negative values count from the end, both are clamped).
func Shape(n *onnx.Node, opset int, x []int64) *onnx.Tensor {
	r := int64(len(x))
	start, end := int64(0), r
	if opset >= 15 {
		start, end = n.Int("start", 0), n.Int("end", r)
	}
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = clamp(start), clamp(end)
	v := []int64{}
	if end > start {
		v = append(v, x[start:end]...)
	}
	return &onnx.Tensor{Type: onnx.Int64, Dims: []int64{int64(len(v))}, Int64: v}
}
