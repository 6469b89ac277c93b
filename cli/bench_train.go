package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/testmodels"
	"github.com/bsnnctl/bsnnctl/train"
)

// BenchTrainCmd is `bsnnctl bench train MODEL.onnx`: one BSNN training step
// (forward, backward, optimizer) in our engine and the equivalent network in
// PyTorch, on the same threads.
type BenchTrainCmd struct {
	Model   string `arg:"" name:"bsnn.onnx" help:"The BSNN to time, e.g. bsnnctl import of testmodels/fixtures/resnet20_op13_folded_dynamic/model.onnx."`
	Arch    string `default:"resnet20" enum:"resnet20,lenet_fmnist,none" help:"The PyTorch network equivalent to MODEL (torch_bench_train.py): ${enum} (none: ours only)."`
	Batch   int    `default:"32" help:"Batch size."`
	Steps   int    `default:"5" help:"Timed steps (median reported)."`
	Threads int    `default:"2" help:"Threads for both engines."`
	JSON    bool   `name:"json" help:"Print JSON."`
}

// Run times the step.
func (c *BenchTrainCmd) Run(ctx context.Context, g *Globals) error {
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	opts := train.BenchOptions{Context: ctx, Batch: c.Batch, Steps: c.Steps}
	if c.Arch != "none" {
		dir, err := os.MkdirTemp("", "bsnnctl-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		script := filepath.Join(dir, "torch_bench_train.py")
		if err := os.WriteFile(script, testmodels.TorchBenchTrainScript(), 0o644); err != nil {
			return err
		}
		opts.TorchArch, opts.Script = c.Arch, script
	}
	var r *train.BenchResult
	err = withThreads(c.Threads, func() (err error) {
		r, err = train.BenchTrainStep(m, opts)
		return err
	})
	if err != nil {
		return fileErr(c.Model, err)
	}
	// The peak RSS is the process's: reading the model, compiling and the
	// timed steps (PyTorch runs in its own process).
	rss := peakRSS()
	if c.JSON {
		return g.PrintJSON(struct {
			*train.BenchResult
			PeakRSS int64 `json:"peak_rss_bytes"`
		}{r, rss})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\tone training step, batch %d, T=%d, input %v, %d parameters\n", r.Batch, r.T, r.InputShape, r.Params)
	fmt.Fprintf(tw, "threads\t%d\n", r.Threads)
	fmt.Fprintf(tw, "bsnnctl\t%.3f s per step (median of %d; min %.3f, max %.3f)\n", r.StepSeconds, r.Steps, r.StepMin, r.StepMax)
	fmt.Fprintf(tw, "bsnnctl peak memory\t%s\n", formatRSS(rss))
	if r.Torch != nil {
		fmt.Fprintf(tw, "PyTorch %s\t%.3f s per step (median)\n", r.Torch.Torch, r.Torch.StepSeconds)
		fmt.Fprintf(tw, "ratio\t%.2f (bsnnctl / PyTorch; lower is better)\n", r.Ratio)
	}
	return tw.Flush()
}
