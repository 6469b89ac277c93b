package convert

import (
	"errors"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Constant folding: the ops evaluated at conversion time when all their
// inputs are known, with the semantics of ops/static (Shape also when its
// input is a runtime tensor: the batch axis becomes symN).

// foldOps are the ops evaluated at conversion time.
var foldOps = map[string]bool{
	"Constant": true, "Identity": true, "Dropout": true, "Cast": true, "Shape": true,
	"Gather": true, "Unsqueeze": true, "Squeeze": true, "Concat": true, "Reshape": true,
	"Flatten": true, "Slice": true, "Transpose": true, "Add": true, "Sub": true, "Mul": true,
	"Div": true, "Neg": true, "Sqrt": true, "ConstantOfShape": true,
}

// inputs describes a node's (resolved) inputs for ops/static.
func (z *normalizer) inputs(in []string) []static.Input {
	out := make([]static.Input, len(in))
	for i, name := range in {
		if name == "" {
			continue
		}
		out[i] = static.Input{Name: name, Const: z.consts[name]}
		if c := out[i].Const; c != nil {
			out[i].Shape = c.Dims
		} else {
			out[i].Shape = z.shapes[name]
		}
	}
	return out
}

// evalConst computes a node whose inputs are all known. It returns the
// outputs, or the reason the node cannot be folded.
func (z *normalizer) evalConst(n *onnx.Node, in []static.Input) ([]*onnx.Tensor, string) {
	t, err := z.fold(n, in)
	if err != nil {
		return nil, err.Error()
	}
	return []*onnx.Tensor{t}, ""
}

func (z *normalizer) fold(n *onnx.Node, in []static.Input) (*onnx.Tensor, error) {
	x := func(i int) *onnx.Tensor {
		if i < len(in) {
			return in[i].Const
		}
		return nil
	}
	switch n.OpType {
	case "Constant":
		return static.Constant(n)
	case "Identity":
		return x(0), nil
	case "Dropout":
		if len(n.Outputs) > 1 && n.Outputs[1] != "" && z.used(n.Outputs[1]) {
			return nil, errors.New("the Dropout mask output is used")
		}
		return x(0), nil
	case "Cast":
		return static.FoldCast(x(0), onnx.DataType(n.Int("to", int64(onnx.Float))))
	case "Gather":
		return static.FoldGather(x(0), x(1), n.Int("axis", 0))
	case "Unsqueeze", "Squeeze":
		axes, _, err := static.Axes(n, z.opset, 13, in)
		if err != nil {
			return nil, err
		}
		f := static.Squeeze
		if n.OpType == "Unsqueeze" {
			f = static.Unsqueeze
		}
		dims, _, err := f(x(0).Dims, axes)
		if err != nil {
			return nil, err
		}
		return static.Reshaped(x(0), dims), nil
	case "Concat":
		var parts []*onnx.Tensor
		var shapes [][]int64
		for _, c := range in {
			if c.Const != nil {
				parts, shapes = append(parts, c.Const), append(shapes, c.Const.Dims)
			}
		}
		_, a, err := static.Concat(shapes, n.Int("axis", 0))
		if err != nil {
			return nil, err
		}
		return static.FoldConcat(parts, a)
	case "Reshape":
		target, err := static.ReshapeTarget(n, z.opset, in)
		if err != nil {
			return nil, err
		}
		dims, err := static.Reshape(x(0).Dims, target, n.Int("allowzero", 0) != 0)
		if err != nil {
			return nil, err
		}
		return static.Reshaped(x(0), dims), nil
	case "Flatten":
		a, err := static.FlattenAxis(n, len(x(0).Dims))
		if err != nil {
			return nil, err
		}
		dims, err := static.Flatten(x(0).Dims, a)
		if err != nil {
			return nil, err
		}
		return static.Reshaped(x(0), dims), nil
	case "Slice":
		starts, ends, axes, steps, err := static.SliceArgs(n, z.opset, in)
		if err != nil {
			return nil, err
		}
		reg, err := static.Slice(x(0).Dims, starts, ends, axes, steps)
		if err != nil {
			return nil, err
		}
		return static.FoldSlice(x(0), reg), nil
	case "Transpose":
		perm, err := static.Perm(n, len(x(0).Dims))
		if err != nil {
			return nil, err
		}
		return static.FoldTranspose(x(0), perm), nil
	case "Add", "Sub", "Mul", "Div":
		if x(1) == nil {
			return nil, errors.New(n.OpType + " needs two inputs")
		}
		return static.FoldArith(n.OpType, x(0), x(1))
	case "Neg", "Sqrt":
		return static.FoldUnary(n.OpType, x(0))
	case "ConstantOfShape":
		return static.ConstantOfShape(n, x(0))
	case "Relu", "Clip":
		return nil, errors.New("a " + n.OpType + " on a constant path cannot become a LIF neuron")
	}
	return nil, errors.New("cannot fold " + n.OpType + " on constant inputs")
}

// foldShape folds Shape: its output is known even when its input is a
// runtime tensor (the batch axis becomes symN).
func (z *normalizer) foldShape(n *onnx.Node, in []string) {
	var dims []int64
	if c := z.consts[in[0]]; c != nil {
		dims = c.Dims
	} else if s, ok := z.shapes[in[0]]; ok {
		dims = s
	} else {
		z.fail(n, "shape of its input is unknown")
		return
	}
	z.consts[n.Outputs[0]] = static.Shape(n, z.opset, dims)
}

// axesOf reads the axes of Squeeze/Unsqueeze (input since opset 13) and
// ReduceMean (input since 18); nil when absent.
func (z *normalizer) axesOf(n *onnx.Node, in []string) ([]int64, string) {
	since := 13
	if n.OpType == "ReduceMean" {
		since = 18
	}
	axes, _, err := static.Axes(n, z.opset, since, z.inputs(in))
	if err != nil {
		return nil, err.Error()
	}
	return axes, ""
}
