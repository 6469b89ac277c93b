package ops

import (
	"fmt"
	"math"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// ReduceSum and ReduceMean (axes as an attribute or, from opset 13 / 18, a
// constant input; keepdims; noop_with_empty_axes), and the variadic
// broadcasting Sum, Max and Min. All are built on one plan relating a
// "full" tensor to a "small" one that broadcasts to it (reduced axes, or
// broadcast axes of an operand, have stride 0 on the small side).

// Combination modes of expand.
const (
	combSet = iota
	combAdd
	combMax
	combMin
)

// reduceInto sets small to the sums of full over the broadcast axes of
// plan p (see bcastPlan).
func reduceInto[T float32 | float64](p *static.CopyPlan, small, full []T) {
	clear(small)
	if p.Empty {
		return
	}
	k := len(p.Dims) - 1
	n, ds, fs := p.Dims[k], p.DS[k], p.SS[k]
	idx := p.Odometer()
	doff, soff := p.DBase, p.SBase
	for {
		run := full[soff : soff+(n-1)*fs+1]
		if ds == 0 {
			var acc float64
			for j := 0; j < n; j++ {
				acc += float64(run[j*fs])
			}
			small[doff] += T(acc)
		} else {
			for j := 0; j < n; j++ {
				small[doff+j*ds] += run[j*fs]
			}
		}
		if !p.Next(idx, &doff, &soff) {
			return
		}
	}
}

// expand combines small, broadcast over plan p, into full: set (times
// scale), add, max or min (NaN propagating).
func expand[T float32 | float64](p *static.CopyPlan, full, small []T, scale T, comb int) {
	if p.Empty {
		return
	}
	k := len(p.Dims) - 1
	n, ds, fs := p.Dims[k], p.DS[k], p.SS[k]
	idx := p.Odometer()
	doff, soff := p.DBase, p.SBase
	for {
		for j := 0; j < n; j++ {
			v := small[doff+j*ds]
			o := &full[soff+j*fs]
			switch comb {
			case combSet:
				*o = v * scale
			case combAdd:
				*o += v
			case combMax:
				if v > *o || v != v {
					*o = v
				}
			case combMin:
				if v < *o || v != v {
					*o = v
				}
			}
		}
		if !p.Next(idx, &doff, &soff) {
			return
		}
	}
}

// reduceKernel is ReduceSum or ReduceMean: output = sum (times scale) over
// the reduced axes.
type reduceKernel struct {
	op      string
	in, out []int
	keep    []int // the output with reduced axes kept as 1
	scale   float32
	plan    *static.CopyPlan
}

func (k *reduceKernel) Name() string {
	return fmt.Sprintf("%s%v->%v", k.op, k.in, k.keep)
}
func (k *reduceKernel) OutShape() []int { return k.out }
func (k *reduceKernel) Forward(out []float32, in ...[]float32) error {
	reduceInto(k.plan, out, in[0])
	if k.scale != 1 {
		for i := range out {
			out[i] *= k.scale
		}
	}
	return nil
}
func (k *reduceKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *reduceKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&reduceGradKernel{f: k, plan: static.BroadcastPlan(k.keep, k.in)}, grad)
	return G.Nodes{g}, err
}

// reduceGradKernel: input dY; output dX = dY broadcast, times scale.
type reduceGradKernel struct {
	f    *reduceKernel
	plan *static.CopyPlan
}

func (k *reduceGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *reduceGradKernel) OutShape() []int { return k.f.in }
func (k *reduceGradKernel) Forward(out []float32, in ...[]float32) error {
	expand(k.plan, out, in[0], k.f.scale, combSet)
	return nil
}

func buildReduce(mean bool, inputSince int) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		x := in[0]
		red, err := static.ReduceArgs(n, b.Opset(n), inputSince, dims64(x.Shape), staticInputs(n, in))
		if err != nil {
			return nil, err
		}
		if red.Noop {
			return []*Value{{Shape: x.Shape, Node: x.Node, Const: x.Const}}, nil
		}
		keep, out := ints(red.Keep), ints(red.Out)
		k := &reduceKernel{op: n.OpType, in: x.Shape, out: out, keep: keep, scale: 1, plan: static.BroadcastPlan(keep, x.Shape)}
		if mean {
			cnt := 1
			for i, d := range x.Shape {
				if red.Reduced[i] {
					cnt *= d
				}
			}
			if cnt == 0 {
				return nil, fmt.Errorf("mean over an empty reduction of %v", x.Shape)
			}
			k.scale = float32(1 / float64(cnt))
		}
		if x.Node == nil {
			src := toF64(x.Const)
			dst := make([]float64, static.Prod(keep))
			reduceInto(k.plan, dst, src)
			for i := range dst {
				dst[i] *= float64(k.scale)
			}
			return []*Value{ConstValue(fromF64(dst, out, x.Const.Int64 != nil && !mean))}, nil
		}
		if len(out) == 0 {
			// Gorgonia scalars: keep the kernel output 0-d.
			k.out = nil
		}
		v, err := b.Apply(k, x)
		if err != nil {
			return nil, err
		}
		v.Shape = out
		return []*Value{v}, nil
	}
}

func toF64(t *onnx.Tensor) []float64 {
	if t.Float64 != nil {
		return t.Float64
	}
	if t.Int64 != nil {
		d := make([]float64, len(t.Int64))
		for i, v := range t.Int64 {
			d[i] = float64(v)
		}
		return d
	}
	f := t.Floats()
	d := make([]float64, len(f))
	for i, v := range f {
		d[i] = float64(v)
	}
	return d
}

func fromF64(d []float64, shape []int, isInt bool) *onnx.Tensor {
	t := &onnx.Tensor{Type: onnx.Float, Dims: dims64(shape)}
	if isInt {
		t.Type = onnx.Int64
		t.Int64 = make([]int64, len(d))
		for i, v := range d {
			t.Int64[i] = int64(math.Round(v))
		}
		return t
	}
	t.Float32 = make([]float32, len(d))
	for i, v := range d {
		t.Float32[i] = float32(v)
	}
	return t
}

// variadicKernel is Sum, Max or Min of broadcast inputs.
type variadicKernel struct {
	comb   int // combAdd, combMax, combMin
	shapes [][]int
	out    []int
	plans  []*static.CopyPlan
}

var variadicNames = map[int]string{combAdd: "Sum", combMax: "Max", combMin: "Min"}

func (k *variadicKernel) Name() string {
	return fmt.Sprintf("%s%v", variadicNames[k.comb], k.shapes)
}
func (k *variadicKernel) OutShape() []int { return k.out }
func (k *variadicKernel) Forward(out []float32, in ...[]float32) error {
	for i, x := range in {
		c := k.comb
		if i == 0 {
			c = combSet
		}
		expand(k.plans[i], out, x, 1, c)
	}
	return nil
}
func (k *variadicKernel) DiffWRT(arity int) []bool { return allTrue(arity) }
func (k *variadicKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	gs := make(G.Nodes, len(in))
	for j := range in {
		gk := &variadicGradKernel{f: k, which: j, plans: make([]*static.CopyPlan, len(k.shapes))}
		for i, s := range k.shapes {
			gk.plans[i] = static.BroadcastPlan(s, k.out)
		}
		args := G.Nodes{grad}
		if k.comb != combAdd {
			args = append(append(args, out), in...)
		}
		g, err := Apply(gk, args...)
		if err != nil {
			return nil, err
		}
		gs[j] = g
	}
	return gs, nil
}

// variadicGradKernel: inputs dY (Sum), or dY, Y, X0..Xn-1 (Max, Min);
// output the gradient of input which, reduced to its shape. Max and Min
// split the gradient evenly between tied inputs (as PyTorch's maximum and
// minimum do for two).
type variadicGradKernel struct {
	f        *variadicKernel
	which    int
	plans    []*static.CopyPlan
	tmp, cnt []float32
}

func (k *variadicGradKernel) Name() string {
	return fmt.Sprintf("d%s/d%d", k.f.Name(), k.which)
}
func (k *variadicGradKernel) OutShape() []int { return k.f.shapes[k.which] }
func (k *variadicGradKernel) Forward(out []float32, in ...[]float32) error {
	dy := in[0]
	p := k.plans[k.which]
	if k.f.comb == combAdd {
		reduceInto(p, out, dy)
		return nil
	}
	y, xs := in[1], in[2:]
	n := len(dy)
	if k.tmp == nil {
		k.tmp, k.cnt = make([]float32, n), make([]float32, n)
	}
	clear(k.cnt)
	for i, x := range xs {
		expand(k.plans[i], k.tmp, x, 1, combSet)
		for e, v := range k.tmp {
			if v == y[e] || v != v && y[e] != y[e] {
				k.cnt[e]++
			}
		}
	}
	expand(p, k.tmp, xs[k.which], 1, combSet)
	for e, v := range k.tmp {
		if (v == y[e] || v != v && y[e] != y[e]) && k.cnt[e] > 0 {
			k.tmp[e] = dy[e] / k.cnt[e]
		} else {
			k.tmp[e] = 0
		}
	}
	reduceInto(p, out, k.tmp)
	return nil
}

func buildVariadic(comb int) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		out := []int{}
		allConst := true
		for i, v := range in {
			if v == nil {
				return nil, fmt.Errorf("input %d is empty", i)
			}
			s, err := broadcastShape(out, v.Shape)
			if err != nil {
				return nil, err
			}
			if b.Opset(n) < 8 && i > 0 && !slices.Equal(v.Shape, in[0].Shape) {
				return nil, fmt.Errorf("opset %d %s needs equal shapes, got %v and %v", b.Opset(n), n.OpType, in[0].Shape, v.Shape)
			}
			out = s
			allConst = allConst && v.Node == nil
		}
		if len(in) == 1 {
			return []*Value{{Shape: in[0].Shape, Node: in[0].Node, Const: in[0].Const}}, nil
		}
		k := &variadicKernel{comb: comb, out: out}
		isInt := true
		for _, v := range in {
			k.shapes = append(k.shapes, v.Shape)
			k.plans = append(k.plans, static.BroadcastPlan(v.Shape, out))
			isInt = isInt && v.Const != nil && v.Const.Int64 != nil
		}
		if allConst {
			dst := make([]float64, static.Prod(out))
			for i, v := range in {
				c := comb
				if i == 0 {
					c = combSet
				}
				expand(k.plans[i], dst, toF64(v.Const), 1, c)
			}
			return []*Value{ConstValue(fromF64(dst, out, isInt))}, nil
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s of scalars at run time is not supported", n.OpType)
		}
		v, err := b.Apply(k, in...)
		return []*Value{v}, err
	}
}

func init() {
	keep := AttrSpec{Name: "keepdims", Type: AttrInt, Default: int64(1)}
	noop := AttrSpec{Name: "noop_with_empty_axes", Type: AttrInt, Default: int64(0)}
	axes := AttrSpec{Name: "axes", Type: AttrInts, Doc: "default: all axes"}
	for _, r := range []struct {
		name       string
		mean       bool
		inputSince int
	}{{"ReduceSum", false, 13}, {"ReduceMean", true, 18}} {
		what := strings.TrimPrefix(strings.ToLower(r.name), "reduce")
		Register(&Spec{OpType: r.name, Since: 1, Until: r.inputSince - 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
			Attrs: []AttrSpec{axes, keep}, Build: buildReduce(r.mean, r.inputSince), Doc: what + " over axes (attribute)"})
		Register(&Spec{OpType: r.name, Since: r.inputSince, MinInputs: 1, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
			Attrs: []AttrSpec{keep, noop}, Build: buildReduce(r.mean, r.inputSince), Doc: what + " over axes (constant input)"})
	}
	for comb, name := range variadicNames {
		Register(&Spec{OpType: name, Since: 6, MinInputs: 1, MaxInputs: -1, MinOutputs: 1, MaxOutputs: 1,
			Build: buildVariadic(comb), Doc: "elementwise " + strings.ToLower(name) + " of inputs with numpy broadcasting"})
	}
}
