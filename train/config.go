package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// Optimizer kinds.
const (
	SGD   = "sgd"
	Adam  = "adam"
	AdamW = "adamw"
)

// Loss kinds.
const (
	LossTET = "tet" // mean over t of CE(o_t, y) on the per-step logits (spec §3.8, default)
	LossCE  = "ce"  // CE on the time-averaged output
)

// Schedules.
const (
	ScheduleCosine   = "cosine"   // linear warm-up, then cosine annealing to MinLR
	ScheduleConstant = "constant" // linear warm-up, then constant
)

// Config is everything a fine-tuning run needs. The zero value of every field
// means its documented default (see Defaults); `bsnnctl finetune` fills it
// from its flags and runs a Trainer.
type Config struct {
	// Model is the BSNN to fine-tune (portable or train profile; a train-profile
	// file also provides the optimizer state to continue from). Ignored with
	// Resume when RUNDIR holds a checkpoint. ModelProto, when set, is used
	// instead of reading Model.
	Model      string      `json:"model"`
	ModelProto *onnx.Model `json:"-"`
	// Data is a --data SPEC (data.ParseSpec). TrainSet/TestSet, when set, are
	// used instead (for example an embedded data set); both must be given.
	Data     string        `json:"data"`
	TrainSet *data.Dataset `json:"-"`
	TestSet  *data.Dataset `json:"-"`
	// TrainLimit / TestLimit use only the first N images of a split (0: all).
	TrainLimit int `json:"train_limit,omitempty"`
	TestLimit  int `json:"test_limit,omitempty"`
	// Out is RUNDIR: metrics.jsonl, checkpoints, best.onnx, final.onnx.
	Out string `json:"out"`

	Epochs    int     `json:"epochs"`     // default 5
	Batch     int     `json:"batch"`      // training batch, default 64
	EvalBatch int     `json:"eval_batch"` // default 256 (the last partial batch gets its own program)
	LR        float64 `json:"lr"`         // default 0.1 for sgd, 1e-3 for adam/adamw
	MinLR     float64 `json:"min_lr"`     // end of the cosine schedule (default 0)
	Optimizer string  `json:"optimizer"`  // sgd (default) | adam | adamw
	Momentum  float64 `json:"momentum"`   // sgd, default 0.9 (negative: none)
	Nesterov  bool    `json:"nesterov"`
	Beta1     float64 `json:"beta1"` // adam, default 0.9
	Beta2     float64 `json:"beta2"` // adam, default 0.999
	Eps       float64 `json:"eps"`   // adam, default 1e-8
	// WeightDecay applies to weights only: binary latent weights and float
	// Conv/MatMul/Gemm weights, never BN parameters, biases or AGMM alpha.
	// sgd and adam add it to the gradient (L2); adamw decouples it.
	WeightDecay float64 `json:"weight_decay"`

	Schedule     string  `json:"schedule"`      // cosine (default) | constant
	WarmupSteps  int     `json:"warmup_steps"`  // linear warm-up length in steps
	WarmupEpochs float64 `json:"warmup_epochs"` // or in epochs (WarmupSteps wins)

	Loss           string  `json:"loss"`            // tet (default) | ce
	LabelSmoothing float64 `json:"label_smoothing"` // in [0, 1)
	ClipNorm       float64 `json:"clip_norm"`       // global gradient norm bound (0: off)
	// AGMM is "on" (default) or "off": off bypasses every AGMMGate node
	// (its consumers read its input), so the same network trains with the
	// plain straight-through estimator.
	AGMM string `json:"agmm"`
	// STE is BipolarQuant's estimator: "clipped" (default) or "identity".
	STE string `json:"ste"`
	// TimeSteps must equal the model's bsnn.time_steps (0: take it from the
	// model); re-convert the source network for another T.
	TimeSteps int `json:"time_steps"`

	// Augmentation of training images: random crop with AugPad pixels of
	// padding and random horizontal flips. AugFlip also flips event
	// frames.
	AugPad  int  `json:"aug_pad"`
	AugFlip bool `json:"aug_flip"`

	// Event data sets (nmnist, dvsgesture, cifar10dvs), for event-input
	// models only: how a sample's events become the model's T frames
	// (data.EventOptions, data.EventInput). Bin splits the events by count
	// or by time; FrameSize is the frames' size, which must be the model's
	// input size (the zero value takes it); FrameValues feeds event counts
	// or binary frames; AugRoll > 0 rolls training frames by up to AugRoll
	// pixels. FrameCache, when set, is the only folder of the frame cache;
	// NoFrameCache turns it off.
	Bin          data.BinMode     `json:"bin"`
	FrameSize    data.FrameSize   `json:"frame_size"`
	FrameValues  data.FrameValues `json:"frame_values"`
	AugRoll      int              `json:"aug_roll"`
	FrameCache   string           `json:"frame_cache,omitempty"`
	NoFrameCache bool             `json:"no_frame_cache,omitempty"`

	Seed            uint64 `json:"seed"`
	MaxSteps        int    `json:"max_steps"`        // stop after this many optimizer steps (0: no limit)
	LogEvery        int    `json:"log_every"`        // a step line every N steps (default 10)
	CheckpointEvery int    `json:"checkpoint_every"` // also checkpoint every N steps (0: per epoch only)
	KeepCheckpoints int    `json:"keep_checkpoints"` // keep the last K checkpoints (default 3)
	Workers         int    `json:"workers"`          // data-loading goroutines (0: GOMAXPROCS)
	// Resume continues from the newest checkpoint in Out, exactly.
	Resume bool `json:"resume"`
	// NoPlots skips rendering RUNDIR/plots at the end of the run.
	NoPlots bool `json:"no_plots"`
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	if c.Epochs == 0 {
		c.Epochs = 5
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.EvalBatch == 0 {
		c.EvalBatch = 256
	}
	c.Optimizer = strings.ToLower(c.Optimizer)
	if c.Optimizer == "" {
		c.Optimizer = SGD
	}
	if c.LR == 0 {
		if c.Optimizer == SGD {
			c.LR = 0.1
		} else {
			c.LR = 1e-3
		}
	}
	if c.Momentum == 0 {
		c.Momentum = 0.9
	} else if c.Momentum < 0 {
		c.Momentum = 0
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	c.Schedule = strings.ToLower(c.Schedule)
	if c.Schedule == "" {
		c.Schedule = ScheduleCosine
	}
	c.Loss = strings.ToLower(c.Loss)
	if c.Loss == "" {
		c.Loss = LossTET
	}
	c.AGMM = strings.ToLower(c.AGMM)
	if c.AGMM == "" {
		c.AGMM = "on"
	}
	if c.STE == "" {
		c.STE = "clipped"
	}
	if c.LogEvery == 0 {
		c.LogEvery = 10
	}
	if c.KeepCheckpoints == 0 {
		c.KeepCheckpoints = 3
	}
	return c
}

// Validate reports the first invalid setting (call it on Defaults()).
func (c Config) Validate() error {
	switch {
	case c.Model == "" && c.ModelProto == nil && !c.Resume:
		return fmt.Errorf("no model given")
	case c.Data == "" && (c.TrainSet == nil || c.TestSet == nil):
		return fmt.Errorf("no data given (--data %s)", data.SpecForms)
	case (c.TrainSet == nil) != (c.TestSet == nil):
		return fmt.Errorf("give both a training and a test set")
	case c.Out == "":
		return fmt.Errorf("no run folder given (--out RUNDIR)")
	case c.Epochs < 0:
		return fmt.Errorf("epochs %d, want > 0", c.Epochs)
	case c.Batch < 1 || c.EvalBatch < 1:
		return fmt.Errorf("batch sizes %d / %d, want > 0", c.Batch, c.EvalBatch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate %v, want a finite value > 0", c.LR)
	case c.MinLR < 0 || c.MinLR > c.LR:
		return fmt.Errorf("min lr %v, want in [0, lr]", c.MinLR)
	case c.Optimizer != SGD && c.Optimizer != Adam && c.Optimizer != AdamW:
		return fmt.Errorf("optimizer %q, want sgd, adam or adamw", c.Optimizer)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("momentum %v, want in [0, 1)", c.Momentum)
	case c.Nesterov && c.Momentum == 0:
		return fmt.Errorf("nesterov needs momentum > 0")
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("adam betas (%v, %v), want in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("adam eps %v, want > 0", c.Eps)
	case c.WeightDecay < 0 || math.IsInf(c.WeightDecay, 0) || math.IsNaN(c.WeightDecay):
		return fmt.Errorf("weight decay %v, want >= 0", c.WeightDecay)
	case c.Schedule != ScheduleCosine && c.Schedule != ScheduleConstant:
		return fmt.Errorf("schedule %q, want cosine or constant", c.Schedule)
	case c.WarmupSteps < 0 || c.WarmupEpochs < 0:
		return fmt.Errorf("negative warm-up")
	case c.Loss != LossTET && c.Loss != LossCE:
		return fmt.Errorf("loss %q, want tet or ce", c.Loss)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return fmt.Errorf("label smoothing %v, want in [0, 1)", c.LabelSmoothing)
	case c.ClipNorm < 0:
		return fmt.Errorf("clip norm %v, want >= 0", c.ClipNorm)
	case c.AGMM != "on" && c.AGMM != "off":
		return fmt.Errorf("agmm %q, want on or off", c.AGMM)
	case c.STE != "clipped" && c.STE != "identity":
		return fmt.Errorf("ste %q, want clipped or identity", c.STE)
	case c.TimeSteps < 0:
		return fmt.Errorf("time steps %d, want > 0", c.TimeSteps)
	case c.AugPad < 0:
		return fmt.Errorf("augmentation pad %d, want >= 0", c.AugPad)
	case c.AugRoll < 0:
		return fmt.Errorf("augmentation roll %d, want >= 0", c.AugRoll)
	case c.Bin != data.BinByCount && c.Bin != data.BinByTime:
		return fmt.Errorf("invalid %v", c.Bin)
	case c.FrameValues != data.FrameCounts && c.FrameValues != data.FrameBinary:
		return fmt.Errorf("invalid %v", c.FrameValues)
	case c.FrameSize.H < 0 || c.FrameSize.W < 0:
		return fmt.Errorf("frame size %v, want positive", c.FrameSize)
	case c.MaxSteps < 0 || c.LogEvery < 0 || c.CheckpointEvery < 0 || c.KeepCheckpoints < 0 || c.Workers < 0:
		return fmt.Errorf("negative step, checkpoint or thread count")
	case c.TrainLimit < 0 || c.TestLimit < 0:
		return fmt.Errorf("negative data limit")
	}
	return nil
}

// agmmOn reports whether the AGMM gates stay in the network.
func (c Config) agmmOn() bool { return c.AGMM != "off" }

// mathKey lists the settings that determine the training trajectory: a
// resumed run must have the same values as the run it continues.
func (c Config) mathKey() map[string]any {
	return map[string]any{
		"data": c.Data, "train_limit": c.TrainLimit, "test_limit": c.TestLimit,
		"epochs": c.Epochs, "batch": c.Batch, "lr": c.LR, "min_lr": c.MinLR,
		"optimizer": c.Optimizer, "momentum": c.Momentum, "nesterov": c.Nesterov,
		"beta1": c.Beta1, "beta2": c.Beta2, "eps": c.Eps, "weight_decay": c.WeightDecay,
		"schedule": c.Schedule, "warmup_steps": c.WarmupSteps, "warmup_epochs": c.WarmupEpochs,
		"loss": c.Loss, "label_smoothing": c.LabelSmoothing, "clip_norm": c.ClipNorm,
		"agmm": c.AGMM, "ste": c.STE, "time_steps": c.TimeSteps, "aug_pad": c.AugPad,
		"aug_flip": c.AugFlip, "seed": c.Seed, "max_steps": c.MaxSteps,
		"bin": c.Bin, "frame_size": c.FrameSize, "frame_values": c.FrameValues, "aug_roll": c.AugRoll,
	}
}
