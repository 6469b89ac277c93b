package train

import (
	"path/filepath"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// TestTrainFileResumesNextStep writes a run's state as a `train` profile
// file (through bsnnctl export's code path), reads it back, and checks that
// fine-tuning continued from the file takes exactly the step the original
// run takes next: same loss and same updated weights, for each optimizer.
func TestTrainFileResumesNextStep(t *testing.T) {
	for _, kind := range []string{SGD, Adam, AdamW} {
		t.Run(kind, func(t *testing.T) {
			cfg := Config{Batch: 4, Optimizer: kind, WeightDecay: 0.01}.Defaults()
			m, ni, tp, opt := mlpTrainer(t, cfg)
			x := make([]float32, 4*784)
			for i := range x {
				x[i] = float32(i%17)/17 - 0.3
			}
			y := []int{3, 1, 4, 1}
			step := func(tp *trainProgram, opt *Optimizer, lr float64) float32 {
				if err := tp.run(ni.Input, x, y); err != nil {
					t.Fatal(err)
				}
				loss := tp.prog.LossValue()
				if err := opt.Step(lr, tp.grads); err != nil {
					t.Fatal(err)
				}
				return loss
			}
			for s := 0; s < 3; s++ {
				step(tp, opt, 0.01)
			}
			// Save: weights, BN statistics and optimizer state, as a train file.
			saved := m.Clone()
			if err := tp.b.WriteBack(saved); err != nil {
				t.Fatal(err)
			}
			if err := EncodeTrainState(saved, opt.State()); err != nil {
				t.Fatal(err)
			}
			out, err := export.Export(saved, bsnn.ProfileTrain, export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "run.train.onnx")
			if err := onnx.EncodeFile(path, out); err != nil {
				t.Fatal(err)
			}
			// The original run's next step.
			wantLoss := step(tp, opt, 0.01)
			// Resume from the file and take the same step.
			back, err := onnx.DecodeFile(path)
			if err != nil {
				t.Fatal(err)
			}
			st, err := DecodeTrainState(back)
			if err != nil {
				t.Fatal(err)
			}
			tp2, err := compileTrain(back, ni, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			opt2 := NewOptimizer(cfg, tp2.params, func(n string) bool { return ni.Weights[n] })
			if err := opt2.Load(st); err != nil {
				t.Fatal(err)
			}
			gotLoss := step(tp2, opt2, 0.01)
			if gotLoss != wantLoss {
				t.Fatalf("next-step loss from the train file %v, original run %v", gotLoss, wantLoss)
			}
			for i, p := range tp.params {
				a, b := p.Data(), tp2.params[i].Data()
				for j := range a {
					if a[j] != b[j] {
						t.Fatalf("%s[%d] after the next step: %v from the file, %v in the original run", p.Name, j, b[j], a[j])
					}
				}
			}
			t.Logf("%s: next-step loss %v in both", kind, gotLoss)
		})
	}
}
