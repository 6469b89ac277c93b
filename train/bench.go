package train

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/bsnnctl/bsnnctl/internal/bench"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// BenchOptions configure BenchTrainStep.
type BenchOptions struct {
	Context   context.Context
	Batch     int    // default 32
	Rounds    int    // timed rounds, default 5
	Warmup    int    // untimed rounds after the probe, default 1 (negative: none)
	Optimizer string // default sgd (momentum 0.9)
	Loss      string // default tet
	// Twin, when set, runs the same network in PyTorch, interleaved with
	// ours round by round.
	Twin *TorchTwin
}

// TorchTwin is the PyTorch side of a training-step benchmark: Script (the
// text of testmodels/torch_bench_train.py) builds the network of shape Arch
// ("resnet20", "lenet_fmnist") with the layers and weights of Model, the
// ONNX file being benched.
type TorchTwin struct {
	Arch   string
	Model  string
	Script string
}

// BenchResult is one training-step comparison (forward, backward and
// optimizer step on a random batch), JSON-able for `bsnnctl bench train
// --json`.
type BenchResult struct {
	Batch          int     `json:"batch"`
	T              int     `json:"time_steps"`
	InputShape     []int   `json:"input_shape"`
	Params         int     `json:"params"`
	CompileSeconds float64 `json:"compile_s"`
	// Parity is the check that the PyTorch network is the same as ours.
	Parity *Parity `json:"parity,omitempty"`
	bench.Comparison
}

// Parity compares the two networks on the probe batch (the first step of
// the run, before any update): parameter counts, the firing rate of every
// LIF layer at every step, the loss and the output (the logits' mean over
// the steps).
//
// The rates and the loss decide, not the output. The two engines sum in
// different orders, so a membrane potential within rounding of the
// threshold may spike on one side only, and in a deep spiking network one
// such flip changes the spikes of every later layer: the logits of two
// float32 runs of the same network (PyTorch's float32 against its float64)
// can differ by a quarter of their norm. The firing rates barely move (by
// less than 0.004 there), while a different network moves them by far
// more (a missing BatchNormalization by 0.17, two layers' weights swapped
// by 0.025). The rates are also what the work of a spiking network depends
// on.
type Parity struct {
	Params      int     `json:"params"`
	TorchParams int     `json:"torch_params"`
	Loss        float64 `json:"loss"`
	TorchLoss   float64 `json:"torch_loss"`
	// MaxRateDiff is the largest difference of the firing rates of a LIF
	// layer at a step (rates are spikes per neuron per step, in [0, 1]).
	MaxRateDiff float64 `json:"max_rate_diff"`
	// OutputRelDiff is ||ours - PyTorch's|| / ||ours|| over the output.
	OutputRelDiff float64 `json:"output_rel_diff"`
}

// Parity tolerances: RateTolerance on every firing rate (absolute),
// LossTolerance on the loss (relative).
const (
	RateTolerance = 0.01
	LossTolerance = 0.05
)

// A ParityError says that the PyTorch network is not the benched one
// (read from the file Model).
type ParityError struct {
	Model string
	Why   string
}

func (e *ParityError) Error() string {
	return fmt.Sprintf("the PyTorch network is not the same as ours: %s; refusing to compare their speed", e.Why)
}

// BenchTrainStep times training steps of m (a BSNN) on a random batch of
// the model's input shape: forward, backward and an optimizer update, as
// Run does them (metrics excluded). With opts.Twin it first checks that
// the PyTorch network is the same (a *ParityError otherwise), then
// interleaves the two engines round by round.
func BenchTrainStep(m *onnx.Model, opts BenchOptions) (*BenchResult, error) {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	opts = benchDefaults(opts)
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
	eng := &trainEngine{tp: tp, input: ni.Input, opt: NewOptimizer(cfg, tp.params, func(name string) bool { return ni.Weights[name] })}
	eng.x, eng.y = benchBatch(opts.Batch, ni.sampleLen(), tp.loss.C)
	res := &BenchResult{Batch: opts.Batch, T: ni.T, CompileSeconds: time.Since(t0).Seconds(),
		InputShape: ni.inputShape(opts.Batch)}
	for _, p := range tp.params {
		res.Params += len(p.Data())
	}
	// The probe: the first forward and backward pass, before any update.
	if err := tp.run(ni.Input, eng.x, eng.y); err != nil {
		return nil, err
	}
	engines := []bench.Engine{eng}
	if opts.Twin != nil {
		torch, parity, err := startTwin(ctx, opts.Twin, threads, res.Params, eng, tp, ni)
		if err != nil {
			return nil, err
		}
		defer torch.Close()
		res.Parity = parity
		engines = append(engines, torch)
	}
	cmp, err := bench.Compare(ctx, bench.DetectMachine(threads), ops.Flops(tp.prog), opts.Warmup, opts.Rounds, engines...)
	if err != nil {
		return nil, err
	}
	res.Comparison = *cmp
	return res, nil
}

func benchDefaults(o BenchOptions) BenchOptions {
	if o.Batch <= 0 {
		o.Batch = 32
	}
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = 1
	}
	return o
}

// benchBatch is the benchmark's batch: standard normal pixels and uniform
// labels from a fixed seed.
func benchBatch(batch, sampleSize, classes int) ([]float32, []int) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*sampleSize)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y := make([]int, batch)
	for i := range y {
		y[i] = r.IntN(classes)
	}
	return x, y
}

// trainEngine is our side of the benchmark: one training step per Step.
type trainEngine struct {
	tp    *trainProgram
	opt   *Optimizer
	input string
	x     []float32
	y     []int
}

func (e *trainEngine) Name() string { return "bsnnctl" }

func (e *trainEngine) Step() (time.Duration, error) {
	t0 := time.Now()
	if err := e.tp.run(e.input, e.x, e.y); err != nil {
		return 0, err
	}
	if err := e.opt.Step(1e-3, e.tp.grads); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// startTwin starts the PyTorch network, gives it the probe batch and checks
// that it is the same network as ours: same parameter count, same loss and
// logits on the probe (which tp has just run).
func startTwin(ctx context.Context, tw *TorchTwin, threads, params int, eng *trainEngine, tp *trainProgram, ni *netInfo) (*bench.Torch, *Parity, error) {
	torch, err := bench.StartTorch(ctx, tw.Script, threads, "--arch", tw.Arch, "--model", tw.Model, "--threads", strconv.Itoa(threads))
	if err != nil {
		return nil, nil, err
	}
	p, err := probeTwin(torch, tw, params, eng, tp, ni)
	if err != nil {
		torch.Close()
		return nil, nil, err
	}
	return torch, p, nil
}

func probeTwin(torch *bench.Torch, tw *TorchTwin, params int, eng *trainEngine, tp *trainProgram, ni *netInfo) (*Parity, error) {
	var ready struct {
		Params int `json:"params"`
		T      int `json:"time_steps"`
	}
	if err := json.Unmarshal(torch.Ready, &ready); err != nil {
		return nil, fmt.Errorf("PyTorch's ready line %q: %w", torch.Ready, err)
	}
	p := &Parity{Params: params, TorchParams: ready.Params}
	if p.Params != p.TorchParams {
		return p, &ParityError{Model: tw.Model, Why: fmt.Sprintf("%d trainable parameters in ours, %d in PyTorch's", p.Params, p.TorchParams)}
	}
	dir, err := os.MkdirTemp("", "bsnnctl-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	n := len(eng.y)
	xs := []int64{int64(n), int64(ni.InputShape.C), int64(ni.InputShape.H), int64(ni.InputShape.W)}
	ys := make([]int64, n)
	for i, v := range eng.y {
		ys[i] = int64(v)
	}
	xf, yf := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := npy.WriteFile(xf, &onnx.Tensor{Type: onnx.Float, Dims: xs, Float32: eng.x}); err != nil {
		return nil, err
	}
	if err := npy.WriteFile(yf, &onnx.Tensor{Type: onnx.Int64, Dims: []int64{int64(n)}, Int64: ys}); err != nil {
		return nil, err
	}
	var pr struct {
		Loss   float64     `json:"loss"`
		Output []float64   `json:"output"`
		Rates  [][]float64 `json:"rates"`
	}
	if err := torch.Call("probe "+xf+" "+yf, &pr); err != nil {
		return nil, err
	}
	differ := func(format string, a ...any) (*Parity, error) {
		return p, &ParityError{Model: tw.Model, Why: "on a probe batch " + fmt.Sprintf(format, a...)}
	}
	p.Loss, p.TorchLoss = float64(tp.prog.LossValue()), pr.Loss
	taps := tp.b.LIF
	if len(taps) != len(pr.Rates) {
		return differ("%d LIF layers ran in ours, %d in PyTorch's", len(taps), len(pr.Rates))
	}
	for i, tap := range taps {
		if len(tap.Rate) != len(pr.Rates[i]) {
			return differ("LIF layer %s has %d steps in ours, %d in PyTorch's", tap.Node, len(tap.Rate), len(pr.Rates[i]))
		}
		for t, r := range tap.Rate {
			if d := math.Abs(r - pr.Rates[i][t]); !(d <= p.MaxRateDiff) {
				p.MaxRateDiff = d
				if !(d <= RateTolerance) {
					return differ("LIF layer %s fires at rate %.4f at step %d in ours, %.4f in PyTorch's (tolerance %g)",
						tap.Node, r, t, pr.Rates[i][t], RateTolerance)
				}
			}
		}
	}
	ours := tp.prog.Output(0).Float32 // graph outputs keep their values after Run
	if len(ours) != len(pr.Output) {
		return differ("the output has %d values in ours, %d in PyTorch's", len(ours), len(pr.Output))
	}
	var d2, n2 float64
	for i, v := range ours {
		d := float64(v) - pr.Output[i]
		d2 += d * d
		n2 += float64(v) * float64(v)
	}
	p.OutputRelDiff = math.Sqrt(d2 / math.Max(n2, 1e-30))
	if !(math.Abs(p.Loss-p.TorchLoss) <= LossTolerance*math.Abs(p.Loss)) {
		return differ("the loss is %.6g in ours, %.6g in PyTorch's", p.Loss, p.TorchLoss)
	}
	return p, nil
}
