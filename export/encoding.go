package export

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// The direct input encoding (spec §3.5): the graph input [N, ...] repeated
// T times into [T*N, ...], written as convert writes it:
//
//	Unsqueeze(in, bsnn.axes.0) -> Expand(bsnn.shape.T_1_..._1) -> Reshape(bsnn.shape.-1_rest)
//
// Files written before the naming rules of bsnn.CheckNames repeat the input
// with Concat(in, in, ..., in) along axis 0 instead; canonicalEncoding
// rewrites that form.

// shapeConstName is the name of a shared int64 shape constant:
// bsnn.shape.4_1_1 for [4, 1, 1].
func shapeConstName(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "bsnn.shape." + strings.Join(parts, "_")
}

// graphInput is the first graph input that is not an initializer (nil if
// none).
func graphInput(g *onnxpb.GraphProto, ix *index) *onnxpb.ValueInfoProto {
	for _, v := range g.Input {
		if ix.inputs[v.GetName()] {
			return v
		}
	}
	return nil
}

// findEncoding returns the encoding's Expand node, or nil.
func findEncoding(g *onnxpb.GraphProto, ix *index) *onnxpb.NodeProto {
	in := graphInput(g, ix)
	if in == nil {
		return nil
	}
	for _, n := range g.Node {
		if n.GetOpType() != "Expand" || !isONNXDomain(n.GetDomain()) || len(n.Input) != 2 {
			continue
		}
		u := ix.prod(n.Input[0], "Unsqueeze")
		if u == nil || len(u.Input) != 2 || u.Input[0] != in.GetName() {
			continue
		}
		if axes, ok := ix.ints(u.Input[1]); ok && slices.Equal(axes, []int64{0}) {
			return n
		}
	}
	return nil
}

// canonicalEncoding rewrites a Concat along axis 0 of T copies of the graph
// input into the Unsqueeze -> Expand -> Reshape form (the Reshape takes the
// Concat's name and output). It needs the input's declared dimensions
// after the batch; without them the Concat stays (bsnn.Legalize then gives
// it Identity copies).
func canonicalEncoding(g *onnxpb.GraphProto) {
	ix := newIndex(g)
	in := graphInput(g, ix)
	if in == nil {
		return
	}
	s, ok := shapeOf(in)
	if !ok || len(s) < 1 {
		return
	}
	rest := make([]int64, 0, len(s)-1)
	for _, d := range s[1:] {
		if !d.Known() {
			return
		}
		rest = append(rest, d.Value)
	}
	name := in.GetName()
	ne := newNodeEdit()
	ed := newEditor(g)
	for _, n := range g.Node {
		if n.GetOpType() != "Concat" || !isONNXDomain(n.GetDomain()) || onnx.NodeOf(n).Int("axis", 0) != 0 || len(n.Input) == 0 ||
			slices.ContainsFunc(n.Input, func(x string) bool { return x != name }) {
			continue
		}
		shape := make([]int64, len(s)+1)
		for i := range shape {
			shape[i] = 1
		}
		shape[0] = int64(len(n.Input))
		target := append([]int64{-1}, rest...)
		one, tn := ed.fresh(name+".unsqueezed"), ed.fresh(name+".repeat_tn")
		ne.before(n,
			onnx.NewNode(ed.freshNode("encode/unsqueeze"), "Unsqueeze", "", []string{name, ed.constant(axes0, int64Vec("", 0))}, []string{one}),
			onnx.NewNode(ed.freshNode("encode/expand"), "Expand", "", []string{one, ed.constant(shapeConstName(shape), int64Vec("", shape...))}, []string{tn}))
		n.OpType = proto.String("Reshape")
		n.Input = []string{tn, ed.constant(shapeConstName(target), int64Vec("", target...))}
		n.Attribute = nil
	}
	ne.apply(g)
}
