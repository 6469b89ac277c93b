package infer_test

import (
	"errors"
	"github.com/bsnnctl/bsnnctl/bsnn"
	"math"
	"path/filepath"
	"testing"

	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/infer"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train"
)

// TestTrainAndStepProfiles checks the two profiles Compile treats apart:
// a train-profile file (portable plus the optimizer state) runs as the
// portable model does, bit for bit; the plain profile's step form is
// refused with ErrStepForm.
func TestTrainAndStepProfiles(t *testing.T) {
	dir := filepath.Join("..", "testmodels", "fixtures", "lenet_op13_folded_dynamic")
	ann, err := onnx.DecodeFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := convert.Convert(ann, convert.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	x, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(m *onnx.Model) []float32 {
		t.Helper()
		e, err := infer.Compile(m, infer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Run(x.Floats(), x.Shape())
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Data
	}
	want := run(res.Model)
	fresh := func(m *onnx.Model) error {
		st, err := train.InitialTrainState(m, train.Config{})
		if err != nil {
			return err
		}
		return train.EncodeTrainState(m, st)
	}
	tm, err := export.Export(res.Model, bsnn.ProfileTrain, export.Options{TrainState: fresh})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := export.Recognize(tm); err != nil || info.Profile != bsnn.ProfileTrain {
		t.Fatalf("the export is not recognized as the train profile: %v, %v", info, err)
	}
	for i, v := range run(tm) {
		if math.Float32bits(v) != math.Float32bits(want[i]) {
			t.Fatalf("train profile: output %d is %v, portable %v", i, v, want[i])
		}
	}
	step, err := export.Export(res.Model, bsnn.ProfilePlain, export.Options{PlainForm: bsnn.PlainStep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := infer.Compile(step, infer.Options{}); !errors.Is(err, infer.ErrStepForm) {
		t.Fatalf("Compile of the step form: %v, want ErrStepForm", err)
	}
}
