package bsnn_test

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// TestLIFAttributesRoundTrip: writing a LIF's parameters as attributes and
// parsing them back gives the same parameters, and absent attributes take
// the spec defaults.
func TestLIFAttributesRoundTrip(t *testing.T) {
	for _, p := range []spiking.LIFParams{
		spiking.DefaultLIF(),
		{Tau: 3, VThreshold: 0.5, VReset: -0.25, DecayInput: true, SoftReset: true, DetachReset: true, Surrogate: spiking.ATan, SurrogateAlpha: 2},
		{Tau: float32(math.Inf(1)), VThreshold: 1, Surrogate: spiking.Rect, SurrogateAlpha: 0.5},
	} {
		n := onnx.NodeOf(onnx.NewNode("lif", "LIF", bsnn.DomainSNN, []string{"X"}, []string{"S"}, bsnn.LIFAttributes(p)...))
		got, err := bsnn.ParseLIF(n)
		if err != nil || got != p {
			t.Errorf("ParseLIF(LIFAttributes(%+v)) = %+v, %v", p, got, err)
		}
		var names []string
		for _, a := range n.Proto.Attribute {
			names = append(names, a.GetName())
		}
		var want []string
		for _, a := range bsnn.LIF.Attrs {
			want = append(want, a.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("attributes %v, want the schema's %v", names, want)
		}
	}
	bare := onnx.NodeOf(onnx.NewNode("lif", "LIF", bsnn.DomainSNN, []string{"X"}, []string{"S"}))
	if p, err := bsnn.ParseLIF(bare); err != nil || p != spiking.DefaultLIF() {
		t.Errorf("no attributes: %+v, %v; want the defaults", p, err)
	}
	bad := onnx.NodeOf(onnx.NewNode("lif", "LIF", bsnn.DomainSNN, nil, nil, onnx.AttrFloat("tau", 0.5)))
	if _, err := bsnn.ParseLIF(bad); err == nil {
		t.Error("tau 0.5 parsed without error")
	}
}

func TestAGMMGateAttributesRoundTrip(t *testing.T) {
	for _, p := range []spiking.AGMMParams{{}, {Mode: spiking.AGMMModeGradOnly, DetachStat: true}} {
		n := onnx.NodeOf(onnx.NewNode("g", "AGMMGate", bsnn.DomainSNN, nil, nil, bsnn.AGMMGateAttributes(p)...))
		if got, err := bsnn.ParseAGMMGate(n); err != nil || got != p {
			t.Errorf("ParseAGMMGate(AGMMGateAttributes(%+v)) = %+v, %v", p, got, err)
		}
	}
	bad := onnx.NodeOf(onnx.NewNode("g", "AGMMGate", bsnn.DomainSNN, nil, nil, onnx.AttrString("mode", "sideways")))
	if _, err := bsnn.ParseAGMMGate(bad); err == nil {
		t.Error(`mode "sideways" parsed without error`)
	}
}

// TestFunctions: every custom op has a FunctionProto named like it, taking
// its schema's attributes, made of standard ops of TargetOpset.
func TestFunctions(t *testing.T) {
	for _, op := range bsnn.Ops() {
		f, err := bsnn.Function(op.Domain, op.Name)
		if err != nil {
			t.Fatal(err)
		}
		if f.GetDomain() != op.Domain || f.GetName() != op.Name || len(f.Node) == 0 {
			t.Errorf("%s::%s: function %s::%s with %d nodes", op.Domain, op.Name, f.GetDomain(), f.GetName(), len(f.Node))
		}
		var attrs []string
		for _, a := range op.Attrs {
			attrs = append(attrs, a.Name)
		}
		if !slices.Equal(f.Attribute, attrs) {
			t.Errorf("%s: function attributes %v, schema %v", op.Name, f.Attribute, attrs)
		}
		if len(f.Input) != op.MaxInputs || len(f.Output) != op.MaxOutputs {
			t.Errorf("%s: function has %d inputs, %d outputs; schema allows %d, %d", op.Name, len(f.Input), len(f.Output), op.MaxInputs, op.MaxOutputs)
		}
		if imp := f.OpsetImport[0]; imp.GetDomain() != "" || imp.GetVersion() != bsnn.TargetOpset {
			t.Errorf("%s: imports %v first, want ai.onnx %d", op.Name, imp, bsnn.TargetOpset)
		}
		for _, n := range f.Node {
			if n.GetDomain() != "" && n.GetDomain() != "ai.onnx.ml" {
				t.Errorf("%s: body node %s of custom domain %q", op.Name, n.GetOpType(), n.GetDomain())
			}
		}
		// Each call returns a fresh copy.
		f.Node = nil
		if g := op.Function(); len(g.Node) == 0 {
			t.Errorf("%s: Function returned a shared message", op.Name)
		}
	}
	if _, err := bsnn.Function(bsnn.DomainSNN, "NoSuchOp"); err == nil {
		t.Error("Function of an unknown op: no error")
	}
	if op := bsnn.LookupOp("onnx.brevitas", "BipolarQuant"); op != bsnn.BipolarQuant {
		t.Errorf("legacy BipolarQuant domain: %v", op)
	}
}

// TestLayersJSON: the layer entry has one JSON shape; weight_packed and the
// optional names are left out when empty, packing is null unless packed.
func TestLayersJSON(t *testing.T) {
	packing := bsnn.Packing
	layers := []bsnn.Layer{
		{Name: "conv1", Node: "/conv1/Conv", Op: "Conv"},
		{Name: "fc1", Node: "fc1/matmul", Op: "MatMul", WeightBin: "fc1.weight_bin", WeightPacked: "fc1.weight_packed", Binary: true, Packing: &packing},
	}
	b, err := json.Marshal(layers)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"conv1","node":"/conv1/Conv","op":"Conv","binary":false,"packing":null},` +
		`{"name":"fc1","node":"fc1/matmul","op":"MatMul","weight_bin":"fc1.weight_bin","weight_packed":"fc1.weight_packed","binary":true,"packing":"lsb_first_1_is_neg"}]`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
	m := &onnx.Model{Proto: &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{}}}
	if _, ok := bsnn.ReadLayers(m); ok {
		t.Error("ReadLayers of a model without bsnn.layers: ok")
	}
	m.SetMetadata(bsnn.MetaLayers, string(b))
	got, ok := bsnn.ReadLayers(m)
	if !ok || len(got) != 2 || got[1].WeightPacked != "fc1.weight_packed" || *got[1].Packing != packing {
		t.Errorf("ReadLayers = %+v, %v", got, ok)
	}
	if names := bsnn.BinaryLayers(m); !slices.Equal(names, []string{"fc1"}) {
		t.Errorf("BinaryLayers = %v", names)
	}
	m.SetMetadata(bsnn.MetaLayers, "{not json")
	if _, ok := bsnn.ReadLayers(m); ok {
		t.Error("ReadLayers of malformed JSON: ok")
	}
}

func TestNeuronEntry(t *testing.T) {
	p := spiking.DefaultLIF()
	p.Tau = float32(math.Inf(1))
	b, err := json.Marshal(bsnn.NeuronEntry("LIF", p))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"decay_input":0,"detach_reset":0,"model":"LIF","soft_reset":0,"surrogate":"triangle","surrogate_alpha":1,"tau":"inf","v_reset":0,"v_threshold":1}`
	if string(b) != want {
		t.Errorf("NeuronEntry JSON\n got %s\nwant %s", b, want)
	}
	var e map[string]any
	q := spiking.DefaultLIF()
	b, _ = json.Marshal(bsnn.NeuronEntry("LIF", spiking.LIFParams{Tau: 2, VThreshold: 1, SoftReset: true, Surrogate: spiking.Sigmoid, SurrogateAlpha: 3, DetachReset: true}))
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	got := bsnn.ApplyNeuronEntry(spiking.DefaultLIF(), e, false)
	if got.Surrogate != spiking.Sigmoid || got.SurrogateAlpha != 3 || !got.DetachReset || !got.SoftReset {
		t.Errorf("ApplyNeuronEntry = %+v", got)
	}
	if got := bsnn.ApplyNeuronEntry(spiking.DefaultLIF(), e, true); got.SoftReset {
		t.Error("ApplyNeuronEntry overrode a soft_reset the graph shows")
	}
	e["surrogate_alpha"] = -1.0
	if got := bsnn.ApplyNeuronEntry(q, e, true); got != q {
		t.Errorf("an invalid entry changed the parameters: %+v", got)
	}
}

func TestParseProfile(t *testing.T) {
	for _, p := range bsnn.Profiles {
		if got, err := bsnn.ParseProfile(string(p)); err != nil || got != p {
			t.Errorf("ParseProfile(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := bsnn.ParseProfile("tiny"); err == nil {
		t.Error(`ParseProfile("tiny"): no error`)
	}
	if f, err := bsnn.ParsePlainForm(""); err != nil || f != bsnn.PlainUnrolled {
		t.Errorf(`ParsePlainForm("") = %q, %v`, f, err)
	}
}

// The attributes a converted LIF node carries, in file order.
func ExampleLIFAttributes() {
	for _, a := range bsnn.LIFAttributes(spiking.DefaultLIF()) {
		switch a.GetType() {
		case onnxpb.AttributeProto_FLOAT:
			fmt.Printf("%s=%g ", a.GetName(), a.GetF())
		case onnxpb.AttributeProto_INT:
			fmt.Printf("%s=%d ", a.GetName(), a.GetI())
		case onnxpb.AttributeProto_STRING:
			fmt.Printf("%s=%s ", a.GetName(), a.GetS())
		}
	}
	fmt.Println()
	// Output:
	// tau=2 v_threshold=1 v_reset=0 decay_input=0 soft_reset=0 surrogate=triangle surrogate_alpha=1 detach_reset=0
}
