package export

import (
	"math"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// neuronModel is a small portable model with the LIF attributes away from
// their defaults: a LIF over T = 5 steps whose final membrane V_T is a graph
// output, and a LIFStep with an explicit membrane input. Inputs are
// multiples of 1/8 so that membranes hit the threshold exactly (the >=
// condition matters).
func neuronModel(t *testing.T, p spiking.LIFParams) *onnx.Model {
	t.Helper()
	x := onnx.ValueInfoProto("X", onnx.Float, dimsShape([]int64{5, 2, 3}))
	xs := onnx.ValueInfoProto("X_t", onnx.Float, dimsShape([]int64{2, 3}))
	v := onnx.ValueInfoProto("V", onnx.Float, dimsShape([]int64{2, 3}))
	lif := onnx.NewNode("neuron/lif", "LIF", bsnn.DomainSNN, []string{"X"}, []string{"S", "V_T"}, bsnn.LIFAttributes(p)...)
	step := onnx.NewNode("neuron/step", "LIFStep", bsnn.DomainSNN, []string{"X_t", "V"}, []string{"S_t", "V_next"}, bsnn.LIFAttributes(p)...)
	g := &onnxpb.GraphProto{Name: proto.String("neurons"), Node: []*onnxpb.NodeProto{lif, step},
		Input: []*onnxpb.ValueInfoProto{x, xs, v},
		Output: []*onnxpb.ValueInfoProto{
			onnx.ValueInfoProto("S", onnx.Float, dimsShape([]int64{5, 2, 3})),
			onnx.ValueInfoProto("V_T", onnx.Float, dimsShape([]int64{2, 3})),
			onnx.ValueInfoProto("S_t", onnx.Float, dimsShape([]int64{2, 3})),
			onnx.ValueInfoProto("V_next", onnx.Float, dimsShape([]int64{2, 3}))}}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)},
			{Domain: proto.String(bsnn.DomainSNN), Version: proto.Int64(1)}}}
	m := &onnx.Model{Proto: mp}
	out, err := Export(m, bsnn.ProfilePortable, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eighths(n int, seed int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((i*7+seed*3)%17-5) / 8
	}
	return out
}

// TestNeuronAttributesSurvive: non-default LIF/LIFStep attributes (tau 3,
// decay_input, soft reset, v_reset != 0, atan surrogate, detach_reset) and
// a V_T output go through every plain/packed form and back unchanged, and
// the plain file computes what the engine computes on the portable one.
func TestNeuronAttributesSurvive(t *testing.T) {
	for _, p := range []spiking.LIFParams{
		{Tau: 3, VThreshold: 0.5, VReset: -0.25, DecayInput: true, SoftReset: true, DetachReset: true, Surrogate: spiking.ATan, SurrogateAlpha: 2},
		{Tau: 1.5, VThreshold: 0.75, VReset: 0.125, Surrogate: spiking.Sigmoid, SurrogateAlpha: 0.5},
		{Tau: float32(math.Inf(1)), VThreshold: 1, VReset: 0, Surrogate: spiking.Rect, SurrogateAlpha: 1},
	} {
		m := neuronModel(t, p)
		plain := exportOK(t, m, variant{bsnn.ProfilePlain, bsnn.PlainUnrolled})
		info, err := Recognize(plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Neurons) != 2 {
			t.Fatalf("%+v: %d neurons recognised in the plain file, want 2", p, len(info.Neurons))
		}
		for _, n := range info.Neurons {
			if n.Params != p {
				t.Errorf("plain %s: params %+v, want %+v", n.Name, n.Params, p)
			}
		}
		back := exportOK(t, plain, variant{bsnn.ProfilePortable, ""})
		if !onnx.Equal(back, m) {
			t.Errorf("%+v: portable -> plain -> portable changed the model%s", p, firstDiff(m, back))
		}
		again := exportOK(t, back, variant{bsnn.ProfilePlain, bsnn.PlainUnrolled})
		if !onnx.Equal(again, plain) {
			t.Errorf("%+v: plain round trip not stable%s", p, firstDiff(plain, again))
		}
		// The engine on the portable model against onnxruntime on the plain file.
		in := feeds{
			"X":   {Type: onnx.Float, Dims: []int64{5, 2, 3}, Float32: eighths(30, 1)},
			"X_t": {Type: onnx.Float, Dims: []int64{2, 3}, Float32: eighths(6, 2)},
			"V":   {Type: onnx.Float, Dims: []int64{2, 3}, Float32: eighths(6, 3)},
		}
		if _, err := ops.Lookup(bsnn.DomainSNN, "LIFStep", 1); err != nil {
			t.Fatal(err)
		}
		ref := newEngine(t, m, in).run(t, in)
		interop.NeedORT(t) // the checks above ran; the rest needs onnxruntime
		dir := t.TempDir()
		for _, mm := range []*onnx.Model{m, plain} {
			path := writeModel(t, dir, "n.onnx", mm)
			got := ortRun(t, path, in, nil)
			for _, o := range []string{"S", "V_T", "S_t", "V_next"} {
				if d := maxDiff(got[o], ref[o]); d != 0 || len(got[o]) != len(ref[o]) {
					t.Errorf("%+v: %s differs by %g between onnxruntime (%s) and the engine", p, o, d, mm.Metadata()[bsnn.MetaProfile])
				}
			}
		}
	}
}

// TestConvertedWithOtherNeurons: a LeNet converted with non-default neuron
// attributes runs identically in onnxruntime in every profile.
func TestConvertedWithOtherNeurons(t *testing.T) {
	interop.NeedORT(t)
	src, err := onnx.DecodeFile(filepath.Join("..", "testmodels", "fixtures", "lenet_op13_keepbn_static", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	o := convert.DefaultOptions()
	o.TimeSteps = 3
	o.Neuron = spiking.LIFParams{Tau: 3, VThreshold: 0.5, VReset: -0.25, DecayInput: true, SoftReset: true, Surrogate: spiking.ATan, SurrogateAlpha: 2}
	res, err := convert.Convert(src, o)
	if err != nil {
		t.Fatal(err)
	}
	f := loadBSNN(t, "lenet_op13_keepbn_static")
	info, _ := Recognize(res.Model)
	var spikes []string
	for _, n := range info.Neurons {
		spikes = append(spikes, n.Spikes)
	}
	in := feeds{"input": f.input}
	ref := newEngine(t, withOutputs(res.Model, spikes), in).run(t, in)
	dir := t.TempDir()
	for _, v := range variants[:4] {
		m := exportOK(t, res.Model, v)
		mi, err := Recognize(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range mi.Neurons {
			if n.Params != o.Neuron {
				t.Errorf("%s: neuron %s has %+v, want %+v", v, n.Name, n.Params, o.Neuron)
			}
		}
		path := writeModel(t, dir, v.String()+".onnx", withOutputs(m, spikes))
		var got run
		if v.form == bsnn.PlainStep {
			got = runSteps(t, m, 3, 2, in, spikes, func(fd feeds) run { return ortRun(t, path, fd, nil) })
		} else {
			got = ortRun(t, path, in, nil)
		}
		compareRuns(t, v.String(), got, ref, "output", spikes)
	}
}
