package static

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Reductions (ReduceMean, ReduceSum) and the axis of Softmax and
// LogSoftmax.

// A Reduction is a resolved reduction over an input of shape In.
type Reduction struct {
	In []int64
	// Reduced[i] tells whether axis i is reduced; Keep is In with the
	// reduced axes set to 1 (the keepdims shape); Out is the output shape
	// (Keep, or In without the reduced axes).
	Reduced   []bool
	Keep, Out []int64
	// Axes lists the reduced axes, normalized and sorted.
	Axes []int64
	// Noop: noop_with_empty_axes with no axes, the output is the input.
	Noop bool
}

// Reduce resolves a reduction of an input of shape x over axes (all axes
// when empty, unless noopEmpty) with keepdims.
func Reduce(x []int64, axes []int64, keepdims, noopEmpty bool) (*Reduction, error) {
	r := &Reduction{In: x, Reduced: make([]bool, len(x)), Keep: make([]int64, len(x)), Out: []int64{}}
	if len(axes) == 0 && noopEmpty {
		r.Noop = true
		copy(r.Keep, x)
		r.Out = x
		return r, nil
	}
	for _, a := range axes {
		ax, err := NormAxis(a, len(x))
		if err != nil {
			return nil, fmt.Errorf("reduction %w", err)
		}
		r.Reduced[ax] = true
	}
	for i, d := range x {
		if len(axes) == 0 {
			r.Reduced[i] = true
		}
		r.Keep[i] = d
		if r.Reduced[i] {
			r.Axes = append(r.Axes, int64(i))
			r.Keep[i] = 1
			if keepdims {
				r.Out = append(r.Out, 1)
			}
			continue
		}
		r.Out = append(r.Out, d)
	}
	return r, nil
}

// ReduceArgs reads a reduction's axes (attribute before opset inputSince,
// optional constant input after), keepdims (default 1) and
// noop_with_empty_axes, and resolves it for an input of shape x.
func ReduceArgs(n *onnx.Node, opset, inputSince int, x []int64, in []Input) (*Reduction, error) {
	axes, _, err := Axes(n, opset, inputSince, in)
	if err != nil {
		return nil, err
	}
	noop := opset >= inputSince && n.Int("noop_with_empty_axes", 0) != 0
	return Reduce(x, axes, n.Int("keepdims", 1) != 0, noop)
}

// SoftmaxAxis reads the axis of Softmax or LogSoftmax for an input of the
// given rank. Before opset 13 (coerced) the input is flattened to 2-D at
// axis (default 1, which may equal the rank) and coerced is true; from
// opset 13 the op runs along the one axis (default -1).
func SoftmaxAxis(n *onnx.Node, opset, rank int) (axis int, coerced bool, err error) {
	if rank == 0 {
		return 0, false, fmt.Errorf("%s of a scalar", n.OpType)
	}
	if opset < 13 {
		a, err := normAxisIncl(n.Int("axis", 1), rank)
		return a, true, err
	}
	a, err := NormAxis(n.Int("axis", -1), rank)
	return a, false, err
}
