package export

import (
	"fmt"
	"slices"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// Recognizing AGMM gates: AGMMGate nodes and their standard-op expansion
// (gateExpansion in lower.go).

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
	if rm == nil || onnx.NodeOf(rm).Int("keepdims", 1) != 1 || len(rm.Input) != 1 {
		return nil
	}
	if !slices.Equal(onnx.NodeOf(rm).Ints("axes", nil), []int64{2}) {
		return nil
	}
	set[rm] = true
	flat := ix.prod(rm.Input[0], "Reshape")
	if flat == nil {
		return nil
	}
	if t, ok := ix.ints(flat.Input[1]); !ok || !slices.Equal(t, []int64{0, 0, -1}) {
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
	if a, ok := ix.ints(un.Input[1]); !ok || !slices.Equal(a, []int64{1, 2}) {
		return nil
	}
	set[un] = true
	g := &Gate{Input: X, Form: FormUnrolled, Params: spiking.AGMMParams{Mode: spiking.AGMMModeForward}}
	if t, ok := ix.value(un.Input[0]); ok && t.Type == onnx.Float && len(t.Dims) == 1 {
		g.Alpha = un.Input[0]
	} else {
		// Step form: alpha_t = ReduceSum(alpha * time_onehot, [0], keepdims 1).
		rs := ix.prod(un.Input[0], "ReduceSum")
		if rs == nil || len(rs.Input) != 2 || onnx.NodeOf(rs).Int("keepdims", 1) != 1 {
			return nil
		}
		if a, ok := ix.ints(rs.Input[1]); !ok || !slices.Equal(a, []int64{0}) {
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
