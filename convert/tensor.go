package convert

import (
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// symN stands for the batch size N: in the shapes of runtime tensors (always
// at axis 0) and as an element of integer constants computed from shapes
// (Shape -> Gather -> Unsqueeze -> Concat chains). It is ops/static's
// Symbolic: arithmetic on it is not folded, and such a model is reported as
// unsupported.
const symN = static.Symbolic

func floatConst(dims []int64, v []float32) *onnx.Tensor {
	return &onnx.Tensor{Type: onnx.Float, Dims: append([]int64{}, dims...), Float32: v}
}

func intConst(dims []int64, v []int64) *onnx.Tensor {
	return &onnx.Tensor{Type: onnx.Int64, Dims: append([]int64{}, dims...), Int64: v}
}

// initializer converts a known value to an initializer named name. A
// float32 value becomes its raw_data without a copy (onnx.ProtoView): the
// converted model shares the source's unchanged weights, and the values
// the converter computes are never modified once emitted.
func initializer(name string, t *onnx.Tensor) *onnxpb.TensorProto {
	c := *t
	c.Name = name
	return c.ProtoView()
}

// shapeString prints a shape with the batch symbol as N.
func shapeString(s []int64) string { return static.FormatShape(s) }

// numel is the element count of known dimensions.
func numel(dims []int64) int64 {
	n, _ := static.Numel(dims)
	return n
}
