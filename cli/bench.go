package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"text/tabwriter"

	"github.com/bsnnctl/bsnnctl/internal/bench"
)

// BenchCmd is `bsnnctl bench conv|train`: speed against PyTorch, the two
// engines interleaved round by round in one run on the same threads.
type BenchCmd struct {
	Conv  BenchConvCmd  `cmd:"" help:"One ResNet basic block (conv3x3-BN-ReLU-conv3x3-BN-add-ReLU), forward + backward: our engine vs PyTorch."`
	Train BenchTrainCmd `cmd:"" help:"One BSNN training step (forward, backward, optimizer): our engine vs the same network in PyTorch."`
	Infer BenchInferCmd `cmd:"" help:"BSNN inference: the packed engine, the float engine and onnxruntime (and onnxruntime on the float ANN), interleaved."`
}

// BenchConvCmd times the ResNet basic block of the float-engine targets.
type BenchConvCmd struct {
	Batch      int    `default:"32" help:"Batch size."`
	Channels   int    `default:"64" help:"Channels."`
	Size       int    `default:"32" help:"Height and width."`
	Threads    int    `default:"2" help:"Threads for both engines (GOMAXPROCS and torch.set_num_threads)."`
	Rounds     int    `default:"10" aliases:"iters" help:"Timed rounds; each runs one step of each engine."`
	Warmup     int    `default:"2" help:"Untimed rounds first."`
	NoTorch    bool   `name:"no-torch" help:"Time our engine only."`
	CPUProfile string `name:"cpuprofile" type:"path" placeholder:"FILE" help:"Write a CPU profile of the whole run (our engine's steps are the only Go work in it)."`
	JSON       bool   `name:"json" help:"Print JSON."`
}

// Run interleaves both engines and prints the comparison.
func (c *BenchConvCmd) Run(ctx context.Context, g *Globals) error {
	if c.Rounds < 1 || c.Warmup < 0 || c.Threads < 1 {
		return fmt.Errorf("--rounds must be at least 1, --warmup at least 0 and --threads at least 1")
	}
	cfg := bench.BlockConfig{Batch: c.Batch, Channels: c.Channels, Size: c.Size, Threads: c.Threads, Warmup: c.Warmup, Rounds: c.Rounds}
	g.Log.Info("benchmarking", "batch", c.Batch, "channels", c.Channels, "size", c.Size, "threads", c.Threads, "rounds", c.Rounds)
	stop, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	var res *bench.BlockComparison
	err = withThreads(c.Threads, func() (err error) {
		res, err = bench.RunBlock(ctx, cfg, c.NoTorch)
		return err
	})
	if err := stop(); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	if c.JSON {
		return g.PrintJSON(res)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\tResNet basic block, batch %d, %d channels, %dx%d, forward + backward\n", c.Batch, c.Channels, c.Size, c.Size)
	printComparison(tw, &res.Comparison)
	fmt.Fprintf(tw, "allocated\t%d bytes per step (bsnnctl)\n", res.AllocBytes)
	return tw.Flush()
}

// printComparison writes the lines every bench command shares: machine,
// rounds, load, one line per engine and the ratios.
func printComparison(w io.Writer, c *bench.Comparison) {
	m := c.Machine
	fmt.Fprintf(w, "dense work\t%.2f GFLOP per step (Conv/Gemm forward + backward, counted from the graph as direct products: Winograd 3x3 layers do fewer, so a rate can pass the peak)\n", c.Flops/1e9)
	fmt.Fprintf(w, "machine\t%s, %d threads; FMA peak %.0f GFLOP/s = %s\n", m.Model, c.Threads, m.PeakGFLOPS, m.Assumption)
	fmt.Fprintf(w, "rounds\t%d timed after %d warm-up, interleaved (%s)\n", c.Rounds, c.Warmup, engineOrder(c))
	fmt.Fprintf(w, "load average\t%.2f %.2f %.2f before, %.2f %.2f %.2f after\n",
		c.LoadBefore[0], c.LoadBefore[1], c.LoadBefore[2], c.LoadAfter[0], c.LoadAfter[1], c.LoadAfter[2])
	if m.Cores > 0 && max(c.LoadBefore[0], c.LoadAfter[0]) > float64(m.Cores)+0.5 {
		fmt.Fprintf(w, "\tthe machine is busy (load above its %d cores): both engines lose time to other processes, PyTorch's OpenMP threads more (they wait for one another at every parallel region); compare minimums, on a quieter machine\n", m.Cores)
	}
	for _, s := range c.Results {
		name := s.Engine
		if s.Version != "" {
			name += " " + s.Version
		}
		fmt.Fprintf(w, "%s\tmin %.4f s, median %.4f s, max %.4f s; %.1f GFLOP/s at min (%.0f%% of peak)\n",
			name, s.Min, s.Median, s.Max, s.GFLOPS, 100*s.PeakFraction)
	}
	switch {
	case c.ReferenceError != "":
		fmt.Fprintf(w, "PyTorch\tnot measured: %s\n", c.ReferenceError)
	case c.RatioMin > 0:
		fmt.Fprintf(w, "ratio\t%.3f of minimums, %.3f of medians (bsnnctl / PyTorch; lower is better)\n", c.RatioMin, c.RatioMedian)
	}
}

func engineOrder(c *bench.Comparison) string {
	s := ""
	for _, r := range c.Results {
		s += r.Engine + ", "
	}
	return s + "..."
}

// startCPUProfile starts a CPU profile into path ("" for none) and returns
// the function that stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
