package convert

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Shape ops on runtime tensors: shapes from ops/static, written in their
// opset-17 forms, and always keeping the batch at axis 0, unmerged.

func buildFlatten(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Flatten input must be a runtime tensor"
	}
	a, err := static.FlattenAxis(n, len(xs))
	if err != nil {
		return err.Error()
	}
	if a == 0 {
		return fmt.Sprintf("Flatten(axis=0) of %s merges the batch axis with others", shapeString(xs))
	}
	out, err := static.Flatten(xs, a)
	if err != nil {
		return err.Error()
	}
	z.add(n, "Flatten", []string{in[0]}, []*onnxpb.AttributeProto{onnx.AttrInt("axis", int64(a))})
	z.shapes[n.Outputs[0]] = out
	return ""
}

// buildReshape makes every Reshape batch-agnostic: the batch axis must stay
// at axis 0, unmerged; the written shape is [-1, d1, ...] with every other
// dimension explicit, so the same node works for [N, ...] and [T*N, ...].
func buildReshape(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Reshape input must be a runtime tensor"
	}
	if z.consts[arg(in, 1)] == nil {
		return "Reshape target shape is not a constant (nor a foldable shape computation)"
	}
	tc := z.consts[in[1]]
	if static.IsFloatType(tc.Type) || tc.Len() == 0 {
		return "Reshape target shape must be a non-empty integer tensor"
	}
	t := tc.Ints()
	allowZero := n.Int("allowzero", 0) != 0
	for j, d := range t[1:] {
		switch {
		case d == symN:
			return fmt.Sprintf("Reshape target %s puts the batch size at axis %d", shapeString(t), j+1)
		case d == 0 && allowZero:
			return "Reshape to a zero-size dimension"
		case d == -1 && t[0] == -1:
			return fmt.Sprintf("Reshape target %s is ambiguous about the batch axis", shapeString(t))
		}
	}
	first := t[0]
	if !(first == symN || first == -1 || first == 0 && !allowZero || z.staticBatch > 0 && first == z.staticBatch) {
		return fmt.Sprintf("Reshape target %s does not keep the batch at axis 0", shapeString(t))
	}
	out, err := static.Reshape(xs, append([]int64{symN}, t[1:]...), allowZero)
	if err != nil {
		return fmt.Sprintf("Reshape of %s to %s: %v", shapeString(xs), shapeString(t), err)
	}
	target := append([]int64{-1}, out[1:]...)
	sname := z.addConst(n.Label()+".shape", intConst([]int64{int64(len(target))}, target))
	z.add(n, "Reshape", []string{in[0], sname}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}

// batchAxisIn reports whether axes (for a rank-r tensor) name axis 0.
func batchAxisIn(axes []int64, r int) bool {
	for _, a := range axes {
		if na, err := static.NormAxis(a, r); err == nil && na == 0 {
			return true
		}
	}
	return false
}

func buildSqueeze(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Squeeze input must be a runtime tensor"
	}
	axes, why := z.axesOf(n, in)
	if why != "" {
		return why
	}
	if batchAxisIn(axes, len(xs)) {
		return "Squeeze of the batch axis"
	}
	out, removed, err := static.Squeeze(xs, axes)
	if err != nil {
		return err.Error()
	}
	if len(removed) == 0 {
		z.alias[n.Outputs[0]] = in[0]
		return ""
	}
	aname := z.addConst(n.Label()+".axes", intConst([]int64{int64(len(removed))}, removed))
	z.add(n, "Squeeze", []string{in[0], aname}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildUnsqueeze(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Unsqueeze input must be a runtime tensor"
	}
	axes, why := z.axesOf(n, in)
	if why != "" {
		return why
	}
	if axes == nil {
		return "Unsqueeze without axes"
	}
	if batchAxisIn(axes, len(xs)+len(axes)) {
		return "Unsqueeze at axis 0 moves the batch axis"
	}
	out, inserted, err := static.Unsqueeze(xs, axes)
	if err != nil {
		return err.Error()
	}
	aname := z.addConst(n.Label()+".axes", intConst([]int64{int64(len(inserted))}, inserted))
	z.add(n, "Unsqueeze", []string{in[0], aname}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildTranspose(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Transpose input must be a runtime tensor"
	}
	perm, err := static.Perm(n, len(xs))
	if err != nil {
		return err.Error()
	}
	if perm[0] != 0 {
		return fmt.Sprintf("Transpose perm %v moves the batch axis", perm)
	}
	p64 := make([]int64, len(perm))
	for i, p := range perm {
		p64[i] = int64(p)
	}
	z.add(n, "Transpose", []string{in[0]}, []*onnxpb.AttributeProto{onnx.AttrInts("perm", p64...)})
	z.shapes[n.Outputs[0]] = static.Transpose(xs, perm)
	return ""
}

func buildConcat(z *normalizer, n *onnx.Node, in []string) string {
	var shapes [][]int64
	for _, name := range in {
		s, ok := z.runtime(name)
		if !ok {
			return "Concat of a runtime tensor with a constant (the constant has no batch axis)"
		}
		shapes = append(shapes, s)
	}
	if len(shapes) == 0 {
		return "Concat without inputs"
	}
	if batchAxisIn([]int64{n.Int("axis", 0)}, len(shapes[0])) {
		return "Concat along the batch axis"
	}
	out, a, err := static.Concat(shapes, n.Int("axis", 0))
	if err != nil {
		return err.Error()
	}
	z.add(n, "Concat", append([]string{}, in...), []*onnxpb.AttributeProto{onnx.AttrInt("axis", int64(a))})
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildPad(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Pad input must be a runtime tensor"
	}
	mode := n.String("mode", "constant")
	if mode != "constant" && mode != "reflect" && mode != "edge" {
		return fmt.Sprintf("Pad mode %q is not supported at opset 17", mode)
	}
	if c := z.consts[arg(in, 2)]; c != nil && !static.IsFloatType(c.Type) {
		return "Pad constant_value must be a constant float scalar"
	}
	r := len(xs)
	begin, end, value, err := static.PadArgs(n, z.opset, r, z.inputs(in))
	if err != nil {
		return err.Error()
	}
	if begin[0] != 0 || end[0] != 0 {
		return "Pad on the batch axis"
	}
	out, err := static.Pad(xs, begin, end)
	if err != nil {
		return err.Error()
	}
	for _, d := range out[1:] {
		if d <= 0 {
			return "Pad removes a whole axis"
		}
	}
	pads := append(append([]int64{}, begin...), end...)
	pname := z.addConst(n.Label()+".pads", intConst([]int64{int64(2 * r)}, pads))
	inputs := []string{in[0], pname}
	if mode == "constant" && value != 0 {
		inputs = append(inputs, z.addConst(n.Label()+".value", floatConst(nil, []float32{float32(value)})))
	}
	z.add(n, "Pad", inputs, []*onnxpb.AttributeProto{onnx.AttrString("mode", mode)})
	z.shapes[n.Outputs[0]] = out
	return ""
}
