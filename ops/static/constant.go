package static

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Constant and ConstantOfShape: values made from attributes.

// Constant returns a Constant node's value: its value tensor or one of
// value_float(s) and value_int(s). Sparse and string constants are not
// supported.
func Constant(n *onnx.Node) (*onnx.Tensor, error) {
	for _, a := range n.Proto.Attribute {
		switch a.GetName() {
		case "value":
			t, err := onnx.TensorFromProto(a.T)
			if err != nil {
				return nil, fmt.Errorf("Constant value: %w", err)
			}
			t.Name = ""
			return t, nil
		case "value_float":
			return &onnx.Tensor{Type: onnx.Float, Float32: []float32{a.GetF()}}, nil
		case "value_floats":
			return &onnx.Tensor{Type: onnx.Float, Dims: []int64{int64(len(a.Floats))}, Float32: append([]float32{}, a.Floats...)}, nil
		case "value_int":
			return &onnx.Tensor{Type: onnx.Int64, Int64: []int64{a.GetI()}}, nil
		case "value_ints":
			return &onnx.Tensor{Type: onnx.Int64, Dims: []int64{int64(len(a.Ints))}, Int64: append([]int64{}, a.Ints...)}, nil
		}
	}
	return nil, fmt.Errorf("Constant of a kind other than a dense numeric tensor (sparse or string)")
}

// MaxFoldElements bounds the constants ConstantOfShape folds.
const MaxFoldElements = 1 << 26

// ConstantOfShape folds ConstantOfShape: a tensor of the given shape
// filled with the value attribute (default float 0).
func ConstantOfShape(n *onnx.Node, shape *onnx.Tensor) (*onnx.Tensor, error) {
	if shape == nil || IsFloatType(shape.Type) {
		return nil, fmt.Errorf("ConstantOfShape needs an integer shape")
	}
	if HasSymbolic(shape) {
		return nil, fmt.Errorf("ConstantOfShape sized by a size known only at run time")
	}
	val := &onnx.Tensor{Type: onnx.Float, Float32: []float32{0}}
	if t, err := n.TensorAttr("value"); err != nil {
		return nil, fmt.Errorf("ConstantOfShape value: %w", err)
	} else if t != nil {
		if t.Len() != 1 {
			return nil, fmt.Errorf("ConstantOfShape value must be a one-element tensor")
		}
		val = t
	}
	dims := shape.Ints()
	for _, d := range dims {
		if d < 0 {
			return nil, fmt.Errorf("ConstantOfShape with a negative dimension")
		}
	}
	num, _ := Numel(dims)
	if num > MaxFoldElements {
		return nil, fmt.Errorf("ConstantOfShape of %d elements is too large to fold", num)
	}
	out := &onnx.Tensor{Type: val.Type, Dims: append([]int64{}, dims...)}
	switch {
	case val.Int64 != nil:
		out.Int64 = fill(num, val.Int64[0])
	case val.Float64 != nil:
		out.Float64 = fill(num, val.Float64[0])
	case val.Bool != nil:
		out.Bool = fill(num, val.Bool[0])
	default:
		out.Float32 = fill(num, val.Floats()[0])
	}
	return out, nil
}

func fill[T any](n int64, v T) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}
