package train

import (
	"os"
	"os/exec"
	"testing"
)

// BenchmarkTrainStepResNet20 times one training step (forward, backward,
// SGD update) of the BSNN ResNet-20 converted from
// testmodels/fixtures/resnet20_op11_keepbn_dynamic: T=4, batch 32,
// 32x32x3 inputs. It reports the step time as step_s.
func BenchmarkTrainStepResNet20(b *testing.B) {
	m := fixtureBSNN(b, "resnet20_op11_keepbn_dynamic", 4)
	cfg := Config{Batch: 32, Out: "-", Data: "-", ModelProto: m}.Defaults()
	ni, err := analyze(m)
	if err != nil {
		b.Fatal(err)
	}
	tp, err := compileTrain(m, ni, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tp.prog.Close()
	opt := NewOptimizer(cfg, tp.params, func(name string) bool { return ni.Weights[name] })
	x := make([]float32, 32*ni.InputShape.Size())
	for i := range x {
		x[i] = float32(i%97)/97 - 0.5
	}
	y := make([]int, 32)
	for i := range y {
		y[i] = i % 10
	}
	step := func() {
		if err := tp.run(ni.Input, x, y); err != nil {
			b.Fatal(err)
		}
		if err := opt.Step(0.01, tp.grads); err != nil {
			b.Fatal(err)
		}
	}
	step() // warm-up: buffers are allocated on the first run
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "step_s")
}

// TestBenchTrainStep times a few steps of the ResNet-20 BSNN at a small
// batch and, with BSNNCTL_BENCH_TORCH=1 (PyTorch takes a minute to start
// and run on two cores), the same step in PyTorch with
// testmodels/torch_bench_train.py, checking that both networks have the
// same trainable tensors.
func TestBenchTrainStep(t *testing.T) {
	m := fixtureBSNN(t, "resnet20_op11_keepbn_dynamic", 4)
	opts := BenchOptions{Batch: 2, Steps: 2, Script: "../testmodels/torch_bench_train.py"}
	if os.Getenv("BSNNCTL_BENCH_TORCH") != "1" {
		t.Log("PyTorch side skipped (set BSNNCTL_BENCH_TORCH=1)")
	} else if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Fatalf("BSNNCTL_BENCH_TORCH=1 but /usr/bin/python3 has no torch: %v", err)
	} else {
		opts.TorchArch = "resnet20"
	}
	r, err := BenchTrainStep(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ours %.3fs per step (compile %.2fs), %d params", r.StepSeconds, r.CompileSeconds, r.Params)
	if r.StepSeconds <= 0 || len(r.All) != 2 || r.T != 4 || r.InputShape[1] != 3 || r.Params < 270000 {
		t.Errorf("result %+v", r)
	}
	if opts.TorchArch != "" {
		if r.Torch == nil || r.Torch.StepSeconds <= 0 || r.Ratio <= 0 || r.Torch.Batch != 2 || r.Torch.T != 4 {
			t.Fatalf("torch result %+v ratio %v", r.Torch, r.Ratio)
		}
		// The two networks have the same trainable tensors.
		if d := r.Torch.Params - r.Params; d != 0 {
			t.Errorf("PyTorch network has %d parameters, ours %d", r.Torch.Params, r.Params)
		}
		t.Logf("PyTorch %.3fs per step; ratio ours/PyTorch %.2f", r.Torch.StepSeconds, r.Ratio)
	}
}
