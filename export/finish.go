package export

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// finish settles everything but the graph's computation for profile p:
// header (IR 8, producer, opset_import with "" first and only the domains
// used), model-local functions from the registry, bsnn.* metadata,
// finn_datatype annotations, value_info, unused initializers, and the
// naming rules of bsnn.CheckNames (bsnn.Legalize). canon is the canonical
// model's Info (its names survive every profile).
func finish(mp *onnxpb.ModelProto, canon *Info, p bsnn.Profile, form bsnn.PlainForm, opts Options) error {
	bsnn.Legalize(mp.Graph)
	dropUnusedInits(mp)
	if p != bsnn.ProfileTrain {
		mp.TrainingInfo = nil
	}
	cur, err := recognize(mp)
	if err != nil {
		return err
	}
	setHeader(mp, p, opts)
	if err := setFunctions(mp, p, opts); err != nil {
		return err
	}
	g := mp.Graph
	rank := tensorRanks(g)
	setAnnotations(g, cur, rank)
	sort.SliceStable(g.Initializer, func(i, j int) bool { return rank(g.Initializer[i].GetName()) < rank(g.Initializer[j].GetName()) })
	setValueInfo(g, cur, rank)
	return setMetadata(mp, canon, cur, p, form)
}

// setHeader writes IR 8 and the producer (keeping the input's version when
// bsnnctl wrote it and Options gives none) and updates the profile named in
// the doc string.
func setHeader(mp *onnxpb.ModelProto, p bsnn.Profile, opts Options) {
	mp.IrVersion = proto.Int64(bsnn.TargetIRVersion)
	version := opts.ProducerVersion
	if version == "" {
		version = "dev"
		if mp.GetProducerName() == bsnn.Producer && mp.GetProducerVersion() != "" {
			version = mp.GetProducerVersion()
		}
	}
	mp.ProducerName = proto.String(bsnn.Producer)
	mp.ProducerVersion = proto.String(version)
	if mp.DocString != nil {
		mp.DocString = proto.String(profileRe.ReplaceAllString(mp.GetDocString(), "profile "+string(p)))
	}
}

// setFunctions writes opset_import (ai.onnx first, then the BSNN domains,
// then any other domain used, each once) and a fresh FunctionProto for each
// custom op the graph uses.
func setFunctions(mp *onnxpb.ModelProto, p bsnn.Profile, opts Options) error {
	used := map[string]bool{}
	custom := map[string]bool{}
	for _, n := range mp.Graph.Node {
		d := n.GetDomain()
		if d == "ai.onnx" {
			n.Domain = nil
			d = ""
		}
		used[d] = true
		if d != "" && d != "ai.onnx.ml" {
			custom[d+"::"+n.GetOpType()] = true
		}
	}
	for _, ti := range mp.TrainingInfo {
		if ti.Algorithm != nil {
			for _, n := range ti.Algorithm.Node {
				used[n.GetDomain()] = true
			}
		}
	}
	old := (&onnx.Model{Proto: mp}).Opsets()
	imports := []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(bsnn.TargetOpset)}}
	for _, d := range []string{bsnn.DomainQONNX, bsnn.DomainSNN} {
		if used[d] {
			imports = append(imports, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(1)})
		}
	}
	var others []string
	for d := range used {
		if d != "" && d != bsnn.DomainQONNX && d != bsnn.DomainSNN {
			others = append(others, d)
		}
	}
	sort.Strings(others)
	for _, d := range others {
		v := old[d]
		if v == 0 {
			v = 1
		}
		imports = append(imports, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(int64(v))})
	}
	mp.OpsetImport = imports
	mp.Functions = nil
	for _, k := range slices.Sorted(maps.Keys(custom)) {
		domain, op, _ := strings.Cut(k, "::")
		f, err := opts.Functions(domain, op)
		if err != nil {
			return fmt.Errorf("the %s profile needs a function body for every custom op: %w", p, err)
		}
		if f.GetDomain() != domain || f.GetName() != op {
			return fmt.Errorf("function source gave %s::%s for %s::%s", f.GetDomain(), f.GetName(), domain, op)
		}
		mp.Functions = append(mp.Functions, proto.Clone(f).(*onnxpb.FunctionProto))
	}
	return nil
}

// setAnnotations writes finn_datatype BIPOLAR on unit-scale binary weights
// and BINARY on spikes, drops the datatype of other managed tensors and
// annotations of tensors that no longer exist, keeps every other entry, and
// orders them by first use.
func setAnnotations(g *onnxpb.GraphProto, cur *Info, rank func(string) int) {
	managed := map[string]bool{}
	ours := map[string]string{}
	var order []string
	for _, l := range cur.Layers {
		managed[l.Weight] = true
		if l.Latent != "" {
			managed[l.Latent] = true
		}
		if l.UnitScale {
			ours[l.Weight] = bsnn.DatatypeBipolar
			order = append(order, l.Weight)
		}
	}
	for _, n := range cur.Neurons {
		managed[n.Spikes] = true
		ours[n.Spikes] = bsnn.DatatypeBinary
		order = append(order, n.Spikes)
	}
	exists := tensorNames(g)
	var anns []*onnxpb.TensorAnnotation
	done := map[string]bool{}
	for _, a := range g.QuantizationAnnotation {
		name := a.GetTensorName()
		if !exists[name] || done[name] {
			continue
		}
		var kv []*onnxpb.StringStringEntryProto
		for _, e := range a.QuantParameterTensorNames {
			if e.GetKey() == bsnn.AnnotationDatatype && managed[name] {
				continue
			}
			kv = append(kv, e)
		}
		if dt, ok := ours[name]; ok {
			kv = append(kv, &onnxpb.StringStringEntryProto{Key: proto.String(bsnn.AnnotationDatatype), Value: proto.String(dt)})
			done[name] = true
		}
		if len(kv) > 0 {
			anns = append(anns, &onnxpb.TensorAnnotation{TensorName: proto.String(name), QuantParameterTensorNames: kv})
		}
	}
	for _, name := range order {
		if done[name] {
			continue
		}
		done[name] = true
		anns = append(anns, &onnxpb.TensorAnnotation{TensorName: proto.String(name),
			QuantParameterTensorNames: []*onnxpb.StringStringEntryProto{{Key: proto.String(bsnn.AnnotationDatatype), Value: proto.String(ours[name])}}})
	}
	g.QuantizationAnnotation = anns
	sort.SliceStable(g.QuantizationAnnotation, func(i, j int) bool {
		return rank(g.QuantizationAnnotation[i].GetTensorName()) < rank(g.QuantizationAnnotation[j].GetTensorName())
	})
}

// setValueInfo keeps value_info for intermediate tensors only, adds one for
// every custom-node output, and orders them by first use.
func setValueInfo(g *onnxpb.GraphProto, cur *Info, rank func(string) int) {
	produced := map[string]bool{}
	for _, n := range g.Node {
		for _, o := range n.Output {
			produced[o] = true
		}
	}
	io := map[string]bool{}
	for _, v := range g.Input {
		io[v.GetName()] = true
	}
	for _, v := range g.Output {
		io[v.GetName()] = true
	}
	var vis []*onnxpb.ValueInfoProto
	have := map[string]bool{}
	for _, v := range g.ValueInfo {
		if produced[v.GetName()] && !io[v.GetName()] && !have[v.GetName()] {
			vis = append(vis, v)
			have[v.GetName()] = true
		}
	}
	layerDims := map[string][]int64{}
	for _, l := range cur.Layers {
		layerDims[l.Weight] = l.Dims
	}
	for _, n := range g.Node {
		if isONNXDomain(n.GetDomain()) {
			continue
		}
		for i, o := range n.Output {
			if o == "" || have[o] || io[o] {
				continue
			}
			have[o] = true
			vis = append(vis, customValueInfo(g, n, i, layerDims))
		}
	}
	sort.SliceStable(vis, func(i, j int) bool { return rank(vis[i].GetName()) < rank(vis[j].GetName()) })
	g.ValueInfo = vis
}

// tensorRanks orders tensors by first appearance in the node list (each
// node's inputs, then its outputs), so initializers, value_info and
// annotations get one order whatever the file's history; tensors no node
// touches come last.
func tensorRanks(g *onnxpb.GraphProto) func(string) int {
	r := map[string]int{}
	add := func(t string) {
		if _, ok := r[t]; !ok && t != "" {
			r[t] = len(r)
		}
	}
	for _, n := range g.Node {
		for _, in := range n.Input {
			add(in)
		}
		for _, o := range n.Output {
			add(o)
		}
	}
	return func(t string) int {
		if v, ok := r[t]; ok {
			return v
		}
		return len(r)
	}
}

var profileRe = regexp.MustCompile(`profile (portable|plain|packed|train)`)

// tensorNames lists the graph's tensors: inputs, initializers, node outputs.
func tensorNames(g *onnxpb.GraphProto) map[string]bool {
	out := map[string]bool{}
	for _, v := range g.Input {
		out[v.GetName()] = true
	}
	for _, t := range g.Initializer {
		out[t.GetName()] = true
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			out[o] = true
		}
	}
	return out
}

// customValueInfo types a custom node's output: BipolarQuant's is the
// weight's shape, AGMMGate's and LIF's spikes the input's (when declared),
// LIF's V_T the spikes' (else the input's) without the time axis;
// otherwise float of unknown shape.
func customValueInfo(g *onnxpb.GraphProto, n *onnxpb.NodeProto, i int, layerDims map[string][]int64) *onnxpb.ValueInfoProto {
	o := n.Output[i]
	var shape onnx.Shape
	known := false
	if d, ok := layerDims[o]; ok {
		for _, x := range d {
			shape = append(shape, onnx.Dim{Value: x})
		}
		known = true
	} else if vi := valueInfoOf(g, n.Output[0]); n.GetOpType() == "LIF" && i == 1 && vi != nil {
		// V_T: the spikes' [T, N, ...] without the time axis.
		if s, ok := shapeOf(vi); ok && len(s) > 1 {
			shape, known = s[1:], true
		}
	} else if vi := valueInfoOf(g, n.Input[0]); vi != nil {
		if s, ok := shapeOf(vi); ok {
			switch {
			case n.GetOpType() == "LIF" && i == 1 && len(s) > 1:
				shape, known = s[1:], true
			case i == 0 || n.GetOpType() == "LIFStep":
				shape, known = s, true
			}
		}
	}
	if known {
		return onnx.ValueInfoProto(o, onnx.Float, shape)
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(o), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.Float))}}}}
}

// setMetadata writes the bsnn.* keys for profile p, keeping every other key
// (and the order of existing ones).
func setMetadata(mp *onnxpb.ModelProto, canon, cur *Info, p bsnn.Profile, form bsnn.PlainForm) error {
	m := &onnx.Model{Proto: mp}
	meta := m.Metadata()
	set := func(k, v string) { m.SetMetadata(k, v) }
	if _, ok := meta[bsnn.MetaFormatVersion]; !ok {
		set(bsnn.MetaFormatVersion, bsnn.FormatVersion)
	}
	set(bsnn.MetaProfile, string(p))
	if canon.TimeSteps > 0 {
		set(bsnn.MetaTimeSteps, strconv.Itoa(canon.TimeSteps))
	}
	for k, v := range map[string]string{bsnn.MetaTimeAxis: "0", bsnn.MetaSignZero: "+1", bsnn.MetaSpikeCondition: ">="} {
		if _, ok := meta[k]; !ok {
			set(k, v)
		}
	}

	// bsnn.layers: existing entries updated, unresolved binary entries
	// dropped, unlisted binary layers appended.
	var old []bsnn.Layer
	if s, ok := meta[bsnn.MetaLayers]; ok {
		if err := json.Unmarshal([]byte(s), &old); err != nil {
			old = nil
		}
	}
	byName := map[string]*Layer{}
	for _, l := range cur.Layers {
		byName[l.Name] = l
	}
	var layers []bsnn.Layer
	listed := map[string]bool{}
	for _, e := range old {
		if !e.Binary {
			layers = append(layers, e)
			continue
		}
		l := byName[e.Name]
		if l == nil || listed[l.Name] {
			continue
		}
		listed[l.Name] = true
		layers = append(layers, layerEntry(e, l))
	}
	for _, l := range cur.Layers {
		if !listed[l.Name] {
			layers = append(layers, layerEntry(bsnn.Layer{Name: l.Name}, l))
		}
	}
	b, err := json.Marshal(layers)
	if err != nil {
		return err
	}
	if layers == nil {
		b = []byte("[]")
	}
	set(bsnn.MetaLayers, string(b))

	// bsnn.neurons from the canonical LIF/LIFStep nodes.
	if len(canon.Neurons) > 0 {
		neurons := map[string]any{}
		for _, n := range canon.Neurons {
			neurons[n.Name] = bsnn.NeuronEntry(n.Op, n.Params)
		}
		b, err := json.Marshal(neurons)
		if err != nil {
			return err
		}
		set(bsnn.MetaNeurons, string(b))
	}

	if p == bsnn.ProfilePlain {
		set(bsnn.MetaPlainForm, string(form))
	} else {
		props := mp.MetadataProps[:0]
		for _, e := range mp.MetadataProps {
			if e.GetKey() != bsnn.MetaPlainForm {
				props = append(props, e)
			}
		}
		mp.MetadataProps = props
	}
	return nil
}

func layerEntry(e bsnn.Layer, l *Layer) bsnn.Layer {
	e.Node, e.Op, e.Binary = l.Node, l.Op, true
	e.WeightBin = l.Weight
	e.WeightLatent, e.WeightScale, e.WeightPacked, e.Packing = "", "", "", nil
	switch l.Source {
	case SourceBipolarQuant:
		e.WeightLatent, e.WeightScale = l.Latent, l.Scale
	case SourcePacked:
		e.WeightPacked = l.Packed
		s := bsnn.Packing
		e.Packing = &s
	}
	return e
}
