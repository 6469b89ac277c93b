package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/bsnnctl/bsnnctl/dist"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// Epoch trains the rest of the current epoch (all of it, or up to
// Config.MaxSteps), evaluates the model on the test set, writes the epoch's
// metrics line and best.onnx when the accuracy improved, and checkpoints at
// the epoch's end. last is true when the run stopped inside the epoch.
func (t *Trainer) Epoch(ctx context.Context) (last bool, err error) {
	if t.Done() {
		return true, fmt.Errorf("the run is complete: no epoch left to train")
	}
	epochStart := time.Now()
	if err := t.trainBatches(ctx); err != nil {
		return false, err
	}
	t.obs.send(Event{Kind: EpochTrained, Epoch: t.epoch + 1, Epochs: t.cfg.Epochs, Step: t.step,
		EpochStep: t.batchDone, StepsPerEpoch: t.spe})
	if err := t.agree(ctx.Err()); err != nil {
		return false, err
	}
	ev, err := t.endEpoch(ctx, epochStart)
	if err != nil {
		return false, err
	}
	t.obs.send(Event{Kind: EpochDone, Epoch: t.epoch + 1, Epochs: t.cfg.Epochs, Step: t.step,
		EpochStep: t.batchDone, StepsPerEpoch: t.spe, Eval: ev})
	if t.batchDone < t.spe {
		return true, nil // stopped by max-steps inside the epoch
	}
	for _, f := range t.tp.flips {
		f.newEpoch()
	}
	t.acc = newEpochAcc()
	t.epoch++
	t.batchDone = 0
	return false, t.Checkpoint()
}

// trainBatches runs the optimizer steps of the current epoch from batch
// batchDone on, until the epoch ends or max-steps is reached, with the
// mid-epoch checkpoints of Config.CheckpointEvery. The ranks agree before
// every batch (and at the end) that none failed to load its slice or was
// cancelled, so that they all stop at the same batch.
func (t *Trainer) trainBatches(ctx context.Context) error {
	it, err := t.loader.Start(ctx, t.epoch, t.batchDone)
	if err = t.agree(err); err != nil {
		return err
	}
	defer it.Close()
	t.obs.send(Event{Kind: EpochStarted, Epoch: t.epoch + 1, Epochs: t.cfg.Epochs, Step: t.step,
		EpochStep: t.batchDone, StepsPerEpoch: t.spe})
	for {
		bt, err := it.Next()
		end := errors.Is(err, io.EOF) // at the same batch on every rank
		if end {
			err = nil
		}
		if err == nil {
			err = ctx.Err()
		}
		if err = t.agree(err); err != nil || end {
			bt.Release()
			return err
		}
		err = t.Step(bt)
		bt.Release()
		if err != nil {
			return err
		}
		if t.testHook != nil {
			t.testHook(t.step, t.tp)
		}
		if t.cfg.MaxSteps > 0 && t.step >= t.cfg.MaxSteps {
			t.stopped = true
		}
		if t.cfg.CheckpointEvery > 0 && t.step%t.cfg.CheckpointEvery == 0 && !(t.stopped || t.batchDone == t.spe) {
			if err := t.Checkpoint(); err != nil {
				return err
			}
		}
		if t.stopped {
			return nil
		}
	}
}

// Step runs one optimizer step on a global batch, of which bt is this
// rank's slice (all of it in a single process): the slice goes forward and
// backward, the gradients are averaged over the ranks, clipped and
// applied; the step's metrics, aggregated over the ranks, are recorded.
func (t *Trainer) Step(bt *data.Batch) error {
	t0, comm0 := time.Now(), t.comm.Stats()
	if err := t.computeGradients(bt); err != nil {
		return err
	}
	t.bs.collect(t.tp)
	if err := t.bs.reduce(t.comm); err != nil {
		return fmt.Errorf("step %d: %w", t.step+1, err)
	}
	loss := t.bs.loss
	if err := t.agree(t.checkFinite(loss)); err != nil {
		return err
	}
	// Latent-gradient statistics (before clipping).
	lsteps := make([]LayerStep, len(t.tp.flips))
	for i, f := range t.tp.flips {
		g := t.tp.prog.Grad(f.Param)
		lsteps[i].Name = f.Name
		lsteps[i].GradMean, lsteps[i].GradVar, lsteps[i].GradAbsMean = gradStats(g)
	}
	gnorm := clipGlobalNorm(t.tp.grads, t.cfg.ClipNorm)
	lr := Schedule(t.cfg.Schedule, t.cfg.LR, t.cfg.MinLR, t.warmup, t.total, t.step)
	if err := t.opt.Step(lr, t.tp.grads); err != nil {
		return err
	}
	t.step++
	t.batchDone++
	var flips, weights int
	for i, f := range t.tp.flips {
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
	if err := t.agree(t.checkReplicas(flips)); err != nil {
		return err
	}
	return t.record(stepResult{loss: loss, lr: lr, gradNorm: gnorm, flipRate: fr,
		firing: lifFiring(t.tp.b.LIF, t.bs.lif), seconds: time.Since(t0).Seconds(), layers: lsteps,
		comm: t.comm.Stats().Sub(comm0)})
}

// computeGradients runs this rank's slice of a batch forward and backward
// and averages the gradients over the ranks.
func (t *Trainer) computeGradients(bt *data.Batch) error {
	if err := t.tp.run(t.ni.Input, bt.X, bt.Y); err != nil {
		return fmt.Errorf("step %d: %w", t.step+1, err)
	}
	if err := allReduceMean(t.comm, t.tp.prog.FlatGrads()); err != nil {
		return fmt.Errorf("step %d: gradients: %w", t.step+1, err)
	}
	return nil
}

// checkFinite stops the run when the loss, a parameter or a gradient is not
// finite, naming where.
func (t *Trainer) checkFinite(loss float64) error {
	bad := t.tp.nonFinite()
	lossBad := math.IsNaN(loss) || math.IsInf(loss, 0)
	if bad == "" && !lossBad {
		return nil
	}
	if t.leader() {
		_ = t.mw.flush()
	}
	msg := fmt.Sprintf("step %d (epoch %d, batch %d): ", t.step+1, t.epoch+1, t.batchDone+1)
	if lossBad {
		msg += fmt.Sprintf("the loss is %v", loss)
		if bad != "" {
			msg += "; " + bad
		}
	} else {
		msg += fmt.Sprintf("%s (loss %.6g)", bad, loss)
	}
	return fmt.Errorf("%s: training stopped, the last good checkpoint is kept in %s", msg, t.cfg.Out)
}

// stepResult is what a step measured.
type stepResult struct {
	loss, lr, gradNorm, flipRate, firing, seconds float64
	layers                                        []LayerStep
	comm                                          dist.Stats // this rank's collectives in the step
}

// record adds a step to the epoch's accumulators, writes its metrics line
// every Config.LogEvery steps and reports it.
func (t *Trainer) record(r stepResult) error {
	acc, tp := t.acc, t.tp
	acc.Steps++
	acc.LossSum += r.loss
	acc.Correct += t.bs.correct
	acc.Seen += t.cfg.Batch
	acc.NetFRSum += r.flipRate
	acc.FireSum += r.firing
	acc.GradNormSum += r.gradNorm
	acc.StepTimeSum += r.seconds
	acc.LastLR = r.lr
	for _, l := range r.layers {
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
	for i, tap := range tp.b.LIF {
		addTo(acc.LIF, tap.Node, t.bs.lif[i])
	}
	for i, tap := range tp.b.AGMM {
		addTo(acc.Gate, tap.Node, t.bs.gates[i])
	}
	batchAcc := float64(t.bs.correct) / float64(t.cfg.Batch)
	if t.cfg.LogEvery > 0 && (t.step%t.cfg.LogEvery == 0 || t.step == 1) {
		if err := t.writeStepLine(r, batchAcc); err != nil {
			return err
		}
	}
	t.obs.send(Event{Kind: StepDone, Epoch: t.epoch + 1, Epochs: t.cfg.Epochs, Step: t.step, EpochStep: t.batchDone,
		StepsPerEpoch: t.spe, Loss: r.loss, TrainAcc: float64(acc.Correct) / float64(acc.Seen)})
	return nil
}

// writeStepLine adds a step line to metrics.jsonl (flushed every few
// seconds), on rank 0.
func (t *Trainer) writeStepLine(r stepResult, batchAcc float64) error {
	if !t.leader() {
		return nil
	}
	line := StepLine{Kind: "step", Epoch: t.epoch + 1, Step: t.step, EpochStep: t.batchDone, Loss: r.loss,
		TrainAcc: batchAcc, FlipRate: r.flipRate, FiringRate: r.firing, LR: r.lr, GradNorm: r.gradNorm,
		StepTime: r.seconds, Ranks: t.comm.Size(), CommBytes: r.comm.Bytes, CommTime: r.comm.Time.Seconds(),
		Layers: r.layers}
	for i, tap := range t.tp.b.LIF {
		rt := slices.Clone(t.bs.lif[i])
		line.LIF = append(line.LIF, LIFLine{Node: tap.Node, Rate: meanOf(rt), RateT: rt})
	}
	for i, tap := range t.tp.b.AGMM {
		line.AGMM = append(line.AGMM, AGMMLine{Node: tap.Node, Alpha: alphaOf(tap), Gate: slices.Clone(t.bs.gates[i])})
	}
	if err := t.mw.add(line); err != nil {
		return err
	}
	t.log.Debug("step", "epoch", t.epoch+1, "step", t.step, "loss", r.loss, "acc", batchAcc, "flip_rate", r.flipRate,
		"firing_rate", r.firing, "lr", r.lr, "step_time_s", r.seconds)
	return t.mw.maybeFlush()
}

// endEpoch evaluates the model at the end of an epoch (or of a run stopped
// by max-steps), writes the epoch line and best.onnx when the test accuracy
// improved.
func (t *Trainer) endEpoch(ctx context.Context, epochStart time.Time) (*EvalResult, error) {
	m, err := t.snapshot(t.epoch+1, t.best)
	if err != nil {
		return nil, err
	}
	ev, err := t.evaluate(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("epoch %d evaluation: %w", t.epoch+1, err)
	}
	t.lastEval = ev
	line := epochLine(t.epoch+1, t.step, t.acc, t.tp, ev)
	line.Partial = t.batchDone < t.spe
	line.EpochTime = time.Since(epochStart).Seconds()
	if err := t.mw.add(line); err != nil {
		return nil, err
	}
	t.testAccs = append(t.testAccs, ev.Accuracy)
	t.log.Info("epoch", "epoch", t.epoch+1, "step", t.step, "loss", line.Loss, "train_acc", line.TrainAcc,
		"test_acc", ev.Accuracy, "flip_rate", line.FlipRate, "firing_rate", line.Firing, "energy_uj", ev.EnergyUJ,
		"epoch_time_s", line.EpochTime)
	if ev.Accuracy > t.best {
		t.best, t.bestEpoch = ev.Accuracy, t.epoch+1
		setTrainingInfo(m, t.cfg, t.epoch+1, t.step, ev.Accuracy)
		if t.leader() {
			err = onnx.EncodeFile(filepath.Join(t.cfg.Out, BestFile), m)
		}
		if err = t.agree(err); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// Evaluate evaluates the current weights on the test set (inference mode:
// BatchNormalization on its running statistics). In a group of ranks each
// evaluates its part of the test set and all get the whole set's result:
// every rank must call it.
func (t *Trainer) Evaluate(ctx context.Context) (*EvalResult, error) {
	m, err := t.snapshot(t.epoch, t.best)
	if err != nil {
		return nil, err
	}
	return t.evaluate(ctx, m)
}

// evaluate runs m over the test set, reporting progress.
func (t *Trainer) evaluate(ctx context.Context, m *onnx.Model) (*EvalResult, error) {
	progress := func(done, total int) {
		t.obs.send(Event{Kind: EvalProgress, Epoch: t.epoch + 1, Epochs: t.cfg.Epochs, Step: t.step, Done: done, Total: total})
	}
	return evaluate(ctx, m, t.ni, t.test, evalRun{batch: t.cfg.EvalBatch, workers: t.cfg.Workers, progress: progress,
		arena: t.arena, comm: t.comm})
}

// snapshot returns the current model in the train profile.
func (t *Trainer) snapshot(epochsDone int, testAcc float64) (*onnx.Model, error) {
	m := t.model.Clone()
	if err := t.tp.b.WriteBack(m); err != nil {
		return nil, err
	}
	if err := EncodeTrainState(m, t.opt.State()); err != nil {
		return nil, err
	}
	setTrainingInfo(m, t.cfg, epochsDone, t.step, testAcc)
	return m, nil
}

// Checkpoint flushes metrics.jsonl and writes a checkpoint of the current
// state (ckpt-<step>.onnx and its sidecar), keeping the newest
// Config.KeepCheckpoints. Rank 0 writes; the ranks agree on the outcome.
func (t *Trainer) Checkpoint() error {
	return t.agree(t.writeCheckpoint())
}

// writeCheckpoint writes a checkpoint on rank 0.
func (t *Trainer) writeCheckpoint() error {
	if !t.leader() {
		return nil
	}
	if err := t.mw.flush(); err != nil {
		return err
	}
	m, err := t.snapshot(t.epoch, t.best)
	if err != nil {
		return err
	}
	st := &loopState{Version: 1, Epoch: t.epoch, Batch: t.batchDone, GlobalStep: t.step, StepsPerEpoch: t.spe,
		Seed: t.cfg.Seed, RNG: "data order and augmentation are functions of (seed, epoch, sample index)",
		BestAcc: t.best, BestEpoch: t.bestEpoch, MetricsLines: t.mw.count(), Acc: t.acc,
		EpochStartSigns: map[string]string{}, Config: t.cfg}
	for _, f := range t.tp.flips {
		st.EpochStartSigns[f.Param.Name] = encodeBits(f.start)
	}
	if err := writeCheckpoint(t.cfg.Out, m, st); err != nil {
		return fmt.Errorf("checkpoint at step %d: %w", t.step, err)
	}
	return pruneCheckpoints(t.cfg.Out, max(t.cfg.KeepCheckpoints, 1))
}
