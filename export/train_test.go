package export_test

import (
	"path/filepath"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train"
)

// TestTrainProfileWithTrainerState writes the train profile with the
// trainer's own encoding (train.EncodeTrainState) and checks that the
// optimizer state survives export -> read -> export, that the other
// profiles drop it, and that the checker and onnxruntime accept the file.
func TestTrainProfileWithTrainerState(t *testing.T) {
	src, err := onnx.DecodeFile(filepath.Join("..", "testmodels", "fixtures", "lenet_op13_keepbn_static", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := convert.Convert(src, convert.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	portable := res.Model
	info, err := export.Recognize(portable)
	if err != nil {
		t.Fatal(err)
	}
	st := &train.OptState{Kind: train.Adam, LR: 1e-3, CurLR: 4e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 5e-4, Step: 17}
	names := []string{}
	for _, l := range info.Layers {
		names = append(names, l.Latent)
	}
	for _, g := range info.Gates {
		names = append(names, g.Alpha)
	}
	for i, n := range names {
		tv, err := portable.Initializer(n)
		if err != nil {
			t.Fatal(err)
		}
		ps := train.ParamState{Name: n, Shape: tv.Shape(), Decay: i < len(info.Layers)}
		for k := 0; k < 2; k++ {
			s := make([]float32, tv.Len())
			for j := range s {
				s[j] = float32((j*(k+3)+i)%11) * 1e-3
			}
			ps.Slots = append(ps.Slots, s)
		}
		st.Params = append(st.Params, ps)
	}
	opts := export.Options{TrainState: func(m *onnx.Model) error { return train.EncodeTrainState(m, st) }}
	tm, err := export.Export(portable, bsnn.ProfileTrain, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "train.onnx")
	if err := onnx.EncodeFile(path, tm); err != nil {
		t.Fatal(err)
	}
	back, err := onnx.DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := train.DecodeTrainState(back)
	if err != nil {
		t.Fatalf("DecodeTrainState: %v", err)
	}
	if got.Kind != st.Kind || got.Step != st.Step || got.LR != float64(float32(st.LR)) || len(got.Params) != len(st.Params) {
		t.Fatalf("state read back: %s step %d lr %g, %d tensors; want %s step %d lr %g, %d tensors",
			got.Kind, got.Step, got.LR, len(got.Params), st.Kind, st.Step, st.LR, len(st.Params))
	}
	for i, p := range st.Params {
		q := got.Params[i]
		if q.Name != p.Name || q.Decay != p.Decay {
			t.Errorf("tensor %d: %s decay %v, want %s decay %v", i, q.Name, q.Decay, p.Name, p.Decay)
		}
		for k := range p.Slots {
			for j := range p.Slots[k] {
				if q.Slots[k][j] != p.Slots[k][j] {
					t.Fatalf("%s slot %d value %d: %g, want %g", p.Name, k, j, q.Slots[k][j], p.Slots[k][j])
				}
			}
		}
	}
	if back.Metadata()[bsnn.MetaProfile] != string(bsnn.ProfileTrain) {
		t.Errorf("bsnn.profile = %q", back.Metadata()[bsnn.MetaProfile])
	}
	// train -> train without a state source keeps the file's state.
	again, err := export.Export(back, bsnn.ProfileTrain, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !onnx.Equal(again, tm) {
		t.Errorf("train -> read -> train is not proto-equal")
	}
	// The other profiles drop training_info; portable keeps the latents.
	p2, err := export.Export(back, bsnn.ProfilePortable, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := export.Export(portable, bsnn.ProfilePortable, export.Options{})
	if len(p2.Proto.TrainingInfo) != 0 || !onnx.Equal(p1, p2) {
		t.Errorf("train -> portable differs from the direct portable export (training_info entries: %d)", len(p2.Proto.TrainingInfo))
	}
	interop.NeedPythonONNX(t)
	if err := interop.CheckModel(path); err != nil {
		t.Errorf("checker: %v", err)
	}
	interop.NeedORT(t)
	in := map[string]interop.Tensor{"input": {Shape: []int64{2, 1, 28, 28}, Float: make([]float32, 2*28*28)}}
	if _, err := interop.RunORT(path, in, nil); err != nil {
		t.Errorf("onnxruntime on the train file: %v", err)
	}
}
