// Command finetune imports a float ANN (or reads a BSNN), fine-tunes it with
// train.Run and prints the summary as JSON: the experiment driver of
// docs/results.md until `bsnnctl finetune` calls train.Run itself. Its flags
// follow shared/spec/cli.md.
//
//	go run ./train/internal/finetune -model testmodels/lenet_fmnist.onnx -import -timesteps 4 \
//	    -data fashion-mnist -out runs/agmm_on -epochs 5 -batch 64 -optimizer adam -lr 1e-3
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train"
	"github.com/bsnnctl/bsnnctl/train/data"
)

func main() {
	var (
		cfg      train.Config
		imp      bool
		evalOnly bool
		bench    string
		steps    int
		compare  string
	)
	flag.StringVar(&cfg.Model, "model", "", "BSNN .onnx (or a float ANN with -import)")
	flag.BoolVar(&imp, "import", false, "convert the float ANN first (convert.Convert, AGMM gates on)")
	flag.BoolVar(&evalOnly, "eval", false, "only evaluate the model on the test split")
	flag.StringVar(&bench, "bench-torch", "", "time training steps (BenchTrainStep) and PyTorch's on the network of that name (resnet20, lenet_fmnist) instead of training")
	flag.IntVar(&steps, "bench-steps", 5, "timed steps for -bench-torch")
	flag.StringVar(&compare, "plot-compare", "", "only plot: the run in -out overlaid with this run folder (to -out/plots/compare)")
	flag.StringVar(&cfg.Data, "data", "fashion-mnist", "data SPEC")
	flag.StringVar(&cfg.Out, "out", "", "RUNDIR")
	flag.IntVar(&cfg.Epochs, "epochs", 5, "epochs")
	flag.IntVar(&cfg.Batch, "batch", 64, "batch size")
	flag.IntVar(&cfg.EvalBatch, "eval-batch", 256, "evaluation batch size")
	flag.Float64Var(&cfg.LR, "lr", 0, "learning rate (0: 0.1 sgd, 1e-3 adam)")
	flag.Float64Var(&cfg.MinLR, "min-lr", 0, "final learning rate of the cosine schedule")
	flag.StringVar(&cfg.Optimizer, "optimizer", "sgd", "sgd | adam | adamw")
	flag.Float64Var(&cfg.WeightDecay, "weight-decay", 0, "weight decay (weights only)")
	flag.StringVar(&cfg.Schedule, "schedule", "cosine", "cosine | constant")
	flag.Float64Var(&cfg.WarmupEpochs, "warmup-epochs", 0, "linear warm-up in epochs")
	flag.StringVar(&cfg.Loss, "loss", "tet", "tet | ce")
	flag.Float64Var(&cfg.LabelSmoothing, "label-smoothing", 0, "label smoothing")
	flag.Float64Var(&cfg.ClipNorm, "clip-norm", 0, "global gradient-norm bound (0: off)")
	flag.StringVar(&cfg.AGMM, "agmm", "on", "on | off")
	flag.IntVar(&cfg.TimeSteps, "timesteps", 0, "T (with -import: conversion T; else must match the model)")
	flag.IntVar(&cfg.AugPad, "aug-pad", 0, "random-crop padding")
	flag.BoolVar(&cfg.AugFlip, "aug-flip", false, "random horizontal flips")
	var seed uint64
	flag.Uint64Var(&seed, "seed", 0, "seed")
	flag.IntVar(&cfg.MaxSteps, "max-steps", 0, "stop after N steps")
	flag.IntVar(&cfg.LogEvery, "log-every", 10, "a step line every N steps")
	flag.IntVar(&cfg.CheckpointEvery, "checkpoint-every", 0, "checkpoint every N steps")
	flag.IntVar(&cfg.KeepCheckpoints, "keep", 3, "checkpoints kept")
	flag.IntVar(&cfg.Threads, "threads", 0, "GOMAXPROCS")
	flag.IntVar(&cfg.TrainLimit, "train-limit", 0, "use the first N training images")
	flag.IntVar(&cfg.TestLimit, "test-limit", 0, "use the first N test images")
	flag.BoolVar(&cfg.Resume, "resume", false, "continue from the newest checkpoint in -out")
	flag.BoolVar(&cfg.NoProgress, "no-progress", false, "no progress bar")
	flag.Parse()
	cfg.Seed = seed
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if compare != "" {
		if err := train.Plot(cfg.Out, compare); err != nil {
			fmt.Fprintln(os.Stderr, "finetune:", err)
			os.Exit(1)
		}
		return
	}
	if bench != "" {
		if err := runBench(ctx, cfg, imp, bench, steps); err != nil {
			fmt.Fprintln(os.Stderr, "finetune:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, cfg, imp, evalOnly, log); err != nil {
		fmt.Fprintln(os.Stderr, "finetune:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg train.Config, imp, evalOnly bool, log *slog.Logger) error {
	if imp && !cfg.Resume {
		src, err := onnx.DecodeFile(cfg.Model)
		if err != nil {
			return err
		}
		opts := convert.DefaultOptions()
		if cfg.TimeSteps > 0 {
			opts.TimeSteps = cfg.TimeSteps
		}
		opts.SourcePath = cfg.Model
		res, err := convert.Convert(src, opts)
		if err != nil {
			return err
		}
		cfg.ModelProto = res.Model
		cfg.Model = ""
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if evalOnly {
		m := cfg.ModelProto
		if m == nil {
			var err error
			if m, err = onnx.DecodeFile(cfg.Model); err != nil {
				return err
			}
		}
		ds, err := openTest(cfg)
		if err != nil {
			return err
		}
		r, err := train.Evaluate(m, ds, train.EvalOptions{Context: ctx, Batch: cfg.EvalBatch, Threads: cfg.Threads,
			Limit: cfg.TestLimit, AGMM: cfg.AGMM})
		if err != nil {
			return err
		}
		return enc.Encode(r)
	}
	sum, err := train.Run(ctx, cfg, log)
	if err != nil {
		return err
	}
	return enc.Encode(sum)
}

func openTest(cfg train.Config) (*data.Dataset, error) {
	spec, err := data.ParseSpec(cfg.Data)
	if err != nil {
		return nil, err
	}
	return data.Open(spec, data.Test)
}

func runBench(ctx context.Context, cfg train.Config, imp bool, arch string, steps int) error {
	m, err := onnx.DecodeFile(cfg.Model)
	if err != nil {
		return err
	}
	if imp {
		opts := convert.DefaultOptions()
		if cfg.TimeSteps > 0 {
			opts.TimeSteps = cfg.TimeSteps
		}
		res, err := convert.Convert(m, opts)
		if err != nil {
			return err
		}
		m = res.Model
	}
	r, err := train.BenchTrainStep(m, train.BenchOptions{Context: ctx, Batch: cfg.Batch, Steps: steps,
		Threads: cfg.Threads, TorchArch: arch})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
