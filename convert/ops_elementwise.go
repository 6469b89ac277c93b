package convert

import (
	"errors"
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Activations, elementwise arithmetic, softmax, reductions and the ops the
// normalizer removes (Dropout, Identity), on runtime tensors.

func buildRelu(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Relu input must be a runtime tensor"
	}
	c := z.add(n, "Relu", []string{in[0]}, nil)
	c.lo, c.hi = 0, float32(math.Inf(1))
	z.shapes[n.Outputs[0]] = xs
	return ""
}

func buildClip(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Clip input must be a runtime tensor"
	}
	lo, hi, hasMin, err := static.ClipBounds(n, z.opset, z.inputs(in))
	if err != nil {
		return err.Error()
	}
	if !hasMin || lo != 0 {
		return fmt.Sprintf("Clip(min=%g) has no LIF equivalent; only Clip(min=0) (ReLU, ReLU6) becomes a LIF neuron", lo)
	}
	if !(hi > 0) {
		return fmt.Sprintf("Clip(min=0, max=%g) is constant", hi)
	}
	c := z.add(n, "Clip", []string{in[0]}, nil)
	c.lo, c.hi = lo, hi
	z.shapes[n.Outputs[0]] = xs
	return ""
}

func buildUnary(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return n.OpType + " input must be a runtime tensor"
	}
	z.add(n, n.OpType, []string{in[0]}, nil)
	z.shapes[n.Outputs[0]] = xs
	return ""
}

// bcastRuntime broadcasts two shapes of which at least one is a runtime
// shape (symN at axis 0); the batch axis must stay at axis 0 and no
// constant may span it.
func bcastRuntime(a, b []int64) ([]int64, string) {
	out, err := static.Broadcast(a, b)
	var be *static.BroadcastError
	switch {
	case errors.As(err, &be) && (be.DimA == symN || be.DimB == symN):
		return nil, fmt.Sprintf("a tensor of shape %s spans the batch axis of %s", shapeString(b), shapeString(a))
	case err != nil:
		return nil, err.Error()
	case out[0] != symN:
		return nil, fmt.Sprintf("broadcasting %s with %s moves the batch axis", shapeString(a), shapeString(b))
	}
	for _, d := range out[1:] {
		if d == symN {
			return nil, "the batch axis appears twice"
		}
	}
	return out, ""
}

func buildBinary(z *normalizer, n *onnx.Node, in []string) string {
	if len(in) != 2 {
		return n.OpType + " needs two inputs"
	}
	var shapes [2][]int64
	for i, name := range in {
		if s, ok := z.runtime(name); ok {
			shapes[i] = s
			continue
		}
		c := z.consts[name]
		if c == nil {
			return fmt.Sprintf("input %q is unknown", name)
		}
		if c.Type != onnx.Float {
			return fmt.Sprintf("constant operand %q is %s; float32 is supported", name, c.Type)
		}
		shapes[i] = c.Dims
	}
	out, why := bcastRuntime(shapes[0], shapes[1])
	if why != "" {
		return why
	}
	z.add(n, n.OpType, []string{in[0], in[1]}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildSoftmax(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return n.OpType + " input must be a runtime tensor"
	}
	a, coerced, err := static.SoftmaxAxis(n, z.opset, len(xs))
	if err != nil {
		return err.Error()
	}
	switch {
	case a >= len(xs):
		return fmt.Sprintf("%s axis %d out of range", n.OpType, a)
	case a == 0:
		return n.OpType + " over the batch axis"
	}
	if coerced {
		if k, _ := static.Numel(xs[a+1:]); k != 1 {
			return fmt.Sprintf("%s(axis=%d) before opset 13 normalises over the flattened trailing axes of %s; only a trailing axis converts", n.OpType, a, shapeString(xs))
		}
	}
	z.add(n, n.OpType, []string{in[0]}, []*onnxpb.AttributeProto{onnx.AttrInt("axis", int64(a))})
	z.shapes[n.Outputs[0]] = xs
	return ""
}

func buildReduceMean(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "ReduceMean input must be a runtime tensor"
	}
	if len(in) > 1 && in[1] != "" && z.consts[in[1]] == nil {
		return "ReduceMean axes must be constant"
	}
	axes, why := z.axesOf(n, in)
	if why != "" {
		return why
	}
	keep := n.Int("keepdims", 1) != 0
	red, err := static.Reduce(xs, axes, keep, z.opset >= 18 && n.Int("noop_with_empty_axes", 0) != 0)
	switch {
	case err != nil:
		return err.Error()
	case red.Noop:
		z.alias[n.Outputs[0]] = in[0]
		return ""
	case red.Reduced[0] && len(axes) == 0:
		return "ReduceMean over all axes includes the batch axis"
	case red.Reduced[0]:
		return "ReduceMean over the batch axis"
	}
	z.add(n, "ReduceMean", []string{in[0]}, []*onnxpb.AttributeProto{
		onnx.AttrInts("axes", red.Axes...), onnx.AttrInt("keepdims", b2i(keep))})
	z.shapes[n.Outputs[0]] = red.Out
	return ""
}

func buildDropout(z *normalizer, n *onnx.Node, in []string) string {
	if _, ok := z.runtime(in[0]); !ok {
		return "Dropout input must be a runtime tensor"
	}
	if why := z.onlyFirstOutput(n); why != "" {
		return why
	}
	if len(in) > 2 && in[2] != "" {
		c := z.consts[in[2]]
		if c == nil || static.IsFloatType(c.Type) || c.Len() != 1 || c.Ints()[0] != 0 {
			return "Dropout in training mode (export the network in eval mode)"
		}
	}
	z.alias[n.Outputs[0]] = in[0]
	return ""
}

func buildIdentity(z *normalizer, n *onnx.Node, in []string) string {
	if _, ok := z.runtime(in[0]); !ok {
		return "Identity input is unknown"
	}
	z.alias[n.Outputs[0]] = in[0]
	return ""
}
