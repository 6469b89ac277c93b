package convert

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// symN stands for the batch size N: in the shapes of runtime tensors (always
// at axis 0) and as an element of integer constants computed from shapes
// (Shape -> Gather -> Unsqueeze -> Concat chains). Arithmetic on it is not
// folded: such a model is reported as unsupported.
const symN int64 = math.MinInt64 + 7

// A ctensor is a value known at conversion time: an initializer, a
// Constant, or the result of folding a node whose inputs are all known.
type ctensor struct {
	dtype onnx.DataType
	dims  []int64
	f     []float32 // float, float16, bfloat16, double (held as float32)
	i     []int64   // integer types and bool (0/1)
}

func isFloatType(d onnx.DataType) bool {
	return d == onnx.Float || d == onnx.Double || d == onnx.Float16 || d == onnx.BFloat16
}

func isIntType(d onnx.DataType) bool {
	switch d {
	case onnx.Int8, onnx.Int16, onnx.Int32, onnx.Int64, onnx.Uint8, onnx.Uint16, onnx.Uint32, onnx.Uint64, onnx.Bool:
		return true
	}
	return false
}

func numel(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

func (c *ctensor) size() int { return int(numel(c.dims)) }

func (c *ctensor) isFloat() bool { return isFloatType(c.dtype) }

// hasSym reports whether an integer constant holds the symbolic batch size.
func (c *ctensor) hasSym() bool {
	for _, v := range c.i {
		if v == symN {
			return true
		}
	}
	return false
}

func fromTensor(t *onnx.Tensor) (*ctensor, error) {
	c := &ctensor{dtype: t.Type, dims: append([]int64{}, t.Dims...)}
	switch {
	case isFloatType(t.Type) && t.Float32 != nil:
		c.f = t.Float32
	case t.Type == onnx.Double:
		c.f = make([]float32, len(t.Float64))
		for i, v := range t.Float64 {
			c.f[i] = float32(v)
		}
	case t.Type == onnx.Bool:
		c.i = make([]int64, len(t.Bool))
		for i, v := range t.Bool {
			if v {
				c.i[i] = 1
			}
		}
	case isIntType(t.Type):
		c.i = t.Int64
	default:
		return nil, fmt.Errorf("tensor of type %s", t.Type)
	}
	if isFloatType(c.dtype) && c.f == nil {
		c.f = []float32{}
	}
	if isIntType(c.dtype) && c.i == nil {
		c.i = []int64{}
	}
	return c, nil
}

func floatConst(dims []int64, v []float32) *ctensor {
	return &ctensor{dtype: onnx.Float, dims: append([]int64{}, dims...), f: v}
}

func intConst(dims []int64, v []int64) *ctensor {
	return &ctensor{dtype: onnx.Int64, dims: append([]int64{}, dims...), i: v}
}

// proto converts the value to an initializer.
func (c *ctensor) proto(name string) *onnxpb.TensorProto {
	t := &onnx.Tensor{Name: name, Type: c.dtype, Dims: c.dims}
	switch {
	case c.dtype == onnx.Double:
		t.Float64 = make([]float64, len(c.f))
		for i, v := range c.f {
			t.Float64[i] = float64(v)
		}
	case c.isFloat():
		t.Float32 = c.f
	case c.dtype == onnx.Bool:
		t.Bool = make([]bool, len(c.i))
		for i, v := range c.i {
			t.Bool[i] = v != 0
		}
	default:
		t.Int64 = c.i
	}
	return t.Proto()
}

// shapeString prints a shape with the batch symbol as N.
func shapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d == symN {
			parts[i] = "N"
		} else {
			parts[i] = strconv.FormatInt(d, 10)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// strides returns row-major strides of dims.
func strides(dims []int64) []int64 {
	s := make([]int64, len(dims))
	acc := int64(1)
	for i := len(dims) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= dims[i]
	}
	return s
}

// normAxis maps axis (possibly negative) into [0, rank).
func normAxis(axis int64, rank int) (int, bool) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, false
	}
	return int(axis), true
}

// forEachIndex calls f with every multi-index of dims in row-major order.
func forEachIndex(dims []int64, f func(idx []int64)) {
	n := numel(dims)
	if n == 0 {
		return
	}
	idx := make([]int64, len(dims))
	for k := int64(0); k < n; k++ {
		f(idx)
		for a := len(dims) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < dims[a] {
				break
			}
			idx[a] = 0
		}
	}
}

// gatherElems builds a tensor of dims outDims whose element at multi-index
// idx is element src(idx) of c.
func (c *ctensor) gatherElems(outDims []int64, src func(idx []int64) int64) *ctensor {
	out := &ctensor{dtype: c.dtype, dims: append([]int64{}, outDims...)}
	n := numel(outDims)
	if c.f != nil {
		out.f = make([]float32, 0, n)
	}
	if c.i != nil {
		out.i = make([]int64, 0, n)
	}
	forEachIndex(outDims, func(idx []int64) {
		k := src(idx)
		if c.f != nil {
			out.f = append(out.f, c.f[k])
		}
		if c.i != nil {
			out.i = append(out.i, c.i[k])
		}
	})
	if out.f == nil && c.isFloat() {
		out.f = []float32{}
	}
	if out.i == nil && !c.isFloat() {
		out.i = []int64{}
	}
	return out
}

// reshaped returns c with new dims (same data).
func (c *ctensor) reshaped(dims []int64) *ctensor {
	return &ctensor{dtype: c.dtype, dims: append([]int64{}, dims...), f: c.f, i: c.i}
}

// transpose permutes the axes of c.
func (c *ctensor) transpose(perm []int) *ctensor {
	out := make([]int64, len(perm))
	for i, p := range perm {
		out[i] = c.dims[p]
	}
	st := strides(c.dims)
	return c.gatherElems(out, func(idx []int64) int64 {
		var k int64
		for i, p := range perm {
			k += idx[i] * st[p]
		}
		return k
	})
}
