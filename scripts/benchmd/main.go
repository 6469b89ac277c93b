// Command benchmd renders the JSON reports of `bsnnctl bench conv`, `bench
// train` and `bench infer --json` as the markdown tables of
// docs/results.md, so that the published figures are the benches' own
// output and nothing is copied by hand. scripts/bench-results.sh runs the
// benches and this command.
//
//	go run ./scripts/benchmd conv.json train.json infer.json
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bsnnctl/bsnnctl/internal/bench"
	"github.com/bsnnctl/bsnnctl/internal/inferbench"
	"github.com/bsnnctl/bsnnctl/train"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchmd REPORT.json...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		if err := render(os.Stdout, path); err != nil {
			fmt.Fprintf(os.Stderr, "benchmd: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

// render prints one report, recognised by the fields only its kind has.
func render(w io.Writer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var kind struct {
		Channels int             `json:"channels"`
		Params   int             `json:"params"`
		Ratios   json.RawMessage `json:"ratios"`
	}
	if err := json.Unmarshal(data, &kind); err != nil {
		return err
	}
	switch {
	case kind.Channels > 0:
		var r bench.BlockComparison
		if err := json.Unmarshal(data, &r); err != nil {
			return err
		}
		fmt.Fprintf(w, "One ResNet basic block (batch %d, %d channels, %d×%d), forward and backward; %d B allocated per step by bsnnctl.\n\n",
			r.Batch, r.Channels, r.Size, r.Size, r.AllocBytes)
		comparison(w, &r.Comparison)
	case kind.Params > 0:
		var r struct {
			train.BenchResult
			PeakRSS int64 `json:"peak_rss_bytes"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return err
		}
		fmt.Fprintf(w, "One training step (forward, backward, SGD), batch %d, T = %d, %d parameters; bsnnctl peak RSS %.0f MiB.\n", r.Batch, r.T, r.Params, float64(r.PeakRSS)/(1<<20))
		if p := r.Parity; p != nil {
			fmt.Fprintf(w, "Parity on the probe batch: %d parameters on both sides, firing rates within %.4f, loss %.6f vs %.6f.\n", p.TorchParams, p.MaxRateDiff, p.Loss, p.TorchLoss)
		}
		fmt.Fprintln(w)
		comparison(w, &r.Comparison)
	case kind.Ratios != nil:
		var r inferbench.Report
		if err := json.Unmarshal(data, &r); err != nil {
			return err
		}
		inference(w, &r)
	default:
		return fmt.Errorf("not a report of bsnnctl bench conv, train or infer")
	}
	fmt.Fprintln(w)
	return nil
}

// comparison prints an interleaved comparison of bsnnctl with PyTorch.
func comparison(w io.Writer, c *bench.Comparison) {
	fmt.Fprintf(w, "%s, %d threads, %d timed rounds after %d warm-up, interleaved; load average %.2f before, %.2f after; %.2f GFLOP per step (counted as direct products; Winograd 3×3 layers do fewer, so a rate can pass the peak); FMA peak %.0f GFLOP/s.\n\n",
		c.Machine.Model, c.Threads, c.Rounds, c.Warmup, c.LoadBefore[0], c.LoadAfter[0], c.Flops/1e9, c.Machine.PeakGFLOPS)
	fmt.Fprintln(w, "| engine | min | median | GFLOP/s at min | of peak |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, s := range c.Results {
		name := strings.TrimSpace(s.Engine + " " + s.Version)
		fmt.Fprintf(w, "| %s | %.1f ms | %.1f ms | %.1f | %.0f %% |\n", name, 1e3*s.Min, 1e3*s.Median, s.GFLOPS, 100*s.PeakFraction)
	}
	switch {
	case c.ReferenceError != "":
		fmt.Fprintf(w, "\nPyTorch was not measured: %s\n", c.ReferenceError)
	case c.RatioMin > 0:
		fmt.Fprintf(w, "\nRatio bsnnctl / PyTorch: **%.3f** of minimums, %.3f of medians (lower is better).\n", c.RatioMin, c.RatioMedian)
	}
}

// inference prints a `bench infer` report: every engine at every batch
// size, then the packed engine's speed-ups.
func inference(w io.Writer, r *inferbench.Report) {
	fmt.Fprintf(w, "%s, %d threads, T = %d, %d timed rounds after %d warm-up, interleaved; load average %.2f before, %.2f after; peak RSS %.0f MiB.\n\n",
		r.CPU, r.Threads, r.TimeSteps, r.Rounds, r.Warmup, r.LoadBefore[0], r.LoadAfter[0], float64(r.PeakRSS)/(1<<20))
	fmt.Fprintln(w, "| engine | batch | min | median | images/s | max rel. diff vs float |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, x := range r.Results {
		diff := "—"
		if x.MaxRelDiff >= 0 {
			diff = fmt.Sprintf("%.1e", x.MaxRelDiff)
		}
		fmt.Fprintf(w, "| %s | %d | %.2f ms | %.2f ms | %.0f | %s |\n", x.Engine, x.Batch, 1e3*x.Min, 1e3*x.Median, x.ImagesPerS, diff)
	}
	fmt.Fprintln(w, "\n| packed engine vs | batch | speed-up (mins) | speed-up (medians) |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, x := range r.Ratios {
		fmt.Fprintf(w, "| %s | %d | %.2f× | %.2f× |\n", x.Versus, x.Batch, x.Min, x.Median)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "\nNot measured: %s (batch %d): %s\n", s.Engine, s.Batch, s.Reason)
	}
}
