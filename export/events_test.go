package export

import (
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// TestEventInputStepForm: the per-step plain file of an event-input BSNN
// reads the frame of one step, [1, N, 2, 34, 34] (every other profile
// keeps [T, N, ...]); reading it back restores the T frames. A step file
// whose input does not declare one frame is refused.
func TestEventInputStepForm(t *testing.T) {
	f := loadBSNN(t, eventFixture)
	for _, v := range variants {
		m := exportOK(t, f.model, v)
		want := "[4,N,2,34,34]"
		if v.form == bsnn.PlainStep {
			want = "[1,N,2,34,34]"
		}
		g, err := m.Graph()
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Inputs[0].Shape.String(); g.Inputs[0].Name != "input" || got != want {
			t.Errorf("%s: input %s %s, want input %s", v, g.Inputs[0].Name, got, want)
		}
		if enc := m.Metadata()[bsnn.MetaInputEncoding]; enc != "events" {
			t.Errorf("%s: %s = %q", v, bsnn.MetaInputEncoding, enc)
		}
	}
	step := exportOK(t, f.model, variant{bsnn.ProfilePlain, bsnn.PlainStep})
	back := exportOK(t, step, variant{bsnn.ProfilePortable, ""})
	if g, _ := back.Graph(); g.Inputs[0].Shape.String() != "[4,N,2,34,34]" {
		t.Errorf("read back from the step form: input %s", g.Inputs[0].Shape)
	}
	bad := step.Clone()
	bad.Proto.Graph.Input[0].Type.GetTensorType().Shape.Dim[0].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 4}
	if _, err := Export(bad, bsnn.ProfilePortable, Options{}); err == nil || !strings.Contains(err.Error(), `event input "input": its time axis is not T=1`) {
		t.Errorf("a step file with 4 frames: %v", err)
	}
}
