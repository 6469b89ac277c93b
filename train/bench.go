package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// BenchOptions configure BenchTrainStep.
type BenchOptions struct {
	Context   context.Context
	Batch     int    // default 32
	Steps     int    // timed steps, default 5
	Warmup    int    // untimed steps first, default 1
	Optimizer string // default sgd (momentum 0.9)
	Loss      string // default tet
	// TorchArch, when set, also times the equivalent BSNN in PyTorch by
	// running Script (testmodels/torch_bench_train.py) with Python; the
	// script builds the network named TorchArch ("resnet20", "lenet_fmnist").
	TorchArch string
	Python    string // default /usr/bin/python3
	Script    string // default testmodels/torch_bench_train.py
}

// BenchResult is one training-step timing (forward, backward and optimizer
// step on a random batch), JSON-able for `bsnnctl bench train --json`.
type BenchResult struct {
	Batch          int       `json:"batch"`
	T              int       `json:"time_steps"`
	Threads        int       `json:"threads"`
	InputShape     []int     `json:"input_shape"`
	Params         int       `json:"params"`
	Steps          int       `json:"steps"`
	StepSeconds    float64   `json:"step_s"` // median
	StepMin        float64   `json:"step_min_s"`
	StepMax        float64   `json:"step_max_s"`
	CompileSeconds float64   `json:"compile_s"`
	All            []float64 `json:"all_s"`
	// Torch is PyTorch's timing of the same step, Ratio = ours / PyTorch's
	// (median step times; > 1 means slower than PyTorch).
	Torch *TorchBench `json:"torch,omitempty"`
	Ratio float64     `json:"ratio,omitempty"`
}

// TorchBench is what testmodels/torch_bench_train.py prints.
type TorchBench struct {
	Arch        string    `json:"arch"`
	Torch       string    `json:"torch"`
	Threads     int       `json:"threads"`
	Batch       int       `json:"batch"`
	T           int       `json:"time_steps"`
	Params      int       `json:"params"`
	StepSeconds float64   `json:"step_s"`
	StepMin     float64   `json:"step_min_s"`
	All         []float64 `json:"all_s"`
}

// BenchTrainStep times training steps of m (a BSNN) on random inputs of
// the model's input shape: forward, backward and an optimizer update, as
// Run does them (metrics excluded).
func BenchTrainStep(m *onnx.Model, opts BenchOptions) (*BenchResult, error) {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Batch <= 0 {
		opts.Batch = 32
	}
	if opts.Steps <= 0 {
		opts.Steps = 5
	}
	if opts.Warmup < 0 {
		opts.Warmup = 0
	} else if opts.Warmup == 0 {
		opts.Warmup = 1
	}
	// PyTorch runs on as many threads as the caller gave Go (GOMAXPROCS).
	threads := runtime.GOMAXPROCS(0)
	cfg := Config{Batch: opts.Batch, Optimizer: opts.Optimizer, Loss: opts.Loss, Out: "-", ModelProto: m, Data: "-"}.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ni, err := analyze(m)
	if err != nil {
		return nil, err
	}
	if cfg.Loss == LossTET && ni.Logits == "" {
		cfg.Loss = LossCE
	}
	t0 := time.Now()
	tp, err := compileTrain(m.Clone(), ni, cfg, nil)
	if err != nil {
		return nil, err
	}
	defer tp.prog.Close()
	compile := time.Since(t0).Seconds()
	opt := NewOptimizer(cfg, tp.params, func(name string) bool { return ni.Weights[name] })
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, opts.Batch*ni.sampleLen())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y := make([]int, opts.Batch)
	for i := range y {
		y[i] = r.IntN(tp.loss.C)
	}
	res := &BenchResult{Batch: opts.Batch, T: ni.T, Threads: threads, CompileSeconds: compile, Steps: opts.Steps,
		InputShape: ni.inputShape(opts.Batch)}
	for _, p := range tp.params {
		res.Params += len(p.Data())
	}
	for i := 0; i < opts.Warmup+opts.Steps; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := time.Now()
		if err := tp.run(ni.Input, x, y); err != nil {
			return nil, err
		}
		if err := opt.Step(1e-3, tp.grads); err != nil {
			return nil, err
		}
		if i >= opts.Warmup {
			res.All = append(res.All, time.Since(s).Seconds())
		}
	}
	res.StepSeconds, res.StepMin, res.StepMax = medianMinMax(res.All)
	if opts.TorchArch != "" {
		tb, err := runTorchBench(ctx, opts, threads, ni.T)
		if err != nil {
			return res, err
		}
		res.Torch = tb
		if tb.StepSeconds > 0 {
			res.Ratio = res.StepSeconds / tb.StepSeconds
		}
	}
	return res, nil
}

func medianMinMax(v []float64) (med, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// runTorchBench runs the PyTorch side of the benchmark.
func runTorchBench(ctx context.Context, opts BenchOptions, threads, T int) (*TorchBench, error) {
	py := opts.Python
	if py == "" {
		py = "/usr/bin/python3"
	}
	script := opts.Script
	if script == "" {
		script = "testmodels/torch_bench_train.py"
	}
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("torch benchmark script: %w", err)
	}
	cmd := exec.CommandContext(ctx, py, script, "--arch", opts.TorchArch, "--batch", strconv.Itoa(opts.Batch),
		"--timesteps", strconv.Itoa(T), "--threads", strconv.Itoa(threads), "--steps", strconv.Itoa(opts.Steps),
		"--warmup", strconv.Itoa(max(opts.Warmup, 1)))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", py, script, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var tb TorchBench
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &tb); err != nil {
		return nil, fmt.Errorf("%s printed %q: %w", script, stdout.String(), err)
	}
	return &tb, nil
}
