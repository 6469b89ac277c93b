package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/bsnnctl/bsnnctl/internal/bench"
)

// BenchCmd is `bsnnctl bench conv`: speed ratios against PyTorch measured in
// the same run, on the same number of threads.
type BenchCmd struct {
	Conv  BenchConvCmd  `cmd:"" help:"One ResNet basic block (conv3x3-BN-ReLU-conv3x3-BN-add-ReLU), forward + backward: our engine vs PyTorch."`
	Train BenchTrainCmd `cmd:"" help:"One BSNN training step (forward, backward, optimizer): our engine vs the same network in PyTorch."`
	Infer BenchInferCmd `cmd:"" help:"BSNN inference: the packed engine, the float engine and onnxruntime (and onnxruntime on the float ANN), interleaved."`
}

// BenchConvCmd times the ResNet basic block of the float-engine targets.
type BenchConvCmd struct {
	Batch    int  `default:"32" help:"Batch size."`
	Channels int  `default:"64" help:"Channels."`
	Size     int  `default:"32" help:"Height and width."`
	Threads  int  `default:"2" help:"Threads for both engines (GOMAXPROCS and torch.set_num_threads)."`
	Iters    int  `default:"10" help:"Timed iterations (median reported)."`
	NoTorch  bool `name:"no-torch" help:"Time our engine only."`
	JSON     bool `name:"json" help:"Print JSON."`
}

type benchConvResult struct {
	Batch      int     `json:"batch"`
	Channels   int     `json:"channels"`
	Size       int     `json:"size"`
	Threads    int     `json:"threads"`
	GoSeconds  float64 `json:"go_s"`
	GoAlloc    uint64  `json:"go_alloc_bytes_per_step"`
	TorchSecs  float64 `json:"torch_s,omitempty"`
	Ratio      float64 `json:"ratio,omitempty"`
	TorchError string  `json:"torch_error,omitempty"`
}

// Run times both engines and prints the ratio.
func (c *BenchConvCmd) Run(ctx context.Context, g *Globals) error {
	cfg := bench.BlockConfig{Batch: c.Batch, Channels: c.Channels, Size: c.Size, Threads: c.Threads, Iters: c.Iters}
	g.Log.Info("timing our engine", "batch", c.Batch, "channels", c.Channels, "size", c.Size, "threads", c.Threads)
	gr, err := bench.GoBlock(cfg)
	if err != nil {
		return err
	}
	res := benchConvResult{Batch: c.Batch, Channels: c.Channels, Size: c.Size, Threads: c.Threads,
		GoSeconds: gr.Median.Seconds(), GoAlloc: gr.AllocBytes}
	if !c.NoTorch {
		g.Log.Info("timing PyTorch")
		tr, err := bench.TorchBlock(cfg)
		if err != nil {
			res.TorchError = err.Error()
		} else {
			res.TorchSecs = tr.Median.Seconds()
			res.Ratio = gr.Median.Seconds() / tr.Median.Seconds()
		}
	}
	if c.JSON {
		return g.PrintJSON(res)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\tResNet basic block, batch %d, %d channels, %dx%d, forward + backward\n", c.Batch, c.Channels, c.Size, c.Size)
	fmt.Fprintf(tw, "threads\t%d\n", c.Threads)
	fmt.Fprintf(tw, "bsnnctl\t%v per step (median of %d), %d bytes allocated per step\n", gr.Median.Round(time.Microsecond), c.Iters, gr.AllocBytes)
	switch {
	case res.TorchError != "":
		fmt.Fprintf(tw, "PyTorch\tnot measured: %s\n", res.TorchError)
	case !c.NoTorch:
		fmt.Fprintf(tw, "PyTorch\t%v per step (median of %d)\n", time.Duration(res.TorchSecs*float64(time.Second)).Round(time.Microsecond), c.Iters)
		fmt.Fprintf(tw, "ratio\t%.2f (bsnnctl / PyTorch; lower is better)\n", res.Ratio)
	}
	return tw.Flush()
}
