package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/bsnnctl/bsnnctl/dist"
	"github.com/bsnnctl/bsnnctl/train"
)

// FinetuneCmd is `bsnnctl finetune MODEL.onnx --data SPEC --out RUNDIR`.
type FinetuneCmd struct {
	Model          string  `arg:"" name:"model.onnx" help:"BSNN to fine-tune (portable or train profile), e.g. the output of bsnnctl import."`
	Data           string  `required:"" placeholder:"SPEC" help:"Data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR, folder:DIR; for event-input BSNNs (import --input events) nmnist:DIR, dvsgesture:DIR, cifar10dvs:DIR."`
	Out            string  `required:"" placeholder:"RUNDIR" help:"Run folder: metrics.jsonl, checkpoints, best.onnx, final.onnx, plots/."`
	Epochs         int     `default:"5" help:"Epochs."`
	Batch          int     `default:"64" help:"Training batch size."`
	LR             float64 `name:"lr" help:"Peak learning rate (default 0.1 for sgd, 1e-3 for adam/adamw)."`
	Optimizer      string  `default:"sgd" enum:"sgd,adam,adamw" help:"Optimizer: ${enum}."`
	Momentum       float64 `help:"SGD momentum (default 0.9)."`
	WeightDecay    float64 `name:"weight-decay" help:"Weight decay on weights only (not BN, biases or AGMM alpha)."`
	Schedule       string  `default:"cosine" enum:"cosine,constant" help:"Learning-rate schedule after warm-up: ${enum}."`
	WarmupEpochs   float64 `name:"warmup-epochs" help:"Linear warm-up length in epochs."`
	Loss           string  `default:"tet" enum:"tet,ce" help:"tet: mean over t of the per-step cross-entropy; ce: cross-entropy of the mean output."`
	LabelSmoothing float64 `name:"label-smoothing" help:"Label smoothing in [0, 1)."`
	ClipNorm       float64 `name:"clip-norm" help:"Clip the global gradient norm (0: off)."`
	AGMM           string  `name:"agmm" default:"on" enum:"on,off" help:"AGMM gates on, or off (plain straight-through training of the same network, for ablations)."`
	STE            string  `name:"ste" default:"clipped" enum:"clipped,identity" help:"Straight-through estimator of the sign: ${enum}."`
	TimeSteps      int     `name:"timesteps" help:"Time steps T (must equal the model's bsnn.time_steps; 0: the model's)."`
	AugPad         int     `name:"aug-pad" help:"Images: random-crop padding in pixels (0: no crop)."`
	AugFlip        bool    `name:"aug-flip" help:"Random horizontal flips (images and event frames)."`
	AugRoll        int     `name:"aug-roll" placeholder:"N" help:"Event data: shift the frames of each training sample circularly by up to N pixels (5 is customary; 0: none)."`
	Seed           uint64  `default:"1" help:"Random seed (shuffling, augmentation)."`
	MaxSteps       int     `name:"max-steps" help:"Stop after N optimizer steps (0: run all epochs)."`
	TrainLimit     int     `name:"train-limit" help:"Use only the first N training images (0: all)."`
	TestLimit      int     `name:"test-limit" help:"Use only the first N test images (0: all)."`
	LogEvery       int     `name:"log-every" default:"10" help:"Write a step line to metrics.jsonl every N steps."`
	CkptEvery      int     `name:"checkpoint-every" help:"Also checkpoint every N steps (0: every epoch only)."`
	Keep           int     `name:"keep" default:"3" help:"Keep the last K checkpoints."`
	Threads        int     `help:"Threads (GOMAXPROCS) for the run (0: all)."`
	Resume         bool    `help:"Continue exactly from the newest checkpoint in RUNDIR."`
	JSON           bool    `name:"json" help:"Print the run summary as JSON."`

	Events eventFlags `embed:""`
}

// Validate rejects flag values that cannot work (a usage error, exit 80).
func (c *FinetuneCmd) Validate() error {
	if c.AugRoll < 0 {
		return fmt.Errorf("--aug-roll must be at least 0, got %d", c.AugRoll)
	}
	_, err := c.Events.parse()
	return err
}

// config maps the flags to a train.Config.
func (c *FinetuneCmd) config() train.Config {
	ev, _ := c.Events.parse() // checked by Validate
	return train.Config{
		Bin: ev.bin, FrameSize: ev.size, FrameValues: ev.values, AugRoll: c.AugRoll,
		FrameCache: c.Events.FrameCache, NoFrameCache: c.Events.NoFrameCache,
		Model: c.Model, Data: c.Data, Out: c.Out, Epochs: c.Epochs, Batch: c.Batch, LR: c.LR,
		Optimizer: c.Optimizer, Momentum: c.Momentum, WeightDecay: c.WeightDecay, Schedule: c.Schedule,
		WarmupEpochs: c.WarmupEpochs, Loss: c.Loss, LabelSmoothing: c.LabelSmoothing, ClipNorm: c.ClipNorm,
		AGMM: c.AGMM, STE: c.STE, TimeSteps: c.TimeSteps, AugPad: c.AugPad, AugFlip: c.AugFlip, Seed: c.Seed,
		MaxSteps: c.MaxSteps, TrainLimit: c.TrainLimit, TestLimit: c.TestLimit, LogEvery: c.LogEvery,
		CheckpointEvery: c.CkptEvery, KeepCheckpoints: c.Keep, Resume: c.Resume,
	}
}

// finetuneResult is what finetune prints: the run's summary and the
// process's peak resident set size.
type finetuneResult struct {
	*train.Summary
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// distributed: under mpirun (mpi build) finetune is one rank of a
// data-parallel job.
func (c *FinetuneCmd) distributed() {}

// Run fine-tunes the model: in one process, or, when a launcher started
// several processes of an mpi build, as one rank of a data-parallel job
// (rank 0 prints the summary; an error is printed once).
func (c *FinetuneCmd) Run(ctx context.Context, g *Globals) (err error) {
	comm, err := dist.Open()
	if err != nil {
		return err
	}
	defer func() { err = closeComm(comm, err) }()
	var s *train.Summary
	err = withThreads(c.Threads, func() (err error) {
		s, err = finetune(ctx, g, comm, c.config())
		return err
	})
	if err != nil || comm.Rank() != 0 {
		return err
	}
	r := finetuneResult{Summary: s, PeakRSS: peakRSS()}
	if c.JSON {
		return g.PrintJSON(r)
	}
	return writeSummary(g, r)
}

// finetune runs a Trainer, one rank of comm, with the command's logger and
// progress bars.
func finetune(ctx context.Context, g *Globals, comm dist.Comm, cfg train.Config) (*train.Summary, error) {
	bar := g.progress()
	defer bar.finish()
	t, err := train.NewTrainer(cfg, train.WithComm(comm), train.WithLogger(g.rankLogger(comm.Rank())),
		train.WithObserver(bar.observer()))
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return t.Run(ctx)
}

func writeSummary(g *Globals, s finetuneResult) error {
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "run folder\t%s\n", s.RunDir)
	if s.Ranks > 1 {
		fmt.Fprintf(tw, "ranks\t%d (data-parallel)\n", s.Ranks)
	}
	fmt.Fprintf(tw, "epochs, steps\t%d, %d (%s)\n", s.Epochs, s.Steps, s.Stopped)
	for i, a := range s.TestAcc {
		fmt.Fprintf(tw, "test accuracy after epoch %d\t%.4f\n", i+1, a)
	}
	fmt.Fprintf(tw, "best\t%.4f (epoch %d) -> %s\n", s.BestAcc, s.BestEpoch, s.BestModel)
	if s.Final != nil {
		fmt.Fprintf(tw, "final\t%.4f accuracy, firing rate %.3f, %.3f uJ per sample -> %s\n", s.Final.Accuracy, s.Final.FiringRate, s.Final.EnergyUJ, s.FinalModel)
	}
	fmt.Fprintf(tw, "time\t%.1f s\n", s.Seconds)
	fmt.Fprintf(tw, "peak memory\t%s\n", formatRSS(s.PeakRSS))
	return tw.Flush()
}
