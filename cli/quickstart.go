package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/dist"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/nir/nirbsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/testmodels"
	"github.com/bsnnctl/bsnnctl/train"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// QuickstartCmd is `bsnnctl quickstart [--out DIR]`: the whole pipeline on
// the embedded default model (a LeNet-style CNN trained on Fashion-MNIST in
// PyTorch) and an embedded slice of Fashion-MNIST (4000 training and 1000
// test images): import -> finetune -> eval -> export (ONNX, and NIR when
// the network has no AGMM gates, which NIR cannot express).
type QuickstartCmd struct {
	Out        string  `default:"bsnnctl-quickstart" placeholder:"DIR" help:"Folder for the files (created; an existing run there is replaced)."`
	Epochs     int     `default:"3" help:"Fine-tuning epochs."`
	TimeSteps  int     `name:"timesteps" default:"4" help:"Time steps T."`
	Batch      int     `default:"64" help:"Training batch size."`
	LR         float64 `name:"lr" default:"0.001" help:"Peak learning rate (Adam)."`
	TrainLimit int     `name:"train-limit" help:"Use only the first N of the 4000 training images (0: all)."`
	TestLimit  int     `name:"test-limit" help:"Use only the first N of the 1000 test images (0: all)."`
	Threads    int     `help:"Threads (0: all)."`
	AGMM       string  `name:"agmm" default:"on" enum:"on,off" help:"AGMM gates on, or off: a BSNN without gates, which also exports to NIR (bsnn.nir)."`
}

// Run executes the pipeline and prints what it did.
func (c *QuickstartCmd) Run(ctx context.Context, g *Globals) error {
	return withThreads(c.Threads, func() error { return c.run(ctx, g) })
}

func (c *QuickstartCmd) run(ctx context.Context, g *Globals) error {
	start := time.Now()
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	// 1. import: the embedded float ANN becomes a BSNN.
	src := testmodels.DefaultModel()
	ann, err := onnx.Decode(bytes.NewReader(src))
	if err != nil {
		return fmt.Errorf("embedded model: %w", err)
	}
	annPath := filepath.Join(c.Out, "ann.onnx")
	if err := onnx.WriteFileAtomic(annPath, src); err != nil {
		return err
	}
	opts := convert.DefaultOptions()
	opts.TimeSteps = c.TimeSteps
	opts.AGMM = c.AGMM == "on"
	opts.SourcePath = annPath
	opts.SourceBytes = src
	opts.ProducerVersion = Version
	conv, err := convert.Convert(ann, opts)
	if err != nil {
		return err
	}
	bsnnPath := filepath.Join(c.Out, "bsnn.onnx")
	if err := onnx.EncodeFile(bsnnPath, conv.Model); err != nil {
		return err
	}
	g.Log.Info("imported the default model", "file", bsnnPath, "binary_layers", len(bsnn.BinaryLayers(conv.Model)), "T", c.TimeSteps)

	// 2. finetune on the embedded Fashion-MNIST slice.
	spec := data.Spec{Kind: data.FashionMNIST}
	trainSet, err := data.OpenFS(testmodels.FashionMNISTSlice(), spec, data.Train)
	if err != nil {
		return fmt.Errorf("embedded data: %w", err)
	}
	testSet, err := data.OpenFS(testmodels.FashionMNISTSlice(), spec, data.Test)
	if err != nil {
		return fmt.Errorf("embedded data: %w", err)
	}
	runDir := filepath.Join(c.Out, "run")
	if err := os.RemoveAll(runDir); err != nil {
		return err
	}
	sum, err := finetune(ctx, g, dist.Local{}, train.Config{
		ModelProto: conv.Model, TrainSet: trainSet, TestSet: testSet, Out: runDir,
		Epochs: c.Epochs, Batch: c.Batch, Optimizer: train.Adam, LR: c.LR,
		TrainLimit: c.TrainLimit, TestLimit: c.TestLimit, Seed: 1, AGMM: c.AGMM,
	})
	if err != nil {
		return err
	}

	// 3. eval is the final evaluation of the run (sum.Final); 4. export.
	final, err := onnx.DecodeFile(sum.FinalModel)
	if err != nil {
		return err
	}
	files := map[bsnn.Profile]string{}
	for _, p := range []bsnn.Profile{bsnn.ProfilePortable, bsnn.ProfilePacked} {
		out, err := export.Export(final, p, export.Options{ProducerVersion: Version})
		if err != nil {
			return fmt.Errorf("export %s: %w", p, err)
		}
		path := filepath.Join(c.Out, "bsnn_"+string(p)+".onnx")
		if err := onnx.EncodeFile(path, out); err != nil {
			return err
		}
		files[p] = path
	}
	nirPath, err := c.writeNIR(final)
	if err != nil {
		return err
	}
	packed, err := onnx.DecodeFile(files[bsnn.ProfilePacked])
	if err != nil {
		return err
	}
	rep, err := export.Describe(packed)
	if err != nil {
		return err
	}
	if st, err := os.Stat(files[bsnn.ProfilePacked]); err == nil {
		rep.FileBytes = st.Size()
	}

	// What was done.
	w := g.Stdout
	info := testmodels.DefaultModelInfo()
	fmt.Fprintln(w, "bsnnctl quickstart: import -> finetune -> eval -> export on the embedded LeNet and Fashion-MNIST slice")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "1. import\t%s -> %s (T=%d, AGMM %s, %d binary layers)\n", annPath, bsnnPath, c.TimeSteps, c.AGMM, len(bsnn.BinaryLayers(conv.Model)))
	used := trainSet.Len()
	if c.TrainLimit > 0 && c.TrainLimit < used {
		used = c.TrainLimit
	}
	fmt.Fprintf(tw, "2. finetune\t%d epochs, %d steps, %d training images, Adam lr %g -> %s\n", sum.Epochs, sum.Steps, used, c.LR, runDir)
	for i, a := range sum.TestAcc {
		fmt.Fprintf(tw, "\ttest accuracy after epoch %d: %.4f\n", i+1, a)
	}
	if sum.Final != nil {
		fmt.Fprintf(tw, "3. eval\ttest accuracy %.4f on %d images (float ANN in PyTorch: %.4f on the full test set); firing rate %.3f; %.3f uJ per sample\n",
			sum.Final.Accuracy, sum.Final.Samples, info.TestAccuracy, sum.Final.FiringRate, sum.Final.EnergyUJ)
	}
	fmt.Fprintf(tw, "4. export\t%s (portable: custom ops with ONNX function bodies)\n", files[bsnn.ProfilePortable])
	fmt.Fprintf(tw, "\t%s (packed: 1 bit per binary weight)\n", files[bsnn.ProfilePacked])
	if nirPath != "" {
		fmt.Fprintf(tw, "\t%s (NIR, for snnTorch, Norse, SpikingJelly and neuromorphic hardware)\n", nirPath)
	} else {
		fmt.Fprintf(tw, "\tno NIR file: NIR cannot express the AGMM gates (quickstart --agmm off writes one)\n")
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "size report (packed file):")
	if err := rep.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmetrics: %s; plots: %s\n", filepath.Join(runDir, train.MetricsFile), filepath.Join(runDir, train.PlotsDir))
	fmt.Fprintf(w, "done in %s; peak memory %s\n", time.Since(start).Round(time.Second), formatRSS(peakRSS()))
	if sum.Final != nil {
		fmt.Fprintf(w, "test accuracy: %.4f\n", sum.Final.Accuracy)
	}
	return nil
}

// writeNIR exports the fine-tuned model as bsnn.nir and returns its path;
// "" when the model has AGMM gates in forward mode, which NIR cannot
// express (docs/spec/nir.md).
func (c *QuickstartCmd) writeNIR(final *onnx.Model) (string, error) {
	if c.AGMM == "on" {
		return "", nil
	}
	graph, err := nirbsnn.Export(final, nirbsnn.ExportOptions{Producer: "bsnnctl " + Version})
	if err != nil {
		return "", fmt.Errorf("export nir: %w", err)
	}
	path := filepath.Join(c.Out, "bsnn.nir")
	if err := nir.WriteFile(path, graph); err != nil {
		return "", err
	}
	return path, nil
}
