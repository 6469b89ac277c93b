package static

import (
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Elementwise ops: the arithmetic of Add, Sub, Mul and Div with
// broadcasting, Neg, Sqrt, and Cast. Their output shape is the broadcast of
// their inputs (Broadcast) or the input's.

// Arith applies Add, Sub, Mul or Div to one pair of elements (integer
// division truncates; the caller rules out a zero divisor).
func Arith[T float32 | float64 | int64](op string, x, y T) T {
	switch op {
	case "Add":
		return x + y
	case "Sub":
		return x - y
	case "Mul":
		return x * y
	case "Div":
		return x / y
	}
	panic("static.Arith: not an arithmetic op: " + op)
}

// FoldArith folds Add, Sub, Mul or Div (op) on two constants of one kind
// (both floating-point or both integer), broadcasting them. Float and
// float16 values are computed in float32, doubles in float64.
func FoldArith(op string, a, b *onnx.Tensor) (*onnx.Tensor, error) {
	if IsFloatType(a.Type) != IsFloatType(b.Type) {
		return nil, fmt.Errorf("%s of a %s and a %s tensor", op, a.Type, b.Type)
	}
	if HasSymbolic(a) || HasSymbolic(b) {
		return nil, fmt.Errorf("%s on a size known only at run time", op)
	}
	if a.Type == onnx.Bool || b.Type == onnx.Bool {
		return nil, fmt.Errorf("%s of bool tensors", op)
	}
	dims, err := Broadcast(a.Dims, b.Dims)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := &onnx.Tensor{Type: a.Type, Dims: dims}
	n, _ := Numel(dims)
	pw := NewPairwise(Ints(a.Dims), Ints(b.Dims), Ints(dims))
	switch {
	case !IsFloatType(a.Type):
		x, y := a.Ints(), b.Ints()
		out.Int64 = make([]int64, n)
		var why error
		pw.Each(func(o, ia, ib int) {
			for i := range pw.InnerLen {
				p, q := x[ia+i*pw.InnerA], y[ib+i*pw.InnerB]
				if op == "Div" && q == 0 {
					why = fmt.Errorf("integer division by zero")
					return
				}
				out.Int64[o+i] = Arith(op, p, q)
			}
		})
		if why != nil {
			return nil, why
		}
	case a.Type == onnx.Double && b.Type == onnx.Double:
		out.Float64 = make([]float64, n)
		foldFloats(op, pw, out.Float64, a.Float64, b.Float64)
	default:
		out.Float32 = make([]float32, n)
		if out.Type == onnx.Double {
			out.Type = onnx.Float
		}
		foldFloats(op, pw, out.Float32, a.Floats(), b.Floats())
	}
	return out, nil
}

func foldFloats[T float32 | float64](op string, pw Pairwise, out, x, y []T) {
	pw.Each(func(o, ia, ib int) {
		for i := range pw.InnerLen {
			out[o+i] = Arith(op, x[ia+i*pw.InnerA], y[ib+i*pw.InnerB])
		}
	})
}

// FoldUnary folds Neg or Sqrt (op) on a constant (Sqrt of floating-point
// values only).
func FoldUnary(op string, x *onnx.Tensor) (*onnx.Tensor, error) {
	if HasSymbolic(x) {
		return nil, fmt.Errorf("%s on a size known only at run time", op)
	}
	out := &onnx.Tensor{Type: x.Type, Dims: x.Dims}
	switch {
	case op != "Neg" && op != "Sqrt":
		return nil, fmt.Errorf("cannot fold %s", op)
	case x.Float64 != nil:
		out.Float64 = make([]float64, len(x.Float64))
		for i, v := range x.Float64 {
			out.Float64[i] = unary(op, v)
		}
	case IsFloatType(x.Type):
		out.Float32 = make([]float32, x.Len())
		for i, v := range x.Floats() {
			out.Float32[i] = float32(unary(op, float64(v)))
		}
	case op == "Sqrt":
		return nil, fmt.Errorf("Sqrt of a %s tensor", x.Type)
	case x.Type == onnx.Bool:
		return nil, fmt.Errorf("Neg of a bool tensor")
	default:
		out.Int64 = make([]int64, len(x.Int64))
		for i, v := range x.Int64 {
			out.Int64[i] = -v
		}
	}
	return out, nil
}

// unary is Neg or Sqrt in float64 (for float32 values, -v and the
// correctly rounded square root round to the float32 result exactly).
func unary(op string, v float64) float64 {
	if op == "Neg" {
		return -v
	}
	return math.Sqrt(v)
}

// FoldCast folds Cast to type to: floating-point results hold float32
// (double: float64) values, integer results truncate toward zero, bool
// results are value != 0. Casting a size known only at run time to a
// floating-point type is refused.
func FoldCast(x *onnx.Tensor, to onnx.DataType) (*onnx.Tensor, error) {
	out := &onnx.Tensor{Type: to, Dims: x.Dims}
	switch {
	case to == onnx.Double:
		if HasSymbolic(x) {
			return nil, fmt.Errorf("Cast of a size known only at run time to %s", to)
		}
		out.Float64 = make([]float64, x.Len())
		switch {
		case x.Float64 != nil:
			copy(out.Float64, x.Float64)
		case x.Int64 != nil:
			for i, v := range x.Int64 {
				out.Float64[i] = float64(v)
			}
		default:
			for i, v := range x.Floats() {
				out.Float64[i] = float64(v)
			}
		}
	case IsFloatType(to):
		if HasSymbolic(x) {
			return nil, fmt.Errorf("Cast of a size known only at run time to %s", to)
		}
		out.Float32 = x.Floats()
	case to == onnx.Bool:
		out.Bool = make([]bool, x.Len())
		for i, v := range x.Floats() {
			out.Bool[i] = v != 0
		}
	case IsIntType(to):
		out.Int64 = x.Ints()
	default:
		return nil, fmt.Errorf("Cast to %s", to)
	}
	return out, nil
}

// ClipBounds reads Clip's bounds: the min and max attributes before opset
// 11, the optional constant scalar inputs 1 and 2 from then on. Absent
// bounds are -Inf and +Inf; hasMin tells whether a minimum was given.
func ClipBounds(n *onnx.Node, opset int, in []Input) (lo, hi float32, hasMin bool, err error) {
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	if opset < 11 {
		return n.Float("min", lo), n.Float("max", hi), n.Has("min"), nil
	}
	for i, p := range []*float32{&lo, &hi} {
		if !present(in, i+1) {
			continue
		}
		c := in[i+1].Const
		if c == nil || !IsFloatType(c.Type) || c.Len() != 1 {
			return 0, 0, false, fmt.Errorf("Clip %s must be a constant float scalar", [...]string{"min", "max"}[i])
		}
		*p = c.Floats()[0]
		hasMin = hasMin || i == 0
	}
	return lo, hi, hasMin, nil
}
