package export

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// Shared constants of the standard-op forms.
const (
	constOne   = "bsnn.const.one"
	constTwo   = "bsnn.const.two"
	axes0      = "bsnn.axes.0"
	axes1      = "bsnn.axes.1"
	axes12     = "bsnn.axes.1_2"
	shapeFlat3 = "bsnn.shape.0_0_-1"
	shapeFlat  = "bsnn.shape.-1"
	shifts     = "bsnn.unpack.shifts"
	twoU8      = "bsnn.unpack.two_u8"
)

func indexName(t int) string { return "bsnn.index." + strconv.Itoa(t) }

// unitScaleErr is returned for plain/packed when a layer's scale is not 1.
func unitScaleErr(l *Layer) error {
	return &onnx.UnsupportedError{Items: []onnx.Unsupported{{Node: l.Node, OpType: "BipolarQuant scale",
		Reason: fmt.Sprintf("layer %s: weight_scale %q is not 1; the plain and packed profiles store ±1 weights only (keep the portable profile)", l.Name, l.Scale)}}}
}

// lowerPlain rewrites the canonical portable graph into the plain profile:
// BipolarQuant folded into ±1 initializers, LIF/LIFStep and AGMMGate
// expanded into standard ops; form step also writes one time step with
// membrane inputs/outputs.
func lowerPlain(mp *onnxpb.ModelProto, info *Info, form bsnn.PlainForm) error {
	g := mp.Graph
	var stepIn, stepOut []*onnxpb.ValueInfoProto
	if form == bsnn.PlainStep {
		for _, n := range info.Neurons {
			if n.Op == "LIFStep" {
				return &onnx.UnsupportedError{Items: []onnx.Unsupported{{Node: n.Name, OpType: "LIFStep", Domain: bsnn.DomainSNN,
					Reason: "the per-step plain form writes LIF layers; this file already holds single-step neurons (use --plain-form unrolled)"}}}
			}
			if n.Final != "" {
				return &onnx.UnsupportedError{Items: []onnx.Unsupported{{Node: n.Name, OpType: "LIF", Domain: bsnn.DomainSNN,
					Reason: "the per-step plain form cannot keep a LIF's V_T output (use --plain-form unrolled)"}}}
			}
		}
		if err := retime(mp, info.TimeSteps, 1); err != nil {
			return err
		}
	}
	ix := newIndex(g)
	ed := newEditor(g)
	ne := newNodeEdit()
	for _, l := range info.Layers {
		if !l.UnitScale {
			return unitScaleErr(l)
		}
		bin := onnx.FloatTensor(l.Weight, l.Dims, l.Values)
		ed.replaceInit(l.Latent, bin)
		ne.swap(l.nodes)
	}
	batch := batchDim(g, ix)
	hasGates := false
	for _, gt := range info.Gates {
		if gt.Params.Mode == spiking.AGMMModeForward {
			hasGates = true
		}
	}
	for _, n := range info.Neurons {
		var nodes []*onnxpb.NodeProto
		if n.Op == "LIFStep" {
			nodes = lifStepExpansion(ed, n)
		} else {
			T := info.TimeSteps
			v0 := ""
			final := n.Final
			if form == bsnn.PlainStep {
				T = 1
				v0, final = n.Name+".v_in", n.Name+".v_out"
				shape := stateShape(g, ix, n, batch)
				v0 = ed.fresh(v0)
				final = ed.fresh(final)
				stepIn = append(stepIn, onnx.ValueInfoProto(v0, onnx.Float, shape))
				stepOut = append(stepOut, onnx.ValueInfoProto(final, onnx.Float, shape))
			} else if T <= 0 {
				return fmt.Errorf("LIF %q: the number of time steps is unknown (no bsnn.time_steps)", n.Name)
			}
			nodes = lifExpansion(ed, n, T, v0, final)
		}
		ne.swap(n.nodes, nodes...)
	}
	oneHot := ""
	if form == bsnn.PlainStep && hasGates {
		oneHot = ed.fresh(bsnn.TimeOneHot)
		stepIn = append(stepIn, onnx.ValueInfoProto(oneHot, onnx.Float, onnx.Shape{{Value: int64(info.TimeSteps)}}))
	}
	for _, gt := range info.Gates {
		ne.swap(gt.nodes, gateExpansion(ed, gt, oneHot)...)
	}
	ne.apply(g)
	g.Input = append(g.Input, stepIn...)
	g.Output = append(g.Output, stepOut...)
	dropUnusedInits(mp)
	return nil
}

// batchDim is the graph input's leading dimension (N).
func batchDim(g *onnxpb.GraphProto, ix *index) onnx.Dim {
	for _, v := range g.Input {
		if !ix.inputs[v.GetName()] {
			continue
		}
		if s, ok := shapeOf(v); ok && len(s) > 0 {
			return s[0]
		}
		break
	}
	return onnx.Dim{Value: -1, Param: "N"}
}

// stateShape is the membrane's shape [N, ...]: the LIF spikes' value_info
// without its time axis, else the dimensions of the Reshape into the
// time-major view.
func stateShape(g *onnxpb.GraphProto, ix *index, n *Neuron, batch onnx.Dim) onnx.Shape {
	if vi := valueInfoOf(g, n.Spikes); vi != nil {
		if s, ok := shapeOf(vi); ok && len(s) >= 2 {
			return append(onnx.Shape{}, s[1:]...)
		}
	}
	if r := ix.prod(n.Input, "Reshape"); r != nil {
		if t, ok := ix.ints(r.Input[1]); ok && len(t) >= 2 {
			s := onnx.Shape{batch}
			for _, d := range t[2:] {
				s = append(s, onnx.Dim{Value: d})
			}
			return s
		}
	}
	return nil
}

// lifConsts adds the neuron's scalar initializers and the k = 1/tau node.
func lifConsts(ed *editor, n *Neuron) (k, vth, vreset string, div *onnxpb.NodeProto) {
	p := n.Params
	one := ed.constant(constOne, floatScalar("", 1))
	tau := ed.constant(n.Name+".tau", floatScalar("", p.Tau))
	vth = ed.constant(n.Name+".v_threshold", floatScalar("", p.VThreshold))
	vreset = ed.constant(n.Name+".v_reset", floatScalar("", p.VReset))
	k = ed.fresh(n.Name + ".k")
	div = onnx.NewNode(n.Name+"/k", "Div", "", []string{one, tau}, []string{k})
	return k, vth, vreset, div
}

// lifStepNodes writes one LIF step in the float32 order of ops/spiking's
// package documentation (the order of the LIF function body):
//
//	d = V - v_reset; l = d*k; h0 = V - l; [ax = k*X]; H = h0 + ax
//	S = Cast(H >= v_threshold)
//	hard: V' = H - S*(H - v_reset); soft: V' = H - S*v_threshold
//
// The multiplication by a = 1 (decay_input = 0) is exact and left out.
// vNext "" skips the reset (the last step when nobody reads V_T).
func lifStepNodes(ed *editor, prefix string, p spiking.LIFParams, k, vth, vreset, v, x, s, vNext string) []*onnxpb.NodeProto {
	t := func(n string) string { return ed.fresh(prefix + "." + n) }
	nn := func(n string) string { return prefix + "/" + n }
	d, l, h0, h, fire := t("d"), t("l"), t("h0"), t("H"), t("fire")
	nodes := []*onnxpb.NodeProto{
		onnx.NewNode(nn("d"), "Sub", "", []string{v, vreset}, []string{d}),
		onnx.NewNode(nn("l"), "Mul", "", []string{d, k}, []string{l}),
		onnx.NewNode(nn("h0"), "Sub", "", []string{v, l}, []string{h0}),
	}
	in := x
	if p.DecayInput {
		ax := t("ax")
		nodes = append(nodes, onnx.NewNode(nn("ax"), "Mul", "", []string{k, x}, []string{ax}))
		in = ax
	}
	nodes = append(nodes,
		onnx.NewNode(nn("H"), "Add", "", []string{h0, in}, []string{h}),
		onnx.NewNode(nn("fire"), "GreaterOrEqual", "", []string{h, vth}, []string{fire}),
		onnx.NewNode(nn("S"), "Cast", "", []string{fire}, []string{s}, onnx.AttrInt("to", int64(onnx.Float))),
	)
	if vNext == "" {
		return nodes
	}
	pr := t("p")
	if p.SoftReset {
		nodes = append(nodes, onnx.NewNode(nn("p"), "Mul", "", []string{s, vth}, []string{pr}))
	} else {
		r := t("r")
		nodes = append(nodes,
			onnx.NewNode(nn("r"), "Sub", "", []string{h, vreset}, []string{r}),
			onnx.NewNode(nn("p"), "Mul", "", []string{s, r}, []string{pr}))
	}
	return append(nodes, onnx.NewNode(nn("V"), "Sub", "", []string{h, pr}, []string{vNext}))
}

// lifExpansion unrolls a LIF over T steps: X_t = Slice(X, t, t+1, axis 0),
// V_0 = the initializer <lif>.v0 holding v_reset (or the graph input v0 in
// the per-step form), the spikes
// joined by a Concat named like the LIF node (so bsnn.neurons still
// resolves), V_T (or the per-step v_out) = Squeeze(V_{T-1}, 0).
func lifExpansion(ed *editor, n *Neuron, T int, v0, final string) []*onnxpb.NodeProto {
	k, vth, vreset, div := lifConsts(ed, n)
	nodes := []*onnxpb.NodeProto{div}
	ax0 := ed.constant(axes0, int64Vec("", 0))
	// V_0 = v_reset, as a tensor of its own: the first step's d = V - v_reset
	// must not list one tensor twice (bsnn.CheckNames).
	v := ed.constant(n.Name+".v0", floatScalar("", n.Params.VReset))
	if v0 != "" {
		v = v0
	}
	var spikes []string
	for t := 0; t < T; t++ {
		prefix := n.Name + ".t" + strconv.Itoa(t)
		np := n.Name + "/t" + strconv.Itoa(t)
		x := ed.fresh(prefix + ".x")
		start := ed.constant(indexName(t), int64Vec("", int64(t)))
		end := ed.constant(indexName(t+1), int64Vec("", int64(t+1)))
		nodes = append(nodes, onnx.NewNode(np+"/x", "Slice", "", []string{n.Input, start, end, ax0}, []string{x}))
		s := ed.fresh(prefix + ".S")
		vNext := ""
		if t < T-1 || final != "" {
			vNext = ed.fresh(prefix + ".V")
		}
		step := lifStepNodes(ed, prefix, n.Params, k, vth, vreset, v, x, s, vNext)
		for _, sn := range step {
			sn.Name = proto.String(np + sn.GetName()[len(prefix):])
		}
		nodes = append(nodes, step...)
		spikes = append(spikes, s)
		v = vNext
	}
	nodes = append(nodes, onnx.NewNode(n.Name, "Concat", "", spikes, []string{n.Spikes}, onnx.AttrInt("axis", 0)))
	if final != "" {
		nodes = append(nodes, onnx.NewNode(n.Name+"/v_final", "Squeeze", "", []string{v, ax0}, []string{final}))
	}
	return nodes
}

// lifStepExpansion writes a LIFStep node as one step; the spikes' Cast is
// named like the node.
func lifStepExpansion(ed *editor, n *Neuron) []*onnxpb.NodeProto {
	k, vth, vreset, div := lifConsts(ed, n)
	vNext := n.Final
	if vNext == "" {
		vNext = ed.fresh(n.Name + ".V_next")
	}
	step := lifStepNodes(ed, n.Name, n.Params, k, vth, vreset, n.State, n.Input, n.Spikes, vNext)
	for _, sn := range step {
		if sn.GetName() == n.Name+"/S" {
			sn.Name = proto.String(n.Name)
		}
	}
	return append([]*onnxpb.NodeProto{div}, step...)
}

// gateExpansion writes an AGMMGate with the standard ops of its function
// body (mode known, so no LabelEncoder):
//
//	X3 = Reshape(X, [0, 0, -1]); m = ReduceMean(X3, axes [2]); g = alpha[t,1,1] * Sigmoid(m)
//	Y = Reshape(X3 * g, Shape(X))
//
// The last Reshape is named like the gate. Mode grad_only (Y = X in the
// forward pass) becomes an Identity named like the gate. In the per-step
// form alpha[t] = ReduceSum(alpha * time_onehot).
func gateExpansion(ed *editor, gt *Gate, oneHot string) []*onnxpb.NodeProto {
	if gt.Params.Mode != spiking.AGMMModeForward {
		return []*onnxpb.NodeProto{onnx.NewNode(gt.Name, "Identity", "", []string{gt.Input}, []string{gt.Output})}
	}
	t := func(n string) string { return ed.fresh(gt.Name + "." + n) }
	nn := func(n string) string { return gt.Name + "/" + n }
	x3, m, sig, a3, gg, y3, shp := t("x3"), t("mean"), t("sigmoid"), t("alpha3"), t("gate"), t("y3"), t("shape")
	flat := ed.constant(shapeFlat3, int64Vec("", 0, 0, -1))
	a12 := ed.constant(axes12, int64Vec("", 1, 2))
	nodes := []*onnxpb.NodeProto{
		onnx.NewNode(nn("flat"), "Reshape", "", []string{gt.Input, flat}, []string{x3}),
		onnx.NewNode(nn("mean"), "ReduceMean", "", []string{x3}, []string{m}, onnx.AttrInts("axes", 2), onnx.AttrInt("keepdims", 1)),
		onnx.NewNode(nn("sigmoid"), "Sigmoid", "", []string{m}, []string{sig}),
	}
	alpha := gt.Alpha
	if oneHot != "" {
		sel, at := t("alpha_sel"), t("alpha_t")
		ax0 := ed.constant(axes0, int64Vec("", 0))
		nodes = append(nodes,
			onnx.NewNode(nn("alpha_sel"), "Mul", "", []string{gt.Alpha, oneHot}, []string{sel}),
			onnx.NewNode(nn("alpha_t"), "ReduceSum", "", []string{sel, ax0}, []string{at}, onnx.AttrInt("keepdims", 1)))
		alpha = at
	}
	nodes = append(nodes,
		onnx.NewNode(nn("alpha"), "Unsqueeze", "", []string{alpha, a12}, []string{a3}),
		onnx.NewNode(nn("gate"), "Mul", "", []string{a3, sig}, []string{gg}),
		onnx.NewNode(nn("apply"), "Mul", "", []string{x3, gg}, []string{y3}),
		onnx.NewNode(nn("shape"), "Shape", "", []string{gt.Input}, []string{shp}),
		onnx.NewNode(gt.Name, "Reshape", "", []string{y3, shp}, []string{gt.Output}),
	)
	return nodes
}

// lowerPacked rewrites the canonical portable graph into the packed
// profile: each BipolarQuant becomes a UINT8 initializer (1 bit per weight,
// LSB-first, bit 1 = -1) and the standard-op unpack chain
//
//	Unsqueeze[1] -> BitShift(RIGHT, 0..7) -> Mod 2 -> Cast float -> 1 - 2b
//	-> Reshape[-1] -> Slice[0:n] -> Reshape(dims) -> L.weight_bin
//
// LIF and AGMMGate stay custom ops with their functions.
func lowerPacked(mp *onnxpb.ModelProto, info *Info) error {
	g := mp.Graph
	ed := newEditor(g)
	ne := newNodeEdit()
	for _, l := range info.Layers {
		if !l.UnitScale {
			return unitScaleErr(l)
		}
		ne.swap(l.nodes, unpackChain(ed, l)...)
	}
	ne.apply(g)
	dropUnusedInits(mp)
	return nil
}

func unpackChain(ed *editor, l *Layer) []*onnxpb.NodeProto {
	base := baseName(l.Weight)
	packedName := ed.fresh(base + ".weight_packed")
	pt := &onnx.Tensor{Name: packedName, Type: onnx.Uint8, Dims: []int64{int64((len(l.Values) + 7) / 8)}, Int64: packBits(l.Values)}
	ed.replaceInit(l.Latent, pt.Proto())
	numel := ed.fresh(base + ".weight_numel")
	dims := ed.fresh(base + ".weight_dims")
	ed.insertInitAfter(packedName, int64Vec(numel, int64(len(l.Values))))
	ed.insertInitAfter(numel, int64Vec(dims, l.Dims...))

	a1 := ed.constant(axes1, int64Vec("", 1))
	sh := ed.constant(shifts, (&onnx.Tensor{Type: onnx.Uint8, Dims: []int64{8}, Int64: []int64{0, 1, 2, 3, 4, 5, 6, 7}}).Proto())
	two8 := ed.constant(twoU8, (&onnx.Tensor{Type: onnx.Uint8, Dims: nil, Int64: []int64{2}}).Proto())
	two := ed.constant(constTwo, floatScalar("", 2))
	one := ed.constant(constOne, floatScalar("", 1))
	flat := ed.constant(shapeFlat, int64Vec("", -1))
	zero := ed.constant(indexName(0), int64Vec("", 0))
	a0 := ed.constant(axes0, int64Vec("", 0))

	t := func(n string) string { return ed.fresh(base + ".unpack." + n) }
	nn := func(n string) string { return l.Name + "/unpack/" + n }
	bytes2, shifted, bits, bitsf, twice, signs, flatv, vals := t("bytes"), t("shifted"), t("bits"), t("bits_f"), t("twice"), t("signs"), t("flat"), t("values")
	return []*onnxpb.NodeProto{
		onnx.NewNode(nn("unsqueeze"), "Unsqueeze", "", []string{packedName, a1}, []string{bytes2}),
		onnx.NewNode(nn("shift"), "BitShift", "", []string{bytes2, sh}, []string{shifted}, onnx.AttrString("direction", "RIGHT")),
		onnx.NewNode(nn("mod"), "Mod", "", []string{shifted, two8}, []string{bits}),
		onnx.NewNode(nn("cast"), "Cast", "", []string{bits}, []string{bitsf}, onnx.AttrInt("to", int64(onnx.Float))),
		onnx.NewNode(nn("twice"), "Mul", "", []string{bitsf, two}, []string{twice}),
		onnx.NewNode(nn("sign"), "Sub", "", []string{one, twice}, []string{signs}),
		onnx.NewNode(nn("flatten"), "Reshape", "", []string{signs, flat}, []string{flatv}),
		onnx.NewNode(nn("slice"), "Slice", "", []string{flatv, zero, numel, a0}, []string{vals}),
		onnx.NewNode(nn("reshape"), "Reshape", "", []string{vals, dims}, []string{l.Weight}),
	}
}
