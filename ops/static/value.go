package static

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Symbolic stands for a size that is not known before the graph runs (the
// converter uses it for the batch size N). It may appear as a dimension of
// a shape and as an element of an integer constant computed from shapes
// (Shape -> Gather -> Concat chains). It passes through shape inference as
// an opaque value: it equals only itself, broadcasts only against 1 and
// itself, a reshape may move it but not merge it with other dimensions, and
// arithmetic on it is not folded. FormatShape prints it as N.
const Symbolic int64 = math.MinInt64 + 7

// An Input is what is known of a node input before the graph runs. The
// zero Input is an absent optional input.
type Input struct {
	// Name is the tensor's name.
	Name string
	// Shape is nil when unknown.
	Shape []int64
	// Const is the value, or nil when it is known only at run time.
	Const *onnx.Tensor
}

// present reports whether input i exists.
func present(in []Input, i int) bool {
	return i < len(in) && (in[i].Name != "" || in[i].Shape != nil || in[i].Const != nil)
}

// constInts returns input i as integers: nil and no error when the input is
// absent, an error naming what when it is present but not a constant of
// integers free of Symbolic.
func constInts(in []Input, i int, what string) ([]int64, error) {
	if !present(in, i) {
		return nil, nil
	}
	c := in[i].Const
	if c == nil {
		return nil, fmt.Errorf("%s must be a constant (an initializer or computed from shapes)", what)
	}
	if IsFloatType(c.Type) {
		return nil, fmt.Errorf("%s must be integers, got %s", what, c.Type)
	}
	v := c.Ints()
	if HasSymbolic(c) {
		return nil, fmt.Errorf("%s %s depend on a size known only at run time", what, FormatShape(v))
	}
	return v, nil
}

// HasSymbolic reports whether an integer constant holds Symbolic.
func HasSymbolic(t *onnx.Tensor) bool {
	for _, v := range t.Int64 {
		if v == Symbolic {
			return true
		}
	}
	return false
}

// IsFloatType reports whether d is a floating-point type.
func IsFloatType(d onnx.DataType) bool {
	return d == onnx.Float || d == onnx.Double || d == onnx.Float16 || d == onnx.BFloat16
}

// IsIntType reports whether d is an integer type or bool.
func IsIntType(d onnx.DataType) bool {
	switch d {
	case onnx.Int8, onnx.Int16, onnx.Int32, onnx.Int64, onnx.Uint8, onnx.Uint16, onnx.Uint32, onnx.Uint64, onnx.Bool:
		return true
	}
	return false
}

// FormatShape prints a shape (or shape-valued constant) with Symbolic as N:
// [N,3,32,32].
func FormatShape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = formatDim(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// formatDim prints one dimension (Symbolic as N).
func formatDim(d int64) string {
	if d == Symbolic {
		return "N"
	}
	return strconv.FormatInt(d, 10)
}

// NormAxis maps axis (negative counts from the end) into [0, rank).
func NormAxis(axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(a), nil
}

// normAxisIncl maps axis into [0, rank] (Flatten's and opset-1 Softmax's
// axis may equal the rank).
func normAxisIncl(axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a > int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(a), nil
}

// Numel returns the number of elements of dims; ok is false when a
// dimension is Symbolic (the count is not known before run time).
func Numel(dims []int64) (n int64, ok bool) {
	n = 1
	for _, d := range dims {
		if d == Symbolic {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// symbolicFactor splits dims into the count of Symbolic dimensions and the
// product of the others.
func symbolicFactor(dims []int64) (sym int, rest int64) {
	rest = 1
	for _, d := range dims {
		if d == Symbolic {
			sym++
		} else {
			rest *= d
		}
	}
	return sym, rest
}

// RowStrides returns the row-major element strides of a shape.
func RowStrides(s []int) []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

// Ints converts ONNX dimensions to ints (the engine's shapes).
func Ints(d []int64) []int {
	s := make([]int, len(d))
	for i, v := range d {
		s[i] = int(v)
	}
	return s
}

// Dims converts engine shapes to ONNX dimensions.
func Dims(s []int) []int64 {
	d := make([]int64, len(s))
	for i, v := range s {
		d[i] = int64(v)
	}
	return d
}

// Prod is the element count of an engine shape.
func Prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
