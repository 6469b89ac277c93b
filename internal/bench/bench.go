// Package bench measures the engine against PyTorch on the same
// computation, for `bsnnctl bench` and the Go benchmarks.
//
// A comparison is only believable when both engines ran on the same machine
// at the same time, under the same load, so the engines are interleaved
// round by round (ours, PyTorch, ours, PyTorch, ...) after warm-up, in one
// run: PyTorch runs as a persistent subprocess driven over a pipe, one
// command per timed step (Torch). Each side times its own step, so the pipe
// is not counted. The report gives the minimum and the median of each side
// and their ratios, the load average before and after, and the achieved
// GFLOP/s against the machine's FMA peak (Machine).
package bench

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// An Engine runs one timed step of a workload.
type Engine interface {
	// Name names the engine in reports ("bsnnctl", "pytorch").
	Name() string
	// Step runs one step and returns its duration, measured by the engine
	// itself around the computation only.
	Step() (time.Duration, error)
}

// Stats summarizes the timed steps of one engine, in seconds.
type Stats struct {
	Min    float64   `json:"min_s"`
	Median float64   `json:"median_s"`
	Max    float64   `json:"max_s"`
	All    []float64 `json:"all_s"`
}

// NewStats summarizes step times given in seconds.
func NewStats(all []float64) Stats {
	s := Stats{All: append([]float64(nil), all...)}
	if len(all) == 0 {
		return s
	}
	sorted := append([]float64(nil), all...)
	sort.Float64s(sorted)
	n := len(sorted)
	s.Min, s.Max = sorted[0], sorted[n-1]
	s.Median = sorted[n/2]
	if n%2 == 0 {
		s.Median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return s
}

// Settle is the pause between two engines' steps: long enough for the
// previous engine's worker threads to go back to sleep (OpenMP workers
// spin for a moment after a parallel region), so that they do not compete
// with the next engine's step.
const Settle = 20 * time.Millisecond

// Interleave runs warmup untimed rounds, then rounds timed rounds; each
// round runs one step of every engine in order, with Settle between steps.
// It returns the Stats of each engine, in the order given.
func Interleave(ctx context.Context, warmup, rounds int, engines ...Engine) ([]Stats, error) {
	if rounds < 1 {
		return nil, fmt.Errorf("bench: %d timed rounds, want at least 1", rounds)
	}
	times := make([][]float64, len(engines))
	for r := 0; r < warmup+rounds; r++ {
		for i, e := range engines {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			d, err := e.Step()
			if err != nil {
				return nil, fmt.Errorf("%s: step %d: %w", e.Name(), r+1, err)
			}
			if r >= warmup {
				times[i] = append(times[i], d.Seconds())
			}
			time.Sleep(Settle)
		}
	}
	stats := make([]Stats, len(engines))
	for i := range engines {
		stats[i] = NewStats(times[i])
	}
	return stats, nil
}

// Side is one engine's line of a comparison report.
type Side struct {
	Engine  string `json:"engine"`
	Version string `json:"version,omitempty"`
	Stats
	// GFLOPS is the counted flops of a step divided by the minimum step
	// time, PeakFraction that over Machine.PeakGFLOPS (0 when unknown).
	GFLOPS       float64 `json:"gflops"`
	PeakFraction float64 `json:"peak_fraction"`
}

// Comparison is the outcome of an interleaved run of our engine against a
// reference, JSON-able for `bsnnctl bench ... --json`.
type Comparison struct {
	Threads int `json:"threads"`
	Warmup  int `json:"warmup"`
	Rounds  int `json:"rounds"`
	// Flops is the dense floating-point work of one step (Conv, Gemm and
	// MatMul, forward and backward), counted from the compiled graph.
	Flops   float64 `json:"flops"`
	Machine Machine `json:"machine"`
	// LoadBefore and LoadAfter are the 1, 5 and 15 minute load averages.
	LoadBefore [3]float64 `json:"load_before"`
	LoadAfter  [3]float64 `json:"load_after"`
	Results    []Side     `json:"results"`
	// RatioMin and RatioMedian are ours / reference (< 1: we are faster);
	// 0 when the reference was not measured.
	RatioMin    float64 `json:"ratio_min,omitempty"`
	RatioMedian float64 `json:"ratio_median,omitempty"`
	// ReferenceError says why the reference was not measured.
	ReferenceError string `json:"reference_error,omitempty"`
}

// Compare interleaves the engines (ours first) and fills a Comparison:
// stats, GFLOP/s for flops per step, ratios of the first engine to the
// second, and the load average around the run.
func Compare(ctx context.Context, m Machine, flops float64, warmup, rounds int, engines ...Engine) (*Comparison, error) {
	c := &Comparison{Threads: m.Threads, Warmup: warmup, Rounds: rounds, Flops: flops, Machine: m}
	c.LoadBefore, _ = LoadAverage()
	stats, err := Interleave(ctx, warmup, rounds, engines...)
	if err != nil {
		return nil, err
	}
	c.LoadAfter, _ = LoadAverage()
	for i, e := range engines {
		s := Side{Engine: e.Name(), Stats: stats[i]}
		if v, ok := e.(interface{ Version() string }); ok {
			s.Version = v.Version()
		}
		if s.Min > 0 && flops > 0 {
			s.GFLOPS = flops / s.Min / 1e9
			if m.PeakGFLOPS > 0 {
				s.PeakFraction = s.GFLOPS / m.PeakGFLOPS
			}
		}
		c.Results = append(c.Results, s)
	}
	if len(stats) > 1 && stats[1].Min > 0 && stats[1].Median > 0 {
		c.RatioMin = stats[0].Min / stats[1].Min
		c.RatioMedian = stats[0].Median / stats[1].Median
	}
	return c, nil
}
