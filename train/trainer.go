package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/dist"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// A Trainer fine-tunes one BSNN as its Config says, writing RUNDIR
// (Config.Out): metrics.jsonl, checkpoints (ckpt-<step>.onnx in the train
// profile with a ckpt-<step>.json sidecar), best.onnx, final.onnx and
// plots/. Every file is written atomically.
//
// Run is the whole run. Epoch, Step, Evaluate and Checkpoint are its parts,
// for callers that drive the loop themselves. A Trainer touches neither the
// terminal nor process settings: progress goes to an Observer, logs to a
// slog.Logger, and the thread count is the caller's (GOMAXPROCS).
//
// A Trainer is not safe for concurrent use.
type Trainer struct {
	cfg  Config
	log  *slog.Logger
	obs  Observer
	comm dist.Comm
	// checks: verify every step that the ranks hold identical replicas
	// (rank 0's logger at debug level decides, for every rank).
	checks bool

	model *onnx.Model // the model the parameters came from (initializers of the start)
	ni    *netInfo

	test    testSet // this rank's part of the test split
	loader  *data.Loader
	spe     int // steps per epoch
	dropped int // training images left out of each epoch
	total   int // planned optimizer steps
	warmup  int // warm-up steps

	tp  *trainProgram
	opt *Optimizer
	mw  *metricsWriter
	bs  *batchStats
	// arena holds the intermediate values of the training program and of
	// the evaluation programs, which never run at the same time.
	arena *ops.Arena

	// Loop state (saved in checkpoints).
	epoch, batchDone, step int // epoch and batches done in it are 0-based counts
	best                   float64
	bestEpoch              int
	acc                    *epochAcc
	testAccs               []float64
	lastEval               *EvalResult
	stopped                bool // max_steps reached
	resumed                bool
	resumedStep            int
	start                  time.Time

	// testHook, when set (tests only), runs after every optimizer step.
	testHook func(step int, tp *trainProgram)
}

// An Option configures a Trainer.
type Option func(*Trainer)

// WithLogger sends the run's logs to l (steps at Debug, epochs at Info).
// The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(t *Trainer) {
		if l != nil {
			t.log = l
		}
	}
}

// WithObserver reports the run's progress to o.
func WithObserver(o Observer) Option { return func(t *Trainer) { t.obs = o } }

// WithComm makes the Trainer one rank of a data-parallel run over the
// group c (see comm.go's notes): every rank of c runs a Trainer with the
// same Config, and together they train as one process would on the same
// global batches. The caller owns c (and closes it after the Trainer). The
// default is dist.Local, a single process.
func WithComm(c dist.Comm) Option {
	return func(t *Trainer) {
		if c != nil {
			t.comm = c
		}
	}
}

// Run fine-tunes a BSNN as cfg says (NewTrainer, then Trainer.Run). log
// receives the logs; nil discards them.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Summary, error) {
	t, err := NewTrainer(cfg, WithLogger(log))
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return t.Run(ctx)
}

// NewTrainer prepares a run: it reads the model (the newest checkpoint of
// RUNDIR with Config.Resume) and the data, compiles the training program
// and restores the optimizer and loop state. In a group of several ranks
// an error is a *dist.RankError, returned by every rank.
func NewTrainer(cfg Config, opts ...Option) (*Trainer, error) {
	t := &Trainer{log: slog.New(slog.DiscardHandler), comm: dist.Local{}, start: time.Now(), best: -1, acc: newEpochAcc()}
	for _, o := range opts {
		o(t)
	}
	if !t.leader() {
		t.obs = nil
	}
	t.cfg = cfg.Defaults()
	t.mw = &metricsWriter{}
	if t.leader() {
		t.mw.path = filepath.Join(t.cfg.Out, MetricsFile)
		t.checks = t.log.Enabled(context.Background(), slog.LevelDebug)
	}
	ls, err := t.begin()
	if err != nil {
		return nil, err
	}
	err = t.prepare(ls)
	if err = t.agree(err); err != nil {
		t.Close()
		return nil, err
	}
	t.stopped = t.cfg.MaxSteps > 0 && t.step >= t.cfg.MaxSteps
	return t, nil
}

// begin checks the configuration and reads, on rank 0, what the run starts
// from (the model, or the newest checkpoint and its loop state), which the
// other ranks then receive from it.
func (t *Trainer) begin() (*loopState, error) {
	err := t.cfg.Validate()
	if err == nil {
		err = checkComm(t.comm, t.cfg.Batch)
	}
	var ls *loopState
	if err == nil && t.leader() {
		ls, err = t.openModel()
	}
	if err := t.agree(err); err != nil {
		return nil, err
	}
	if t.comm.Size() == 1 {
		return ls, nil
	}
	return t.shareStart(ls)
}

// prepare checks the model against the configuration, reads the data,
// compiles the programs and restores the loop state of a checkpoint.
func (t *Trainer) prepare(ls *loopState) error {
	ni, err := analyze(t.model)
	if err != nil {
		return err
	}
	if ts := t.cfg.TimeSteps; ts > 0 && ts != ni.T {
		return fmt.Errorf("the model runs T=%d time steps (%s), not %d: re-convert the ANN with --timesteps %d",
			ni.T, bsnn.MetaTimeSteps, ts, ts)
	}
	t.cfg.TimeSteps = ni.T
	if ni.events() && t.cfg.FrameSize.IsZero() {
		// The frames are binned to the model's input size.
		t.cfg.FrameSize = data.FrameSize{H: ni.InputShape.H, W: ni.InputShape.W}
	}
	t.ni = ni
	if ls != nil {
		if err := sameMath(ls.Config, t.cfg); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
	}
	if err := t.openLoop(); err != nil {
		return err
	}
	if err := t.compile(ls); err != nil {
		return err
	}
	t.bs = newBatchStats(t.tp)
	if ls != nil {
		return t.restore(ls)
	}
	return nil
}

// Close releases the compiled programs.
func (t *Trainer) Close() error {
	if t.tp == nil {
		return nil
	}
	err := t.tp.prog.Close()
	t.tp = nil
	return err
}

// openModel prepares RUNDIR and reads the model to train: the newest
// checkpoint when resuming (its loop state is returned, and the metrics
// lines it covers are loaded), else the given model. Only rank 0 calls it.
func (t *Trainer) openModel() (*loopState, error) {
	cfg := t.cfg
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.Out, filepath.Join(cfg.Out, PlotsDir)} {
		if err := removeStaleTemps(d); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	var ls *loopState
	if cfg.Resume {
		m, st, ok, err := loadCheckpoint(cfg.Out)
		switch {
		case err != nil:
			return nil, fmt.Errorf("resume: %w", err)
		case ok:
			t.model, ls, t.resumed = m, st, true
		case cfg.Model == "" && cfg.ModelProto == nil:
			return nil, fmt.Errorf("resume: %s holds no checkpoint and no model was given", cfg.Out)
		default:
			t.log.Info("no checkpoint to resume from: starting a new run", "dir", cfg.Out)
		}
	}
	if !t.resumed {
		return nil, t.openNewModel()
	}
	if err := t.mw.load(ls.MetricsLines); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	t.testAccs = t.mw.testAccs()
	return ls, nil
}

// openNewModel reads the model of a new run, refusing a RUNDIR that holds
// another run.
func (t *Trainer) openNewModel() error {
	cfg := t.cfg
	if cks, _ := checkpoints(cfg.Out); len(cks) > 0 {
		return fmt.Errorf("%s holds checkpoints of another run: resume it or use another folder", cfg.Out)
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, MetricsFile)); err == nil {
		return fmt.Errorf("%s holds the metrics of another run: resume it or use another folder", cfg.Out)
	}
	src := cfg.ModelProto
	if src == nil {
		m, err := onnx.DecodeFile(cfg.Model)
		if err != nil {
			return err
		}
		src = m
	}
	t.model = src.Clone()
	// A file written before bsnn's naming rules ("" outputs, a Concat of T
	// copies of the input) is brought up to them: every file this run
	// writes goes through bsnn.CheckNames.
	bsnn.Legalize(t.model.Proto.Graph)
	if !cfg.agmmOn() {
		gates, err := bypassAGMM(t.model)
		if err != nil {
			return err
		}
		t.log.Info("agmm off: gates bypassed", "gates", len(gates))
	}
	return nil
}

// openLoop reads the data and sizes the run: steps per epoch, planned
// steps, warm-up.
func (t *Trainer) openLoop() error {
	cfg := t.cfg
	n, err := t.openData()
	if err != nil {
		return err
	}
	t.spe = t.loader.Len()
	t.dropped = n - t.loader.Samples()
	if t.dropped > 0 {
		t.log.Info("the last partial training batch is dropped every epoch (the order is reshuffled each epoch)",
			"samples", t.dropped, "batch", cfg.Batch)
	}
	t.total = cfg.Epochs * t.spe
	if cfg.MaxSteps > 0 && cfg.MaxSteps < t.total {
		t.total = cfg.MaxSteps
	}
	t.warmup = cfg.WarmupSteps
	if t.warmup == 0 && cfg.WarmupEpochs > 0 {
		t.warmup = int(math.Round(cfg.WarmupEpochs * float64(t.spe)))
	}
	return nil
}

// compile builds the training program for this rank's slice of a batch
// and the optimizer, continuing from the model's optimizer state when it
// has one (a train-profile file or a checkpoint).
func (t *Trainer) compile(ls *loopState) error {
	cfg := t.cfg
	local := cfg
	local.Batch = cfg.Batch / t.comm.Size()
	t.arena = ops.NewArena()
	tp, err := compileTrainWith(t.model, t.ni, local, ops.Options{Arena: t.arena, BatchStatsReducer: batchStatsReducer(t.comm)})
	if err != nil {
		return fmt.Errorf("compiling the training program: %w", err)
	}
	t.tp = tp
	// The evaluation program, compiled now and dropped, sizes the arena
	// (allocated at the first step) for both programs at once, and a model
	// that cannot be evaluated fails before training.
	ev, err := compileEval(t.model, t.ni, min(cfg.EvalBatch, t.test.n), t.arena)
	if err != nil {
		t.Close()
		return fmt.Errorf("compiling the evaluation program: %w", err)
	}
	ev.prog.Close()
	t.opt = NewOptimizer(cfg, tp.params, func(name string) bool { return t.ni.Weights[name] })
	fileState, err := DecodeTrainState(t.model)
	switch {
	case err == nil:
		if err := t.opt.Load(fileState); err != nil {
			if t.resumed {
				t.Close()
				return fmt.Errorf("resume: %w", err)
			}
			t.log.Warn("not continuing from the model's optimizer state", "reason", err)
		} else if !t.resumed {
			t.log.Info("continuing from the model's optimizer state", "optimizer", fileState.Kind, "updates", fileState.Step)
		}
	case !errors.Is(err, ErrNoTrainState):
		t.Close()
		return err
	case t.resumed:
		t.Close()
		return fmt.Errorf("resume: checkpoint %s: %w", ls.Model, err)
	}
	return nil
}

// restore continues the loop state of a checkpoint.
func (t *Trainer) restore(ls *loopState) error {
	t.epoch, t.batchDone, t.step = ls.Epoch, ls.Batch, ls.GlobalStep
	t.best, t.bestEpoch = ls.BestAcc, ls.BestEpoch
	t.resumedStep = ls.GlobalStep
	if ls.Acc != nil {
		t.acc = ls.Acc
	}
	if ls.StepsPerEpoch != t.spe {
		return fmt.Errorf("resume: the checkpoint has %d steps per epoch, the data now gives %d", ls.StepsPerEpoch, t.spe)
	}
	for _, f := range t.tp.flips {
		s, ok := ls.EpochStartSigns[f.Param.Name]
		if !ok {
			return fmt.Errorf("resume: the checkpoint lacks the epoch-start signs of %q", f.Param.Name)
		}
		if err := decodeBits(s, f.start); err != nil {
			return fmt.Errorf("resume: signs of %q: %w", f.Param.Name, err)
		}
	}
	t.log.Info("resuming", "dir", t.cfg.Out, "epoch", t.epoch+1, "batch", t.batchDone, "step", t.step)
	return nil
}

// Done reports whether the run has nothing left to train: every epoch is
// done, or Config.MaxSteps steps are.
func (t *Trainer) Done() bool { return t.epoch >= t.cfg.Epochs || t.stopped }

// Run trains the remaining epochs, then writes final.onnx and the plots.
func (t *Trainer) Run(ctx context.Context) (*Summary, error) {
	for !t.Done() {
		last, err := t.Epoch(ctx)
		if err != nil {
			return nil, err
		}
		if last {
			break
		}
	}
	return t.finish()
}

// finish writes final.onnx and the plots (rank 0) and summarizes the run.
func (t *Trainer) finish() (*Summary, error) {
	if err := t.agree(t.writeFinal()); err != nil {
		return nil, err
	}
	return t.summary(), nil
}

// writeFinal writes final.onnx and the plots on rank 0.
func (t *Trainer) writeFinal() error {
	if !t.leader() {
		return nil
	}
	cfg := t.cfg
	fm, err := t.snapshot(t.epoch, t.best)
	if err != nil {
		return err
	}
	if err := t.mw.flush(); err != nil {
		return err
	}
	if err := onnx.EncodeFile(filepath.Join(cfg.Out, FinalFile), fm); err != nil {
		return err
	}
	if !cfg.NoPlots {
		if err := Plot(cfg.Out); err != nil {
			t.log.Warn("plots", "error", err)
		}
	}
	return nil
}

// summary describes the run so far.
func (t *Trainer) summary() *Summary {
	s := &Summary{RunDir: t.cfg.Out, Epochs: t.epoch, Steps: t.step, StepsPerEpoch: t.spe, DroppedPerEpoch: t.dropped,
		TestAcc: t.testAccs, BestAcc: t.best, BestEpoch: t.bestEpoch, Final: t.lastEval,
		FinalModel: filepath.Join(t.cfg.Out, FinalFile), Resumed: t.resumed, Stopped: "epochs",
		AGMMGates: len(t.tp.b.AGMM), Seconds: time.Since(t.start).Seconds(), Ranks: t.comm.Size()}
	if t.resumed {
		s.ResumedStep = t.resumedStep
	}
	if t.stopped {
		s.Stopped = "max_steps"
	}
	if t.bestEpoch > 0 {
		s.BestModel = filepath.Join(t.cfg.Out, BestFile)
	}
	for _, f := range t.tp.flips {
		s.BinaryCount += f.N
	}
	return s
}
