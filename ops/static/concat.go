package static

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Concat and Gather: joining and picking slices along an axis.

// Concat infers Concat's output for inputs of the given shapes joined
// along axis (negative counts from the end), and returns the normalized
// axis. Off the axis the shapes must agree.
func Concat(shapes [][]int64, axis int64) ([]int64, int, error) {
	if len(shapes) == 0 {
		return nil, 0, fmt.Errorf("Concat without inputs")
	}
	r := len(shapes[0])
	a, err := NormAxis(axis, r)
	if err != nil {
		return nil, 0, fmt.Errorf("Concat %w", err)
	}
	out := append([]int64{}, shapes[0]...)
	out[a] = 0
	for _, s := range shapes {
		if len(s) != r {
			return nil, 0, fmt.Errorf("Concat inputs of ranks %d and %d", r, len(s))
		}
		for i := range s {
			if i != a && s[i] != shapes[0][i] {
				return nil, 0, fmt.Errorf("Concat shapes %s and %s differ off axis %d", FormatShape(shapes[0]), FormatShape(s), a)
			}
		}
		if s[a] == Symbolic {
			if len(shapes) > 1 {
				return nil, 0, fmt.Errorf("Concat along axis %d joins a size known only at run time", a)
			}
			out[a] = Symbolic
			continue
		}
		out[a] += s[a]
	}
	return out, a, nil
}

// FoldConcat joins constants along the normalized axis a (all float or all
// integer).
func FoldConcat(parts []*onnx.Tensor, a int) (*onnx.Tensor, error) {
	shapes := make([][]int64, len(parts))
	for i, p := range parts {
		shapes[i] = p.Dims
		if IsFloatType(p.Type) != IsFloatType(parts[0].Type) || (p.Bool != nil) != (parts[0].Bool != nil) {
			return nil, fmt.Errorf("Concat of %s and %s constants", parts[0].Type, p.Type)
		}
	}
	dims, _, err := Concat(shapes, int64(a))
	if err != nil {
		return nil, err
	}
	out := &onnx.Tensor{Type: parts[0].Type, Dims: dims}
	n, _ := Numel(dims)
	switch {
	case parts[0].Bool != nil:
		out.Bool = make([]bool, 0, n)
	case parts[0].Int64 != nil:
		out.Int64 = make([]int64, 0, n)
	case parts[0].Float64 != nil:
		out.Float64 = make([]float64, 0, n)
	default:
		out.Float32 = make([]float32, 0, n)
	}
	outer, _ := Numel(dims[:a])
	for o := range outer {
		for _, p := range parts {
			blk, _ := Numel(p.Dims[a:])
			lo, hi := o*blk, (o+1)*blk
			switch {
			case out.Bool != nil:
				out.Bool = append(out.Bool, p.Bool[lo:hi]...)
			case out.Int64 != nil:
				out.Int64 = append(out.Int64, p.Ints()[lo:hi]...)
			case out.Float64 != nil:
				out.Float64 = append(out.Float64, p.Float64[lo:hi]...)
			default:
				out.Float32 = append(out.Float32, p.Floats()[lo:hi]...)
			}
		}
	}
	return out, nil
}

// Gather infers Gather's output shape: data's shape with the axis replaced
// by the indices' shape. It returns the normalized axis.
func Gather(data, indices []int64, axis int64) ([]int64, int, error) {
	if len(data) == 0 {
		return nil, 0, fmt.Errorf("Gather on a scalar")
	}
	a, err := NormAxis(axis, len(data))
	if err != nil {
		return nil, 0, fmt.Errorf("Gather %w", err)
	}
	out := append(append(append([]int64{}, data[:a]...), indices...), data[a+1:]...)
	return out, a, nil
}

// GatherIndices normalizes Gather's indices for an axis of size dim
// (negative counts from the end) and checks their range.
func GatherIndices(idx []int64, dim int64) ([]int, error) {
	out := make([]int, len(idx))
	for i, v := range idx {
		if v == Symbolic {
			return nil, fmt.Errorf("Gather indexed by a size known only at run time")
		}
		if v < 0 {
			v += dim
		}
		if v < 0 || v >= dim {
			return nil, fmt.Errorf("Gather index %d out of range for an axis of size %d", idx[i], dim)
		}
		out[i] = int(v)
	}
	return out, nil
}

// FoldGather gathers a constant along axis at constant integer indices.
func FoldGather(data, indices *onnx.Tensor, axis int64) (*onnx.Tensor, error) {
	if IsFloatType(indices.Type) {
		return nil, fmt.Errorf("Gather indices must be integers, got %s", indices.Type)
	}
	dims, a, err := Gather(data.Dims, indices.Dims, axis)
	if err != nil {
		return nil, err
	}
	ids, err := GatherIndices(indices.Ints(), data.Dims[a])
	if err != nil {
		return nil, err
	}
	outer, _ := Numel(data.Dims[:a])
	inner, _ := Numel(data.Dims[a+1:])
	out := &onnx.Tensor{Type: data.Type, Dims: dims}
	pick := func(o int64, id int) (lo, hi int64) {
		base := (o*data.Dims[a] + int64(id)) * inner
		return base, base + inner
	}
	for o := range outer {
		for _, id := range ids {
			lo, hi := pick(o, id)
			switch {
			case data.Bool != nil:
				out.Bool = append(out.Bool, data.Bool[lo:hi]...)
			case data.Int64 != nil:
				out.Int64 = append(out.Int64, data.Int64[lo:hi]...)
			case data.Float64 != nil:
				out.Float64 = append(out.Float64, data.Float64[lo:hi]...)
			default:
				out.Float32 = append(out.Float32, data.Floats()[lo:hi]...)
			}
		}
	}
	switch {
	case data.Bool != nil && out.Bool == nil:
		out.Bool = []bool{}
	case data.Int64 != nil && out.Int64 == nil:
		out.Int64 = []int64{}
	case data.Float64 != nil && out.Float64 == nil:
		out.Float64 = []float64{}
	case data.Bool == nil && data.Int64 == nil && data.Float64 == nil && out.Float32 == nil:
		out.Float32 = []float32{}
	}
	return out, nil
}
