package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Comparison ops, Where, and the integer ops of the packed profile's
// unpack chain (BitShift, Mod). The engine's runtime values are float32,
// so a runtime boolean is a float 0/1 (Cast to float keeps it; Where reads
// any non-zero as true). On constants they fold at compile time with exact
// integer arithmetic.

type cmpOp int

const (
	cmpGreater cmpOp = iota
	cmpGreaterOrEqual
	cmpLess
	cmpLessOrEqual
	cmpEqual
)

var cmpNames = [...]string{"Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Equal"}

func (op cmpOp) eval(a, b float32) bool {
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
// It has no gradient (a step function); DiffWRT says so.
type compareKernel struct {
	op        cmpOp
	a, b, out []int
}

func (k *compareKernel) Name() string    { return fmt.Sprintf("%s%v%v", cmpNames[k.op], k.a, k.b) }
func (k *compareKernel) OutShape() []int { return k.out }
func (k *compareKernel) Forward(out []float32, in ...[]float32) error {
	bc := newBcast(k.a, k.b, k.out)
	bc.each(func(o, ia, ib int) {
		for i := 0; i < bc.innerLen; i++ {
			if k.op.eval(in[0][ia+i*bc.ia], in[1][ib+i*bc.ib]) {
				out[o+i] = 1
			} else {
				out[o+i] = 0
			}
		}
	})
	return nil
}

func buildCompare(op cmpOp) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		x, y := in[0], in[1]
		out, err := broadcastShape(x.Shape, y.Shape)
		if err != nil {
			return nil, err
		}
		if x.Node == nil && y.Node == nil {
			r := make([]bool, prod(out))
			bc := newBcast(x.Shape, y.Shape, out)
			xi, yi := x.Const.Int64 != nil, y.Const.Int64 != nil
			xf, yf := x.Const.Floats(), y.Const.Floats()
			bc.each(func(o, ia, ib int) {
				for i := 0; i < bc.innerLen; i++ {
					if xi && yi { // exact on integers
						p, q := x.Const.Int64[ia+i*bc.ia], y.Const.Int64[ib+i*bc.ib]
						r[o+i] = op.eval(float32(sign64(p-q)), 0)
						continue
					}
					r[o+i] = op.eval(xf[ia+i*bc.ia], yf[ib+i*bc.ib])
				}
			})
			return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Bool, Dims: dims64(out), Bool: r})}, nil
		}
		v, err := b.Apply(&compareKernel{op: op, a: x.Shape, b: y.Shape, out: out}, x, y)
		return []*Value{v}, err
	}
}

func sign64(v int64) int64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// whereKernel selects a where cond is non-zero, else b, with broadcasting
// of all three inputs.
type whereKernel struct {
	c, a, b, out []int
}

func (k *whereKernel) Name() string    { return fmt.Sprintf("Where%v%v%v", k.c, k.a, k.b) }
func (k *whereKernel) OutShape() []int { return k.out }
func (k *whereKernel) Forward(out []float32, in ...[]float32) error {
	cs, as, bs := bstrides(k.c, k.out), bstrides(k.a, k.out), bstrides(k.b, k.out)
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
func (k *whereKernel) DiffWRT(int) []bool { return []bool{false, true, true} }
func (k *whereKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	ga, err := Apply(&whereGradKernel{f: k, which: 1}, in[0], grad)
	if err != nil {
		return nil, err
	}
	gb, err := Apply(&whereGradKernel{f: k, which: 2}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, ga, gb}, nil
}

// whereGradKernel routes dY to the selected operand, reduced to its shape.
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
		k.tmp = make([]float32, prod(k.f.out))
	}
	cs := bstrides(k.f.c, k.f.out)
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
	n := prod(shape)
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
		cf, xf, yf := c.Const.Floats(), x.Const.Floats(), y.Const.Floats()
		cs, as, bs := bstrides(c.Shape, out), bstrides(x.Shape, out), bstrides(y.Shape, out)
		isInt := x.Const.Int64 != nil && y.Const.Int64 != nil
		t := &onnx.Tensor{Type: onnx.Float, Dims: dims64(out)}
		if isInt {
			t.Type = x.Const.Type
			t.Int64 = make([]int64, prod(out))
		} else {
			t.Float32 = make([]float32, prod(out))
		}
		forEachIndex(out, func(o int, idx []int) {
			var ic, ia, ib int
			for d, v := range idx {
				ic += v * cs[d]
				ia += v * as[d]
				ib += v * bs[d]
			}
			switch {
			case isInt && cf[ic] != 0:
				t.Int64[o] = x.Const.Int64[ia]
			case isInt:
				t.Int64[o] = y.Const.Int64[ib]
			case cf[ic] != 0:
				t.Float32[o] = xf[ia]
			default:
				t.Float32[o] = yf[ib]
			}
		})
		return []*Value{ConstValue(t)}, nil
	}
	v, err := b.Apply(&whereKernel{c: c.Shape, a: x.Shape, b: y.Shape, out: out}, c, x, y)
	return []*Value{v}, err
}

// foldIntBinary evaluates BitShift and Mod on integer constants.
func foldIntBinary(name string, f func(a, b int64) (int64, error)) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		x, y := in[0], in[1]
		if x.Node != nil || y.Node != nil {
			return nil, fmt.Errorf("%s on run-time tensors is not supported (only on constants, as in the packed-weight unpack chain)", name)
		}
		if x.Const.Int64 == nil || y.Const.Int64 == nil {
			return nil, fmt.Errorf("%s on non-integer constants is not supported", name)
		}
		out, err := broadcastShape(x.Shape, y.Shape)
		if err != nil {
			return nil, err
		}
		r := make([]int64, prod(out))
		bc := newBcast(x.Shape, y.Shape, out)
		var ferr error
		bc.each(func(o, ia, ib int) {
			for i := 0; i < bc.innerLen; i++ {
				v, err := f(x.Const.Int64[ia+i*bc.ia], y.Const.Int64[ib+i*bc.ib])
				if err != nil && ferr == nil {
					ferr = err
				}
				r[o+i] = v
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		return []*Value{ConstValue(&onnx.Tensor{Type: x.Const.Type, Dims: dims64(out), Int64: r})}, nil
	}
}

func init() {
	for op, name := range cmpNames {
		since := 7
		if cmpOp(op) == cmpGreaterOrEqual || cmpOp(op) == cmpLessOrEqual {
			since = 12
		}
		Register(&Spec{OpType: name, Since: since, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
			Build: buildCompare(cmpOp(op)), Doc: "comparison with broadcasting; a run-time result is float 0/1"})
	}
	Register(&Spec{OpType: "Where", Since: 9, MinInputs: 3, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Build: buildWhere, Doc: "select by condition with broadcasting"})
	Register(&Spec{OpType: "BitShift", Since: 11, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "direction", Type: AttrString, Required: true}},
		Build: func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
			dir := n.String("direction", "")
			if dir != "LEFT" && dir != "RIGHT" {
				return nil, fmt.Errorf("direction %q: want LEFT or RIGHT", dir)
			}
			bits := 8 * onnx.DataType(0).Size()
			if in[0].Const != nil {
				bits = 8 * in[0].Const.Type.Size()
			}
			mask := int64(-1)
			if bits > 0 && bits < 64 {
				mask = int64(1)<<bits - 1
			}
			return foldIntBinary("BitShift", func(a, s int64) (int64, error) {
				if s < 0 || s >= 64 {
					return 0, nil
				}
				if dir == "LEFT" {
					return (a << uint(s)) & mask, nil
				}
				return int64(uint64(a&mask) >> uint(s)), nil
			})(b, n, in)
		}, Doc: "on unsigned integer constants (packed weights)"})
	Register(&Spec{OpType: "Mod", Since: 10, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "fmod", Type: AttrInt, Default: int64(0)}},
		Build: func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
			fmod := n.Int("fmod", 0) != 0
			return foldIntBinary("Mod", func(a, m int64) (int64, error) {
				if m == 0 {
					return 0, fmt.Errorf("Mod by zero")
				}
				r := a % m
				if !fmod && r != 0 && (r < 0) != (m < 0) {
					r += m
				}
				return r, nil
			})(b, n, in)
		}, Doc: "on integer constants (packed weights)"})
}
