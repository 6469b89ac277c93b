package export

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// Recognizing LIF neurons: LIF/LIFStep nodes, and the plain profile's
// unrolled and per-step standard-op patterns (lifStepNodes in lower.go).

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
			if len(n.Output) > 1 && (n.GetOpType() == "LIFStep" || ix.isRead(n.Output[1])) {
				nr.Final = n.Output[1] // V_T only when something reads it
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
	if cast.GetOpType() != "Cast" || onnx.NodeOf(cast).Int("to", 0) != int64(onnx.Float) || len(cast.Input) != 1 {
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
	if onnx.NodeOf(c).Int("axis", 0) != 0 || len(c.Input) == 0 {
		return nil
	}
	T := len(c.Input)
	steps := make([]*stepMatch, T)
	set := map[*onnxpb.NodeProto]bool{c: true}
	var X string
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
		if !ok1 || !ok2 || !ok3 || !slices.Equal(st, []int64{int64(t)}) || !slices.Equal(en, []int64{int64(t + 1)}) || !slices.Equal(ax, []int64{0}) {
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
	soft := -1 // the reset mode the steps show: -1 none yet, 0 hard, 1 soft
	agree := func(s bool) bool {
		if soft >= 0 && (soft == 1) != s {
			return false
		}
		soft = int(b2i(s))
		return true
	}
	for t := 1; t < T; t++ {
		nodes, v, s, ok := matchReset(ix, steps[t-1])
		if !ok || v != steps[t].v || !agree(s) {
			return nil
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
			if a, ok := ix.ints(sq.Input[1]); !ok || !slices.Equal(a, []int64{0}) {
				continue
			}
			if !agree(s) {
				return nil
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
