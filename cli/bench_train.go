package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/testmodels"
	"github.com/bsnnctl/bsnnctl/train"
)

// BenchTrainCmd is `bsnnctl bench train MODEL.onnx`: one BSNN training step
// (forward, backward, optimizer) in our engine and in the same network in
// PyTorch, interleaved round by round on the same threads.
type BenchTrainCmd struct {
	Model      string `arg:"" name:"bsnn.onnx" help:"The BSNN to time, e.g. bsnnctl import of testmodels/fixtures/resnet20_op11_keepbn_dynamic/model.onnx."`
	Arch       string `default:"resnet20" enum:"resnet20,lenet_fmnist,none" help:"The shape of the PyTorch network (testmodels/torch_bench_train.py), which takes its layers and weights from MODEL: ${enum} (none: ours only)."`
	Batch      int    `default:"32" help:"Batch size."`
	Rounds     int    `default:"5" aliases:"steps" help:"Timed rounds; each runs one step of each engine."`
	Warmup     int    `default:"1" help:"Untimed rounds after the probe step."`
	Threads    int    `default:"2" help:"Threads for both engines."`
	CPUProfile string `name:"cpuprofile" type:"path" placeholder:"FILE" help:"Write a CPU profile of the whole run (our engine's steps are the only Go work in it besides compiling)."`
	JSON       bool   `name:"json" help:"Print JSON."`
}

// Run checks that the two networks are the same, interleaves them and
// prints the comparison.
func (c *BenchTrainCmd) Run(ctx context.Context, g *Globals) error {
	if c.Rounds < 1 || c.Warmup < 0 || c.Threads < 1 || c.Batch < 1 {
		return fmt.Errorf("--rounds, --batch and --threads must be at least 1, --warmup at least 0")
	}
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	opts := train.BenchOptions{Context: ctx, Batch: c.Batch, Rounds: c.Rounds, Warmup: c.Warmup}
	if c.Warmup == 0 {
		opts.Warmup = -1
	}
	if c.Arch != "none" {
		opts.Twin = &train.TorchTwin{Arch: c.Arch, Model: c.Model, Script: string(testmodels.TorchBenchTrainScript())}
	}
	stop, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	var r *train.BenchResult
	err = withThreads(c.Threads, func() (err error) {
		r, err = train.BenchTrainStep(m, opts)
		return err
	})
	if err := stop(); err != nil {
		return err
	}
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
	fmt.Fprintf(tw, "workload\tone training step (forward, backward, SGD), batch %d, T=%d, input %v, %d parameters\n", r.Batch, r.T, r.InputShape, r.Params)
	if p := r.Parity; p != nil {
		fmt.Fprintf(tw, "parity\tsame network in PyTorch: %d parameters each; on the probe batch firing rates within %.4f, loss %.6f vs %.6f, outputs %.2g apart (relative)\n",
			p.Params, p.MaxRateDiff, p.Loss, p.TorchLoss, p.OutputRelDiff)
	}
	printComparison(tw, &r.Comparison)
	fmt.Fprintf(tw, "bsnnctl peak memory\t%s\n", formatRSS(rss))
	return tw.Flush()
}
