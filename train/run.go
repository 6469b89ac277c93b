package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// File names in RUNDIR.
const (
	MetricsFile = "metrics.jsonl"
	BestFile    = "best.onnx"
	FinalFile   = "final.onnx"
	PlotsDir    = "plots"
)

// Summary is what Run returns (and `bsnnctl finetune --json` prints).
type Summary struct {
	RunDir        string `json:"run_dir"`
	Epochs        int    `json:"epochs"` // completed epochs
	Steps         int    `json:"steps"`  // optimizer steps
	StepsPerEpoch int    `json:"steps_per_epoch"`
	// DroppedPerEpoch training images do not fit a whole batch and are
	// left out of each epoch (a different subset every epoch: the order
	// is shuffled).
	DroppedPerEpoch int       `json:"dropped_per_epoch"`
	TestAcc         []float64 `json:"test_acc"` // after each epoch
	BestAcc         float64   `json:"best_acc"`
	BestEpoch       int       `json:"best_epoch"`
	// Final is the evaluation of the final model on the test set.
	Final       *EvalResult `json:"final"`
	FinalModel  string      `json:"final_model"`
	BestModel   string      `json:"best_model"`
	Resumed     bool        `json:"resumed"`
	ResumedStep int         `json:"resumed_step,omitempty"`
	Stopped     string      `json:"stopped"` // "epochs" or "max_steps"
	Seconds     float64     `json:"seconds"`
	AGMMGates   int         `json:"agmm_gates"`
	BinaryCount int         `json:"binary_weights"`
}

// Run fine-tunes a BSNN as cfg says, writing RUNDIR (cfg.Out):
// metrics.jsonl, checkpoints (ckpt-<step>.onnx in the train profile with a
// ckpt-<step>.json sidecar), best.onnx, final.onnx and plots/. Every file is
// written atomically. log receives progress (steps at Debug, epochs at
// Info); nil discards it.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Summary, error) {
	start := time.Now()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Threads > 0 {
		prev := runtime.GOMAXPROCS(cfg.Threads)
		defer runtime.GOMAXPROCS(prev)
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.Out, filepath.Join(cfg.Out, PlotsDir)} {
		if err := removeStaleTemps(d); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}

	// The model: the newest checkpoint when resuming, else the given file.
	var (
		model   *onnx.Model
		ls      *loopState
		resumed bool
	)
	if cfg.Resume {
		m, st, ok, err := loadCheckpoint(cfg.Out)
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if ok {
			model, ls, resumed = m, st, true
		} else if cfg.Model == "" && cfg.ModelProto == nil {
			return nil, fmt.Errorf("resume: %s holds no checkpoint and no model was given", cfg.Out)
		} else {
			log.Info("no checkpoint to resume from: starting a new run", "dir", cfg.Out)
		}
	}
	if !resumed {
		if cks, _ := checkpoints(cfg.Out); len(cks) > 0 {
			return nil, fmt.Errorf("%s holds checkpoints of another run: resume it or use another folder", cfg.Out)
		}
		if _, err := os.Stat(filepath.Join(cfg.Out, MetricsFile)); err == nil {
			return nil, fmt.Errorf("%s holds the metrics of another run: resume it or use another folder", cfg.Out)
		}
		src := cfg.ModelProto
		if src == nil {
			m, err := onnx.DecodeFile(cfg.Model)
			if err != nil {
				return nil, err
			}
			src = m
		}
		model = src.Clone()
		// A file written before bsnn's naming rules ("" outputs, a Concat
		// of T copies of the input) is brought up to them: every file this
		// run writes goes through bsnn.CheckNames.
		bsnn.Legalize(model.Proto.Graph)
		if !cfg.agmmOn() {
			gates, err := bypassAGMM(model)
			if err != nil {
				return nil, err
			}
			log.Info("agmm off: gates bypassed", "gates", len(gates))
		}
	}
	ni, err := analyze(model)
	if err != nil {
		return nil, err
	}
	if cfg.TimeSteps > 0 && cfg.TimeSteps != ni.T {
		return nil, fmt.Errorf("the model runs T=%d time steps (%s), not %d: re-convert the ANN with --timesteps %d",
			ni.T, bsnn.MetaTimeSteps, cfg.TimeSteps, cfg.TimeSteps)
	}
	cfg.TimeSteps = ni.T
	if resumed {
		if err := sameMath(ls.Config, cfg); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	}

	// Data.
	trainDS, testDS, err := openData(cfg)
	if err != nil {
		return nil, err
	}
	var norm *data.Norm
	if trainDS.Kind == data.Folder {
		n := data.ComputeNorm(trainDS)
		norm = &n
	}
	trainTF, err := makeTransform(trainDS, ni, norm, data.FitResize)
	if err != nil {
		return nil, err
	}
	testTF, err := makeTransform(testDS, ni, norm, data.FitResize)
	if err != nil {
		return nil, err
	}
	if trainDS.N < cfg.Batch {
		return nil, fmt.Errorf("the training set has %d images, fewer than one batch of %d", trainDS.N, cfg.Batch)
	}
	trainLD, err := data.NewLoader(trainDS, trainTF, data.LoaderConfig{
		BatchSize: cfg.Batch, Shuffle: true, DropLast: true, Seed: cfg.Seed,
		Augment: data.Augment{Pad: cfg.AugPad, HFlip: cfg.AugFlip}, Workers: cfg.Workers,
	})
	if err != nil {
		return nil, err
	}
	spe := trainLD.Len()
	dropped := trainDS.N - trainLD.Samples()
	if dropped > 0 {
		log.Info("the last partial training batch is dropped every epoch (the order is reshuffled each epoch)",
			"images", dropped, "batch", cfg.Batch)
	}
	total := cfg.Epochs * spe
	if cfg.MaxSteps > 0 && cfg.MaxSteps < total {
		total = cfg.MaxSteps
	}
	warmup := cfg.WarmupSteps
	if warmup == 0 && cfg.WarmupEpochs > 0 {
		warmup = int(math.Round(cfg.WarmupEpochs * float64(spe)))
	}

	// Programs and optimizer.
	tp, err := compileTrain(model, ni, cfg)
	if err != nil {
		return nil, fmt.Errorf("compiling the training program: %w", err)
	}
	defer tp.prog.Close()
	opt := NewOptimizer(cfg, tp.params, func(name string) bool { return ni.Weights[name] })
	if fileState, err := DecodeTrainState(model); err == nil {
		if err := opt.Load(fileState); err != nil {
			if resumed {
				return nil, fmt.Errorf("resume: %w", err)
			}
			log.Warn("not continuing from the model's optimizer state", "reason", err)
		} else if !resumed {
			log.Info("continuing from the model's optimizer state", "optimizer", fileState.Kind, "updates", fileState.Step)
		}
	} else if !errors.Is(err, ErrNoTrainState) {
		return nil, err
	} else if resumed {
		return nil, fmt.Errorf("resume: checkpoint %s: %w", ls.Model, err)
	}

	// Loop state.
	var (
		epoch, batchDone, step int
		best                   = -1.0
		bestEpoch              int
		acc                    = newEpochAcc()
		testAccs               []float64
	)
	mw := &metricsWriter{path: filepath.Join(cfg.Out, MetricsFile)}
	if resumed {
		epoch, batchDone, step = ls.Epoch, ls.Batch, ls.GlobalStep
		best, bestEpoch = ls.BestAcc, ls.BestEpoch
		if ls.Acc != nil {
			acc = ls.Acc
		}
		if ls.StepsPerEpoch != spe {
			return nil, fmt.Errorf("resume: the checkpoint has %d steps per epoch, the data now gives %d", ls.StepsPerEpoch, spe)
		}
		for _, f := range tp.flips {
			s, ok := ls.EpochStartSigns[f.Param.Name]
			if !ok {
				return nil, fmt.Errorf("resume: the checkpoint lacks the epoch-start signs of %q", f.Param.Name)
			}
			if err := decodeBits(s, f.start); err != nil {
				return nil, fmt.Errorf("resume: signs of %q: %w", f.Param.Name, err)
			}
		}
		if err := mw.load(ls.MetricsLines); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		testAccs = mw.testAccs()
		log.Info("resuming", "dir", cfg.Out, "epoch", epoch+1, "batch", batchDone, "step", step)
	}
	sum := &Summary{RunDir: cfg.Out, StepsPerEpoch: spe, DroppedPerEpoch: dropped, Resumed: resumed,
		AGMMGates: len(tp.b.AGMM), Stopped: "epochs"}
	if resumed {
		sum.ResumedStep = step
	}
	for _, f := range tp.flips {
		sum.BinaryCount += f.N
	}

	// snapshot returns the current model in the train profile.
	snapshot := func(epochsDone int, testAcc float64) (*onnx.Model, error) {
		m := model.Clone()
		if err := tp.b.WriteBack(m); err != nil {
			return nil, err
		}
		if err := EncodeTrainState(m, opt.State()); err != nil {
			return nil, err
		}
		setTrainingInfo(m, cfg, epochsDone, step, testAcc)
		return m, nil
	}
	checkpoint := func() error {
		if err := mw.flush(); err != nil {
			return err
		}
		m, err := snapshot(epoch, best)
		if err != nil {
			return err
		}
		st := &loopState{Version: 1, Epoch: epoch, Batch: batchDone, GlobalStep: step, StepsPerEpoch: spe,
			Seed: cfg.Seed, RNG: "data order and augmentation are functions of (seed, epoch, sample index)",
			BestAcc: best, BestEpoch: bestEpoch, MetricsLines: mw.count(), Acc: acc,
			EpochStartSigns: map[string]string{}, Config: cfg}
		for _, f := range tp.flips {
			st.EpochStartSigns[f.Param.Name] = encodeBits(f.start)
		}
		if err := writeCheckpoint(cfg.Out, m, st); err != nil {
			return fmt.Errorf("checkpoint at step %d: %w", step, err)
		}
		return pruneCheckpoints(cfg.Out, max(cfg.KeepCheckpoints, 1))
	}

	bar := newProgress(cfg, spe)
	defer bar.finish()
	stop := cfg.MaxSteps > 0 && step >= cfg.MaxSteps
	var lastEval *EvalResult
	for epoch < cfg.Epochs && !stop {
		epochStart := time.Now()
		it, err := trainLD.Start(ctx, epoch, batchDone)
		if err != nil {
			return nil, err
		}
		bar.startEpoch(epoch+1, cfg.Epochs, batchDone)
		for {
			bt, err := it.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				it.Close()
				return nil, err
			}
			t0 := time.Now()
			err = tp.run(ni.Input, bt.X, bt.Y)
			bt.Release()
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("step %d: %w", step+1, err)
			}
			loss := tp.loss.loss
			if bad := tp.nonFinite(); bad != "" || math.IsNaN(loss) || math.IsInf(loss, 0) {
				it.Close()
				_ = mw.flush()
				msg := fmt.Sprintf("step %d (epoch %d, batch %d): ", step+1, epoch+1, batchDone+1)
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					msg += fmt.Sprintf("the loss is %v", loss)
					if bad != "" {
						msg += "; " + bad
					}
				} else {
					msg += fmt.Sprintf("%s (loss %.6g)", bad, loss)
				}
				return nil, fmt.Errorf("%s: training stopped, the last good checkpoint is kept in %s", msg, cfg.Out)
			}
			// Latent-gradient statistics (before clipping).
			lsteps := make([]LayerStep, len(tp.flips))
			for i, f := range tp.flips {
				g := tp.prog.Grad(f.Param)
				lsteps[i].Name = f.Name
				lsteps[i].GradMean, lsteps[i].GradVar, lsteps[i].GradAbsMean = gradStats(g)
			}
			gnorm := clipGlobalNorm(tp.grads, cfg.ClipNorm)
			lr := Schedule(cfg.Schedule, cfg.LR, cfg.MinLR, warmup, total, step)
			if err := opt.Step(lr, tp.grads); err != nil {
				it.Close()
				return nil, err
			}
			step++
			batchDone++
			var flips, weights int
			for i, f := range tp.flips {
				n := f.step()
				lsteps[i].Flips = n
				lsteps[i].FlipRate = float64(n) / float64(f.N)
				flips += n
				weights += f.N
			}
			fr := 0.0
			if weights > 0 {
				fr = float64(flips) / float64(weights)
			}
			fire := lifFiring(tp.b.LIF)
			stepTime := time.Since(t0).Seconds()

			acc.Steps++
			acc.LossSum += loss
			acc.Correct += tp.loss.correct
			acc.Seen += tp.batch
			acc.NetFRSum += fr
			acc.FireSum += fire
			acc.GradNormSum += gnorm
			acc.StepTimeSum += stepTime
			acc.LastLR = lr
			for _, l := range lsteps {
				la := acc.Layers[l.Name]
				if la == nil {
					la = &layerAcc{}
					acc.Layers[l.Name] = la
				}
				la.FRSum += l.FlipRate
				la.GradMeanSum += l.GradMean
				la.GradVarSum += l.GradVar
				la.GradAbsSum += l.GradAbsMean
			}
			for _, tap := range tp.b.LIF {
				addTo(acc.LIF, tap.Node, tap.Rate)
			}
			for _, tap := range tp.b.AGMM {
				addTo(acc.Gate, tap.Node, tap.MeanGate())
			}
			batchAcc := float64(tp.loss.correct) / float64(tp.batch)
			if cfg.LogEvery > 0 && (step%cfg.LogEvery == 0 || step == 1) {
				line := StepLine{Kind: "step", Epoch: epoch + 1, Step: step, EpochStep: batchDone, Loss: loss,
					TrainAcc: batchAcc, FlipRate: fr, FiringRate: fire, LR: lr, GradNorm: gnorm, StepTime: stepTime,
					Layers: lsteps}
				for _, tap := range tp.b.LIF {
					line.LIF = append(line.LIF, LIFLine{Node: tap.Node, Rate: tap.MeanRate(), RateT: append([]float64(nil), tap.Rate...)})
				}
				for _, tap := range tp.b.AGMM {
					line.AGMM = append(line.AGMM, AGMMLine{Node: tap.Node, Alpha: alphaOf(tap), Gate: tap.MeanGate()})
				}
				if err := mw.add(line); err != nil {
					it.Close()
					return nil, err
				}
				log.Debug("step", "epoch", epoch+1, "step", step, "loss", loss, "acc", batchAcc, "flip_rate", fr,
					"firing_rate", fire, "lr", lr, "step_time_s", stepTime)
				if err := mw.maybeFlush(); err != nil {
					it.Close()
					return nil, err
				}
			}
			bar.step(loss, float64(acc.Correct)/float64(acc.Seen))
			if cfg.testHook != nil {
				cfg.testHook(step, tp)
			}
			if cfg.MaxSteps > 0 && step >= cfg.MaxSteps {
				stop = true
			}
			if cfg.CheckpointEvery > 0 && step%cfg.CheckpointEvery == 0 && !(stop || batchDone == spe) {
				if err := checkpoint(); err != nil {
					it.Close()
					return nil, err
				}
			}
			if stop {
				break
			}
			if err := ctx.Err(); err != nil {
				it.Close()
				return nil, err
			}
		}
		it.Close()
		bar.finish()
		if err := ctx.Err(); err != nil {
			return nil, err
		}

		// End of the epoch (or of a run stopped by max-steps): evaluate.
		m, err := snapshot(epoch+1, best)
		if err != nil {
			return nil, err
		}
		ev, err := evaluate(ctx, m, ni, testDS, testTF, cfg.EvalBatch, cfg.Workers)
		if err != nil {
			return nil, fmt.Errorf("epoch %d evaluation: %w", epoch+1, err)
		}
		lastEval = ev
		partial := batchDone < spe
		line := epochLine(epoch+1, step, acc, tp, ev)
		line.Partial = partial
		line.EpochTime = time.Since(epochStart).Seconds()
		if err := mw.add(line); err != nil {
			return nil, err
		}
		testAccs = append(testAccs, ev.Accuracy)
		log.Info("epoch", "epoch", epoch+1, "step", step, "loss", line.Loss, "train_acc", line.TrainAcc,
			"test_acc", ev.Accuracy, "flip_rate", line.FlipRate, "firing_rate", line.Firing, "energy_uj", ev.EnergyUJ,
			"epoch_time_s", line.EpochTime)
		if ev.Accuracy > best {
			best, bestEpoch = ev.Accuracy, epoch+1
			setTrainingInfo(m, cfg, epoch+1, step, ev.Accuracy)
			if err := onnx.EncodeFile(filepath.Join(cfg.Out, BestFile), m); err != nil {
				return nil, err
			}
		}
		if partial {
			break
		}
		for _, f := range tp.flips {
			f.newEpoch()
		}
		acc = newEpochAcc()
		epoch++
		batchDone = 0
		if err := checkpoint(); err != nil {
			return nil, err
		}
	}
	if stop {
		sum.Stopped = "max_steps"
	}
	fm, err := snapshot(epoch, best)
	if err != nil {
		return nil, err
	}
	if err := mw.flush(); err != nil {
		return nil, err
	}
	if err := onnx.EncodeFile(filepath.Join(cfg.Out, FinalFile), fm); err != nil {
		return nil, err
	}
	bar.finish()
	if !cfg.NoPlots {
		if err := Plot(cfg.Out); err != nil {
			log.Warn("plots", "error", err)
		}
	}
	sum.Epochs, sum.Steps = epoch, step
	sum.TestAcc = testAccs
	sum.BestAcc, sum.BestEpoch = best, bestEpoch
	sum.Final = lastEval
	sum.FinalModel = filepath.Join(cfg.Out, FinalFile)
	if bestEpoch > 0 {
		sum.BestModel = filepath.Join(cfg.Out, BestFile)
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

// MetaTraining is the metadata key holding a short JSON record of how a
// train-profile file was produced (readers ignore unknown bsnn.* keys).
const MetaTraining = "bsnn.training"

func setTrainingInfo(m *onnx.Model, cfg Config, epochsDone, step int, testAcc float64) {
	rec := map[string]any{
		"optimizer": cfg.Optimizer, "lr": cfg.LR, "schedule": cfg.Schedule, "agmm": cfg.AGMM, "loss": cfg.Loss,
		"seed": cfg.Seed, "batch": cfg.Batch, "epochs_done": epochsDone, "global_step": step,
	}
	if testAcc >= 0 {
		rec["test_acc"] = testAcc
	}
	info, _ := json.Marshal(rec)
	m.SetMetadata(MetaTraining, string(info))
}

// epochLine assembles the epoch summary from the accumulators and the test
// evaluation.
func epochLine(epoch, step int, acc *epochAcc, tp *trainProgram, ev *EvalResult) EpochLine {
	steps := float64(max(acc.Steps, 1))
	l := EpochLine{Kind: "epoch", Epoch: epoch, Step: step,
		Loss: acc.LossSum / steps, TestAcc: ev.Accuracy, TestLoss: ev.Loss,
		FlipRate: acc.NetFRSum / steps, Firing: acc.FireSum / steps, TestFire: ev.FiringRate,
		LR: acc.LastLR, GradNorm: acc.GradNormSum / steps, StepTime: acc.StepTimeSum / steps,
		EvalTime: ev.Seconds, EnergyPJ: ev.EnergyPJ, SOPs: ev.SOPs, FloatMACs: ev.FloatMACs, Costs: ev.Layers}
	if acc.Seen > 0 {
		l.TrainAcc = float64(acc.Correct) / float64(acc.Seen)
	}
	var net, weights int
	for _, f := range tp.flips {
		la := acc.Layers[f.Name]
		if la == nil {
			la = &layerAcc{}
		}
		nf := f.netFlips()
		net += nf
		weights += f.N
		l.Layers = append(l.Layers, LayerEpoch{Name: f.Name, Weights: f.N, FlipRate: la.FRSum / steps,
			NetFlip: float64(nf) / float64(f.N), GradMean: la.GradMeanSum / steps, GradVar: la.GradVarSum / steps,
			GradAbsMean: la.GradAbsSum / steps})
	}
	if weights > 0 {
		l.NetFlip = float64(net) / float64(weights)
	}
	testLIF := map[string]LIFRate{}
	for _, r := range ev.LIF {
		testLIF[r.Node] = r
	}
	for _, tap := range tp.b.LIF {
		rt := scaled(acc.LIF[tap.Node], 1/steps)
		ll := LIFLine{Node: tap.Node, RateT: rt, TestRate: testLIF[tap.Node].Rate, TestRateT: testLIF[tap.Node].RateT}
		for _, x := range rt {
			ll.Rate += x / float64(len(rt))
		}
		l.LIF = append(l.LIF, ll)
	}
	testGate := map[string][]float64{}
	for _, g := range ev.AGMM {
		testGate[g.Node] = g.Gate
	}
	for _, tap := range tp.b.AGMM {
		l.AGMM = append(l.AGMM, AGMMLine{Node: tap.Node, Alpha: alphaOf(tap), Gate: scaled(acc.Gate[tap.Node], 1/steps),
			TestGate: testGate[tap.Node]})
	}
	return l
}

// sameMath checks that a resumed run uses the settings of the run it
// continues.
func sameMath(saved, now Config) error {
	a, b := saved.mathKey(), now.mathKey()
	var diff []string
	for k, v := range a {
		if !reflect.DeepEqual(v, b[k]) {
			diff = append(diff, fmt.Sprintf("%s %v (checkpoint) vs %v", k, v, b[k]))
		}
	}
	if len(diff) > 0 {
		sort.Strings(diff)
		return fmt.Errorf("settings differ from the checkpoint's run: %s", strings.Join(diff, "; "))
	}
	return nil
}

// openData reads the training and test splits.
func openData(cfg Config) (trainDS, testDS *data.Dataset, err error) {
	if cfg.TrainSet != nil {
		trainDS, testDS = cfg.TrainSet, cfg.TestSet
	} else {
		spec, err := data.ParseSpec(cfg.Data)
		if err != nil {
			return nil, nil, err
		}
		if trainDS, err = data.Open(spec, data.Train); err != nil {
			return nil, nil, err
		}
		if testDS, err = data.Open(spec, data.Test); err != nil {
			return nil, nil, err
		}
	}
	if cfg.TrainLimit > 0 && cfg.TrainLimit < trainDS.N {
		if trainDS, err = trainDS.Slice(0, cfg.TrainLimit); err != nil {
			return nil, nil, err
		}
	}
	if cfg.TestLimit > 0 && cfg.TestLimit < testDS.N {
		if testDS, err = testDS.Slice(0, cfg.TestLimit); err != nil {
			return nil, nil, err
		}
	}
	if testDS.N == 0 {
		return nil, nil, fmt.Errorf("the test set is empty")
	}
	return trainDS, testDS, nil
}

// ---- metrics.jsonl ----

// metricsWriter keeps the run's metrics lines in memory and rewrites
// metrics.jsonl atomically on flush, so the file always holds whole lines.
type metricsWriter struct {
	path      string
	lines     [][]byte
	flushed   int
	lastFlush time.Time
}

func (w *metricsWriter) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("metrics line: %w", err)
	}
	w.lines = append(w.lines, b)
	return nil
}

func (w *metricsWriter) count() int { return len(w.lines) }

func (w *metricsWriter) flush() error {
	if w.flushed == len(w.lines) && !w.lastFlush.IsZero() {
		return nil
	}
	err := onnx.WriteAtomic(w.path, func(f io.Writer) error {
		for _, l := range w.lines {
			if _, err := f.Write(l); err != nil {
				return err
			}
			if _, err := f.Write([]byte{'\n'}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.flushed = len(w.lines)
	w.lastFlush = time.Now()
	return nil
}

// maybeFlush flushes at most every few seconds.
func (w *metricsWriter) maybeFlush() error {
	if time.Since(w.lastFlush) < 5*time.Second {
		return nil
	}
	return w.flush()
}

// load reads the first n lines of an existing metrics file (a resumed run
// drops the lines written after its checkpoint).
func (w *metricsWriter) load(n int) error {
	b, err := os.ReadFile(w.path)
	if err != nil {
		if os.IsNotExist(err) && n == 0 {
			return nil
		}
		return err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	if len(lines) < n {
		return fmt.Errorf("%s has %d lines, the checkpoint expects %d", w.path, len(lines), n)
	}
	for _, l := range lines[:n] {
		w.lines = append(w.lines, []byte(l))
	}
	w.lastFlush = time.Time{}
	return nil
}

// testAccs returns the test accuracies of the epoch lines so far.
func (w *metricsWriter) testAccs() []float64 {
	var out []float64
	for _, l := range w.lines {
		var e struct {
			Kind    string  `json:"kind"`
			TestAcc float64 `json:"test_acc"`
		}
		if json.Unmarshal(l, &e) == nil && e.Kind == "epoch" {
			out = append(out, e.TestAcc)
		}
	}
	return out
}

// ---- progress ----

// progress draws a progress bar on a terminal (ETA, loss, accuracy).
type progress struct {
	bar   *progressbar.ProgressBar
	out   *os.File
	total int
	epoch string
}

func newProgress(cfg Config, stepsPerEpoch int) *progress {
	p := &progress{total: stepsPerEpoch}
	if cfg.NoProgress {
		return p
	}
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return p
	}
	p.out = os.Stderr
	return p
}

func (p *progress) startEpoch(epoch, epochs, done int) {
	if p.out == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
	}
	p.epoch = fmt.Sprintf("epoch %d/%d", epoch, epochs)
	p.bar = progressbar.NewOptions(p.total,
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(p.epoch),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(200*time.Millisecond),
	)
	_ = p.bar.Set(done)
}

func (p *progress) step(loss, acc float64) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(fmt.Sprintf("%s loss %.4f acc %.3f", p.epoch, loss, acc))
	_ = p.bar.Add(1)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
