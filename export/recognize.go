package export

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// How a binary layer's weight is stored (Layer.Source).
const (
	// SourceBipolarQuant: a latent float initializer and a scale go through
	// a BipolarQuant node (portable, train).
	SourceBipolarQuant = "bipolarquant"
	// SourceFolded: the ±1 values are an initializer annotated
	// finn_datatype BIPOLAR or listed as weight_bin in bsnn.layers (plain, a
	// QONNX-cleaned or FINN-folded file).
	SourceFolded = "folded"
	// SourcePacked: 1 bit per weight in a UINT8 initializer, unpacked by
	// standard ops (packed).
	SourcePacked = "packed"
)

// How a neuron or gate is written (Neuron.Form, Gate.Form).
const (
	FormNode     = "node"     // the custom op itself (LIF, LIFStep, AGMMGate)
	FormUnrolled = "unrolled" // standard ops, every time step written out
	FormStep     = "step"     // standard ops, one time step with state inputs/outputs
)

// Info is what Recognize finds in a BSNN file of any profile.
type Info struct {
	// Profile is the profile the file's structure shows (portable, plain,
	// packed, train); MetaProfile is what its bsnn.profile says ("" if none).
	Profile     bsnn.Profile
	MetaProfile string
	// PlainForm is unrolled or step for a plain file.
	PlainForm bsnn.PlainForm
	// TimeSteps is T (bsnn.time_steps, else the neurons' time dimension,
	// else the AGMM alpha length; 0 when nothing tells).
	TimeSteps int
	Layers    []*Layer
	Neurons   []*Neuron
	Gates     []*Gate
	// HasTrainingInfo: the file holds ModelProto.training_info.
	HasTrainingInfo bool
}

// A Layer is one binary layer: a Conv/MatMul/Gemm whose weight is binary.
type Layer struct {
	Name   string // L (bsnn.layers name, else from the weight's name)
	Node   string // the consuming Conv/MatMul/Gemm node
	Op     string // its op type
	Weight string // the binary weight tensor it reads (L.weight_bin)
	Dims   []int64
	Source string // SourceBipolarQuant, SourceFolded or SourcePacked
	// Latent and Scale are BipolarQuant's inputs (SourceBipolarQuant only).
	Latent, Scale string
	// Packed is the UINT8 initializer (SourcePacked only).
	Packed string
	// UnitScale: every scale value is 1, so Values are ±1 (BIPOLAR).
	UnitScale bool
	// Values are the binary weights as the consumer sees them (±1 times
	// the scale), row-major in Dims.
	Values []float32

	nodes []*onnxpb.NodeProto // nodes computing Weight (BipolarQuant or the unpack chain)
}

// Params returns the number of binary weights.
func (l *Layer) Params() int64 { return int64(len(l.Values)) }

// A Neuron is one LIF layer, as a node or as standard ops.
type Neuron struct {
	Name string // LIF node name (plain: the node that joins the spikes)
	Op   string // LIF or LIFStep
	Form string // FormNode, FormUnrolled or FormStep
	// Input is X ([T, N, ...]; LIFStep: X_t), Spikes the output S, Final
	// the V_T output ("" if none). LIFStep: State is the V input, Final
	// V_next.
	Input, Spikes, Final, State string
	// T is the number of time steps written (FormStep: 1).
	T      int
	Params spiking.LIFParams

	nodes       []*onnxpb.NodeProto
	softUnknown bool // the pattern shows no reset (T = 1 without V_T)
}

// A Gate is one AGMMGate, as a node or expanded into standard ops.
type Gate struct {
	Name   string
	Form   string // FormNode, FormUnrolled (expanded) or FormStep
	Input  string
	Alpha  string
	Output string
	// OneHot is the step form's time_onehot input.
	OneHot string
	Params spiking.AGMMParams

	nodes []*onnxpb.NodeProto
}

// Recognize finds the binary layers, LIF neurons and AGMM gates of a BSNN
// file written in any profile: binary layers by the BipolarQuant -> consumer
// pattern, by a finn_datatype BIPOLAR annotation on a weight initializer (as
// a QONNX-cleaned or FINN-folded file has them), by a weight_bin of
// bsnn.layers holding ±1 values, or by the packed unpack chain; neurons by
// LIF/LIFStep nodes or the unrolled and per-step patterns of the plain
// profile; gates by AGMMGate nodes or their expansion. Names recorded in the
// bsnn.* metadata are used when they resolve (layer names, the neurons'
// training-only attributes), else the patterns alone decide.
func Recognize(m *onnx.Model) (*Info, error) {
	if m == nil || m.Proto.GetGraph() == nil {
		return nil, &onnx.FormatError{Where: "model", Msg: "has no graph"}
	}
	mp, err := loadedCopy(m)
	if err != nil {
		return nil, err
	}
	return recognize(mp)
}

func recognize(mp *onnxpb.ModelProto) (*Info, error) {
	ix := newIndex(mp.Graph)
	meta := metadata(mp)
	info := &Info{MetaProfile: meta[bsnn.MetaProfile], HasTrainingInfo: len(mp.TrainingInfo) > 0}
	var metaLayers []bsnn.Layer
	if s, ok := meta[bsnn.MetaLayers]; ok {
		_ = json.Unmarshal([]byte(s), &metaLayers)
	}
	neuronMeta := map[string]map[string]any{}
	if s, ok := meta[bsnn.MetaNeurons]; ok {
		_ = json.Unmarshal([]byte(s), &neuronMeta)
	}
	detach := int64(0)
	if s, ok := meta[bsnn.MetaAGMM]; ok {
		var a struct {
			DetachStat int64 `json:"detach_stat"`
		}
		if json.Unmarshal([]byte(s), &a) == nil {
			detach = a.DetachStat
		}
	}
	layers, err := findLayers(ix, metaLayers)
	if err != nil {
		return nil, err
	}
	info.Layers = layers
	neurons, err := findNeurons(ix, neuronMeta)
	if err != nil {
		return nil, err
	}
	info.Neurons = neurons
	gates, err := findGates(ix, detach)
	if err != nil {
		return nil, err
	}
	info.Gates = gates

	// The profile the structure shows.
	custom, packed, step := false, false, false
	for _, n := range mp.Graph.Node {
		if !isONNXDomain(n.GetDomain()) {
			custom = true
		}
	}
	for _, l := range layers {
		if l.Source == SourcePacked {
			packed = true
		}
	}
	for _, n := range neurons {
		if n.Form == FormStep {
			step = true
		}
	}
	for _, g := range gates {
		if g.Form == FormStep {
			step = true
		}
	}
	switch {
	case packed:
		info.Profile = bsnn.ProfilePacked
	case !custom:
		info.Profile = bsnn.ProfilePlain
		info.PlainForm = bsnn.PlainUnrolled
		if step || meta[bsnn.MetaPlainForm] == string(bsnn.PlainStep) {
			info.PlainForm = bsnn.PlainStep
		}
	case info.HasTrainingInfo:
		info.Profile = bsnn.ProfileTrain
	default:
		info.Profile = bsnn.ProfilePortable
	}

	// T.
	if s, ok := meta[bsnn.MetaTimeSteps]; ok {
		if t, err := strconv.Atoi(s); err == nil && t > 0 {
			info.TimeSteps = t
		}
	}
	if info.TimeSteps == 0 {
		for _, n := range neurons {
			if n.Form == FormUnrolled && n.T > 0 {
				info.TimeSteps = n.T
				break
			}
			if n.Form == FormNode && n.Op == "LIF" {
				if vi := valueInfoOf(mp.Graph, n.Spikes); vi != nil {
					if s, ok := shapeOf(vi); ok && len(s) > 0 && s[0].Known() {
						info.TimeSteps = int(s[0].Value)
						break
					}
				}
			}
		}
	}
	if info.TimeSteps == 0 {
		for _, g := range gates {
			if t, ok := ix.value(g.Alpha); ok {
				info.TimeSteps = t.Len()
				break
			}
		}
	}
	return info, nil
}

// ---- binary layers ----

func isComputeOp(op string) bool {
	return op == "Conv" || op == "MatMul" || op == "Gemm" || op == "ConvTranspose"
}

func findLayers(ix *index, meta []bsnn.Layer) ([]*Layer, error) {
	byWeight := map[string]*bsnn.Layer{}
	byNode := map[string]*bsnn.Layer{}
	for i := range meta {
		if meta[i].WeightBin != "" {
			byWeight[meta[i].WeightBin] = &meta[i]
		}
		byNode[meta[i].Node] = &meta[i]
	}
	var out []*Layer
	seen := map[string]bool{}
	for _, n := range ix.g.Node {
		if !isONNXDomain(n.GetDomain()) || !isComputeOp(n.GetOpType()) || len(n.Input) < 2 {
			continue
		}
		w := n.Input[1]
		if seen[w] {
			// A binary weight read by two layers: the first one names it.
			continue
		}
		l, err := matchWeight(ix, w, byWeight[w] != nil)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", n.GetName(), err)
		}
		if l == nil {
			continue
		}
		seen[w] = true
		l.Node, l.Op, l.Weight = n.GetName(), n.GetOpType(), w
		switch {
		case byWeight[w] != nil && byWeight[w].Name != "":
			l.Name = byWeight[w].Name
		case byNode[n.GetName()] != nil && byNode[n.GetName()].Binary && byNode[n.GetName()].Name != "":
			l.Name = byNode[n.GetName()].Name
		default:
			l.Name = baseName(w)
			if l.Name == "" {
				l.Name = n.GetName()
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// baseName strips the weight suffixes the toolkit writes.
func baseName(w string) string {
	for _, s := range []string{".weight_bin", ".weight_latent", ".weight"} {
		if strings.HasSuffix(w, s) && len(w) > len(s) {
			return strings.TrimSuffix(w, s)
		}
	}
	return w
}

// matchWeight recognises a binary weight tensor w; nil when w is not one.
func matchWeight(ix *index, w string, listed bool) (*Layer, error) {
	if p := ix.producer[w]; p != nil {
		if p.GetOpType() == "BipolarQuant" && bsnn.IsBipolarDomain(p.GetDomain()) && len(p.Input) == 2 {
			lt, ok1 := ix.value(p.Input[0])
			st, ok2 := ix.value(p.Input[1])
			if !ok1 || !ok2 {
				return nil, nil // not on a constant path: not a weight
			}
			y, err := bsnn.FoldBipolarQuant(lt, st)
			if err != nil {
				return nil, fmt.Errorf("BipolarQuant %q: %w", p.GetName(), err)
			}
			vals, unit := y.Float32, !slices.ContainsFunc(st.Floats(), func(v float32) bool { return v != 1 })
			return &Layer{Source: SourceBipolarQuant, Latent: p.Input[0], Scale: p.Input[1], UnitScale: unit,
				Values: vals, Dims: append([]int64(nil), lt.Dims...), nodes: []*onnxpb.NodeProto{p}}, nil
		}
		if l := matchUnpack(ix, w); l != nil {
			return l, nil
		}
		return nil, nil
	}
	t, ok := ix.value(w)
	if !ok {
		return nil, nil
	}
	annotated := ix.ann[w][bsnn.AnnotationDatatype] == bsnn.DatatypeBipolar
	if !annotated && !listed {
		return nil, nil
	}
	if t.Type != onnx.Float {
		if annotated {
			return nil, fmt.Errorf("weight %q is annotated BIPOLAR but is %s, not float32", w, t.Type)
		}
		return nil, nil
	}
	vals := t.Floats()
	for _, v := range vals {
		if v != 1 && v != -1 {
			if annotated {
				return nil, fmt.Errorf("weight %q is annotated BIPOLAR but holds %g", w, v)
			}
			return nil, nil
		}
	}
	return &Layer{Source: SourceFolded, UnitScale: true, Values: append([]float32(nil), vals...),
		Dims: append([]int64(nil), t.Dims...)}, nil
}

// matchUnpack recognises the packed profile's unpack chain ending in w:
//
//	P (uint8) -Unsqueeze[1]-> -BitShift(RIGHT, 0..7)-> -Mod 2-> -Cast float->
//	-Mul 2-> -Sub from 1-> -Reshape[-1]-> -Slice[0:n]-> -Reshape dims-> w
func matchUnpack(ix *index, w string) *Layer {
	set := map[*onnxpb.NodeProto]bool{}
	var chain []*onnxpb.NodeProto
	step := func(n *onnxpb.NodeProto) *onnxpb.NodeProto {
		if n != nil {
			set[n] = true
			chain = append(chain, n)
		}
		return n
	}
	rs := step(ix.prod(w, "Reshape"))
	if rs == nil || len(rs.Input) != 2 {
		return nil
	}
	dims, ok := ix.ints(rs.Input[1])
	if !ok {
		return nil
	}
	sl := step(ix.prod(rs.Input[0], "Slice"))
	if sl == nil || len(sl.Input) < 4 {
		return nil
	}
	st, ok1 := ix.ints(sl.Input[1])
	en, ok2 := ix.ints(sl.Input[2])
	ax, ok3 := ix.ints(sl.Input[3])
	if !ok1 || !ok2 || !ok3 || !equalInts(st, []int64{0}) || len(en) != 1 || !equalInts(ax, []int64{0}) {
		return nil
	}
	if len(sl.Input) > 4 && sl.Input[4] != "" {
		if s, ok := ix.ints(sl.Input[4]); !ok || !equalInts(s, []int64{1}) {
			return nil
		}
	}
	numel := en[0]
	fl := step(ix.prod(sl.Input[0], "Reshape"))
	if fl == nil {
		return nil
	}
	if t, ok := ix.ints(fl.Input[1]); !ok || !equalInts(t, []int64{-1}) {
		return nil
	}
	sub := step(ix.prod(fl.Input[0], "Sub"))
	if sub == nil {
		return nil
	}
	if v, ok := ix.scalar(sub.Input[0]); !ok || v != 1 {
		return nil
	}
	mul := step(ix.prod(sub.Input[1], "Mul"))
	if mul == nil {
		return nil
	}
	if v, ok := ix.scalar(mul.Input[1]); !ok || v != 2 {
		return nil
	}
	cast := step(ix.prod(mul.Input[0], "Cast"))
	if cast == nil || attrInt(cast, "to", 0) != int64(onnx.Float) {
		return nil
	}
	mod := step(ix.prod(cast.Input[0], "Mod"))
	if mod == nil || attrInt(mod, "fmod", 0) != 0 {
		return nil
	}
	if t, ok := ix.value(mod.Input[1]); !ok || t.Type != onnx.Uint8 || t.Len() != 1 || t.Int64[0] != 2 {
		return nil
	}
	sh := step(ix.prod(mod.Input[0], "BitShift"))
	if sh == nil || attrStr(sh, "direction", "") != "RIGHT" {
		return nil
	}
	if t, ok := ix.value(sh.Input[1]); !ok || t.Type != onnx.Uint8 || !equalInts(t.Int64, []int64{0, 1, 2, 3, 4, 5, 6, 7}) {
		return nil
	}
	un := step(ix.prod(sh.Input[0], "Unsqueeze"))
	if un == nil || len(un.Input) != 2 {
		return nil
	}
	if a, ok := ix.ints(un.Input[1]); !ok || !equalInts(a, []int64{1}) {
		return nil
	}
	pt, ok := ix.value(un.Input[0])
	if !ok || pt.Type != onnx.Uint8 || len(pt.Dims) != 1 {
		return nil
	}
	n, err := onnx.NumElements(dims)
	if err != nil || n != numel || int64(pt.Len()) != (numel+7)/8 {
		return nil
	}
	for _, c := range chain[1:] {
		if !ix.onlyUsedBy(c.Output[0], set) {
			return nil
		}
	}
	vals := unpackBits(pt.Int64, int(numel))
	// Chain nodes in file order.
	sort.Slice(chain, func(i, j int) bool { return ix.pos[chain[i]] < ix.pos[chain[j]] })
	return &Layer{Source: SourcePacked, Packed: un.Input[0], UnitScale: true, Values: vals,
		Dims: append([]int64(nil), dims...), nodes: chain}
}

// packBits stores ±1 values 1 bit each, LSB-first, bit 1 = -1 (sign(0) =
// +1, so any value >= 0 is bit 0).
func packBits(vals []float32) []int64 {
	out := make([]int64, (len(vals)+7)/8)
	for i, v := range vals {
		if !(v >= 0) {
			out[i/8] |= 1 << (i % 8)
		}
	}
	return out
}

// unpackBits is packBits' inverse: 1 - 2*bit.
func unpackBits(packed []int64, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		b := (packed[i/8] >> (i % 8)) & 1
		out[i] = float32(1 - 2*b)
	}
	return out
}

// ---- neurons ----

func findNeurons(ix *index, meta map[string]map[string]any) ([]*Neuron, error) {
	var out []*Neuron
	claimed := map[*onnxpb.NodeProto]bool{}
	for _, n := range ix.g.Node {
		if n.GetDomain() == bsnn.DomainSNN && (n.GetOpType() == "LIF" || n.GetOpType() == "LIFStep") {
			p, err := bsnn.ParseLIF(onnx.NodeOf(n))
			if err != nil {
				return nil, fmt.Errorf("%s node %q: %w", n.GetOpType(), n.GetName(), err)
			}
			nr := &Neuron{Name: n.GetName(), Op: n.GetOpType(), Form: FormNode, Params: p, Input: n.Input[0],
				Spikes: n.Output[0], nodes: []*onnxpb.NodeProto{n}}
			if n.GetOpType() == "LIFStep" && len(n.Input) > 1 {
				nr.State = n.Input[1]
			}
			if len(n.Output) > 1 {
				nr.Final = n.Output[1]
			}
			out = append(out, nr)
			continue
		}
		if n.GetOpType() == "Concat" && isONNXDomain(n.GetDomain()) {
			if nr := matchUnrolled(ix, n); nr != nil {
				applyNeuronMeta(nr, meta)
				for _, c := range nr.nodes {
					claimed[c] = true
				}
				out = append(out, nr)
			}
		}
	}
	// Expanded LIFStep nodes: a step whose spikes are not joined by a Concat.
	for _, n := range ix.g.Node {
		if claimed[n] || n.GetOpType() != "Cast" || !isONNXDomain(n.GetDomain()) {
			continue
		}
		if nr := matchLIFStep(ix, n, claimed); nr != nil {
			applyNeuronMeta(nr, meta)
			for _, c := range nr.nodes {
				claimed[c] = true
			}
			out = append(out, nr)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return firstPos(ix, out[i].nodes) < firstPos(ix, out[j].nodes) })
	return out, nil
}

func firstPos(ix *index, nodes []*onnxpb.NodeProto) int {
	p := math.MaxInt
	for _, n := range nodes {
		if q, ok := ix.pos[n]; ok && q < p {
			p = q
		}
	}
	return p
}

// applyNeuronMeta takes the training-only attributes (not visible in the
// standard-op form) from bsnn.neurons when the neuron's name resolves.
func applyNeuronMeta(nr *Neuron, meta map[string]map[string]any) {
	if e, ok := meta[nr.Name]; ok {
		nr.Params = bsnn.ApplyNeuronEntry(nr.Params, e, !nr.softUnknown)
	}
}

// stepMatch is one recognised LIF step of the standard-op form (see
// lifStepNodes in lower.go).
type stepMatch struct {
	cast, ge, add, h0s, ls, ds, axm *onnxpb.NodeProto
	x, v, h, s                      string
	k, tau, vth, vreset             string
	decay                           bool
	div                             *onnxpb.NodeProto
}

// matchStep recognises S_t = Cast(H >= v_th) with H = (V - (V - v_reset)*k) + [k*]x.
func matchStep(ix *index, cast *onnxpb.NodeProto) *stepMatch {
	if cast.GetOpType() != "Cast" || attrInt(cast, "to", 0) != int64(onnx.Float) || len(cast.Input) != 1 {
		return nil
	}
	m := &stepMatch{cast: cast, s: cast.Output[0]}
	m.ge = ix.prod(cast.Input[0], "GreaterOrEqual")
	if m.ge == nil {
		return nil
	}
	m.h, m.vth = m.ge.Input[0], m.ge.Input[1]
	if _, ok := ix.scalar(m.vth); !ok {
		return nil
	}
	m.add = ix.prod(m.h, "Add")
	if m.add == nil {
		return nil
	}
	m.h0s = ix.prod(m.add.Input[0], "Sub")
	if m.h0s == nil {
		return nil
	}
	m.v = m.h0s.Input[0]
	m.ls = ix.prod(m.h0s.Input[1], "Mul")
	if m.ls == nil {
		return nil
	}
	m.k = m.ls.Input[1]
	m.ds = ix.prod(m.ls.Input[0], "Sub")
	if m.ds == nil || m.ds.Input[0] != m.v {
		return nil
	}
	m.vreset = m.ds.Input[1]
	if _, ok := ix.scalar(m.vreset); !ok {
		return nil
	}
	m.div = ix.prod(m.k, "Div")
	if m.div == nil {
		return nil
	}
	if one, ok := ix.scalar(m.div.Input[0]); !ok || one != 1 {
		return nil
	}
	m.tau = m.div.Input[1]
	if _, ok := ix.scalar(m.tau); !ok {
		return nil
	}
	m.x = m.add.Input[1]
	if mul := ix.prod(m.x, "Mul"); mul != nil && mul.Input[0] == m.k {
		m.axm, m.decay, m.x = mul, true, mul.Input[1]
	}
	return m
}

// matchReset finds V_t = H - S*(H - v_reset) (hard) or H - S*v_th (soft)
// among the consumers of S; soft reports which.
func matchReset(ix *index, m *stepMatch) (nodes []*onnxpb.NodeProto, v string, soft bool, ok bool) {
	for _, p := range ix.consumers[m.s] {
		if p.GetOpType() != "Mul" || !isONNXDomain(p.GetDomain()) || p.Input[0] != m.s {
			continue
		}
		var r *onnxpb.NodeProto
		switch {
		case p.Input[1] == m.vth:
			soft = true
		default:
			r = ix.prod(p.Input[1], "Sub")
			if r == nil || r.Input[0] != m.h || r.Input[1] != m.vreset {
				continue
			}
		}
		for _, sub := range ix.consumers[p.Output[0]] {
			if sub.GetOpType() == "Sub" && isONNXDomain(sub.GetDomain()) && sub.Input[0] == m.h && sub.Input[1] == p.Output[0] {
				nodes = []*onnxpb.NodeProto{p, sub}
				if r != nil {
					nodes = append(nodes, r)
				}
				return nodes, sub.Output[0], soft, true
			}
		}
	}
	return nil, "", false, false
}

func (m *stepMatch) nodes() []*onnxpb.NodeProto {
	out := []*onnxpb.NodeProto{m.cast, m.ge, m.add, m.h0s, m.ls, m.ds}
	if m.axm != nil {
		out = append(out, m.axm)
	}
	return out
}

// matchUnrolled recognises the plain profile's unrolled LIF (or its
// per-step form) whose spikes a Concat joins.
func matchUnrolled(ix *index, c *onnxpb.NodeProto) *Neuron {
	if attrInt(c, "axis", 0) != 0 || len(c.Input) == 0 {
		return nil
	}
	T := len(c.Input)
	steps := make([]*stepMatch, T)
	set := map[*onnxpb.NodeProto]bool{c: true}
	var X string
	var slices []*onnxpb.NodeProto
	for t, s := range c.Input {
		cast := ix.prod(s, "Cast")
		if cast == nil {
			return nil
		}
		m := matchStep(ix, cast)
		if m == nil {
			return nil
		}
		if t > 0 {
			p := steps[0]
			if m.k != p.k || m.vth != p.vth || m.vreset != p.vreset || m.decay != p.decay {
				return nil
			}
		}
		sl := ix.prod(m.x, "Slice")
		if sl == nil || len(sl.Input) < 4 {
			return nil
		}
		st, ok1 := ix.ints(sl.Input[1])
		en, ok2 := ix.ints(sl.Input[2])
		ax, ok3 := ix.ints(sl.Input[3])
		if !ok1 || !ok2 || !ok3 || !equalInts(st, []int64{int64(t)}) || !equalInts(en, []int64{int64(t + 1)}) || !equalInts(ax, []int64{0}) {
			return nil
		}
		if len(sl.Input) > 4 && sl.Input[4] != "" {
			return nil
		}
		if t == 0 {
			X = sl.Input[0]
		} else if sl.Input[0] != X {
			return nil
		}
		slices = append(slices, sl)
		steps[t] = m
		for _, n := range m.nodes() {
			set[n] = true
		}
		set[sl] = true
	}
	first := steps[0]
	p := spiking.DefaultLIF()
	tau, _ := ix.scalar(first.tau)
	vth, _ := ix.scalar(first.vth)
	vr, _ := ix.scalar(first.vreset)
	p.Tau, p.VThreshold, p.VReset, p.DecayInput = tau, vth, vr, first.decay
	nr := &Neuron{Name: c.GetName(), Op: "LIF", Input: X, Spikes: c.Output[0], T: T, Form: FormUnrolled}
	// V_0: the v_reset scalar itself (unrolled) or a graph input (step form).
	switch {
	case first.v == first.vreset:
	case ix.inputs[first.v]:
		nr.Form, nr.State = FormStep, first.v
	default:
		if v, ok := ix.scalar(first.v); ok && sameBits(v, vr) {
			break
		}
		return nil
	}
	soft := -1
	for t := 1; t < T; t++ {
		nodes, v, s, ok := matchReset(ix, steps[t-1])
		if !ok || v != steps[t].v {
			return nil
		}
		if soft >= 0 && (soft == 1) != s {
			return nil
		}
		if s {
			soft = 1
		} else {
			soft = 0
		}
		for _, n := range nodes {
			set[n] = true
		}
	}
	// The final membrane: V_{T-1}, squeezed to [N, ...].
	if nodes, v, s, ok := matchReset(ix, steps[T-1]); ok {
		for _, sq := range ix.consumers[v] {
			if sq.GetOpType() != "Squeeze" || len(sq.Input) != 2 {
				continue
			}
			if a, ok := ix.ints(sq.Input[1]); !ok || !equalInts(a, []int64{0}) {
				continue
			}
			if soft >= 0 && (soft == 1) != s {
				return nil
			}
			if s {
				soft = 1
			} else {
				soft = 0
			}
			for _, n := range nodes {
				set[n] = true
			}
			set[sq] = true
			nr.Final = sq.Output[0]
			break
		}
	}
	if nr.Form == FormStep && (nr.Final == "" || !ix.outputs[nr.Final]) {
		return nil
	}
	p.SoftReset = soft == 1
	nr.softUnknown = soft < 0
	if p.Validate() != nil {
		return nil
	}
	nr.Params = p
	// The k = 1/tau node is shared by the steps.
	set[first.div] = true
	// Every internal tensor stays inside the pattern.
	for n := range set {
		for _, o := range n.Output {
			if o == nr.Spikes || o == nr.Final {
				continue
			}
			if !ix.onlyUsedBy(o, set) {
				return nil
			}
		}
	}
	nr.nodes = sortedNodes(ix, set)
	return nr
}

// matchLIFStep recognises an expanded LIFStep: one step with an explicit
// membrane input, outputs S_t (the Cast) and V_next.
func matchLIFStep(ix *index, cast *onnxpb.NodeProto, claimed map[*onnxpb.NodeProto]bool) *Neuron {
	m := matchStep(ix, cast)
	if m == nil {
		return nil
	}
	nodes, vn, soft, ok := matchReset(ix, m)
	if !ok {
		return nil
	}
	set := map[*onnxpb.NodeProto]bool{m.div: true}
	for _, n := range append(m.nodes(), nodes...) {
		if claimed[n] {
			return nil
		}
		set[n] = true
	}
	p := spiking.DefaultLIF()
	p.Tau, _ = ix.scalar(m.tau)
	p.VThreshold, _ = ix.scalar(m.vth)
	p.VReset, _ = ix.scalar(m.vreset)
	p.DecayInput, p.SoftReset = m.decay, soft
	if p.Validate() != nil {
		return nil
	}
	for n := range set {
		for _, o := range n.Output {
			if o == m.s || o == vn {
				continue
			}
			if !ix.onlyUsedBy(o, set) {
				return nil
			}
		}
	}
	return &Neuron{Name: cast.GetName(), Op: "LIFStep", Form: FormUnrolled, Input: m.x, State: m.v, Spikes: m.s,
		Final: vn, T: 1, Params: p, nodes: sortedNodes(ix, set)}
}

func sortedNodes(ix *index, set map[*onnxpb.NodeProto]bool) []*onnxpb.NodeProto {
	out := make([]*onnxpb.NodeProto, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return ix.pos[out[i]] < ix.pos[out[j]] })
	return out
}

// ---- AGMM gates ----

func findGates(ix *index, detach int64) ([]*Gate, error) {
	var out []*Gate
	for _, n := range ix.g.Node {
		if n.GetDomain() == bsnn.DomainSNN && n.GetOpType() == "AGMMGate" {
			p, err := bsnn.ParseAGMMGate(onnx.NodeOf(n))
			if err != nil {
				return nil, fmt.Errorf("AGMMGate node %q: %w", n.GetName(), err)
			}
			out = append(out, &Gate{Name: n.GetName(), Form: FormNode, Input: n.Input[0], Alpha: n.Input[1],
				Output: n.Output[0], Params: p, nodes: []*onnxpb.NodeProto{n}})
			continue
		}
		if n.GetOpType() == "Sigmoid" && isONNXDomain(n.GetDomain()) {
			if g := matchGate(ix, n); g != nil {
				g.Params.DetachStat = detach != 0
				out = append(out, g)
			}
		}
	}
	return out, nil
}

// matchGate recognises the expanded AGMMGate (see gateNodes in lower.go)
// around its Sigmoid.
func matchGate(ix *index, sig *onnxpb.NodeProto) *Gate {
	set := map[*onnxpb.NodeProto]bool{sig: true}
	rm := ix.prod(sig.Input[0], "ReduceMean")
	if rm == nil || attrInt(rm, "keepdims", 1) != 1 || len(rm.Input) != 1 {
		return nil
	}
	if a, ok := attrIntList(rm, "axes"); !ok || !equalInts(a, []int64{2}) {
		return nil
	}
	set[rm] = true
	flat := ix.prod(rm.Input[0], "Reshape")
	if flat == nil {
		return nil
	}
	if t, ok := ix.ints(flat.Input[1]); !ok || !equalInts(t, []int64{0, 0, -1}) {
		return nil
	}
	set[flat] = true
	x3, X := flat.Output[0], flat.Input[0]
	var gmul *onnxpb.NodeProto
	for _, c := range ix.consumers[sig.Output[0]] {
		if c.GetOpType() == "Mul" && isONNXDomain(c.GetDomain()) && c.Input[1] == sig.Output[0] {
			gmul = c
		}
	}
	if gmul == nil {
		return nil
	}
	set[gmul] = true
	un := ix.prod(gmul.Input[0], "Unsqueeze")
	if un == nil || len(un.Input) != 2 {
		return nil
	}
	if a, ok := ix.ints(un.Input[1]); !ok || !equalInts(a, []int64{1, 2}) {
		return nil
	}
	set[un] = true
	g := &Gate{Input: X, Form: FormUnrolled, Params: spiking.AGMMParams{Mode: spiking.AGMMModeForward}}
	if t, ok := ix.value(un.Input[0]); ok && t.Type == onnx.Float && len(t.Dims) == 1 {
		g.Alpha = un.Input[0]
	} else {
		// Step form: alpha_t = ReduceSum(alpha * time_onehot, [0], keepdims 1).
		rs := ix.prod(un.Input[0], "ReduceSum")
		if rs == nil || len(rs.Input) != 2 || attrInt(rs, "keepdims", 1) != 1 {
			return nil
		}
		if a, ok := ix.ints(rs.Input[1]); !ok || !equalInts(a, []int64{0}) {
			return nil
		}
		sel := ix.prod(rs.Input[0], "Mul")
		if sel == nil {
			return nil
		}
		if t, ok := ix.value(sel.Input[0]); !ok || t.Type != onnx.Float || len(t.Dims) != 1 || !ix.inputs[sel.Input[1]] {
			return nil
		}
		g.Alpha, g.OneHot, g.Form = sel.Input[0], sel.Input[1], FormStep
		set[rs], set[sel] = true, true
	}
	var apply *onnxpb.NodeProto
	for _, c := range ix.consumers[gmul.Output[0]] {
		if c.GetOpType() == "Mul" && isONNXDomain(c.GetDomain()) && c.Input[0] == x3 && c.Input[1] == gmul.Output[0] {
			apply = c
		}
	}
	if apply == nil {
		return nil
	}
	set[apply] = true
	var out *onnxpb.NodeProto
	for _, c := range ix.consumers[apply.Output[0]] {
		if c.GetOpType() == "Reshape" && isONNXDomain(c.GetDomain()) && c.Input[0] == apply.Output[0] {
			out = c
		}
	}
	if out == nil {
		return nil
	}
	shp := ix.prod(out.Input[1], "Shape")
	if shp == nil || shp.Input[0] != X || len(shp.Attribute) != 0 {
		return nil
	}
	set[out], set[shp] = true, true
	g.Name, g.Output = out.GetName(), out.Output[0]
	for n := range set {
		if n == out {
			continue
		}
		for _, o := range n.Output {
			if !ix.onlyUsedBy(o, set) {
				return nil
			}
		}
	}
	g.nodes = sortedNodes(ix, set)
	return g
}

// ---- metadata helpers ----

func metadata(mp *onnxpb.ModelProto) map[string]string {
	out := map[string]string{}
	for _, p := range mp.MetadataProps {
		out[p.GetKey()] = p.GetValue()
	}
	return out
}

func valueInfoOf(g *onnxpb.GraphProto, name string) *onnxpb.ValueInfoProto {
	for _, list := range [][]*onnxpb.ValueInfoProto{g.ValueInfo, g.Output, g.Input} {
		for _, v := range list {
			if v.GetName() == name {
				return v
			}
		}
	}
	return nil
}

// shapeOf returns a tensor value_info's shape; ok is false when it has none.
func shapeOf(v *onnxpb.ValueInfoProto) (onnx.Shape, bool) {
	tt := v.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil {
		return nil, false
	}
	var s onnx.Shape
	for _, d := range tt.Shape.Dim {
		switch x := d.Value.(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			s = append(s, onnx.Dim{Value: x.DimValue})
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			s = append(s, onnx.Dim{Value: -1, Param: x.DimParam})
		default:
			s = append(s, onnx.Dim{Value: -1})
		}
	}
	return s, true
}
