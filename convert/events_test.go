package convert

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// dvsnet is testmodels/events/dvsnet.onnx, a float CNN for one 2x34x34
// event frame (testmodels/make_event_ann.py).
func dvsnet(t testing.TB) *onnx.Model {
	t.Helper()
	return decode(t, filepath.Join("..", "testmodels", "events", "dvsnet.onnx"))
}

func eventOptions(T int) Options {
	o := DefaultOptions()
	o.TimeSteps = T
	o.InputEncoding = bsnn.EncodingEvents
	return o
}

// TestEventInput: --input events makes the BSNN's input time-major
// [T, N, 2, 34, 34] under the ANN's input name, merged into [T*N, ...] by
// one Reshape, with bsnn.input_encoding "events"; every other node,
// initializer and the layer table are those of the direct conversion, and
// the file keeps bsnn's naming rules.
func TestEventInput(t *testing.T) {
	src := dvsnet(t)
	for _, T := range []int{1, 4} {
		ev := mustConvert(t, src, eventOptions(T))
		dopts := DefaultOptions()
		dopts.TimeSteps = T
		direct := mustConvert(t, src, dopts)
		m := ev.Model
		g, err := m.Graph()
		if err != nil {
			t.Fatal(err)
		}
		in := g.Inputs[0]
		if in.Name != "input" || in.Shape.String() != fmt.Sprintf("[%d,N,2,34,34]", T) {
			t.Errorf("T=%d: input %s %s, want input [%d, N, 2, 34, 34]", T, in.Name, in.Shape, T)
		}
		if got := g.Outputs[0].Shape.String(); got != "[N,10]" {
			t.Errorf("T=%d: output shape %s", T, got)
		}
		if enc := m.Metadata()[bsnn.MetaInputEncoding]; enc != "events" {
			t.Errorf("T=%d: %s = %q", T, bsnn.MetaInputEncoding, enc)
		}
		if enc, err := bsnn.InputEncodingOf(m); err != nil || enc.BatchAxis() != 1 {
			t.Errorf("T=%d: InputEncodingOf: %v, %v", T, enc, err)
		}
		first := g.Consumers(in.Name)
		if len(first) != 1 || first[0].OpType != "Reshape" || first[0].Name != "encode/frames" || first[0].Outputs[0] != "input.frames" {
			t.Fatalf("T=%d: the input feeds %v, want the Reshape encode/frames", T, first)
		}
		if shape, err := m.Initializer(first[0].Inputs[1]); err != nil || !slices.Equal(shape.Ints(), []int64{-1, 2, 34, 34}) {
			t.Errorf("T=%d: encode/frames reshapes to %v (%v)", T, shape, err)
		}
		for _, n := range g.Nodes {
			if n.OpType == "Expand" || n.OpType == "Unsqueeze" {
				t.Errorf("T=%d: node %s (%s): an event input is not repeated", T, n.Name, n.OpType)
			}
		}
		if err := bsnn.CheckNames(m.Proto.Graph); err != nil {
			t.Errorf("T=%d: %v", T, err)
		}
		if _, err := onnx.Marshal(m); err != nil {
			t.Errorf("T=%d: the writer refuses the model: %v", T, err)
		}
		// Everything but the encoder is the direct conversion's.
		if len(g.Nodes) != len(direct.Model.Proto.Graph.Node)-2 {
			t.Errorf("T=%d: %d nodes, the direct conversion %d (its encoder has 3, this one 1)", T, len(g.Nodes), len(direct.Model.Proto.Graph.Node))
		}
		if !slices.EqualFunc(ev.Layers, direct.Layers, func(a, b bsnn.Layer) bool { return a.Name == b.Name && a.Binary == b.Binary }) {
			t.Errorf("T=%d: layers %v, direct %v", T, ev.Layers, direct.Layers)
		}
		if ev.Report.Size != direct.Report.Size {
			t.Errorf("T=%d: size report %+v, direct %+v", T, ev.Report.Size, direct.Report.Size)
		}
	}
}

// TestEventInputComputesTheDirectModel: fed the same frame at every step,
// the event-input BSNN computes exactly what the direct BSNN computes on
// that frame (the stateless layers see the same [T*N, ...] tensor); fed
// different frames, it does not. (onnxruntime runs event models in
// export's tests, every profile.)
func TestEventInputComputesTheDirectModel(t *testing.T) {
	const T, N = 4, 3
	src := dvsnet(t)
	ev := mustConvert(t, src, eventOptions(T)).Model
	dopts := DefaultOptions()
	dopts.TimeSteps = T
	direct := mustConvert(t, src, dopts).Model
	frames, _, err := eventtest.NMNISTFrames(N, T, 1)
	if err != nil {
		t.Fatal(err)
	}
	per := N * 2 * 34 * 34
	// The frame of step 1, repeated T times.
	one := frames[per : 2*per]
	repeated := &onnx.Tensor{Type: onnx.Float, Dims: []int64{T, N, 2, 34, 34}}
	for range T {
		repeated.Float32 = append(repeated.Float32, one...)
	}
	want := runEngine(t, direct, "input", &onnx.Tensor{Type: onnx.Float, Dims: []int64{N, 2, 34, 34}, Float32: one})
	got := runEngine(t, ev, "input", repeated)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("output %d: event model %v, direct model %v", i, got[i], want[i])
		}
	}
	moving := runEngine(t, ev, "input", &onnx.Tensor{Type: onnx.Float, Dims: []int64{T, N, 2, 34, 34}, Float32: frames})
	if slices.Equal(moving, got) {
		t.Error("different frames per step give the output of a repeated frame")
	}
}

func TestEventInputErrors(t *testing.T) {
	o := DefaultOptions()
	o.InputEncoding = "frames"
	if _, err := Convert(dvsnet(t), o); err == nil || !strings.Contains(err.Error(), `unknown input encoding "frames"`) {
		t.Errorf("unknown encoding: %v", err)
	}
}
