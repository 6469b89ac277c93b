// Package inferbench measures inference of a BSNN in the packed engine
// (package infer), in the float engine (package ops) and in onnxruntime on
// the same model, and optionally onnxruntime on the float ANN the BSNN was
// imported from: `bsnnctl bench infer`.
//
// A ratio is only believable when both sides ran on the same machine at
// the same time, under the same load, so the engines are interleaved round
// by round (packed, float, onnxruntime, onnxruntime-ann, packed, ...)
// after warm-up rounds, for each batch size in turn; each step is timed
// around the engine's run call alone, with the input already in place.
// Between two steps the benchmark sleeps Settle, so that the previous
// engine's spinning worker threads do not compete with the next one. The
// report gives the minimum and the median of each engine and batch, the
// load average before and after, and the process's peak RSS.
//
// All engines get the same thread count: the packed engine through
// infer.Options.Threads, the float engine through GOMAXPROCS (the caller
// sets it), onnxruntime with that many intra-op threads and one inter-op
// thread, with its default graph optimizations.
package inferbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/infer"
	"github.com/bsnnctl/bsnnctl/internal/bench"
	"github.com/bsnnctl/bsnnctl/internal/ort"
	"github.com/bsnnctl/bsnnctl/internal/peakrss"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Engine names in a Report.
const (
	Packed         = "packed"
	Float          = "float"
	ONNXRuntime    = "onnxruntime"
	ONNXRuntimeANN = "onnxruntime-ann"
)

// MinRounds is the fewest timed rounds a benchmark accepts.
const MinRounds = 5

// Settle is the pause between two steps (see the package documentation).
const Settle = 20 * time.Millisecond

// Config says what to measure.
type Config struct {
	// Model is the BSNN (any profile the packed engine runs); ANN, when
	// set, the float network it was imported from.
	Model, ANN *onnx.Model
	// Batches are the batch sizes, measured one after the other.
	Batches []int
	// Threads is the thread count of every engine (the caller sets
	// GOMAXPROCS to it for the float engine).
	Threads int
	// Warmup untimed rounds (at least 1), then Rounds timed rounds (at
	// least MinRounds).
	Warmup, Rounds int
	// Log, when set, receives progress messages.
	Log func(msg string, args ...any)
}

// Result is one engine at one batch size.
type Result struct {
	Engine string  `json:"engine"`
	Batch  int     `json:"batch"`
	Min    float64 `json:"min_s"`
	Median float64 `json:"median_s"`
	// ImagesPerS is Batch / Median.
	ImagesPerS float64   `json:"images_per_s"`
	All        []float64 `json:"all_s"`
	// MaxRelDiff is the largest difference of this engine's outputs from
	// the float engine's at the first warm-up step, relative to the
	// largest float output (-1 when not compared: the float engine itself,
	// and the ANN, which computes another function).
	MaxRelDiff float64 `json:"max_rel_diff_vs_float"`
}

// A Skip is an engine and batch size that was not measured, and why.
type Skip struct {
	Engine string `json:"engine"`
	Batch  int    `json:"batch,omitempty"`
	Reason string `json:"reason"`
}

// A Ratio compares the packed engine with another engine at one batch
// size: the other engine's time over the packed engine's (above 1: the
// packed engine is faster).
type Ratio struct {
	Versus string  `json:"versus"`
	Batch  int     `json:"batch"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
}

// Report is the outcome of Run.
type Report struct {
	Threads    int        `json:"threads"`
	Results    []Result   `json:"results"`
	PeakRSS    int64      `json:"peak_rss_bytes"`
	Ratios     []Ratio    `json:"ratios"`
	Skipped    []Skip     `json:"skipped,omitempty"`
	Warmup     int        `json:"warmup"`
	Rounds     int        `json:"rounds"`
	LoadBefore [3]float64 `json:"load_before"`
	LoadAfter  [3]float64 `json:"load_after"`
	CPU        string     `json:"cpu"`
	TimeSteps  int        `json:"time_steps"`
	Input      []int      `json:"input_shape"` // per sample (an event input: [T, C, H, W])
	// ORTVersion is the onnxruntime library's version ("" when not loaded).
	ORTVersion string `json:"onnxruntime_version,omitempty"`
	// Plan is the packed engine's plan.
	Plan []infer.LayerPlan `json:"plan"`
}

// A stepper is one engine bound to one batch size.
type stepper struct {
	name  string
	step  func() error
	out   func() ([]float32, error) // the first output of the last step
	close func()
}

// Run measures cfg's engines.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Rounds < MinRounds {
		return nil, fmt.Errorf("inferbench: %d timed rounds, want at least %d", cfg.Rounds, MinRounds)
	}
	if cfg.Threads < 1 {
		return nil, fmt.Errorf("inferbench: %d threads, want at least 1", cfg.Threads)
	}
	if len(cfg.Batches) == 0 {
		return nil, errors.New("inferbench: no batch sizes")
	}
	// The first round checks the engines' outputs: it is never timed.
	cfg.Warmup = max(cfg.Warmup, 1)
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	e, err := infer.Compile(cfg.Model, infer.Options{Threads: cfg.Threads})
	if err != nil {
		return nil, err
	}
	sample, _, err := sampleShape(cfg.Model)
	if err != nil {
		return nil, err
	}
	r := &Report{Threads: cfg.Threads, Warmup: cfg.Warmup, Rounds: cfg.Rounds, CPU: bench.CPUModel(),
		TimeSteps: e.TimeSteps(), Input: sample, Plan: e.Plan()}

	rt, rtANN, err := r.sessions(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range []*ort.Session{rt, rtANN} {
			if s != nil {
				s.Close()
			}
		}
	}()

	r.LoadBefore, _ = bench.LoadAverage()
	for _, batch := range cfg.Batches {
		if err := r.measure(ctx, cfg, e, rt, rtANN, batch, logf); err != nil {
			return nil, err
		}
	}
	r.LoadAfter, _ = bench.LoadAverage()
	r.PeakRSS, _ = peakrss.Bytes()
	r.ratios()
	return r, nil
}

// sessions loads the model (portable profile) and the ANN in onnxruntime;
// when onnxruntime is not available it records one Skip and returns nil
// sessions.
func (r *Report) sessions(cfg Config) (rt, ann *ort.Session, err error) {
	v, err := ort.Version()
	if err != nil {
		if !errors.Is(err, ort.ErrUnavailable) {
			return nil, nil, err
		}
		engines := ONNXRuntime
		if cfg.ANN != nil {
			engines += " and " + ONNXRuntimeANN
		}
		why := strings.TrimPrefix(err.Error(), ort.ErrUnavailable.Error()+": ")
		r.Skipped = append(r.Skipped, Skip{Engine: engines, Reason: "onnxruntime is not available (" + why + ")"})
		return nil, nil, nil
	}
	r.ORTVersion = v
	portable, err := portableBytes(cfg.Model)
	if err != nil {
		return nil, nil, err
	}
	opts := ort.SessionOptions{IntraOpThreads: cfg.Threads, InterOpThreads: 1}
	if rt, err = ort.NewSession(portable, opts); err != nil {
		return nil, nil, fmt.Errorf("the model (portable profile): %w", err)
	}
	if cfg.ANN == nil {
		return rt, nil, nil
	}
	b, err := onnx.Marshal(cfg.ANN)
	if err != nil {
		rt.Close()
		return nil, nil, fmt.Errorf("the ANN: %w", err)
	}
	if ann, err = ort.NewSession(b, opts); err != nil {
		rt.Close()
		return nil, nil, fmt.Errorf("the ANN: %w", err)
	}
	if len(ann.Inputs()) != 1 {
		rt.Close()
		ann.Close()
		return nil, nil, fmt.Errorf("the ANN has %d inputs; the benchmark feeds one", len(ann.Inputs()))
	}
	return rt, ann, nil
}

// portableBytes returns the model in the portable profile, as bytes.
func portableBytes(m *onnx.Model) ([]byte, error) {
	info, err := export.Recognize(m)
	if err != nil {
		return nil, err
	}
	if info.Profile != bsnn.ProfilePortable {
		if m, err = export.Export(m, bsnn.ProfilePortable, export.Options{}); err != nil {
			return nil, fmt.Errorf("exporting the %s model to the portable profile for onnxruntime: %w", info.Profile, err)
		}
	}
	return onnx.Marshal(m)
}

// measure interleaves the engines at one batch size.
func (r *Report) measure(ctx context.Context, cfg Config, e *infer.Engine, rt, ann *ort.Session, batch int, logf func(string, ...any)) error {
	x, shape, err := batchInput(cfg.Model, batch)
	if err != nil {
		return err
	}
	var steppers []*stepper
	defer func() {
		for _, s := range steppers {
			s.close()
		}
	}()
	add := func(name string, model *onnx.Model, make func() (*stepper, error)) error {
		if model != nil {
			if why := fixedBatch(model, batch); why != "" {
				r.Skipped = append(r.Skipped, Skip{Engine: name, Batch: batch, Reason: why})
				return nil
			}
		}
		s, err := make()
		if err != nil {
			return fmt.Errorf("%s, batch %d: %w", name, batch, err)
		}
		steppers = append(steppers, s)
		return nil
	}
	if err := add(Packed, cfg.Model, func() (*stepper, error) { return packedStepper(e, x, shape), nil }); err != nil {
		return err
	}
	if err := add(Float, cfg.Model, func() (*stepper, error) { return floatStepper(cfg.Model, e.InputName(), x, shape) }); err != nil {
		return err
	}
	if rt != nil {
		if err := add(ONNXRuntime, cfg.Model, func() (*stepper, error) { return ortStepper(ONNXRuntime, rt, x, shape) }); err != nil {
			return err
		}
	}
	if ann != nil {
		// The ANN of an event-input BSNN reads one frame [N, C, H, W].
		annX, annShape, err := batchInput(cfg.ANN, batch)
		if err != nil {
			return fmt.Errorf("the ANN: %w", err)
		}
		if err := add(ONNXRuntimeANN, cfg.ANN, func() (*stepper, error) { return ortStepper(ONNXRuntimeANN, ann, annX, annShape) }); err != nil {
			return err
		}
	}
	logf("timing", "batch", batch, "engines", len(steppers), "warmup", cfg.Warmup, "rounds", cfg.Rounds)
	times := make([][]float64, len(steppers))
	for round := range cfg.Warmup + cfg.Rounds {
		timed := round >= cfg.Warmup
		for i, s := range steppers {
			if err := ctx.Err(); err != nil {
				return err
			}
			start := time.Now()
			if err := s.step(); err != nil {
				return fmt.Errorf("%s, batch %d: %w", s.name, batch, err)
			}
			d := time.Since(start)
			if timed {
				times[i] = append(times[i], d.Seconds())
			}
			time.Sleep(Settle)
		}
		if round == 0 {
			if err := r.compare(steppers, batch); err != nil {
				return err
			}
		}
	}
	for i := range steppers {
		res := &r.Results[len(r.Results)-len(steppers)+i]
		res.All = times[i]
		sorted := slices.Sorted(slices.Values(times[i]))
		res.Min = sorted[0]
		res.Median = sorted[len(sorted)/2]
		if len(sorted)%2 == 0 {
			res.Median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
		}
		res.ImagesPerS = float64(batch) / res.Median
	}
	return nil
}

// compare adds a Result per stepper with the largest relative difference
// of its first output from the float engine's.
func (r *Report) compare(steppers []*stepper, batch int) error {
	var ref []float32
	for _, s := range steppers {
		if s.name == Float {
			var err error
			if ref, err = s.out(); err != nil {
				return err
			}
		}
	}
	for _, s := range steppers {
		res := Result{Engine: s.name, Batch: batch, MaxRelDiff: -1}
		if ref != nil && s.name != Float && s.name != ONNXRuntimeANN {
			out, err := s.out()
			if err != nil {
				return fmt.Errorf("%s, batch %d: %w", s.name, batch, err)
			}
			if len(out) != len(ref) {
				return fmt.Errorf("%s, batch %d: %d outputs, the float engine %d", s.name, batch, len(out), len(ref))
			}
			res.MaxRelDiff = relDiff(out, ref)
		}
		r.Results = append(r.Results, res)
	}
	return nil
}

// ratios compares the packed engine with every other engine measured at
// the same batch size.
func (r *Report) ratios() {
	for _, p := range r.Results {
		if p.Engine != Packed {
			continue
		}
		for _, o := range r.Results {
			if o.Batch == p.Batch && o.Engine != Packed && p.Min > 0 && p.Median > 0 {
				r.Ratios = append(r.Ratios, Ratio{Versus: o.Engine, Batch: p.Batch, Min: o.Min / p.Min, Median: o.Median / p.Median})
			}
		}
	}
}

func packedStepper(e *infer.Engine, x []float32, shape []int) *stepper {
	var last []infer.Output
	return &stepper{name: Packed,
		step: func() (err error) {
			last, err = e.Run(x, shape)
			return err
		},
		out:   func() ([]float32, error) { return last[0].Data, nil },
		close: func() {},
	}
}

func floatStepper(m *onnx.Model, input string, x []float32, shape []int) (*stepper, error) {
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{input: shape}})
	if err != nil {
		return nil, err
	}
	p, err := b.Compile(nil)
	if err != nil {
		return nil, err
	}
	if err := p.SetInput(input, x); err != nil {
		p.Close()
		return nil, err
	}
	return &stepper{name: Float,
		step:  p.Run,
		out:   func() ([]float32, error) { return p.Output(0).Floats(), nil },
		close: func() { p.Close() },
	}, nil
}

func ortStepper(name string, s *ort.Session, x []float32, shape []int) (*stepper, error) {
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	c, err := s.Prepare(map[string]ort.Tensor{s.Inputs()[0]: {Shape: dims, Float: x}})
	if err != nil {
		return nil, err
	}
	return &stepper{name: name,
		step: c.Run,
		out: func() ([]float32, error) {
			outs, err := c.Outputs()
			if err != nil {
				return nil, err
			}
			return outs[0].Float, nil
		},
		close: func() { c.Close() },
	}, nil
}

// sampleShape returns the per-sample input shape of m (every dimension
// but the batch must be fixed) and the input's batch axis: 0, or 1 for
// an event input [T, N, ...] (whose sample is [T, C, H, W]).
func sampleShape(m *onnx.Model) (sample []int, axis int, err error) {
	g, err := m.Graph()
	if err != nil {
		return nil, 0, err
	}
	if len(g.Inputs) != 1 {
		return nil, 0, fmt.Errorf("the model has %d inputs; the benchmark feeds one", len(g.Inputs))
	}
	enc, err := bsnn.InputEncodingOf(m)
	if err != nil {
		return nil, 0, err
	}
	axis = enc.BatchAxis()
	in := g.Inputs[0]
	if len(in.Shape) < axis+2 {
		return nil, 0, fmt.Errorf("input %q has shape %s; want a batch axis and a sample", in.Name, in.Shape)
	}
	for i, d := range in.Shape {
		if i == axis {
			continue
		}
		if !d.Known() {
			return nil, 0, fmt.Errorf("input %q: dimension %d (%s) is not fixed", in.Name, i, d)
		}
		sample = append(sample, int(d.Value))
	}
	return sample, axis, nil
}

// batchInput is a seeded random input of m for batch samples, and its
// shape.
func batchInput(m *onnx.Model, batch int) ([]float32, []int, error) {
	sample, axis, err := sampleShape(m)
	if err != nil {
		return nil, nil, err
	}
	shape := slices.Insert(slices.Clone(sample), axis, batch)
	x := make([]float32, static.Prod(shape))
	rng := rand.New(rand.NewPCG(uint64(batch), 7))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x, shape, nil
}

// fixedBatch says why m cannot run a batch of n ("" when it can): its
// input's batch dimension is fixed to another size.
func fixedBatch(m *onnx.Model, n int) string {
	g, err := m.Graph()
	if err != nil || len(g.Inputs) == 0 {
		return ""
	}
	enc, err := bsnn.InputEncodingOf(m)
	if err != nil {
		return ""
	}
	in := g.Inputs[0]
	if a := enc.BatchAxis(); len(in.Shape) > a {
		if d := in.Shape[a]; d.Known() && int(d.Value) != n {
			return fmt.Sprintf("input %q has a fixed batch of %d (export it with a dynamic batch axis to measure batch %d)", in.Name, d.Value, n)
		}
	}
	return ""
}

func relDiff(a, ref []float32) float64 {
	var num, den float64
	for i, v := range ref {
		num = max(num, math.Abs(float64(a[i])-float64(v)))
		den = max(den, math.Abs(float64(v)))
	}
	if den == 0 {
		return num
	}
	return num / den
}
