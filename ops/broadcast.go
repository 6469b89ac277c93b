package ops

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// broadcastShape is static.Broadcast on engine shapes.
func broadcastShape(a, b []int) ([]int, error) {
	out, err := static.Broadcast(static.Dims(a), static.Dims(b))
	return static.Ints(out), err
}

// reduceTo sums src (shape out) into dst (shape s, which broadcasts to
// out), overwriting dst.
func reduceTo(dst []float32, s []int, src []float32, out []int) {
	if static.Prod(s) == len(src) {
		copy(dst, src)
		return
	}
	for i := range dst {
		dst[i] = 0
	}
	bc := static.NewPairwise(out, s, out)
	bc.Each(func(o, _, d int) {
		run := src[o : o+bc.InnerLen]
		if bc.InnerB == 0 {
			var acc float32
			for _, v := range run {
				acc += v
			}
			dst[d] += acc
			return
		}
		for i, v := range run {
			dst[d+i*bc.InnerB] += v
		}
	})
}

// expandKernel is Expand on a runtime tensor: a broadcast copy; its
// gradient sums over the broadcast axes.
type expandKernel struct {
	in, out []int
	plan    *static.CopyPlan // small (in) <- full (out), see static.BroadcastPlan
}

func (k *expandKernel) Name() string    { return fmt.Sprintf("Expand%v->%v", k.in, k.out) }
func (k *expandKernel) OutShape() []int { return k.out }
func (k *expandKernel) Forward(out []float32, in ...[]float32) error {
	static.CopyStrided(k.plan.Swapped(), out, in[0])
	return nil
}
func (k *expandKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *expandKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&expandGradKernel{f: k}, grad)
	return G.Nodes{g}, err
}

// expandGradKernel: input dY; output dX, the sum of dY over the copies.
type expandGradKernel struct{ f *expandKernel }

func (k *expandGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *expandGradKernel) OutShape() []int { return k.f.in }
func (k *expandGradKernel) Forward(out []float32, in ...[]float32) error {
	reduceInto(k.f.plan, out, in[0])
	return nil
}

func buildExpand(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	s, err := needConst(in[1], "Expand shape")
	if err != nil {
		return nil, err
	}
	if static.IsFloatType(s.Type) {
		return nil, fmt.Errorf("Expand shape must be integers, got %s", s.Type)
	}
	x := in[0]
	o, err := static.Expand(dims64(x.Shape), s.Ints())
	if err != nil {
		return nil, err
	}
	if x.Node == nil {
		return []*Value{ConstValue(static.FoldExpand(x.Const, o))}, nil
	}
	out := ints(o)
	if slices.Equal(out, x.Shape) {
		return []*Value{{Shape: x.Shape, Node: x.Node}}, nil
	}
	v, err := b.Apply(&expandKernel{in: x.Shape, out: out, plan: static.BroadcastPlan(x.Shape, out)}, x)
	return []*Value{v}, err
}

func init() {
	Register(&Spec{OpType: "Expand", Since: 8, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Build: buildExpand, Doc: "broadcast to a constant shape"})
}
