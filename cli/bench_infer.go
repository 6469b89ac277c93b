package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bsnnctl/bsnnctl/internal/inferbench"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// BenchInferCmd is `bsnnctl bench infer MODEL.onnx [--ann ANN.onnx]
// [--batch 1,32] [--threads N] [--json]`.
type BenchInferCmd struct {
	Model   string `arg:"" name:"bsnn.onnx" help:"The BSNN to time (any profile; it needs a dynamic batch for batches other than its fixed one)."`
	ANN     string `name:"ann" placeholder:"ANN.onnx" help:"Also time onnxruntime on this float network (the one the BSNN was imported from)."`
	Batch   []int  `default:"1,32" sep:"," placeholder:"B,B,..." help:"Batch sizes, timed one after the other."`
	Threads int    `default:"2" help:"Threads of every engine (onnxruntime: intra-op threads; inter-op 1)."`
	Rounds  int    `default:"10" help:"Timed rounds (at least 5); every round runs each engine once, in turn."`
	Warmup  int    `default:"2" help:"Untimed rounds first (at least 1: the first checks the engines' outputs)."`
	JSON    bool   `name:"json" help:"Print JSON."`
}

// Validate rejects flag values that cannot work (a usage error, exit 80).
func (c *BenchInferCmd) Validate() error {
	switch {
	case c.Rounds < inferbench.MinRounds:
		return fmt.Errorf("--rounds must be at least %d, got %d", inferbench.MinRounds, c.Rounds)
	case c.Warmup < 1:
		return fmt.Errorf("--warmup must be at least 1, got %d", c.Warmup)
	case c.Threads < 1:
		return fmt.Errorf("--threads must be at least 1, got %d", c.Threads)
	case len(c.Batch) == 0:
		return fmt.Errorf("--batch needs at least one size")
	}
	for _, b := range c.Batch {
		if b < 1 {
			return fmt.Errorf("--batch sizes must be positive, got %d", b)
		}
	}
	return nil
}

// Run times the engines and prints the report.
func (c *BenchInferCmd) Run(ctx context.Context, g *Globals) error {
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	cfg := inferbench.Config{Model: m, Batches: c.Batch, Threads: c.Threads, Warmup: c.Warmup, Rounds: c.Rounds,
		Log: g.Log.Info}
	if c.ANN != "" {
		if cfg.ANN, err = onnx.DecodeFile(c.ANN); err != nil {
			return fileErr(c.ANN, err)
		}
	}
	var r *inferbench.Report
	err = withThreads(c.Threads, func() (err error) {
		r, err = inferbench.Run(ctx, cfg)
		return err
	})
	if err != nil {
		return fileErr(c.Model, err)
	}
	if c.JSON {
		return g.PrintJSON(r)
	}
	return c.write(g, r)
}

func (c *BenchInferCmd) write(g *Globals, r *inferbench.Report) error {
	w := g.Stdout
	packed := 0
	for _, l := range r.Plan {
		if l.Packed {
			packed++
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (T=%d, input %v per sample, %d of %d compute layers packed)\n", c.Model, r.TimeSteps, r.Input, packed, len(r.Plan))
	if c.ANN != "" {
		fmt.Fprintf(tw, "ANN\t%s\n", c.ANN)
	}
	fmt.Fprintf(tw, "cpu\t%s\n", r.CPU)
	fmt.Fprintf(tw, "threads\t%d (onnxruntime: %d intra-op, 1 inter-op, default graph optimizations)\n", r.Threads, r.Threads)
	fmt.Fprintf(tw, "rounds\t%d timed after %d warm-up, engines interleaved round by round\n", r.Rounds, r.Warmup)
	fmt.Fprintf(tw, "load average\t%s before, %s after\n", loadString(r.LoadBefore), loadString(r.LoadAfter))
	if r.ORTVersion != "" {
		fmt.Fprintf(tw, "onnxruntime\t%s\n", r.ORTVersion)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Skipped {
		if s.Batch == 0 {
			fmt.Fprintf(w, "%s: not measured: %s\n", s.Engine, oneLine(s.Reason))
		} else {
			fmt.Fprintf(w, "%s, batch %d: not measured: %s\n", s.Engine, s.Batch, oneLine(s.Reason))
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "engine\tbatch\tmin\tmedian\timages/s\toutputs vs float engine")
	for _, res := range r.Results {
		diff := "-"
		if res.MaxRelDiff >= 0 {
			diff = fmt.Sprintf("%.1e", res.MaxRelDiff)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t%s\n", res.Engine, res.Batch, seconds(res.Min), seconds(res.Median), res.ImagesPerS, diff)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "speed-up of the packed engine (the other engine's time / the packed engine's):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "batch\tversus\tmin\tmedian")
		for _, q := range r.Ratios {
			fmt.Fprintf(tw, "%d\t%s\t%.2fx\t%.2fx\n", q.Batch, q.Versus, q.Min, q.Median)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	_, err := fmt.Fprintf(w, "peak RSS  %s\n", formatRSS(r.PeakRSS))
	return err
}

func loadString(l [3]float64) string {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = fmt.Sprintf("%.2f", v)
	}
	return strings.Join(parts, " ")
}

// seconds prints a step time with a unit that keeps 3-4 digits.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond).String()
}
