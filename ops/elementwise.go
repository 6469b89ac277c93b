package ops

import (
	"fmt"
	"math"
	"slices"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// binOp is an elementwise arithmetic op with numpy broadcasting.
type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
)

var binNames = [...]string{"Add", "Sub", "Mul", "Div"}

// binaryKernel computes out = a (op) b with broadcasting. passA and passB
// say that an operand's gradient is the output's gradient itself (an Add's
// or Sub's first operand of the output's shape): a view, not a copy.
type binaryKernel struct {
	op           binOp
	a, b, out    []int
	passA, passB bool
	// feedsLIF is set when the output's only reader is a LIF that adds the
	// operands itself (fuseIntoLIF): Forward then leaves out unwritten.
	feedsLIF bool
}

func (k *binaryKernel) Name() string {
	return fmt.Sprintf("%s%v%v", binNames[k.op], k.a, k.b)
}
func (k *binaryKernel) OutShape() []int { return k.out }

func (k *binaryKernel) Forward(out []float32, in ...[]float32) error {
	a, b := in[0], in[1]
	if k.feedsLIF {
		return nil
	}
	if len(a) == len(out) && len(b) == len(out) {
		binLoop(k.op, out, a, b, 1, 1)
		return nil
	}
	bc := static.NewPairwise(k.a, k.b, k.out)
	bc.Each(func(o, ia, ib int) {
		n := bc.InnerLen
		if bc.InnerA == 1 && bc.InnerB == 1 {
			binLoop(k.op, out[o:o+n], a[ia:ia+n], b[ib:ib+n], 1, 1)
			return
		}
		binStrided(k.op, out[o:o+n], a[ia:], b[ib:], bc.InnerA, bc.InnerB)
	})
	return nil
}

func binLoop(op binOp, out, a, b []float32, _, _ int) {
	b = b[:len(out)]
	a = a[:len(out)]
	switch op {
	case opAdd:
		kernels.Add(out, a, b)
	case opSub:
		for i := range out {
			out[i] = a[i] - b[i]
		}
	case opMul:
		for i := range out {
			out[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range out {
			out[i] = a[i] / b[i]
		}
	}
}

func binStrided(op binOp, out, a, b []float32, sa, sb int) {
	for i := range out {
		x, y := a[i*sa], b[i*sb]
		switch op {
		case opAdd:
			out[i] = x + y
		case opSub:
			out[i] = x - y
		case opMul:
			out[i] = x * y
		case opDiv:
			out[i] = x / y
		}
	}
}

func (k *binaryKernel) DiffWRT(int) []bool { return []bool{true, true} }

func (k *binaryKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	apply := func(which int, pass bool) (*G.Node, error) {
		if pass {
			return Apply(&passGradKernel{shape: k.out}, grad)
		}
		return Apply(&binaryGradKernel{f: k, which: which}, in[0], in[1], grad)
	}
	ga, err := apply(0, k.passA)
	if err != nil {
		return nil, err
	}
	gb, err := apply(1, k.passB)
	if err != nil {
		return nil, err
	}
	return G.Nodes{ga, gb}, nil
}

// binaryGradKernel computes the gradient of a binaryKernel with respect to
// one operand, reduced to that operand's shape. Inputs: a, b, dOut.
type binaryGradKernel struct {
	f     *binaryKernel
	which int
	tmp   []float32
}

func (k *binaryGradKernel) Name() string {
	return fmt.Sprintf("d%s/d%c", k.f.Name(), "ab"[k.which])
}

func (k *binaryGradKernel) OutShape() []int {
	if k.which == 0 {
		return k.f.a
	}
	return k.f.b
}

func (k *binaryGradKernel) Forward(out []float32, in ...[]float32) error {
	a, b, gy := in[0], in[1], in[2]
	f := k.f
	shape := k.OutShape()
	op := f.op
	if op == opAdd || (op == opSub && k.which == 0) {
		reduceTo(out, shape, gy, f.out)
		return nil
	}
	if k.tmp == nil {
		k.tmp = make([]float32, len(gy))
	}
	t := k.tmp
	// t = elementwise partial * gy over the broadcast output.
	bc := static.NewPairwise(f.a, f.b, f.out)
	bc.Each(func(o, ia, ib int) {
		for i := 0; i < bc.InnerLen; i++ {
			x, y, g := a[ia+i*bc.InnerA], b[ib+i*bc.InnerB], gy[o+i]
			var v float32
			switch {
			case op == opSub: // which == 1
				v = -g
			case op == opMul && k.which == 0:
				v = g * y
			case op == opMul:
				v = g * x
			case op == opDiv && k.which == 0:
				v = g / y
			default: // d(x/y)/dy
				v = -g * x / (y * y)
			}
			t[o+i] = v
		}
	})
	reduceTo(out, shape, t, f.out)
	return nil
}

func buildBinary(op binOp) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		x, y := in[0], in[1]
		out, err := broadcastShape(x.Shape, y.Shape)
		if err != nil {
			return nil, err
		}
		if x.Node == nil && y.Node == nil {
			t, err := static.FoldArith(binNames[op], x.Const, y.Const)
			if err != nil {
				return nil, err
			}
			return []*Value{ConstValue(t)}, nil
		}
		k := &binaryKernel{op: op, a: x.Shape, b: y.Shape, out: out}
		if op == opAdd || op == opSub {
			k.passA = slices.Equal(x.Shape, out)
			k.passB = op == opAdd && slices.Equal(y.Shape, out)
		}
		v, err := b.Apply(k, x, y)
		return []*Value{v}, err
	}
}

// unaryKind selects an elementwise function.
type unaryKind int

const (
	unRelu unaryKind = iota
	unSigmoid
	unClip
	unLeakyRelu
	unIdentity
	unNeg
	unTanh
)

var unaryNames = [...]string{"Relu", "Sigmoid", "Clip", "LeakyRelu", "Identity", "Neg", "Tanh"}

// unaryKernel applies an elementwise function; lo and hi are Clip's bounds,
// alpha LeakyRelu's slope.
type unaryKernel struct {
	kind      unaryKind
	shape     []int
	lo, hi    float32
	alpha     float32
	parallels int
}

func (k *unaryKernel) Name() string {
	switch k.kind {
	case unClip:
		return fmt.Sprintf("Clip[%g,%g]%v", k.lo, k.hi, k.shape)
	case unLeakyRelu:
		return fmt.Sprintf("LeakyRelu(%g)%v", k.alpha, k.shape)
	}
	return fmt.Sprintf("%s%v", unaryNames[k.kind], k.shape)
}
func (k *unaryKernel) OutShape() []int { return k.shape }

func (k *unaryKernel) Forward(out []float32, in ...[]float32) error {
	x := in[0][:len(out)]
	switch k.kind {
	case unRelu:
		kernels.Relu(out, x)
	case unSigmoid:
		for i, v := range x {
			out[i] = sigmoid(v)
		}
	case unTanh:
		for i, v := range x {
			out[i] = float32(math.Tanh(float64(v)))
		}
	case unClip:
		for i, v := range x {
			out[i] = min(max(v, k.lo), k.hi)
		}
	case unLeakyRelu:
		for i, v := range x {
			if v >= 0 {
				out[i] = v
			} else {
				out[i] = k.alpha * v
			}
		}
	case unIdentity:
		copy(out, x)
	case unNeg:
		for i, v := range x {
			out[i] = -v
		}
	}
	return nil
}

func sigmoid(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }

func (k *unaryKernel) DiffWRT(int) []bool { return []bool{true} }

func (k *unaryKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&unaryGradKernel{f: k}, in[0], grad)
	return G.Nodes{g}, err
}

// unaryGradKernel: inputs x, dY; output dX.
type unaryGradKernel struct{ f *unaryKernel }

func (k *unaryGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *unaryGradKernel) OutShape() []int { return k.f.shape }

func (k *unaryGradKernel) Forward(out []float32, in ...[]float32) error {
	x, gy := in[0][:len(out)], in[1][:len(out)]
	switch k.f.kind {
	case unRelu:
		kernels.ReluGrad(out, x, gy)
	case unSigmoid:
		for i, v := range x {
			s := sigmoid(v)
			out[i] = gy[i] * s * (1 - s)
		}
	case unTanh:
		for i, v := range x {
			t := float32(math.Tanh(float64(v)))
			out[i] = gy[i] * (1 - t*t)
		}
	case unClip:
		// PyTorch's hardtanh/clamp gradient: 1 strictly inside (and at the
		// bounds), 0 outside.
		for i, v := range x {
			if v >= k.f.lo && v <= k.f.hi {
				out[i] = gy[i]
			} else {
				out[i] = 0
			}
		}
	case unLeakyRelu:
		for i, v := range x {
			if v >= 0 {
				out[i] = gy[i]
			} else {
				out[i] = k.f.alpha * gy[i]
			}
		}
	case unIdentity:
		copy(out, gy)
	case unNeg:
		for i := range out {
			out[i] = -gy[i]
		}
	}
	return nil
}

func buildUnary(kind unaryKind) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		k := &unaryKernel{kind: kind, shape: in[0].Shape, alpha: n.Float("alpha", 0.01)}
		if kind == unIdentity && in[0].Node == nil {
			return []*Value{{Shape: in[0].Shape, Const: in[0].Const}}, nil
		}
		if kind == unNeg && in[0].Node == nil {
			t, err := static.FoldUnary("Neg", in[0].Const)
			if err != nil {
				return nil, err
			}
			return []*Value{ConstValue(t)}, nil
		}
		v, err := b.Apply(k, in[0])
		return []*Value{v}, err
	}
}

// buildClip handles Clip in both forms: min/max attributes (opset < 11) and
// optional inputs (opset >= 11), which must be constants.
func buildClip(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	lo, hi, _, err := static.ClipBounds(n, b.Opset(n), staticInputs(n, in))
	if err != nil {
		return nil, err
	}
	v, err := b.Apply(&unaryKernel{kind: unClip, shape: in[0].Shape, lo: lo, hi: hi}, in[0])
	return []*Value{v}, err
}

func init() {
	for op, name := range binNames {
		Register(&Spec{OpType: name, Since: 7, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
			Build: buildBinary(binOp(op)), Doc: "elementwise " + name + " with numpy broadcasting"})
	}
	for _, u := range []struct {
		kind unaryKind
		doc  string
	}{{unRelu, "max(x, 0)"}, {unSigmoid, "logistic sigmoid"}, {unNeg, "-x"}, {unTanh, "tanh"}} {
		Register(&Spec{OpType: unaryNames[u.kind], Since: 6, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
			Build: buildUnary(u.kind), Doc: u.doc})
	}
	Register(&Spec{OpType: "LeakyRelu", Since: 6, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "alpha", Type: AttrFloat, Default: float32(0.01)}},
		Build: buildUnary(unLeakyRelu), Doc: "x if x >= 0 else alpha*x"})
	Register(&Spec{OpType: "Identity", Since: 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Build: buildUnary(unIdentity), Doc: "copy"})
	Register(&Spec{OpType: "Clip", Since: 6, MinInputs: 1, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "min", Type: AttrFloat}, {Name: "max", Type: AttrFloat}},
		Build: buildClip, Doc: "clamp to [min, max] (attributes before opset 11, inputs after)"})
	Register(&Spec{OpType: "Dropout", Since: 7, MinInputs: 1, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 2,
		Attrs: []AttrSpec{{Name: "ratio", Type: AttrFloat}, {Name: "seed", Type: AttrInt}},
		Build: func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
			// Inference semantics: the identity (and an all-true mask).
			out, err := buildUnary(unIdentity)(b, n, in[:1])
			if err != nil || len(n.Outputs) < 2 || n.Outputs[1] == "" {
				return out, err
			}
			mask := make([]bool, static.Prod(in[0].Shape))
			for i := range mask {
				mask[i] = true
			}
			dims := make([]int64, len(in[0].Shape))
			for i, d := range in[0].Shape {
				dims[i] = int64(d)
			}
			return append(out, ConstValue(&onnx.Tensor{Type: onnx.Bool, Dims: dims, Bool: mask})), nil
		}, Doc: "inference: identity"})
}
