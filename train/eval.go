package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/bsnnctl/bsnnctl/dist"
	"github.com/bsnnctl/bsnnctl/infer"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// EvalOptions configure Evaluate. The zero value evaluates the whole data
// set in batches of 256 with the data set's default normalization.
type EvalOptions struct {
	Context context.Context
	Batch   int // default 256; the last partial batch gets its own program
	Workers int // data-loading goroutines (0: GOMAXPROCS)
	Limit   int // evaluate the first Limit images only (0: all)
	// AGMM "off" bypasses the model's AGMMGate nodes (as finetune --agmm
	// off trains them); "" or "on" evaluates the model as it is.
	AGMM string
	// Norm overrides the data set's default normalization.
	Norm *data.Norm
	// Fit brings images to the model's input size (default: resize).
	Fit data.Fit
	// Observer, when set, receives EvalProgress events.
	Observer Observer
	// Engine runs the model: "" or "float" the float engine (package
	// ops), "packed" the packed engine (package infer, binary layers on
	// packed spikes; the statistics come from its spike counts).
	Engine string
	// FrameValues is what event frames feed the model (EvaluateEvents):
	// event counts (the zero value) or binary.
	FrameValues data.FrameValues
}

// EvalResult is what `bsnnctl eval` reports; it marshals to JSON as is.
type EvalResult struct {
	Samples  int     `json:"samples"`
	Accuracy float64 `json:"accuracy"`
	// Loss is the cross-entropy of the time-averaged output; LossTET the
	// mean over t of the per-step cross-entropy (models decoding the mean
	// over time only).
	Loss    float64  `json:"loss"`
	LossTET *float64 `json:"loss_tet,omitempty"`
	T       int      `json:"time_steps"`
	// FiringRate is the network-wide firing rate (spikes per neuron and
	// step, over every LIF layer).
	FiringRate float64     `json:"firing_rate"`
	LIF        []LIFRate   `json:"lif"`
	AGMM       []AGMMLine  `json:"agmm,omitempty"`
	Layers     []LayerCost `json:"layers"`
	// Per sample: synaptic operations of the binary layers, MACs of the
	// float layers and the energy estimate of spec §6 in picojoules.
	SOPs      float64 `json:"sops"`
	FloatMACs float64 `json:"float_macs"`
	EnergyPJ  float64 `json:"energy_pj"`
	EnergyUJ  float64 `json:"energy_uj"`
	// Batch is the batch size, Remainder the size of the last partial
	// batch (0: none), both evaluated.
	Batch     int     `json:"batch"`
	Remainder int     `json:"remainder"`
	Seconds   float64 `json:"seconds"`
}

// LIFRate is one LIF layer's firing rate.
type LIFRate struct {
	Node    string    `json:"node"`
	Neurons int       `json:"neurons"` // per sample
	Rate    float64   `json:"rate"`
	RateT   []float64 `json:"rate_t"`
}

// Evaluate runs model in inference mode (BatchNormalization on running
// statistics) over every image of ds and reports accuracy, loss, firing
// rates and energy per sample. An event-input model is an error (see
// EvaluateEvents).
func Evaluate(model *onnx.Model, ds *data.Dataset, opts EvalOptions) (EvalResult, error) {
	if ds == nil || ds.N == 0 {
		return EvalResult{}, fmt.Errorf("evaluate: empty data set")
	}
	ds, err := limit(ds, opts.Limit)
	if err != nil {
		return EvalResult{}, err
	}
	return evaluateModel(model, opts, func(ni *netInfo) (testSet, error) {
		if err := ni.checkData(ds.Kind); err != nil {
			return testSet{}, err
		}
		tf, err := makeTransform(ds, ni, opts.Norm, opts.Fit)
		if err != nil {
			return testSet{}, err
		}
		return imageTestSet(ds, tf), nil
	})
}

// EvaluateEvents is Evaluate for an event-input model (spec §8) over the
// event frames ds (OpenEvents bins a data set for a model), fed as
// opts.FrameValues. Frames of another T or size than the model's input,
// and a model that reads images, are errors.
func EvaluateEvents(model *onnx.Model, ds *data.EventDataset, opts EvalOptions) (EvalResult, error) {
	if ds == nil || ds.N == 0 {
		return EvalResult{}, fmt.Errorf("evaluate: empty data set")
	}
	ds, err := limit(ds, opts.Limit)
	if err != nil {
		return EvalResult{}, err
	}
	return evaluateModel(model, opts, func(ni *netInfo) (testSet, error) {
		if err := ni.checkFrames(ds); err != nil {
			return testSet{}, err
		}
		return eventTestSet(ds, opts.FrameValues), nil
	})
}

// evaluateModel evaluates model on the test set that set makes for it.
func evaluateModel(model *onnx.Model, opts EvalOptions, set func(*netInfo) (testSet, error)) (EvalResult, error) {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	m := model.Clone()
	if opts.AGMM == "off" {
		if _, err := bypassAGMM(m); err != nil {
			return EvalResult{}, err
		}
	} else if opts.AGMM != "" && opts.AGMM != "on" {
		return EvalResult{}, fmt.Errorf("evaluate: agmm %q, want on or off", opts.AGMM)
	}
	ni, err := analyze(m)
	if err != nil {
		return EvalResult{}, err
	}
	ts, err := set(ni)
	if err != nil {
		return EvalResult{}, err
	}
	run := evalRun{batch: opts.Batch, workers: opts.Workers}
	switch opts.Engine {
	case "", "float":
	case "packed":
		if run.packed, err = infer.Compile(m, infer.Options{}); err != nil {
			return EvalResult{}, err
		}
	default:
		return EvalResult{}, fmt.Errorf("evaluate: engine %q, want float or packed", opts.Engine)
	}
	if opts.Observer != nil {
		run.progress = func(done, total int) { opts.Observer(Event{Kind: EvalProgress, Done: done, Total: total}) }
	}
	r, err := evaluate(ctx, m, ni, ts, run)
	if err != nil {
		return EvalResult{}, err
	}
	return *r, nil
}

// makeTransform maps ds's images to the model's input shape.
func makeTransform(ds *data.Dataset, ni *netInfo, norm *data.Norm, fit data.Fit) (*data.Transform, error) {
	out := ni.InputShape
	if ni.InputRank == 2 {
		// A flat [N, D] input takes the image as is (C*H*W = D).
		if ds.Shape().Size() != out.C {
			return nil, fmt.Errorf("the model's input %q has %d values per sample, the %s images have %v = %d",
				ni.Input, out.C, ds.Kind, ds.Shape(), ds.Shape().Size())
		}
		out = ds.Shape()
	}
	return data.NewTransform(ds, data.TransformConfig{Out: out, Fit: fit, Norm: norm})
}

// evalRun says how evaluate runs: the batch size (the last partial batch
// gets its own program), the data-loading goroutines and an optional
// progress callback (batches done, total).
type evalRun struct {
	batch, workers int
	progress       func(done, total int)
	arena          *ops.Arena // for the programs' intermediate values (nil: a new one)
	// packed, when set, runs the batches; the float programs then only
	// describe the model (taps, layers) and never run.
	packed *infer.Engine
	// comm, when set, is the group of ranks that each evaluate their part
	// of the data set (ds is this rank's): the result is the whole set's,
	// on every rank, and an error is every rank's (*dist.RankError).
	comm dist.Comm
}

// evaluate runs m over the test set ts in batches.
func evaluate(ctx context.Context, m *onnx.Model, ni *netInfo, ts testSet, run evalRun) (*EvalResult, error) {
	start := time.Now()
	batch := min(run.batch, ts.n)
	acc, main, err := evalSums(ctx, m, ni, ts, run, batch)
	n := ts.n
	if run.comm != nil {
		if err = dist.Agree(run.comm, err); err == nil {
			n, err = acc.reduce(run.comm, n)
		}
	}
	if err != nil {
		return nil, err
	}
	r := acc.result(main, n, ni.T)
	r.Batch, r.Remainder = batch, ts.n%batch
	r.Seconds = time.Since(start).Seconds()
	if math.IsNaN(r.Loss) {
		err = fmt.Errorf("evaluation loss is NaN (the model's output is not finite)")
		if run.comm != nil {
			err = dist.Agree(run.comm, err) // the same on every rank: reported once
		}
		return r, err
	}
	return r, nil
}

// evalSums runs m over ts in batches of batch samples and returns the
// sums of the per-sample results and the full-batch program (closed; its
// taps name the layers).
func evalSums(ctx context.Context, m *onnx.Model, ni *netInfo, ts testSet, run evalRun, batch int) (*evalAcc, *evalProgram, error) {
	ld, err := ts.loader(batch, run.workers)
	if err != nil {
		return nil, nil, err
	}
	if run.arena == nil {
		run.arena = ops.NewArena() // the two programs share it
	}
	main, err := compileEval(m, ni, batch, run.arena)
	if err != nil {
		return nil, nil, fmt.Errorf("compiling the evaluation program: %w", err)
	}
	defer main.prog.Close()
	var rest *evalProgram
	if remainder := ts.n % batch; remainder > 0 {
		if rest, err = compileEval(m, ni, remainder, run.arena); err != nil {
			return nil, nil, fmt.Errorf("compiling the evaluation program for the last %d images: %w", remainder, err)
		}
		defer rest.prog.Close()
	}
	it, err := ld.Start(ctx, 0, 0)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	acc := newEvalAcc(main)
	if run.progress != nil {
		run.progress(0, ld.Len())
	}
	for done := 1; ; done++ {
		bt, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		p := main
		if bt.N != main.N {
			p = rest
		}
		err = acc.add(p, ni.Input, bt, run.packed)
		bt.Release()
		if err != nil {
			return nil, nil, err
		}
		if run.progress != nil {
			run.progress(done, ld.Len())
		}
	}
	return acc, main, nil
}

// evalAcc sums an evaluation's per-sample results over its batches.
type evalAcc struct {
	correct        int
	ceSum, tetSum  float64
	lifSum         [][]float64
	gateSum        [][]float64
	nzSum, nzTotal []float64
	meanLogit      []float64
}

func newEvalAcc(p *evalProgram) *evalAcc {
	a := &evalAcc{lifSum: make([][]float64, len(p.b.LIF)), gateSum: make([][]float64, len(p.b.AGMM)),
		nzSum: make([]float64, len(p.layers)), nzTotal: make([]float64, len(p.layers))}
	for i, tap := range p.b.LIF {
		a.lifSum[i] = make([]float64, tap.T)
	}
	for i, tap := range p.b.AGMM {
		a.gateSum[i] = make([]float64, tap.T)
	}
	return a
}

// evalStats is what one evaluated batch adds to the sums.
type evalStats struct {
	logits  []float32   // [T*N, C]
	lifRate [][]float64 // per LIF tap: the fraction of neurons firing at each step
	gates   [][]float64 // per AGMM tap: the mean gate at each step
	// nonzero and total count the entries of each layer's data input
	// (layers with a probe only).
	nonzero, total []int64
}

// runFloat runs program p on batch bt and reads its taps.
func (p *evalProgram) runFloat(input string, bt *data.Batch) (*evalStats, error) {
	if err := p.prog.SetInput(input, bt.X); err != nil {
		return nil, err
	}
	if err := p.prog.Run(); err != nil {
		return nil, err
	}
	st := &evalStats{logits: p.logits.data, nonzero: make([]int64, len(p.layers)), total: make([]int64, len(p.layers))}
	for _, tap := range p.b.LIF {
		st.lifRate = append(st.lifRate, tap.Rate)
	}
	for _, tap := range p.b.AGMM {
		st.gates = append(st.gates, tap.MeanGate())
	}
	for i, l := range p.layers {
		if l.probe != nil {
			st.nonzero[i], st.total[i] = l.probe.nonzero, l.probe.total
		}
	}
	return st, nil
}

// add runs batch bt (in the packed engine e when set, else in program p)
// and adds its results.
func (a *evalAcc) add(p *evalProgram, input string, bt *data.Batch, e *infer.Engine) error {
	if p == nil || bt.N != p.N {
		return fmt.Errorf("internal error: batch of %d images", bt.N)
	}
	var st *evalStats
	var err error
	if e != nil {
		st, err = p.runPacked(e, bt)
	} else {
		st, err = p.runFloat(input, bt)
	}
	if err != nil {
		return err
	}
	z := st.logits
	if len(a.meanLogit) != p.C {
		a.meanLogit = make([]float64, p.C)
	}
	for n := 0; n < p.N; n++ {
		y := bt.Y[n]
		if y >= p.C {
			return fmt.Errorf("label %d of image %d is outside the model's %d classes", y, bt.Indices[n], p.C)
		}
		for c := range a.meanLogit {
			a.meanLogit[c] = 0
		}
		for t := 0; t < p.T; t++ {
			row := z[(t*p.N+n)*p.C : (t*p.N+n+1)*p.C]
			for c, v := range row {
				a.meanLogit[c] += float64(v) / float64(p.T)
			}
			if p.T > 1 {
				a.tetSum += ceRow(row, y, 0) / float64(p.T)
			}
		}
		if argmax64(a.meanLogit) == y {
			a.correct++
		}
		a.ceSum += ce64(a.meanLogit, y)
	}
	for i := range p.b.LIF {
		for t, r := range st.lifRate[i] {
			a.lifSum[i][t] += r * float64(p.N)
		}
	}
	for i := range p.b.AGMM {
		for t, g := range st.gates[i] {
			a.gateSum[i][t] += g * float64(p.N)
		}
	}
	for i, l := range p.layers {
		if l.probe != nil {
			a.nzSum[i] += float64(st.nonzero[i])
			a.nzTotal[i] += float64(st.total[i])
		}
	}
	return nil
}

// result turns the sums over n samples into an EvalResult (main is the
// full-batch program, whose taps name the layers).
func (a *evalAcc) result(main *evalProgram, n, T int) *EvalResult {
	N := float64(n)
	r := &EvalResult{Samples: n, Accuracy: float64(a.correct) / N, Loss: a.ceSum / N, T: T}
	if main.T > 1 {
		v := a.tetSum / N
		r.LossTET = &v
	}
	var spikes, neurons float64
	for i, tap := range main.b.LIF {
		lr := LIFRate{Node: tap.Node, Neurons: tap.M / main.N, RateT: scaled(a.lifSum[i], 1/N)}
		for _, x := range lr.RateT {
			lr.Rate += x / float64(len(lr.RateT))
			spikes += x * float64(lr.Neurons)
			neurons += float64(lr.Neurons)
		}
		r.LIF = append(r.LIF, lr)
	}
	if neurons > 0 {
		r.FiringRate = spikes / neurons
	}
	for i, tap := range main.b.AGMM {
		r.AGMM = append(r.AGMM, AGMMLine{Node: tap.Node, Alpha: alphaOf(tap), Gate: scaled(a.gateSum[i], 1/N)})
	}
	fr := make([]float64, len(main.layers))
	for i := range fr {
		if a.nzTotal[i] > 0 {
			fr[i] = a.nzSum[i] / a.nzTotal[i]
		} else {
			fr[i] = 1
		}
	}
	r.Layers = costs(main.layers, fr)
	r.EnergyPJ, r.SOPs, r.FloatMACs = EnergyOf(r.Layers)
	r.EnergyUJ = r.EnergyPJ * 1e-6
	return r
}

// ce64 is the cross-entropy of float64 logits.
func ce64(z []float64, y int) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(v - m)
	}
	return m + math.Log(s) - z[y]
}
