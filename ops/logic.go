package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Comparison ops, Where, Mod, and BitShift.
//
// The engine's run-time values are float32, so a run-time boolean is a
// float 0/1 (Cast to float keeps it; Where reads any non-zero as true). On
// constants the ops fold at compile time with ONNX's types: comparisons give
// bool tensors, integers are compared and computed exactly (unsigned types
// as unsigned), so the packed profile's unpack chain (BitShift, Mod on
// UINT8 constants) and shape arithmetic fold bit for bit.
//
// Gradients: a comparison is a step function, whose derivative is zero
// almost everywhere; its kernel gives zero gradients (and so does Where
// with respect to its condition), so that a parameter or input that reaches
// the loss only through a comparison gets a zero gradient, as in PyTorch,
// instead of failing gradient construction. Where routes the output
// gradient to the branch each element was taken from. Mod (fmod=1 on
// float32 run-time tensors) has dY/dA = 1 and dY/dB = -trunc(A/B).
// BitShift runs on integer constants only.

type cmpOp int

const (
	cmpGreater cmpOp = iota
	cmpGreaterOrEqual
	cmpLess
	cmpLessOrEqual
	cmpEqual
)

var cmpNames = [...]string{"Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Equal"}

// holds reports whether a (op) b holds given c = -1, 0 or +1 as a < b,
// a == b or a > b.
func (op cmpOp) holds(c int) bool {
	switch op {
	case cmpGreater:
		return c > 0
	case cmpGreaterOrEqual:
		return c >= 0
	case cmpLess:
		return c < 0
	case cmpLessOrEqual:
		return c <= 0
	}
	return c == 0
}

// eval compares two floats (NaN compares false with everything, also for
// Equal).
func (op cmpOp) eval(a, b float64) bool {
	switch op {
	case cmpGreater:
		return a > b
	case cmpGreaterOrEqual:
		return a >= b
	case cmpLess:
		return a < b
	case cmpLessOrEqual:
		return a <= b
	}
	return a == b
}

// compareKernel computes 1 where a (op) b holds, else 0, with broadcasting.
type compareKernel struct {
	op        cmpOp
	a, b, out []int
}

func (k *compareKernel) Name() string    { return fmt.Sprintf("%s%v%v", cmpNames[k.op], k.a, k.b) }
func (k *compareKernel) OutShape() []int { return k.out }
func (k *compareKernel) Forward(out []float32, in ...[]float32) error {
	bc := static.NewPairwise(k.a, k.b, k.out)
	bc.Each(func(o, ia, ib int) {
		for i := 0; i < bc.InnerLen; i++ {
			if k.op.eval(float64(in[0][ia+i*bc.InnerA]), float64(in[1][ib+i*bc.InnerB])) {
				out[o+i] = 1
			} else {
				out[o+i] = 0
			}
		}
	})
	return nil
}

// A step function: zero gradient almost everywhere (see the file comment).
func (k *compareKernel) DiffWRT(int) []bool { return []bool{true, true} }
func (k *compareKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	ga, err := Apply(&zeroGradKernel{shape: k.a, of: k.Name()}, grad)
	if err != nil {
		return nil, err
	}
	gb, err := Apply(&zeroGradKernel{shape: k.b, of: k.Name()}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{ga, gb}, nil
}

// zeroGradKernel is the zero gradient of a step function with respect to an
// input of the given shape. Its input (the output gradient) only orders it
// in the backward pass.
type zeroGradKernel struct {
	shape []int
	of    string
}

func (k *zeroGradKernel) Name() string    { return fmt.Sprintf("zero d%s%v", k.of, k.shape) }
func (k *zeroGradKernel) OutShape() []int { return k.shape }
func (k *zeroGradKernel) Forward(out []float32, _ ...[]float32) error {
	clear(out)
	return nil
}

// isUnsigned reports whether t is an unsigned integer type.
func isUnsigned(t onnx.DataType) bool {
	return t == onnx.Uint8 || t == onnx.Uint16 || t == onnx.Uint32 || t == onnx.Uint64
}

// cmpInt compares two integers of type t stored as int64 (uint64 values
// above 2^63 are stored wrapped; compare them as unsigned).
func cmpInt(t onnx.DataType, p, q int64) int {
	if t == onnx.Uint64 {
		a, b := uint64(p), uint64(q)
		switch {
		case a > b:
			return 1
		case a < b:
			return -1
		}
		return 0
	}
	switch {
	case p > q:
		return 1
	case p < q:
		return -1
	}
	return 0
}

// constF64 returns a constant's values as float64 (exact for float32,
// float16 and double).
func constF64(t *onnx.Tensor) []float64 {
	if t.Float64 != nil {
		return t.Float64
	}
	f := t.Floats()
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

func buildCompare(op cmpOp) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		x, y := in[0], in[1]
		out, err := broadcastShape(x.Shape, y.Shape)
		if err != nil {
			return nil, err
		}
		if x.Node == nil && y.Node == nil {
			r := make([]bool, static.Prod(out))
			bc := static.NewPairwise(x.Shape, y.Shape, out)
			if xi, yi := x.Const.Int64, y.Const.Int64; xi != nil && yi != nil {
				// Exact on integers (no float rounding, no overflow).
				t := x.Const.Type
				bc.Each(func(o, ia, ib int) {
					for i := 0; i < bc.InnerLen; i++ {
						r[o+i] = op.holds(cmpInt(t, xi[ia+i*bc.InnerA], yi[ib+i*bc.InnerB]))
					}
				})
			} else {
				xf, yf := constF64(x.Const), constF64(y.Const)
				bc.Each(func(o, ia, ib int) {
					for i := 0; i < bc.InnerLen; i++ {
						r[o+i] = op.eval(xf[ia+i*bc.InnerA], yf[ib+i*bc.InnerB])
					}
				})
			}
			return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Bool, Dims: dims64(out), Bool: r})}, nil
		}
		v, err := b.Apply(&compareKernel{op: op, a: x.Shape, b: y.Shape, out: out}, x, y)
		return []*Value{v}, err
	}
}

// whereKernel selects a where cond is non-zero, else b, with broadcasting
// of all three inputs.
type whereKernel struct {
	c, a, b, out []int
}

func (k *whereKernel) Name() string    { return fmt.Sprintf("Where%v%v%v", k.c, k.a, k.b) }
func (k *whereKernel) OutShape() []int { return k.out }
func (k *whereKernel) Forward(out []float32, in ...[]float32) error {
	cs, as, bs := static.BroadcastStrides(k.c, k.out), static.BroadcastStrides(k.a, k.out), static.BroadcastStrides(k.b, k.out)
	forEachIndex(k.out, func(o int, idx []int) {
		var ic, ia, ib int
		for d, v := range idx {
			ic += v * cs[d]
			ia += v * as[d]
			ib += v * bs[d]
		}
		if in[0][ic] != 0 {
			out[o] = in[1][ia]
		} else {
			out[o] = in[2][ib]
		}
	})
	return nil
}

// The condition's gradient is zero (a boolean); see the file comment.
func (k *whereKernel) DiffWRT(int) []bool { return []bool{true, true, true} }
func (k *whereKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	gc, err := Apply(&zeroGradKernel{shape: k.c, of: k.Name()}, grad)
	if err != nil {
		return nil, err
	}
	ga, err := Apply(&whereGradKernel{f: k, which: 1}, in[0], grad)
	if err != nil {
		return nil, err
	}
	gb, err := Apply(&whereGradKernel{f: k, which: 2}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{gc, ga, gb}, nil
}

// whereGradKernel routes dY to the selected operand, reduced to its shape.
// Inputs: cond, dY.
type whereGradKernel struct {
	f     *whereKernel
	which int
	tmp   []float32
}

func (k *whereGradKernel) Name() string { return fmt.Sprintf("d%s/d%d", k.f.Name(), k.which) }
func (k *whereGradKernel) OutShape() []int {
	if k.which == 1 {
		return k.f.a
	}
	return k.f.b
}
func (k *whereGradKernel) Forward(out []float32, in ...[]float32) error {
	if k.tmp == nil {
		k.tmp = make([]float32, static.Prod(k.f.out))
	}
	cs := static.BroadcastStrides(k.f.c, k.f.out)
	forEachIndex(k.f.out, func(o int, idx []int) {
		var ic int
		for d, v := range idx {
			ic += v * cs[d]
		}
		take := in[0][ic] != 0
		if take == (k.which == 1) {
			k.tmp[o] = in[1][o]
		} else {
			k.tmp[o] = 0
		}
	})
	reduceTo(out, k.OutShape(), k.tmp, k.f.out)
	return nil
}

// forEachIndex calls f with each flat index of shape and its coordinates.
func forEachIndex(shape []int, f func(o int, idx []int)) {
	idx := make([]int, len(shape))
	n := static.Prod(shape)
	for o := 0; o < n; o++ {
		f(o, idx)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

func buildWhere(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	c, x, y := in[0], in[1], in[2]
	s1, err := broadcastShape(c.Shape, x.Shape)
	if err != nil {
		return nil, err
	}
	out, err := broadcastShape(s1, y.Shape)
	if err != nil {
		return nil, err
	}
	if c.Node == nil && x.Node == nil && y.Node == nil {
		return []*Value{ConstValue(foldWhere(c.Const, x.Const, y.Const, c.Shape, x.Shape, y.Shape, out))}, nil
	}
	v, err := b.Apply(&whereKernel{c: c.Shape, a: x.Shape, b: y.Shape, out: out}, c, x, y)
	return []*Value{v}, err
}

// foldWhere selects on constants, keeping the branches' type (ONNX
// requires both branches of one type): integers exactly, bools as bools,
// doubles as doubles, other floats as float32.
func foldWhere(c, x, y *onnx.Tensor, cShape, xShape, yShape, out []int) *onnx.Tensor {
	cf := c.Floats()
	cs, as, bs := static.BroadcastStrides(cShape, out), static.BroadcastStrides(xShape, out), static.BroadcastStrides(yShape, out)
	n := static.Prod(out)
	t := &onnx.Tensor{Type: x.Type, Dims: dims64(out)}
	var pick func(o int, fromX bool, ia, ib int)
	switch {
	case x.Int64 != nil && y.Int64 != nil:
		t.Int64 = make([]int64, n)
		pick = func(o int, fromX bool, ia, ib int) {
			if fromX {
				t.Int64[o] = x.Int64[ia]
			} else {
				t.Int64[o] = y.Int64[ib]
			}
		}
	case x.Bool != nil && y.Bool != nil:
		t.Bool = make([]bool, n)
		pick = func(o int, fromX bool, ia, ib int) {
			if fromX {
				t.Bool[o] = x.Bool[ia]
			} else {
				t.Bool[o] = y.Bool[ib]
			}
		}
	case x.Float64 != nil && y.Float64 != nil:
		t.Float64 = make([]float64, n)
		pick = func(o int, fromX bool, ia, ib int) {
			if fromX {
				t.Float64[o] = x.Float64[ia]
			} else {
				t.Float64[o] = y.Float64[ib]
			}
		}
	default:
		if x.Float32 == nil || y.Float32 == nil {
			t.Type = onnx.Float // mixed types (invalid ONNX): computed as float32
		}
		xf, yf := x.Floats(), y.Floats()
		t.Float32 = make([]float32, n)
		pick = func(o int, fromX bool, ia, ib int) {
			if fromX {
				t.Float32[o] = xf[ia]
			} else {
				t.Float32[o] = yf[ib]
			}
		}
	}
	forEachIndex(out, func(o int, idx []int) {
		var ic, ia, ib int
		for d, v := range idx {
			ic += v * cs[d]
			ia += v * as[d]
			ib += v * bs[d]
		}
		pick(o, cf[ic] != 0, ia, ib)
	})
	return t
}

// foldInts evaluates an integer op on integer constants of one type with
// broadcasting; f gets the type (to treat unsigned values as unsigned).
func foldInts(name string, x, y *Value, f func(t onnx.DataType, a, b int64) (int64, error)) (*Value, error) {
	if x.Const.Type != y.Const.Type {
		return nil, fmt.Errorf("%s on %s and %s constants: ONNX requires both inputs of one type", name, x.Const.Type, y.Const.Type)
	}
	if x.Const.Int64 == nil || y.Const.Int64 == nil {
		return nil, fmt.Errorf("%s on %s constants: only integer constants are supported", name, x.Const.Type)
	}
	out, err := broadcastShape(x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	t := x.Const.Type
	r := make([]int64, static.Prod(out))
	bc := static.NewPairwise(x.Shape, y.Shape, out)
	var ferr error
	bc.Each(func(o, ia, ib int) {
		for i := 0; i < bc.InnerLen; i++ {
			v, err := f(t, x.Const.Int64[ia+i*bc.InnerA], y.Const.Int64[ib+i*bc.InnerB])
			if err != nil && ferr == nil {
				ferr = fmt.Errorf("%s: %w", name, err)
			}
			r[o+i] = v
		}
	})
	if ferr != nil {
		return nil, ferr
	}
	return ConstValue(&onnx.Tensor{Type: t, Dims: dims64(out), Int64: r}), nil
}

// bitShift shifts an unsigned integer of type t (stored as int64) by s
// bits; bits shifted out of the type's width are lost, and a shift by the
// width or more gives 0 (numpy's convention).
func bitShift(t onnx.DataType, left bool, a, s int64) int64 {
	bits := uint64(8 * t.Size())
	mask := uint64(math.MaxUint64)
	if bits < 64 {
		mask = uint64(1)<<bits - 1
	}
	u, sh := uint64(a)&mask, uint64(s)&mask
	if sh >= bits {
		return 0
	}
	if left {
		return int64((u << sh) & mask)
	}
	return int64(u >> sh)
}

func buildBitShift(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	dir := n.String("direction", "")
	if dir != "LEFT" && dir != "RIGHT" {
		return nil, fmt.Errorf("BitShift direction %q: want LEFT or RIGHT", dir)
	}
	x, y := in[0], in[1]
	if x.Node != nil || y.Node != nil {
		return nil, fmt.Errorf("BitShift on run-time tensors is not supported: the engine's run-time tensors are float32; " +
			"BitShift runs on unsigned integer constants only (the packed-weight unpack chain)")
	}
	if !isUnsigned(x.Const.Type) {
		return nil, fmt.Errorf("BitShift on %s: ONNX defines it on unsigned integers only", x.Const.Type)
	}
	v, err := foldInts("BitShift", x, y, func(t onnx.DataType, a, s int64) (int64, error) {
		return bitShift(t, dir == "LEFT", a, s), nil
	})
	if err != nil {
		return nil, err
	}
	return []*Value{v}, nil
}

// modInt is ONNX's integer Mod of type t: with fmod the remainder of the
// truncated division (the sign of the dividend, C's %), else of the floored
// division (the sign of the divisor, Python's %).
func modInt(t onnx.DataType, fmod bool, a, m int64) (int64, error) {
	if m == 0 {
		return 0, fmt.Errorf("integer modulo by zero")
	}
	if isUnsigned(t) {
		return int64(uint64(a) % uint64(m)), nil
	}
	if m == -1 {
		return 0, nil // also for MinInt64 % -1, which Go would overflow
	}
	r := a % m
	if !fmod && r != 0 && (r < 0) != (m < 0) {
		r += m
	}
	return r, nil
}

// modKernel is Mod with fmod=1 on float32 run-time tensors:
// Y = A - B*trunc(A/B) (C's fmod, exact), with broadcasting.
type modKernel struct {
	a, b, out []int
}

func (k *modKernel) Name() string    { return fmt.Sprintf("Fmod%v%v", k.a, k.b) }
func (k *modKernel) OutShape() []int { return k.out }
func (k *modKernel) Forward(out []float32, in ...[]float32) error {
	bc := static.NewPairwise(k.a, k.b, k.out)
	bc.Each(func(o, ia, ib int) {
		for i := 0; i < bc.InnerLen; i++ {
			out[o+i] = float32(math.Mod(float64(in[0][ia+i*bc.InnerA]), float64(in[1][ib+i*bc.InnerB])))
		}
	})
	return nil
}
func (k *modKernel) DiffWRT(int) []bool { return []bool{true, true} }
func (k *modKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	ga, err := Apply(&modGradKernel{f: k, which: 0}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	gb, err := Apply(&modGradKernel{f: k, which: 1}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{ga, gb}, nil
}

// modGradKernel: dY/dA = 1, dY/dB = -trunc(A/B), reduced to the operand's
// shape. Inputs: A, B, dY.
type modGradKernel struct {
	f     *modKernel
	which int
	tmp   []float32
}

func (k *modGradKernel) Name() string { return fmt.Sprintf("d%s/d%c", k.f.Name(), "ab"[k.which]) }
func (k *modGradKernel) OutShape() []int {
	if k.which == 0 {
		return k.f.a
	}
	return k.f.b
}
func (k *modGradKernel) Forward(out []float32, in ...[]float32) error {
	gy := in[2]
	if k.which == 0 {
		reduceTo(out, k.f.a, gy, k.f.out)
		return nil
	}
	if k.tmp == nil {
		k.tmp = make([]float32, len(gy))
	}
	bc := static.NewPairwise(k.f.a, k.f.b, k.f.out)
	bc.Each(func(o, ia, ib int) {
		for i := 0; i < bc.InnerLen; i++ {
			q := math.Trunc(float64(in[0][ia+i*bc.InnerA]) / float64(in[1][ib+i*bc.InnerB]))
			k.tmp[o+i] = -float32(q) * gy[o+i]
		}
	})
	reduceTo(out, k.f.b, k.tmp, k.f.out)
	return nil
}

func buildMod(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	fmod := n.Int("fmod", 0)
	if fmod != 0 && fmod != 1 {
		return nil, fmt.Errorf("Mod fmod=%d: want 0 or 1", fmod)
	}
	x, y := in[0], in[1]
	out, err := broadcastShape(x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	if x.Node != nil || y.Node != nil {
		// Run-time tensors are float32, for which ONNX requires fmod=1.
		if fmod != 1 {
			return nil, fmt.Errorf("Mod with fmod=0 on run-time tensors is not supported: the engine's run-time tensors " +
				"are float32, for which ONNX requires fmod=1 (integer Mod runs on constants only)")
		}
		v, err := b.Apply(&modKernel{a: x.Shape, b: y.Shape, out: out}, x, y)
		return []*Value{v}, err
	}
	if x.Const.Int64 == nil && y.Const.Int64 == nil {
		if fmod != 1 {
			return nil, fmt.Errorf("Mod with fmod=0 on %s constants: ONNX requires fmod=1 for floating-point types", x.Const.Type)
		}
		xf, yf := constF64(x.Const), constF64(y.Const)
		r := make([]float64, static.Prod(out))
		bc := static.NewPairwise(x.Shape, y.Shape, out)
		bc.Each(func(o, ia, ib int) {
			for i := 0; i < bc.InnerLen; i++ {
				r[o+i] = math.Mod(xf[ia+i*bc.InnerA], yf[ib+i*bc.InnerB])
			}
		})
		t := &onnx.Tensor{Type: x.Const.Type, Dims: dims64(out)}
		if x.Const.Float64 != nil {
			t.Float64 = r
		} else {
			t.Float32 = make([]float32, len(r))
			for i, v := range r {
				t.Float32[i] = float32(v) // exact: fmod of float32 values is a float32
			}
		}
		return []*Value{ConstValue(t)}, nil
	}
	v, err := foldInts("Mod", x, y, func(t onnx.DataType, a, m int64) (int64, error) {
		return modInt(t, fmod == 1, a, m)
	})
	if err != nil {
		return nil, err
	}
	return []*Value{v}, nil
}

func init() {
	for op, name := range cmpNames {
		since := 7
		if cmpOp(op) == cmpGreaterOrEqual || cmpOp(op) == cmpLessOrEqual {
			since = 12
		}
		Register(&Spec{OpType: name, Since: since, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
			Build: buildCompare(cmpOp(op)),
			Doc:   "comparison with broadcasting; a run-time result is float 0/1 (zero gradient), constants fold to bool exactly"})
	}
	Register(&Spec{OpType: "Where", Since: 9, MinInputs: 3, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Build: buildWhere, Doc: "select by condition with broadcasting; the gradient goes to the selected branch"})
	Register(&Spec{OpType: "BitShift", Since: 11, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "direction", Type: AttrString, Required: true, Supported: func(n *onnx.Node) string {
			if d := n.String("direction", ""); d != "LEFT" && d != "RIGHT" {
				return fmt.Sprintf("BitShift direction %q: want LEFT or RIGHT", d)
			}
			return ""
		}}},
		Build: buildBitShift, Doc: "on unsigned integer constants only (packed weights)"})
	Register(&Spec{OpType: "Mod", Since: 10, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "fmod", Type: AttrInt, Default: int64(0), Supported: func(n *onnx.Node) string {
			if f := n.Int("fmod", 0); f != 0 && f != 1 {
				return fmt.Sprintf("Mod fmod=%d: want 0 or 1", f)
			}
			return ""
		}}},
		Build: buildMod, Doc: "integer constants (fmod 0 or 1, packed weights); float32 run-time tensors and float constants with fmod=1"})
}
