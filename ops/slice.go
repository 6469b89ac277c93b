package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Slice and Pad (constant mode). Both fold at compile time on constants
// and are strided copies at run time (see copyPlan), with gradients that
// are the reverse copies.

// sliceKernel extracts a strided window of its input.
type sliceKernel struct {
	in, out       []int
	starts, steps []int
	fwd, bwd      *static.CopyPlan
}

func (k *sliceKernel) Name() string {
	return fmt.Sprintf("Slice(starts=%v,steps=%v)%v->%v", k.starts, k.steps, k.in, k.out)
}
func (k *sliceKernel) OutShape() []int { return k.out }
func (k *sliceKernel) Forward(out []float32, in ...[]float32) error {
	static.CopyStrided(k.fwd, out, in[0])
	return nil
}
func (k *sliceKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *sliceKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&sliceGradKernel{f: k, plan: k.bwd}, grad)
	return G.Nodes{g}, err
}

// sliceGradKernel: input dY; output dX (zero outside the window).
type sliceGradKernel struct {
	f    *sliceKernel
	plan *static.CopyPlan
}

func (k *sliceGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *sliceGradKernel) OutShape() []int { return k.f.in }
func (k *sliceGradKernel) Forward(out []float32, in ...[]float32) error {
	clear(out)
	static.CopyStrided(k.plan, out, in[0])
	return nil
}

func buildSlice(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x := in[0]
	starts, ends, axes, steps, err := static.SliceArgs(n, b.Opset(n), staticInputs(n, in))
	if err != nil {
		return nil, err
	}
	reg, err := static.Slice(dims64(x.Shape), starts, ends, axes, steps)
	if err != nil {
		return nil, err
	}
	out := ints(reg.Out)
	if x.Node != nil && static.Prod(out) == 0 {
		// An empty result carries no data (and Gorgonia cannot run
		// zero-sized tensors): a constant.
		return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Float, Dims: reg.Out, Float32: []float32{}})}, nil
	}
	if x.Node == nil {
		return []*Value{ConstValue(static.FoldSlice(x.Const, reg))}, nil
	}
	plan := reg.Plan()
	k := &sliceKernel{in: x.Shape, out: out, starts: ints(reg.First), steps: ints(reg.Step), fwd: plan, bwd: plan.Swapped()}
	v, err := b.Apply(k, x)
	return []*Value{v}, err
}

// padKernel pads (or, with negative pads, crops) its input with a
// constant.
type padKernel struct {
	in, out  []int
	pads     []int
	value    float32
	fwd, bwd *static.CopyPlan
	fill     bool // the output has padding to fill
	cropped  bool // some input elements are cropped away
}

func (k *padKernel) Name() string {
	return fmt.Sprintf("Pad(%v,value=%g)%v->%v", k.pads, k.value, k.in, k.out)
}
func (k *padKernel) OutShape() []int { return k.out }
func (k *padKernel) Forward(out []float32, in ...[]float32) error {
	if k.fill {
		for i := range out {
			out[i] = k.value
		}
	}
	static.CopyStrided(k.fwd, out, in[0])
	return nil
}
func (k *padKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *padKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&padGradKernel{f: k, plan: k.bwd}, grad)
	return G.Nodes{g}, err
}

// padGradKernel: input dY; output dX, the unpadded part of dY.
type padGradKernel struct {
	f    *padKernel
	plan *static.CopyPlan
}

func (k *padGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *padGradKernel) OutShape() []int { return k.f.in }
func (k *padGradKernel) Forward(out []float32, in ...[]float32) error {
	if k.f.cropped {
		clear(out)
	}
	static.CopyStrided(k.plan, out, in[0])
	return nil
}

func padModeCheck(n *onnx.Node) string {
	if m := n.String("mode", "constant"); m != "constant" {
		return fmt.Sprintf("Pad mode %q is not supported (only constant)", m)
	}
	return ""
}

func buildPad(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x := in[0]
	begin, end, value, err := static.PadArgs(n, b.Opset(n), len(x.Shape), staticInputs(n, in))
	if err != nil {
		return nil, err
	}
	pc, err := static.NewPadCopy(dims64(x.Shape), begin, end)
	if err != nil {
		return nil, err
	}
	if x.Node != nil && static.Prod(pc.Out) == 0 {
		return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Float, Dims: dims64(pc.Out), Float32: []float32{}})}, nil
	}
	if x.Node == nil {
		return []*Value{ConstValue(static.FoldPad(x.Const, pc, value))}, nil
	}
	pd := append(ints(begin), ints(end)...)
	k := &padKernel{in: x.Shape, out: pc.Out, pads: pd, value: float32(value), fwd: pc.Plan, bwd: pc.Plan.Swapped(),
		fill: pc.Fill, cropped: pc.Cropped}
	v, err := b.Apply(k, x)
	return []*Value{v}, err
}

func init() {
	Register(&Spec{OpType: "Slice", Since: 1, Until: 9, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "starts", Type: AttrInts, Required: true}, {Name: "ends", Type: AttrInts, Required: true},
			{Name: "axes", Type: AttrInts, Doc: "default: the first len(starts) axes"}},
		Build: buildSlice, Doc: "strided window (attributes)"})
	Register(&Spec{OpType: "Slice", Since: 10, MinInputs: 3, MaxInputs: 5, MinOutputs: 1, MaxOutputs: 1,
		Build: buildSlice, Doc: "strided window (constant starts/ends/axes/steps inputs, any nonzero step)"})
	mode := AttrSpec{Name: "mode", Type: AttrString, Default: "constant", Supported: padModeCheck}
	Register(&Spec{OpType: "Pad", Since: 2, Until: 10, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{mode, {Name: "pads", Type: AttrInts, Required: true}, {Name: "value", Type: AttrFloat, Default: float32(0)}},
		Build: buildPad, Doc: "constant padding (negative pads crop)"})
	Register(&Spec{OpType: "Pad", Since: 11, MinInputs: 2, MaxInputs: 4, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{mode}, Build: buildPad, Doc: "constant padding (constant pads/constant_value/axes inputs; negative pads crop)"})
}
