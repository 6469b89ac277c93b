package convert

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Compute layers, normalization and pooling on runtime tensors: shapes
// from ops/static, plus the converter's rules (constant float weights, the
// batch kept at axis 0).

func buildConv(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Conv input must be a runtime tensor"
	}
	w := z.consts[arg(in, 1)]
	if w == nil {
		return "Conv weight is not a constant (only Conv layers with initializer weights are supported)"
	}
	if w.Type != onnx.Float {
		return fmt.Sprintf("Conv weight is %s; float32 is supported", w.Type)
	}
	out, _, err := static.Conv(n, xs, w.Dims)
	if err != nil {
		return err.Error()
	}
	inputs := []string{in[0], in[1]}
	if len(in) > 2 && in[2] != "" {
		b := z.consts[in[2]]
		if b == nil || b.Type != onnx.Float || int64(b.Len()) != w.Dims[0] {
			return "Conv bias must be a float32 constant with one value per output channel"
		}
		inputs = append(inputs, in[2])
	}
	z.add(n, "Conv", inputs, cloneAttrs(n))
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildGemm(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Gemm input A must be a runtime tensor"
	}
	if n.Int("transA", 0) != 0 {
		return "Gemm with transA=1 moves the batch axis"
	}
	w := z.consts[arg(in, 1)]
	if w == nil {
		return "Gemm weight B is not a constant (only Gemm layers with initializer weights are supported)"
	}
	if w.Type != onnx.Float {
		return fmt.Sprintf("Gemm weight %v is %s; float32 is supported", w.Dims, w.Type)
	}
	var cdims []int64
	inputs := []string{in[0], in[1]}
	if len(in) > 2 && in[2] != "" {
		c := z.consts[in[2]]
		if c == nil || c.Type != onnx.Float {
			return "Gemm C must be a float32 constant"
		}
		cdims = c.Dims
		inputs = append(inputs, in[2])
	}
	out, err := static.Gemm(n, xs, w.Dims, nil)
	if err != nil {
		return err.Error()
	}
	if m := out[1]; cdims != nil {
		if size := int64(z.consts[in[2]].Len()); size != 1 && size != m || len(cdims) > 2 || len(cdims) == 2 && cdims[0] != 1 {
			return fmt.Sprintf("Gemm C of shape %v depends on the batch (want [%d], [1,%d] or a scalar)", cdims, m, m)
		}
	}
	z.add(n, "Gemm", inputs, cloneAttrs(n))
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildMatMul(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	w := z.consts[arg(in, 1)]
	if !ok || w == nil {
		return "MatMul is supported with a runtime input A and a constant weight B"
	}
	if w.Type != onnx.Float || len(w.Dims) != 2 {
		return fmt.Sprintf("MatMul of input %s with weight %v (%s)", shapeString(xs), w.Dims, w.Type)
	}
	out, err := static.MatMul(xs, w.Dims)
	if err != nil {
		return err.Error()
	}
	z.add(n, "MatMul", []string{in[0], in[1]}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildBN(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok || len(in) != 5 {
		return "BatchNormalization needs a runtime input and four parameters"
	}
	if n.Int("spatial", 1) != 1 {
		return "BatchNormalization with spatial=0 is not supported"
	}
	params := make([][]int64, 0, 4)
	for _, p := range in[1:] {
		c := z.consts[p]
		if c == nil || c.Type != onnx.Float {
			return fmt.Sprintf("BatchNormalization parameter %q must be a float32 constant", p)
		}
		params = append(params, c.Dims)
	}
	if _, err := static.BatchNormalization(n, z.opset, xs, params); err != nil {
		return err.Error()
	}
	if n.Int("training_mode", 0) != 0 {
		return "BatchNormalization in training mode (export the network in eval mode)"
	}
	if why := z.onlyFirstOutput(n); why != "" {
		return why
	}
	z.add(n, "BatchNormalization", append([]string{}, in...), []*onnxpb.AttributeProto{
		onnx.AttrFloat("epsilon", n.Float("epsilon", 1e-5)),
		onnx.AttrFloat("momentum", n.Float("momentum", 0.9)),
	})
	z.shapes[n.Outputs[0]] = xs
	return ""
}

func buildPool(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok || len(xs) < 3 {
		return n.OpType + " needs a runtime input of rank >= 3"
	}
	if why := z.onlyFirstOutput(n); why != "" {
		return why
	}
	var drop []string
	if n.OpType == "AveragePool" && n.Has("dilations") {
		// AveragePool has dilations only from opset 19 on; opset 17 cannot
		// express them, so only the all-ones value converts.
		for _, d := range n.Ints("dilations", nil) {
			if d != 1 {
				return "AveragePool with dilations != 1 cannot be written at opset 17"
			}
		}
		drop = append(drop, "dilations")
	}
	out, _, err := static.Pool(n, xs)
	if err != nil {
		return err.Error()
	}
	z.add(n, n.OpType, []string{in[0]}, cloneAttrs(n, drop...))
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildGlobalPool(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return n.OpType + " needs a runtime input of rank >= 3"
	}
	out, err := static.GlobalPool(xs)
	if err != nil {
		return err.Error()
	}
	z.add(n, n.OpType, []string{in[0]}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}
