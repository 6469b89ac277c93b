package train

import (
	"context"
	"runtime"
	"slices"
	"testing"
)

// maxStepAlloc is the most a training step may allocate after warm-up: a
// step's activations and gradients live in memory planned at compile time
// (ops.Arena), so what is left is bookkeeping (the step's metrics, a
// metrics.jsonl line every log_every steps).
const maxStepAlloc = 1 << 20

// TestStepAllocations: after a warm-up step, Trainer.Step allocates at most
// maxStepAlloc bytes per step on average (runtime.MemStats.TotalAlloc over
// ten steps, so the step lines of log_every 10 count), for the LeNet BSNN
// at batch 64 (one activation is 25 MB) and the ResNet-20 BSNN at batch 8
// (one activation of the first stage is 2 MB): any activation or gradient
// allocated per step fails it.
func TestStepAllocations(t *testing.T) {
	for _, c := range []struct {
		fixture string
		batch   int
	}{
		{"lenet_op13_keepbn_dynamic", 64},
		{"resnet20_op11_keepbn_dynamic", 8},
	} {
		t.Run(c.fixture, func(t *testing.T) {
			if testing.Short() && c.fixture[:6] == "resnet" {
				t.Skip("short")
			}
			dataDir := t.TempDir()
			writeCIFAR10(t, dataDir, 2*c.batch, 10, 3)
			tr, err := NewTrainer(Config{ModelProto: fixtureBSNN(t, c.fixture, 4), Data: "cifar10:" + dataDir,
				Out: t.TempDir(), Batch: c.batch, EvalBatch: 10, Epochs: 100, NoPlots: true})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			it, err := tr.loader.Start(context.Background(), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			bt, err := it.Next()
			it.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Step(bt); err != nil { // warm-up: kernels' scratch, the first metrics line
				t.Fatal(err)
			}
			const steps = 10
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range steps {
				if err := tr.Step(bt); err != nil {
					t.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			perStep := (after.TotalAlloc - before.TotalAlloc) / steps
			t.Logf("%d bytes and %d allocations per step; arena %.1f MB", perStep,
				(after.Mallocs-before.Mallocs)/steps, float64(tr.arena.Len())/(1<<18))
			if perStep > maxStepAlloc {
				t.Errorf("a training step allocates %d bytes, want at most %d", perStep, maxStepAlloc)
			}
		})
	}
}

// TestSharedArena: the training and evaluation programs of a run share one
// arena, as large as the larger of the two needs; after an evaluation grew
// it, the training program computes the same loss and gradients, bit for
// bit, as a program with an arena of its own.
func TestSharedArena(t *testing.T) {
	dataDir := t.TempDir()
	writeCIFAR10(t, dataDir, 32, 64, 4)
	m := fixtureBSNN(t, "lenet_op13_keepbn_dynamic", 4)
	tr, err := NewTrainer(Config{ModelProto: m, Data: "cifar10:" + dataDir, Out: t.TempDir(), Batch: 16,
		EvalBatch: 64, Epochs: 1, NoPlots: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	trainLen := tr.tp.prog.ArenaLen()
	if _, err := tr.Evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev, err := compileEval(tr.model, tr.ni, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	evalLen := ev.prog.ArenaLen()
	if got, want := tr.arena.Len(), max(trainLen, evalLen); got != want || evalLen <= trainLen {
		t.Fatalf("arena of %d values; the training program needs %d, the evaluation program %d", got, trainLen, evalLen)
	}
	own, err := compileTrain(tr.model, tr.ni, tr.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	it, err := tr.loader.Start(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	bt, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*trainProgram{tr.tp, own} {
		if err := p.run(tr.ni.Input, bt.X, bt.Y); err != nil {
			t.Fatal(err)
		}
	}
	if tr.tp.loss.loss != own.loss.loss {
		t.Errorf("loss %v with the shared arena, %v with its own", tr.tp.loss.loss, own.loss.loss)
	}
	for i, g := range tr.tp.grads {
		if !slices.Equal(g, own.grads[i]) {
			t.Errorf("gradient of %s differs with the shared arena", tr.tp.params[i].Name)
		}
	}
}
