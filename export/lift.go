package export

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// nodeEdit collects node replacements for one pass over the node list.
type nodeEdit struct {
	replace map[*onnxpb.NodeProto][]*onnxpb.NodeProto // node -> what stands in its place
	remove  map[*onnxpb.NodeProto]bool
}

func newNodeEdit() *nodeEdit {
	return &nodeEdit{replace: map[*onnxpb.NodeProto][]*onnxpb.NodeProto{}, remove: map[*onnxpb.NodeProto]bool{}}
}

// swap replaces the nodes (in file order) by with, written where the first
// of them was.
func (e *nodeEdit) swap(nodes []*onnxpb.NodeProto, with ...*onnxpb.NodeProto) {
	for i, n := range nodes {
		if i == 0 {
			e.replace[n] = with
		} else {
			e.remove[n] = true
		}
	}
}

// before writes with just before n.
func (e *nodeEdit) before(n *onnxpb.NodeProto, with ...*onnxpb.NodeProto) {
	cur, ok := e.replace[n]
	if !ok {
		cur = []*onnxpb.NodeProto{n}
	}
	e.replace[n] = append(append([]*onnxpb.NodeProto{}, with...), cur...)
}

func (e *nodeEdit) apply(g *onnxpb.GraphProto) {
	out := make([]*onnxpb.NodeProto, 0, len(g.Node))
	for _, n := range g.Node {
		if e.remove[n] {
			continue
		}
		if r, ok := e.replace[n]; ok {
			out = append(out, r...)
			continue
		}
		out = append(out, n)
	}
	g.Node = out
}

// lift rewrites any recognised profile into the canonical portable graph:
// BipolarQuant on latent weights, LIF / LIFStep / AGMMGate nodes, the time
// dimension T everywhere. Header, functions, metadata, annotations and
// value_info are settled by finish.
func lift(mp *onnxpb.ModelProto, info *Info) error {
	g := mp.Graph
	canonicalEncoding(g)
	ix := newIndex(g)
	ed := newEditor(g)
	ne := newNodeEdit()

	for _, l := range info.Layers {
		switch l.Source {
		case SourceBipolarQuant:
			// Legacy domains (onnx.brevitas, finn) become QONNX's.
			l.nodes[0].Domain = proto.String(bsnn.DomainQONNX)
		case SourceFolded, SourcePacked:
			latent, scale := latentNames(ed, l.Weight)
			lt := onnx.FloatTensor(latent, l.Dims, l.Values)
			st := floatScalar(scale, 1)
			old := l.Weight
			if l.Source == SourcePacked {
				old = l.Packed
			}
			ed.replaceInit(old, lt)
			ed.insertInitAfter(latent, st)
			bq := onnx.NewNode(ed.freshNode(l.Name+"/binarize"), "BipolarQuant", bsnn.DomainQONNX, []string{latent, scale}, []string{l.Weight})
			if l.Source == SourcePacked {
				ne.swap(l.nodes, bq)
			} else {
				cs := ix.consumers[l.Weight]
				if len(cs) == 0 {
					return fmt.Errorf("binary weight %q has no consumer", l.Weight)
				}
				ne.before(cs[0], bq)
				removeGraphInput(g, l.Weight)
			}
		}
	}
	step := info.PlainForm == bsnn.PlainStep
	var stateIn, stateOut []string
	for _, n := range info.Neurons {
		if n.Form == FormNode {
			continue
		}
		attrs := bsnn.LIFAttributes(n.Params)
		var node *onnxpb.NodeProto
		name := n.Name
		if name == "" {
			name = ed.freshNode("lif")
		}
		if n.Op == "LIFStep" {
			node = onnx.NewNode(name, "LIFStep", bsnn.DomainSNN, []string{n.Input, n.State}, []string{n.Spikes, n.Final}, attrs...)
		} else {
			final := n.Final
			if n.Form == FormStep {
				stateIn, stateOut = append(stateIn, n.State), append(stateOut, n.Final)
				final = ""
			}
			if final == "" {
				final = ed.fresh(name + ".V_T") // named even when unread: bsnn.CheckNames
			}
			node = onnx.NewNode(name, "LIF", bsnn.DomainSNN, []string{n.Input}, []string{n.Spikes, final}, attrs...)
		}
		ne.swap(n.nodes, node)
	}
	var oneHot []string
	for _, gt := range info.Gates {
		if gt.Form == FormNode {
			continue
		}
		name := gt.Name
		if name == "" {
			name = ed.freshNode("agmm")
		}
		node := onnx.NewNode(name, "AGMMGate", bsnn.DomainSNN, []string{gt.Input, gt.Alpha}, []string{gt.Output}, bsnn.AGMMGateAttributes(gt.Params)...)
		ne.swap(gt.nodes, node)
		if gt.Form == FormStep {
			oneHot = append(oneHot, gt.OneHot)
		}
	}
	ne.apply(g)
	if step {
		T := info.TimeSteps
		if T <= 0 {
			return fmt.Errorf("a per-step plain file needs bsnn.time_steps (T) to be read back")
		}
		for _, s := range stateIn {
			removeGraphInput(g, s)
		}
		for _, s := range oneHot {
			removeGraphInput(g, s)
		}
		for _, s := range stateOut {
			removeGraphOutput(g, s)
		}
		if err := retime(mp, 1, T); err != nil {
			return err
		}
	}
	dropUnusedInits(mp)
	return nil
}

// latentNames picks the latent and scale initializer names for a folded
// weight: L.weight_latent / L.weight_scale for L.weight_bin, else
// w.latent / w.scale.
func latentNames(ed *editor, w string) (latent, scale string) {
	if base, ok := strings.CutSuffix(w, ".weight_bin"); ok && base != "" {
		return ed.fresh(base + ".weight_latent"), ed.fresh(base + ".weight_scale")
	}
	return ed.fresh(w + ".latent"), ed.fresh(w + ".scale")
}

// freshNode returns a node name not used by another node.
func (e *editor) freshNode(base string) string {
	used := map[string]bool{}
	for _, n := range e.g.Node {
		used[n.GetName()] = true
	}
	name := base
	for i := 1; used[name] || e.names["node:"+name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	e.names["node:"+name] = true
	return name
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func removeGraphInput(g *onnxpb.GraphProto, name string) {
	out := g.Input[:0]
	for _, v := range g.Input {
		if v.GetName() != name {
			out = append(out, v)
		}
	}
	g.Input = out
}

func removeGraphOutput(g *onnxpb.GraphProto, name string) {
	out := g.Output[:0]
	for _, v := range g.Output {
		if v.GetName() != name {
			out = append(out, v)
		}
	}
	g.Output = out
}

// retime changes the number of time steps the canonical graph is written
// for from `from` to `to` (T -> 1 for the per-step plain form, 1 -> T when
// reading it back): the input encoding's Expand repeats the graph input `to`
// times (an event input [T, N, ...] instead declares `to` frames), the
// Reshapes into a time-major view [T, N, ...] (read by LIF,
// LIFStep-free AGMMGate and the decoding ReduceMean) get `to` as their
// leading dimension, and so do the value_info of the LIF and AGMMGate
// inputs and outputs.
func retime(mp *onnxpb.ModelProto, from, to int) error {
	g := mp.Graph
	ix := newIndex(g)
	ed := newEditor(g)
	// The input encoding: Expand's leading dimension.
	if enc := findEncoding(g, ix); enc != nil {
		target, ok := ix.ints(enc.Input[1])
		if !ok || len(target) == 0 || target[0] != int64(from) {
			return fmt.Errorf("input encoding %q: shape %v does not start with T=%d", enc.GetName(), target, from)
		}
		nt := append([]int64{int64(to)}, target[1:]...)
		enc.Input[1] = ed.constant(shapeConstName(nt), int64Vec("", nt...))
	}
	if metadata(mp)[bsnn.MetaInputEncoding] == string(bsnn.EncodingEvents) {
		if err := retimeEventInput(graphInput(g, ix), from, to); err != nil {
			return err
		}
	}
	// Time-major views.
	timeMajor := map[string]bool{}
	for _, n := range g.Node {
		switch {
		case n.GetDomain() == bsnn.DomainSNN && (n.GetOpType() == "LIF" || n.GetOpType() == "AGMMGate"):
			timeMajor[n.Input[0]] = true
			timeMajor[n.Output[0]] = true
		case n.GetOpType() == "ReduceMean" && isONNXDomain(n.GetDomain()) && ix.outputs[n.Output[0]] && onnx.NodeOf(n).Int("keepdims", 1) == 0:
			if slices.Equal(onnx.NodeOf(n).Ints("axes", nil), []int64{0}) {
				timeMajor[n.Input[0]] = true
			}
		}
	}
	for _, n := range g.Node {
		if n.GetOpType() != "Reshape" || !isONNXDomain(n.GetDomain()) || !timeMajor[n.Output[0]] {
			continue
		}
		target, ok := ix.ints(n.Input[1])
		if !ok || len(target) < 2 || target[0] != int64(from) {
			return fmt.Errorf("time-major Reshape %q: target %v does not start with T=%d", n.GetName(), target, from)
		}
		nt := append([]int64{int64(to)}, target[1:]...)
		n.Input[1] = ed.constant(retimedName(n.Input[1], from, to), int64Vec("", nt...))
	}
	for _, v := range g.ValueInfo {
		if !timeMajor[v.GetName()] {
			continue
		}
		if tt := v.GetType().GetTensorType(); tt != nil && tt.Shape != nil && len(tt.Shape.Dim) > 0 {
			if d, ok := tt.Shape.Dim[0].Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && d.DimValue == int64(from) {
				tt.Shape.Dim[0].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(to)}
			}
		}
	}
	return nil
}

// retimeEventInput changes the time axis of an event input [T, N, ...]
// (spec §8) from `from` frames to `to`: the per-step plain form reads the
// frame of one step, [1, N, ...].
func retimeEventInput(in *onnxpb.ValueInfoProto, from, to int) error {
	if in == nil {
		return fmt.Errorf("an event-input model (%s %q) without a graph input", bsnn.MetaInputEncoding, bsnn.EncodingEvents)
	}
	tt := in.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil || len(tt.Shape.Dim) < 2 {
		return fmt.Errorf("event input %q: no declared shape [T, N, ...]", in.GetName())
	}
	d, ok := tt.Shape.Dim[0].Value.(*onnxpb.TensorShapeProto_Dimension_DimValue)
	if !ok || d.DimValue != int64(from) {
		return fmt.Errorf("event input %q: its time axis is not T=%d", in.GetName(), from)
	}
	tt.Shape.Dim[0].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(to)}
	return nil
}

// retimedName renames a time-major shape constant: bsnn.shape.<from>_rest
// becomes bsnn.shape.<to>_rest; other names get (or lose) a ".step" suffix.
func retimedName(name string, from, to int) string {
	prefix := "bsnn.shape." + strconv.Itoa(from) + "_"
	if rest, ok := strings.CutPrefix(name, prefix); ok {
		return "bsnn.shape." + strconv.Itoa(to) + "_" + rest
	}
	if to == 1 {
		return name + ".step"
	}
	if base, ok := strings.CutSuffix(name, ".step"); ok {
		return base
	}
	return name + ".T" + strconv.Itoa(to)
}
