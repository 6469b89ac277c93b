package convert

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// lifAttrs are the LIF attributes and their spec defaults (spec §2.2).
var lifAttrs = map[string]any{
	"tau": float32(2), "v_threshold": float32(1), "v_reset": float32(0), "decay_input": int64(0),
	"soft_reset": int64(0), "surrogate": "triangle", "surrogate_alpha": float32(1), "detach_reset": int64(0),
}

var gateAttrs = map[string]any{"mode": "forward", "detach_stat": int64(0)}

func attrValue(a *onnxpb.AttributeProto) any {
	switch a.GetType() {
	case onnxpb.AttributeProto_FLOAT:
		return a.GetF()
	case onnxpb.AttributeProto_INT:
		return a.GetI()
	case onnxpb.AttributeProto_STRING:
		return string(a.GetS())
	}
	return nil
}

// checkEncoding: the graph input is read once, by the direct encoding
// Unsqueeze(axes [0]) -> Expand([T, 1, ...]) -> Reshape([-1, dims...]).
func checkEncoding(t *testing.T, m *onnx.Model, g *onnx.Graph, T int) {
	t.Helper()
	in := g.Inputs[0]
	cs := g.Consumers(in.Name)
	if len(cs) != 1 || cs[0].OpType != "Unsqueeze" {
		t.Fatalf("the input %q is read by %d nodes, want one Unsqueeze", in.Name, len(cs))
	}
	ints := func(name string) []int64 {
		v, err := m.Initializer(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v.Ints()
	}
	if a := ints(cs[0].Input(1)); !slices.Equal(a, []int64{0}) {
		t.Errorf("encoding Unsqueeze axes %v", a)
	}
	ex := g.Consumers(cs[0].Outputs[0])
	if len(ex) != 1 || ex[0].OpType != "Expand" {
		t.Fatalf("the encoding's Unsqueeze feeds %d nodes, want one Expand", len(ex))
	}
	want := make([]int64, len(in.Shape)+1)
	for i := range want {
		want[i] = 1
	}
	want[0] = int64(T)
	if s := ints(ex[0].Input(1)); !slices.Equal(s, want) {
		t.Errorf("encoding Expand shape %v, want %v", s, want)
	}
	rs := g.Consumers(ex[0].Outputs[0])
	if len(rs) != 1 || rs[0].OpType != "Reshape" {
		t.Fatalf("the encoding's Expand feeds %d nodes, want one Reshape", len(rs))
	}
	rest := []int64{-1}
	for _, d := range in.Shape[1:] {
		rest = append(rest, d.Value)
	}
	if s := ints(rs[0].Input(1)); !slices.Equal(s, rest) {
		t.Errorf("encoding Reshape target %v, want %v", s, rest)
	}
}

// TestConvertFixtures converts every fixture (committed, and generated
// when present) with the default options and checks the structure of the
// result against an independent reading of the source graph.
func TestConvertFixtures(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			skipLargeInShort(t, f)
			src := decode(t, f.model())
			o := DefaultOptions()
			o.SourcePath = f.model()
			res := mustConvert(t, src, o)
			checkStructure(t, src, res, o)
			checkSourceHash(t, res, f.model())
			var buf bytes.Buffer
			if err := res.Report.Write(&buf); err != nil {
				t.Fatal(err)
			}
			if testing.Verbose() {
				t.Logf("\n%s", buf.String())
			}
		})
	}
}

func checkSourceHash(t *testing.T, res *Result, path string) {
	var sm map[string]any
	if err := json.Unmarshal([]byte(res.Model.Metadata()[bsnn.MetaSourceModel]), &sm); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); sm["sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("source sha256 %v, file's %x", sm["sha256"], sum)
	}
}

// TestSourceHash: the source's sha256 comes from SourceSHA256 as given,
// else from SourceBytes, the file at SourcePath or the model's encoding;
// a malformed SourceSHA256 is refused.
func TestSourceHash(t *testing.T) {
	f := findFixture(t, "mlp_op17_folded_static")
	src := decode(t, f.model())
	file, err := os.ReadFile(f.model())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := onnx.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	hexOf := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	given := strings.Repeat("0a", 32)
	for _, c := range []struct {
		name string
		opts func(*Options)
		want string
	}{
		{"SourceSHA256", func(o *Options) { o.SourceSHA256, o.SourceBytes, o.SourcePath = given, []byte("x"), f.model() }, given},
		{"SourceBytes", func(o *Options) { o.SourceBytes, o.SourcePath = []byte("x"), f.model() }, hexOf([]byte("x"))},
		{"SourcePath", func(o *Options) { o.SourcePath = f.model() }, hexOf(file)},
		{"encoding", func(o *Options) {}, hexOf(enc)},
	} {
		o := DefaultOptions()
		c.opts(&o)
		var sm map[string]any
		if err := json.Unmarshal([]byte(mustConvert(t, src, o).Model.Metadata()[bsnn.MetaSourceModel]), &sm); err != nil {
			t.Fatal(err)
		}
		if sm["sha256"] != c.want {
			t.Errorf("%s: sha256 %v, want %s", c.name, sm["sha256"], c.want)
		}
	}
	for _, bad := range []string{"abc", strings.Repeat("0A", 32), strings.Repeat("zz", 32)} {
		o := DefaultOptions()
		o.SourceSHA256 = bad
		if _, err := Convert(src, o); err == nil {
			t.Errorf("SourceSHA256 %q accepted", bad)
		}
	}
}

// TestUnchangedWeightsShared: every weight the BSNN carries unchanged (float
// layers, and binary layers' latent weights as stored) shares the decoded
// source's memory instead of being copied.
func TestUnchangedWeightsShared(t *testing.T) {
	if !littleEndian() {
		t.Skip("weights are copied on a big-endian machine")
	}
	for _, name := range []string{"resnet20_op11_keepbn_dynamic", "lenet_op13_folded_static"} {
		f := findFixture(t, name)
		src := decode(t, f.model())
		srcRaw := map[string]*byte{}
		for _, tp := range src.Proto.Graph.Initializer {
			if len(tp.RawData) >= 1024 {
				srcRaw[string(tp.RawData)] = unsafe.SliceData(tp.RawData)
			}
		}
		shared, same := 0, 0
		for _, tp := range mustConvert(t, src, DefaultOptions()).Model.Proto.Graph.Initializer {
			p, ok := srcRaw[string(tp.RawData)]
			if !ok {
				continue
			}
			same++
			if p == unsafe.SliceData(tp.RawData) {
				shared++
			} else {
				t.Errorf("%s: initializer %q is a copy of a source weight", name, tp.GetName())
			}
		}
		if same == 0 {
			t.Errorf("%s: no source weight carried over", name)
		}
		t.Logf("%s: %d weights shared with the source", name, shared)
	}
}

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

// checkStructure checks a converted model: header, I/O, layer roles,
// binary-layer blocks, custom nodes, annotations, functions, metadata.
func checkStructure(t *testing.T, src *onnx.Model, res *Result, o Options) {
	t.Helper()
	m := res.Model
	p := m.Proto
	T := o.TimeSteps
	if T == 0 {
		T = DefaultTimeSteps
	}
	if p.GetIrVersion() != 8 || p.GetProducerName() != "bsnnctl" {
		t.Errorf("header: ir_version %d producer %q", p.GetIrVersion(), p.GetProducerName())
	}
	if len(p.OpsetImport) == 0 || p.OpsetImport[0].GetDomain() != "" || p.OpsetImport[0].GetVersion() != 17 {
		t.Fatalf("opset_import[0] = %v, want ai.onnx 17 first", p.OpsetImport)
	}
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	usedDomains := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Domain != "" {
			usedDomains[n.Domain] = true
		}
	}
	var wantDomains []string
	for _, d := range []string{bsnn.DomainQONNX, bsnn.DomainSNN} {
		if usedDomains[d] {
			wantDomains = append(wantDomains, d)
		}
	}
	if len(p.OpsetImport) != 1+len(wantDomains) {
		t.Errorf("opset_import %v, want ai.onnx then %v", p.OpsetImport, wantDomains)
	}
	for i, d := range wantDomains {
		if i+1 < len(p.OpsetImport) && (p.OpsetImport[i+1].GetDomain() != d || p.OpsetImport[i+1].GetVersion() != 1) {
			t.Errorf("opset_import[%d] = %v, want %s v1", i+1, p.OpsetImport[i+1], d)
		}
	}

	// I/O: symbolic batch, same names as the source.
	sg, _ := src.Graph()
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 || g.Inputs[0].Name != sg.Inputs[0].Name || g.Outputs[0].Name != sg.Outputs[0].Name {
		t.Fatalf("graph I/O changed: %v -> %v", sg.Inputs[0].Name, g.Inputs[0].Name)
	}
	if g.Inputs[0].Shape[0].Param == "" || g.Outputs[0].Shape[0].Param != g.Inputs[0].Shape[0].Param {
		t.Errorf("batch is not symbolic: input %v output %v", g.Inputs[0].Shape, g.Outputs[0].Shape)
	}
	if want := sg.Inputs[0].Shape[1:].String(); g.Inputs[0].Shape[1:].String() != want {
		t.Errorf("input shape %v, source %v", g.Inputs[0].Shape, sg.Inputs[0].Shape)
	}
	if want := sg.Outputs[0].Shape[1:].String(); g.Outputs[0].Shape[1:].String() != want {
		t.Errorf("output shape %v, source %v", g.Outputs[0].Shape, sg.Outputs[0].Shape)
	}
	for _, n := range g.Nodes {
		if n.OpType == "Reshape" {
			shp, err := m.Initializer(n.Input(1))
			if err != nil {
				t.Fatalf("Reshape %s: shape is not an initializer: %v", n.Name, err)
			}
			if s := shp.Ints(); s[0] != -1 && s[0] != int64(T) {
				t.Errorf("Reshape %s target %v hard-codes the batch", n.Name, s)
			}
		}
		encoder := n.Name == "encode/unsqueeze" || n.Name == "encode/expand"
		copied := n.OpType == "Identity" && strings.HasSuffix(n.Outputs[0], ".copy")
		if !encoder && !copied && (n.OpType == "Expand" || n.OpType == "Tile" || n.OpType == "Identity" || n.OpType == "Dropout" || n.OpType == "Constant") {
			t.Errorf("node %s: %s left in the graph", n.Name, n.OpType)
		}
	}
	checkEncoding(t, m, g, T)
	if err := bsnn.CheckNames(m.Proto.Graph); err != nil {
		t.Errorf("naming rules: %v", err)
	}

	// Layer roles: binary layers are exactly the compute layers that are
	// neither first nor last (nor depthwise, float by default).
	sl := sourceLayers(t, src)
	if len(sl) != len(res.Report.Layers) || len(res.Layers) != len(sl) {
		t.Fatalf("%d source compute layers, report has %d, bsnn.layers %d", len(sl), len(res.Report.Layers), len(res.Layers))
	}
	ann := m.Annotations()
	nbin := 0
	for i, s := range sl {
		row := res.Report.Layers[i]
		li := res.Layers[i]
		if row.Source != s.node.Label() || li.Name != row.Layer {
			t.Fatalf("layer %d: report %q/%q, source node %q", i, row.Source, row.Layer, s.node.Label())
		}
		wantBin := !s.first && !s.last && !s.depthwise
		if row.Binary != wantBin || li.Binary != wantBin {
			t.Errorf("layer %s (first=%v last=%v depthwise=%v): binary %v, want %v", row.Layer, s.first, s.last, s.depthwise, row.Binary, wantBin)
			continue
		}
		wantRole := map[[2]bool]string{{true, false}: "first", {false, true}: "last", {true, true}: "first+last", {false, false}: "hidden"}[[2]bool{s.first, s.last}]
		if row.Role != wantRole {
			t.Errorf("layer %s role %q, want %q", row.Layer, row.Role, wantRole)
		}
		srcW, srcDims := initFloats(t, src, s.weight)
		if !wantBin {
			cn := nodeNamed(g, li.Node)
			if cn == nil || cn.OpType != s.node.OpType || cn.Input(1) != s.weight {
				t.Errorf("float layer %s: node %q is not the source %s reading %q", row.Layer, li.Node, s.node.OpType, s.weight)
				continue
			}
			got, _ := initFloats(t, m, s.weight)
			if relErr(got, srcW) != 0 {
				t.Errorf("float layer %s: weight changed", row.Layer)
			}
			continue
		}
		nbin++
		checkBinaryLayer(t, m, g, li, s, srcW, srcDims, o.AGMM, ann)
	}
	if nbin == 0 && len(sl) > 2 {
		t.Errorf("no binary layer among %d compute layers", len(sl))
	}

	// Custom nodes: all attributes, value_info for outputs, a function each.
	vi := map[string]bool{}
	for _, v := range p.Graph.ValueInfo {
		vi[v.GetName()] = true
	}
	fns := map[string]bool{}
	for _, f := range p.Functions {
		fns[f.GetDomain()+"::"+f.GetName()] = true
		if len(f.Node) == 0 {
			t.Errorf("function %s::%s has no body", f.GetDomain(), f.GetName())
		}
	}
	nlif, relus := 0, 0
	for _, n := range sg.Nodes {
		if n.OpType == "Relu" || n.OpType == "Clip" {
			relus++
		}
	}
	for _, n := range g.Nodes {
		if n.Domain == "" {
			continue
		}
		if !fns[n.QualifiedOp()] {
			t.Errorf("node %s: no FunctionProto for %s", n.Name, n.QualifiedOp())
		}
		for _, o := range n.Outputs {
			if o != "" && !vi[o] {
				t.Errorf("node %s: no value_info for output %q", n.Name, o)
			}
		}
		var want map[string]any
		switch n.OpType {
		case "LIF":
			want = lifAttrs
			nlif++
			if ann[n.Outputs[0]][bsnn.AnnotationDatatype] != bsnn.DatatypeBinary {
				t.Errorf("spikes %q not annotated BINARY", n.Outputs[0])
			}
		case "AGMMGate":
			want = gateAttrs
		case "BipolarQuant":
			want = map[string]any{}
		default:
			t.Errorf("unexpected custom op %s", n.QualifiedOp())
		}
		if len(n.Proto.Attribute) != len(want) {
			t.Errorf("node %s has %d attributes, want %d", n.Name, len(n.Proto.Attribute), len(want))
		}
		for _, a := range n.Proto.Attribute {
			if v, ok := want[a.GetName()]; !ok || v != attrValue(a) {
				t.Errorf("node %s attribute %s = %v, want %v", n.Name, a.GetName(), attrValue(a), v)
			}
		}
	}
	if !o.ReLUAsReLU && nlif != relus {
		t.Errorf("%d LIF nodes for %d Relu/Clip nodes", nlif, relus)
	}

	// Metadata.
	md := m.Metadata()
	for k, v := range map[string]string{
		bsnn.MetaFormatVersion: "1", bsnn.MetaProfile: "portable", bsnn.MetaTimeAxis: "0",
		bsnn.MetaInputEncoding: "direct", bsnn.MetaOutputDecoding: "mean_over_time",
		bsnn.MetaSignZero: "+1", bsnn.MetaSpikeCondition: ">=",
	} {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}
	if md[bsnn.MetaTimeSteps] != strconv.Itoa(T) {
		t.Errorf("time_steps %q", md[bsnn.MetaTimeSteps])
	}
	for _, k := range []string{bsnn.MetaLayers, bsnn.MetaNeurons, bsnn.MetaAGMM, bsnn.MetaSourceModel, bsnn.MetaSizeReport} {
		var v any
		if err := json.Unmarshal([]byte(md[k]), &v); err != nil {
			t.Errorf("metadata %s is not JSON: %v", k, err)
		}
	}
	layers, ok := bsnn.ReadLayers(m)
	if !ok || len(layers) != len(res.Layers) {
		t.Errorf("bsnn.layers unreadable")
	}
	var sz map[string]any
	_ = json.Unmarshal([]byte(md[bsnn.MetaSizeReport]), &sz)
	for _, k := range []string{"params_1bit", "params_32bit", "model_size_bytes_packed", "float32_equivalent_bytes", "compression_ratio", "macs_binary", "macs_float"} {
		if _, ok := sz[k]; !ok {
			t.Errorf("size_report lacks %s", k)
		}
	}
	var sm map[string]any
	_ = json.Unmarshal([]byte(md[bsnn.MetaSourceModel]), &sm)
	if int(sm["opset"].(float64)) != src.Opset("") {
		t.Errorf("source_model %v", sm)
	}
	var neurons map[string]map[string]any
	_ = json.Unmarshal([]byte(md[bsnn.MetaNeurons]), &neurons)
	if len(neurons) != nlif {
		t.Errorf("bsnn.neurons has %d entries for %d LIF nodes", len(neurons), nlif)
	}
	bin := bsnn.BinaryLayers(m)
	if len(bin) != nbin {
		t.Errorf("BinaryLayers() = %d names, want %d", len(bin), nbin)
	}

	// The file round-trips through the decoder (which validates it).
	b, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("converted model does not decode: %v", err)
	}
}

func nodeNamed(g *onnx.Graph, name string) *onnx.Node {
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func checkBinaryLayer(t *testing.T, m *onnx.Model, g *onnx.Graph, li bsnn.Layer, s *srcLayer, srcW []float32, srcDims []int64, agmm bool, ann map[string]map[string]string) {
	t.Helper()
	bq := g.Producer(li.WeightBin)
	if bq == nil || bq.OpType != "BipolarQuant" || bq.Domain != bsnn.DomainQONNX || bq.Name != li.Name+"/binarize" ||
		bq.Input(0) != li.WeightLatent || bq.Input(1) != li.WeightScale {
		t.Errorf("layer %s: weight_bin %q is not BipolarQuant(%s, %s) named %s/binarize", li.Name, li.WeightBin, li.WeightLatent, li.WeightScale, li.Name)
		return
	}
	if li.WeightLatent != li.Name+".weight_latent" || li.WeightScale != li.Name+".weight_scale" || li.WeightBin != li.Name+".weight_bin" {
		t.Errorf("layer %s: names %q %q %q", li.Name, li.WeightLatent, li.WeightScale, li.WeightBin)
	}
	sc, _ := initFloats(t, m, li.WeightScale)
	if len(sc) != 1 || sc[0] != 1 {
		t.Errorf("layer %s: weight_scale %v", li.Name, sc)
	}
	if ann[li.WeightBin][bsnn.AnnotationDatatype] != bsnn.DatatypeBipolar {
		t.Errorf("layer %s: weight_bin not annotated BIPOLAR", li.Name)
	}
	lat, latDims := initFloats(t, m, li.WeightLatent)
	want := srcW
	if s.node.OpType == "Gemm" && s.node.Int("transB", 0) != 0 {
		want = make([]float32, len(srcW))
		for i := int64(0); i < srcDims[0]; i++ {
			for j := int64(0); j < srcDims[1]; j++ {
				want[j*srcDims[0]+i] = srcW[i*srcDims[1]+j]
			}
		}
		if latDims[0] != srcDims[1] || latDims[1] != srcDims[0] {
			t.Errorf("layer %s: latent dims %v for Gemm weight %v (transB)", li.Name, latDims, srcDims)
		}
	}
	if relErr(lat, want) != 0 {
		t.Errorf("layer %s: weight_latent is not the source weight", li.Name)
	}
	cs := g.Consumers(li.WeightBin)
	wantOp := "Conv"
	if s.node.OpType != "Conv" {
		wantOp = "MatMul"
	}
	if len(cs) != 1 || cs[0].Name != li.Node || cs[0].OpType != wantOp || len(cs[0].Inputs) != 2 || cs[0].Input(1) != li.WeightBin {
		t.Errorf("layer %s: weight_bin must feed exactly one %s without bias (node %s)", li.Name, wantOp, li.Node)
		return
	}
	comp := cs[0]
	if comp.OpType == "Conv" {
		for _, a := range s.node.Proto.Attribute {
			if b := comp.Attr(a.GetName()); b == nil || b.String() != a.String() {
				t.Errorf("layer %s: Conv attribute %s not kept", li.Name, a.GetName())
			}
		}
	}
	bn := g.Consumers(comp.Outputs[0])
	if len(bn) != 1 || bn[0].OpType != "BatchNormalization" {
		t.Errorf("layer %s: output does not feed exactly one BatchNormalization", li.Name)
	}
	if agmm {
		r := g.Producer(comp.Input(0))
		if r == nil || r.OpType != "Reshape" {
			t.Errorf("layer %s: data input not reshaped back from an AGMMGate", li.Name)
			return
		}
		gate := g.Producer(r.Input(0))
		if gate == nil || gate.OpType != "AGMMGate" || len(g.Consumers(gate.Outputs[0])) != 1 {
			t.Errorf("layer %s: no AGMMGate of its own on the data input", li.Name)
			return
		}
		alpha, dims := initFloats(t, m, gate.Input(1))
		if len(dims) != 1 || int(dims[0]) != len(alpha) {
			t.Errorf("layer %s: alpha dims %v", li.Name, dims)
		}
		for _, a := range alpha {
			if a != 1 {
				t.Errorf("layer %s: alpha %v, want ones", li.Name, alpha)
				break
			}
		}
	}
}

// TestPythonChecker runs onnx.checker.check_model(full_check=True) of
// Debian's python3-onnx 1.12 on converted models of every architecture.
func TestPythonChecker(t *testing.T) {
	interop.NeedPythonONNX(t)
	seen := map[string]bool{}
	for _, f := range loadFixtures(t) {
		if seen[f.Arch] {
			continue
		}
		seen[f.Arch] = true
		t.Run(f.Name, func(t *testing.T) {
			skipLargeInShort(t, f)
			src := decode(t, f.model())
			for _, o := range []Options{DefaultOptions(), {TimeSteps: 1, KeepFloat: []string{PolicyAll}, ReLUAsReLU: true}} {
				res := mustConvert(t, src, o)
				path := filepath.Join(t.TempDir(), "bsnn.onnx")
				if err := onnx.EncodeFile(path, res.Model); err != nil {
					t.Fatal(err)
				}
				if err := interop.CheckModel(path); err != nil {
					t.Errorf("checker rejects the converted model (options %+v): %v", o.KeepFloat, err)
				}
			}
		})
	}
}

// TestReshapeBatchAgnostic: x.view(x.size(0), -1) in static and dynamic
// exports (Constant+Reshape, Shape/Gather/Unsqueeze/Concat/Reshape)
// becomes one Reshape to [-1, 400].
func TestReshapeBatchAgnostic(t *testing.T) {
	for _, name := range []string{"lenet_op9_folded_static", "lenet_op9_keepbn_dynamic", "lenet_op13_folded_dynamic", "lenet_op13_keepbn_static"} {
		t.Run(name, func(t *testing.T) {
			f := findFixture(t, name)
			res := mustConvert(t, decode(t, f.model()), DefaultOptions())
			g, _ := res.Model.Graph()
			found := false
			for _, n := range g.Nodes {
				if n.Name != "/Reshape" {
					continue
				}
				found = true
				s, err := res.Model.Initializer(n.Input(1))
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Ints(); len(got) != 2 || got[0] != -1 || got[1] != 400 {
					t.Errorf("Reshape target %v, want [-1 400]", got)
				}
			}
			if !found {
				t.Fatal("no /Reshape node")
			}
			for _, n := range g.Nodes {
				switch n.OpType {
				case "Shape", "Gather", "Unsqueeze", "Constant":
					if n.Name != "encode/unsqueeze" {
						t.Errorf("shape arithmetic left: %s (%s)", n.Name, n.OpType)
					}
				}
			}
		})
	}
}

// TestUnsupportedReportedAtOnce adds several bad nodes to LeNet and checks
// that one error names all of them and no model comes back.
func TestUnsupportedReportedAtOnce(t *testing.T) {
	f := findFixture(t, "lenet_op13_keepbn_static")
	m := decode(t, f.model()).Clone()
	gp := m.Proto.Graph
	str := func(s string) *string { return &s }
	for _, n := range gp.Node {
		if n.GetName() == "/Relu_2" {
			n.OpType = str("LeakyRelu") // activation without a LIF equivalent
		}
	}
	gp.Initializer = append(gp.Initializer,
		onnx.FloatTensor("bad.scales", []int64{4}, []float32{1, 1, 2, 2}),
		onnx.FloatTensor("bad.W", []int64{1, 16, 400}, make([]float32, 16*400)),
		onnx.FloatTensor("bad.R", []int64{1, 16, 4}, make([]float32, 64)),
		onnx.FloatTensor("bad.lo", nil, []float32{-1}))
	gp.Node = append(gp.Node,
		&onnxpb.NodeProto{Name: str("bad_resize"), OpType: str("Resize"), Input: []string{"/MaxPool_output_0", "", "bad.scales"}, Output: []string{"bad_resize_out"}},
		&onnxpb.NodeProto{Name: str("bad_lstm"), OpType: str("LSTM"), Input: []string{"/Reshape_output_0", "bad.W", "bad.R"}, Output: []string{"bad_lstm_out"},
			Attribute: []*onnxpb.AttributeProto{onnx.AttrInt("hidden_size", 4)}},
		&onnxpb.NodeProto{Name: str("bad_clip"), OpType: str("Clip"), Input: []string{"/fc2/Gemm_output_0", "bad.lo"}, Output: []string{"bad_clip_out"}},
		&onnxpb.NodeProto{Name: str("bad_concat"), OpType: str("Concat"), Input: []string{"/fc2/Gemm_output_0", "/fc2/Gemm_output_0"}, Output: []string{"bad_concat_out"},
			Attribute: []*onnxpb.AttributeProto{onnx.AttrInt("axis", 0)}},
	)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := Convert(m, DefaultOptions())
	if res != nil {
		t.Fatal("a model came back despite unsupported nodes")
	}
	var ue *onnx.UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v is not an *onnx.UnsupportedError", err)
	}
	got := map[string]string{}
	for _, it := range ue.Items {
		got[it.Node] = it.Reason
	}
	for _, want := range []string{"/Relu_2", "bad_resize", "bad_lstm", "bad_clip", "bad_concat"} {
		if _, ok := got[want]; !ok {
			t.Errorf("node %s not reported", want)
		}
	}
	if len(ue.Items) != 5 {
		t.Errorf("%d items reported, want 5: %v", len(ue.Items), err)
	}
	t.Log(err)
}

// TestKeepFloatPolicies checks the policies on ResNet-20 (shortcuts) and
// named layers, "all", and an unknown name.
func TestKeepFloatPolicies(t *testing.T) {
	f := findFixture(t, "resnet20_op17_keepbn_static")
	src := decode(t, f.model())
	count := func(r *Result) (bin int, float []string) {
		for _, l := range r.Report.Layers {
			if l.Binary {
				bin++
			} else {
				float = append(float, l.Layer)
			}
		}
		return
	}
	def := mustConvert(t, src, DefaultOptions())
	nb, fl := count(def)
	if nb != 20 || strings.Join(fl, ",") != "conv1,fc" {
		t.Errorf("default: %d binary, float %v; want 20 and conv1,fc", nb, fl)
	}
	o := DefaultOptions()
	o.KeepFloat = []string{PolicyShortcuts, "layer1.0.conv1", "/layer3/layer3.2/conv2/Conv"}
	r := mustConvert(t, src, o)
	nb, fl = count(r)
	if want := "conv1,layer1.0.conv1,layer2.0.shortcut.0,layer3.0.shortcut.0,layer3.2.conv2,fc"; strings.Join(fl, ",") != want || nb != 16 {
		t.Errorf("shortcuts+named: %d binary, float %v; want %s", nb, fl, want)
	}
	o.KeepFloat = []string{PolicyAll}
	r = mustConvert(t, src, o)
	if nb, _ = count(r); nb != 0 {
		t.Errorf("all: %d binary layers", nb)
	}
	for _, op := range r.Model.Proto.OpsetImport {
		if op.GetDomain() == bsnn.DomainQONNX {
			t.Error("qonnx domain imported without binary layers")
		}
	}
	o.KeepFloat = []string{"no.such.layer"}
	if _, err := Convert(src, o); err == nil || !strings.Contains(err.Error(), "no.such.layer") {
		t.Errorf("unknown layer name: %v", err)
	}
}

// TestDepthwisePolicy: MobileNetV2's depthwise convs are float by default
// and binary with "no-depthwise".
func TestDepthwisePolicy(t *testing.T) {
	f := findFixture(t, "mobilenet_v2_op13_folded_static")
	src := decode(t, f.model())
	dw := 0
	for _, l := range sourceLayers(t, src) {
		if l.depthwise {
			dw++
		}
	}
	if dw != 17 {
		t.Fatalf("%d depthwise convs in MobileNetV2, want 17", dw)
	}
	nbin := func(r *Result) int {
		n := 0
		for _, l := range r.Report.Layers {
			if l.Binary {
				n++
			}
		}
		return n
	}
	a := nbin(mustConvert(t, src, DefaultOptions()))
	o := DefaultOptions()
	o.KeepFloat = []string{PolicyNoDepthwise}
	b := nbin(mustConvert(t, src, o))
	if b-a != dw || a != 53-2-dw {
		t.Errorf("binary layers: %d by default, %d with no-depthwise; want %d and %d", a, b, 53-2-dw, 53-2)
	}
}

func TestOptionsValidation(t *testing.T) {
	f := findFixture(t, "mlp_op17_folded_static")
	src := decode(t, f.model())
	o := DefaultOptions()
	o.TimeSteps = -1
	if _, err := Convert(src, o); err == nil {
		t.Error("T = -1 accepted")
	}
	o = DefaultOptions()
	o.Neuron.Tau = 0.5
	if _, err := Convert(src, o); err == nil {
		t.Error("tau = 0.5 accepted")
	}
	// The zero Options: T = 4, default neuron, AGMM off.
	r := mustConvert(t, src, Options{})
	if r.Model.Metadata()[bsnn.MetaTimeSteps] != "4" {
		t.Error("zero Options did not default T to 4")
	}
	for _, n := range r.Model.Proto.Graph.Node {
		if n.GetOpType() == "AGMMGate" {
			t.Error("zero Options has AGMM gates")
		}
	}
	// A function source that fails makes Convert fail (no partial file).
	o = DefaultOptions()
	o.Functions = func(domain, op string) (*onnxpb.FunctionProto, error) {
		return nil, errors.New("no body for " + op)
	}
	if _, err := Convert(src, o); err == nil || !strings.Contains(err.Error(), "no body for") {
		t.Errorf("failing function source: %v", err)
	}
}

// TestDefaultFunctions: the format (package bsnn) supplies a FunctionProto for each
// custom op the converter writes.
func TestDefaultFunctions(t *testing.T) {
	for _, c := range customOps {
		f, err := DefaultFunctions(c[0], c[1])
		if err != nil {
			t.Errorf("%s::%s: %v", c[0], c[1], err)
			continue
		}
		if f.GetDomain() != c[0] || f.GetName() != c[1] || len(f.Node) == 0 {
			t.Errorf("%s::%s: function %s::%s with %d nodes", c[0], c[1], f.GetDomain(), f.GetName(), len(f.Node))
		}
	}
	if _, err := DefaultFunctions(bsnn.DomainSNN, "NoSuchOp"); !errors.Is(err, ErrNoFunction) {
		t.Errorf("missing op: %v", err)
	}
}

// TestDeterministicAndPure: converting twice gives the same bytes, and the
// source model is not modified.
func TestDeterministicAndPure(t *testing.T) {
	for _, name := range []string{"resnet20_op11_keepbn_dynamic", "lenet_op9_folded_dynamic"} {
		f := findFixture(t, name)
		src := decode(t, f.model())
		before, err := onnx.Marshal(src)
		if err != nil {
			t.Fatal(err)
		}
		a, err := onnx.Marshal(mustConvert(t, src, DefaultOptions()).Model)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := onnx.Marshal(mustConvert(t, src, DefaultOptions()).Model)
		after, _ := onnx.Marshal(src)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two conversions differ", name)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("%s: Convert modified the source model", name)
		}
	}
}
