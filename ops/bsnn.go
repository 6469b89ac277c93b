package ops

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// The kernels of the BSNN custom ops (package bsnn holds their schemas,
// attribute parsing and FunctionProto bodies): BipolarQuant (sign
// binarization, QONNX's domain), LIF and LIFStep (leaky integrate-and-fire
// neurons) and AGMMGate (adaptive gradient modulation), as Gorgonia
// kernels wrapping ops/spiking.

// Training-only settings of the BSNN ops live in Options (they are not
// stored in files): STE selects BipolarQuant's straight-through estimator.

// BinaryTap describes a binary layer's weight for training metrics: the
// latent parameter that BipolarQuant binarizes.
type BinaryTap struct {
	Node   string // the BipolarQuant node
	Latent *Param // nil when the latent weight is not a parameter (frozen)
	Output string // the binarized tensor (weight_bin)
}

// LIFTap exposes a LIF node's firing statistics after each forward run.
type LIFTap struct {
	Node string
	T, M int
	// Rate[t] is the fraction of neurons that fired at step t in the last
	// forward run.
	Rate []float64
}

// MeanRate returns the firing rate over all steps.
func (t *LIFTap) MeanRate() float64 {
	var s float64
	for _, r := range t.Rate {
		s += r
	}
	return s / float64(max(len(t.Rate), 1))
}

// AGMMTap exposes an AGMMGate's alpha and its gates after each forward run.
type AGMMTap struct {
	Node  string
	T, N  int
	Alpha *Param    // nil when alpha is frozen
	Gates []float32 // [T*N] gates g[t,n] of the last forward run
	// InputLen is D, the per-sample size of the gated tensor (for SOPs).
	InputLen int
}

// MeanGate returns the mean gate at each step.
func (t *AGMMTap) MeanGate() []float64 {
	out := make([]float64, t.T)
	for i := 0; i < t.T; i++ {
		var s float64
		for n := 0; n < t.N; n++ {
			s += float64(t.Gates[i*t.N+n])
		}
		out[i] = s / float64(max(t.N, 1))
	}
	return out
}

// ---- BipolarQuant ----

type bipolarKernel struct {
	shape       []int
	scale       []float32
	channelSize int
	ste         spiking.STE
}

func (k *bipolarKernel) Name() string    { return fmt.Sprintf("BipolarQuant%v", k.shape) }
func (k *bipolarKernel) OutShape() []int { return k.shape }
func (k *bipolarKernel) Forward(out []float32, in ...[]float32) error {
	return spiking.BipolarForward(in[0], out, k.scale, k.channelSize)
}
func (k *bipolarKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *bipolarKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&bipolarGradKernel{f: k}, in[0], grad)
	return G.Nodes{g}, err
}

type bipolarGradKernel struct{ f *bipolarKernel }

func (k *bipolarGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *bipolarGradKernel) OutShape() []int { return k.f.shape }
func (k *bipolarGradKernel) Forward(out []float32, in ...[]float32) error {
	return spiking.BipolarBackward(in[0], in[1], out, k.f.scale, k.f.channelSize, k.f.ste)
}

func buildBipolarQuant(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x, s := in[0], in[1]
	sc, err := needConst(s, "BipolarQuant scale")
	if err != nil {
		return nil, err
	}
	scale, channel, err := bsnn.BipolarScale(dims64(x.Shape), sc.Dims, sc.Floats())
	if err != nil {
		return nil, err
	}
	k := &bipolarKernel{shape: x.Shape, scale: scale, channelSize: channel}
	steName := b.Opts.STE
	if steName == "" {
		steName = "clipped"
	}
	ste, err := spiking.ParseSTE(steName)
	if err != nil {
		return nil, err
	}
	k.ste = ste
	if x.Node == nil && (b.Opts.Frozen[x.Name] || b.Graph.Initializers[x.Name] == nil) {
		// Constant weights: binarize at compile time.
		y, err := bsnn.FoldBipolarQuant(x.Const, sc)
		if err != nil {
			return nil, err
		}
		b.Binary = append(b.Binary, &BinaryTap{Node: n.Label(), Output: n.Outputs[0]})
		return []*Value{ConstValue(y)}, nil
	}
	v, err := b.Apply(k, x)
	if err != nil {
		return nil, err
	}
	b.Binary = append(b.Binary, &BinaryTap{Node: n.Label(), Latent: b.Param(x.Name), Output: n.Outputs[0]})
	return []*Value{v}, nil
}

// ---- LIF ----

type lifKernel struct {
	p      spiking.LIFParams
	shape  []int
	T, M   int
	tap    *LIFTap
	counts []int64 // spikes per step of the last run
	// fused, when set, says what the LIF computes its input from
	// (fuseIntoLIF): then the kernel's inputs are X (not read: a view of
	// an output left unwritten), the BatchNormalization's input and, with
	// a residual Add, the Add's other operand.
	fused *lifFusion
}

func (k *lifKernel) Name() string    { return fmt.Sprintf("LIF(%+v)%v", k.p, k.shape) }
func (k *lifKernel) OutShape() []int { return k.shape }
func (k *lifKernel) Forward(out []float32, in ...[]float32) error {
	x, aff := k.input(in)
	if k.tap == nil {
		return spiking.LIFForwardAffine(k.p, k.T, k.M, x, aff, out, nil, nil)
	}
	if k.counts == nil {
		k.counts = make([]int64, k.T)
	}
	if err := spiking.LIFForwardAffine(k.p, k.T, k.M, x, aff, out, nil, k.counts); err != nil {
		return err
	}
	for t, c := range k.counts {
		k.tap.Rate[t] = float64(c) / float64(max(k.M, 1))
	}
	return nil
}

// DiffWRT differentiates X only: the gradient of a fused BatchNormalization
// (and Add) flows through X, to their own gradient kernels.
func (k *lifKernel) DiffWRT(arity int) []bool { return diffFlags(arity, true) }
func (k *lifKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&lifGradKernel{f: k}, append(G.Nodes{in[0], grad}, in[1:]...)...)
	return G.Nodes{g}, err
}

// input returns the LIF's input and its mapping from the kernel's inputs
// (X, or X, the BatchNormalization's input and the residual).
func (k *lifKernel) input(in [][]float32) ([]float32, *spiking.Affine) {
	f := k.fused
	if f == nil {
		return in[0], nil
	}
	f.bn.aff.R = nil
	if f.add != nil {
		f.bn.aff.R = in[2]
	}
	return in[1], &f.bn.aff
}

// lifGradKernel: inputs X, dS (and for a fused LIF the extra inputs of
// lifKernel); output dX.
type lifGradKernel struct{ f *lifKernel }

func (k *lifGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *lifGradKernel) OutShape() []int { return k.f.shape }
func (k *lifGradKernel) Forward(out []float32, in ...[]float32) error {
	x, aff := k.f.input(append([][]float32{in[0]}, in[2:]...))
	var bn *bnKernel
	if f := k.f.fused; f != nil && f.bn.training {
		// Also the row sums of the BatchNormalization's backward pass.
		bn = f.bn
		bn.rowSums = growF32(bn.rowSums, 2*bn.n*bn.c)
		aff.Mean, aff.RowSums = bn.mean, bn.rowSums
	}
	err := spiking.LIFBackwardAffine(k.f.p, k.f.T, k.f.M, x, aff, in[1], nil, out)
	if bn != nil {
		bn.sumsReady = err == nil && aff.SumsOK()
		aff.Mean, aff.RowSums = nil, nil
	}
	return err
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// lifFinalKernel computes LIF's optional V_T output; its gradient is BPTT
// from dV_T alone (the spikes' gradient flows through lifKernel, and
// gorgonia sums the two).
type lifFinalKernel struct {
	p     spiking.LIFParams
	T, M  int
	shape []int
	s     []float32
}

func (k *lifFinalKernel) Name() string    { return fmt.Sprintf("LIF.V_T(%+v)%v", k.p, k.shape) }
func (k *lifFinalKernel) OutShape() []int { return k.shape }
func (k *lifFinalKernel) Forward(out []float32, in ...[]float32) error {
	if k.s == nil {
		k.s = make([]float32, k.T*k.M)
	}
	return spiking.LIFForward(k.p, k.T, k.M, in[0], k.s, out)
}
func (k *lifFinalKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *lifFinalKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&lifFinalGradKernel{f: k}, in[0], grad)
	return G.Nodes{g}, err
}

type lifFinalGradKernel struct {
	f    *lifFinalKernel
	zero []float32
}

func (k *lifFinalGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *lifFinalGradKernel) OutShape() []int { return append([]int{k.f.T}, k.f.shape...) }
func (k *lifFinalGradKernel) Forward(out []float32, in ...[]float32) error {
	if k.zero == nil {
		k.zero = make([]float32, len(out))
	}
	return spiking.LIFBackward(k.f.p, k.f.T, k.f.M, in[0], k.zero, in[1], out)
}

func buildLIF(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	p, err := bsnn.ParseLIF(n)
	if err != nil {
		return nil, err
	}
	x := in[0]
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("LIF input must be time-major [T, N, ...], got shape %v", x.Shape)
	}
	T, M := x.Shape[0], static.Prod(x.Shape[1:])
	tap := &LIFTap{Node: n.Label(), T: T, M: M, Rate: make([]float64, T)}
	k := &lifKernel{p: p, shape: x.Shape, T: T, M: M, tap: tap}
	args := []*Value{x}
	if len(n.Outputs) < 2 || n.Outputs[1] == "" || !used(b, n.Outputs[1]) {
		if k.fused = fuseIntoLIF(b, n.Inputs[0], T*M); k.fused != nil {
			args = append(args, k.fused.inputs...)
		}
	}
	s, err := b.Apply(k, args...)
	if err != nil {
		return nil, err
	}
	b.LIF = append(b.LIF, tap)
	out := []*Value{s}
	// V_T costs a second pass over the steps: build it only when a node or
	// the graph output reads it (files name it even when nobody does).
	if len(n.Outputs) > 1 && n.Outputs[1] != "" && used(b, n.Outputs[1]) {
		v, err := b.Apply(&lifFinalKernel{p: p, T: T, M: M, shape: x.Shape[1:]}, x)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ---- LIFStep ----

// lifStepKernel computes one of LIFStep's outputs (which: 0 spikes, 1 the
// next membrane) from (X_t, V).
type lifStepKernel struct {
	p     spiking.LIFParams
	shape []int
	which int
	other []float32
}

func (k *lifStepKernel) Name() string {
	return fmt.Sprintf("LIFStep[%d](%+v)%v", k.which, k.p, k.shape)
}
func (k *lifStepKernel) OutShape() []int { return k.shape }
func (k *lifStepKernel) Forward(out []float32, in ...[]float32) error {
	if k.other == nil {
		k.other = make([]float32, len(out))
	}
	if k.which == 0 {
		return spiking.LIFStep(k.p, in[0], in[1], out, k.other)
	}
	return spiking.LIFStep(k.p, in[0], in[1], k.other, out)
}
func (k *lifStepKernel) DiffWRT(int) []bool { return []bool{true, true} }
func (k *lifStepKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	gx, err := Apply(&lifStepGradKernel{f: k, wrt: 0}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	gv, err := Apply(&lifStepGradKernel{f: k, wrt: 1}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{gx, gv}, nil
}

// lifStepGradKernel: inputs X_t, V, d(output which); output dX_t or dV.
type lifStepGradKernel struct {
	f         *lifStepKernel
	wrt       int
	zero, tmp []float32
}

func (k *lifStepGradKernel) Name() string    { return fmt.Sprintf("d%s/d%d", k.f.Name(), k.wrt) }
func (k *lifStepGradKernel) OutShape() []int { return k.f.shape }
func (k *lifStepGradKernel) Forward(out []float32, in ...[]float32) error {
	if k.zero == nil {
		k.zero = make([]float32, len(out))
		k.tmp = make([]float32, len(out))
	}
	gs, gv := in[2], k.zero
	if k.f.which == 1 {
		gs, gv = k.zero, in[2]
	}
	if k.wrt == 0 {
		return spiking.LIFStepBackward(k.f.p, in[0], in[1], gs, gv, out, k.tmp)
	}
	return spiking.LIFStepBackward(k.f.p, in[0], in[1], gs, gv, k.tmp, out)
}

func buildLIFStep(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	p, err := bsnn.ParseLIF(n)
	if err != nil {
		return nil, err
	}
	x, v := in[0], in[1]
	if !slices.Equal(x.Shape, v.Shape) {
		return nil, fmt.Errorf("LIFStep input %v and membrane %v shapes differ", x.Shape, v.Shape)
	}
	var out []*Value
	for which := range n.Outputs {
		if which > 1 || n.Outputs[which] == "" {
			out = append(out, nil)
			continue
		}
		o, err := b.Apply(&lifStepKernel{p: p, shape: x.Shape, which: which}, x, v)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// ---- AGMMGate ----

type agmmKernel struct {
	p       spiking.AGMMParams
	shape   []int
	T, N, D int
	tap     *AGMMTap
	dalpha  []float32 // [T], written by the dX kernel
}

func (k *agmmKernel) Name() string    { return fmt.Sprintf("AGMMGate(%+v)%v", k.p, k.shape) }
func (k *agmmKernel) OutShape() []int { return k.shape }
func (k *agmmKernel) Forward(out []float32, in ...[]float32) error {
	return spiking.AGMMForward(k.p, k.T, k.N, k.D, in[0], in[1], out, k.tap.Gates)
}
func (k *agmmKernel) DiffWRT(int) []bool { return []bool{true, true} }

// Grad computes both gradients in one pass over X and dY: the dX kernel
// also leaves dalpha in the forward kernel's dalpha, and the dalpha kernel
// (which takes dX as input to run after it) copies it out.
func (k *agmmKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	gx, err := Apply(&agmmGradKernel{f: k}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	ga, err := Apply(&agmmAlphaGradKernel{f: k}, gx)
	if err != nil {
		return nil, err
	}
	return G.Nodes{gx, ga}, nil
}

// agmmGradKernel: inputs X, alpha, dY; output dX; dalpha into f.dalpha.
type agmmGradKernel struct{ f *agmmKernel }

func (k *agmmGradKernel) Name() string    { return "dX/" + k.f.Name() }
func (k *agmmGradKernel) OutShape() []int { return k.f.shape }
func (k *agmmGradKernel) Forward(out []float32, in ...[]float32) error {
	f := k.f
	return spiking.AGMMBackward(f.p, f.T, f.N, f.D, in[0], in[1], in[2], out, f.dalpha)
}

// agmmAlphaGradKernel: input dX (only to run after agmmGradKernel);
// output dalpha.
type agmmAlphaGradKernel struct{ f *agmmKernel }

func (k *agmmAlphaGradKernel) Name() string    { return "dalpha/" + k.f.Name() }
func (k *agmmAlphaGradKernel) OutShape() []int { return []int{k.f.T} }
func (k *agmmAlphaGradKernel) Forward(out []float32, in ...[]float32) error {
	copy(out, k.f.dalpha)
	return nil
}

func buildAGMMGate(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	p, err := bsnn.ParseAGMMGate(n)
	if err != nil {
		return nil, err
	}
	x, alpha := in[0], in[1]
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("AGMMGate input must be time-major [T, N, ...], got shape %v", x.Shape)
	}
	T, N := x.Shape[0], x.Shape[1]
	if alpha.Len() != T {
		return nil, fmt.Errorf("alpha has %d values, input has T=%d steps", alpha.Len(), T)
	}
	D := static.Prod(x.Shape[2:])
	tap := &AGMMTap{Node: n.Label(), T: T, N: N, Gates: make([]float32, T*N), InputLen: D}
	y, err := b.Apply(&agmmKernel{p: p, shape: x.Shape, T: T, N: N, D: D, tap: tap, dalpha: make([]float32, T)}, x, alpha)
	if err != nil {
		return nil, err
	}
	tap.Alpha = b.Param(alpha.Name)
	b.AGMM = append(b.AGMM, tap)
	return []*Value{y}, nil
}

// registerCustom registers the kernels of a custom op of the BSNN format
// under its schema (package bsnn).
func registerCustom(op *bsnn.Op, build BuildFunc) {
	attrs := make([]AttrSpec, len(op.Attrs))
	for i, a := range op.Attrs {
		attrs[i] = AttrSpec{Name: a.Name, Type: attrTypeOf[a.Type], Default: a.Default, Doc: a.Doc}
	}
	Register(&Spec{Domain: op.Domain, OpType: op.Name, Since: 1, MinInputs: op.MinInputs, MaxInputs: op.MaxInputs,
		MinOutputs: op.MinOutputs, MaxOutputs: op.MaxOutputs, Attrs: attrs, Build: build, Function: op.Function, Doc: op.Doc})
}

var attrTypeOf = map[onnxpb.AttributeProto_AttributeType]AttrType{
	onnxpb.AttributeProto_INT: AttrInt, onnxpb.AttributeProto_FLOAT: AttrFloat, onnxpb.AttributeProto_STRING: AttrString,
	onnxpb.AttributeProto_INTS: AttrInts, onnxpb.AttributeProto_FLOATS: AttrFloats,
	onnxpb.AttributeProto_TENSOR: AttrTensor, onnxpb.AttributeProto_GRAPH: AttrGraph,
}

func init() {
	registerCustom(bsnn.BipolarQuant, buildBipolarQuant)
	registerCustom(bsnn.LIF, buildLIF)
	registerCustom(bsnn.LIFStep, buildLIFStep)
	registerCustom(bsnn.AGMMGate, buildAGMMGate)
}

// lifFusion is what a LIF normalizes on the fly instead of reading its
// input: a BatchNormalization's input and factors, plus the other operand
// of a residual Add when the normalization's output goes through one.
type lifFusion struct {
	bn     *bnKernel
	add    *binaryKernel // nil: no residual Add
	inputs []*Value      // the BatchNormalization's input, the residual
}

// fuseIntoLIF finds the BatchNormalization (and residual Add) computing the
// LIF input name, directly or through reshapes, and sets them to leave
// their outputs unwritten, when the LIF is the only reader of every value
// on the way (one consumer each, no graph output). Otherwise it returns
// nil. The LIF then reads the BatchNormalization's input (and the Add's
// other operand) as extra inputs, so that the executor keeps them alive,
// and computes its input from them, saving a write and a read of each
// skipped tensor; the backward passes of the BatchNormalization and the
// Add read their inputs and the LIF's gradient, as before.
func fuseIntoLIF(b *Builder, name string, size int) *lifFusion {
	g := b.Graph
	single := func(v string) bool {
		if len(g.Consumers(v)) != 1 {
			return false
		}
		for _, o := range g.Outputs {
			if o.Name == v {
				return false
			}
		}
		return true
	}
	kernelOf := func(v string) Kernel {
		if val := b.Value(v); val != nil && val.Node != nil {
			return KernelOf(val.Node)
		}
		return nil
	}
	var (
		add      *binaryKernel
		residual string
	)
	for range 64 {
		if !single(name) {
			return nil
		}
		p := g.Producer(name)
		if p == nil || p.Domain != "" {
			return nil
		}
		switch {
		case isReshapeOp(p):
			name = p.Inputs[0]
			continue
		case p.OpType == "Add" && add == nil:
			k, ok := kernelOf(name).(*binaryKernel)
			if !ok || !slices.Equal(k.a, k.out) || !slices.Equal(k.b, k.out) || p.Inputs[0] == p.Inputs[1] {
				return nil
			}
			for i, in := range p.Inputs[:2] {
				if _, ok := kernelOf(in).(*bnKernel); ok && single(in) && g.Producer(in).Outputs[0] == in {
					add, residual, name = k, p.Inputs[1-i], in
					break
				}
			}
			if add == nil {
				return nil
			}
			continue
		case p.OpType == "BatchNormalization" && p.Outputs[0] == name:
			bn, ok := kernelOf(name).(*bnKernel)
			z := b.Value(p.Inputs[0])
			if !ok || bn.n*bn.c*bn.s != size || z == nil {
				return nil
			}
			f := &lifFusion{bn: bn, add: add, inputs: []*Value{z}}
			if add != nil {
				r := b.Value(residual)
				if r == nil {
					return nil
				}
				f.inputs = append(f.inputs, r)
				add.feedsLIF = true
			}
			bn.feedsLIF = true
			bn.aff = spiking.Affine{S: bn.s, A: make([]float32, bn.c), B: make([]float32, bn.c)}
			return f
		}
		return nil
	}
	return nil
}
