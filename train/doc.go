// Package train fine-tunes binary spiking neural networks (BSNNs) compiled by
// the ops engine, with Gorgonia autodiff and the AGMM gates of the model.
//
// A Trainer is the whole `bsnnctl finetune` command (Run wraps it): it
// compiles the BSNN in training mode (ops.Options{Training: true}) with the
// loss of Config.Loss (TET: the mean over t of the cross-entropy of the
// per-step logits, the input of the model's final ReduceMean over time; or
// CE on the mean output; label smoothing either way), runs the optimizer
// (SGD with momentum, Adam, AdamW; weight decay on weights only) under a
// warm-up + cosine schedule with optional global-norm clipping, evaluates
// every epoch on the test set with a separate inference-mode program
// compiled after ops.Builder.WriteBack (the last partial batch gets its own
// program; the training and evaluation programs keep their intermediate
// values in one ops.Arena, so a run needs the memory of the larger of
// them), and writes RUNDIR:
//
//   - metrics.jsonl: a StepLine every log_every steps and an EpochLine per
//     epoch (spec §6: flip rates, latent-gradient statistics, firing rates,
//     AGMM alpha and gates, energy);
//   - ckpt-<step>.onnx (train profile, EncodeTrainState) with a
//     ckpt-<step>.json sidecar (loop state), every epoch and every
//     checkpoint_every steps, the last keep_checkpoints kept;
//   - best.onnx and final.onnx (train profile);
//   - plots/*.png (Plot).
//
// Every file is written atomically (temporary file + rename), so a killed
// run leaves only complete files; Config.Resume continues from the newest
// checkpoint and reproduces the uninterrupted run's metrics exactly (at one
// thread bitwise; see the package tests).
//
// Trainer.Run is a loop over Trainer.Epoch, which runs Trainer.Step on each
// batch, evaluates and checkpoints (Trainer.Checkpoint). The library leaves
// the process alone: progress goes to an Observer (the CLI draws progress
// bars from its events), logs to a slog.Logger, and the thread count is the
// caller's GOMAXPROCS. WithComm makes a Trainer one rank of a
// data-parallel run over a dist.Comm (comm.go): rank 0 broadcasts the start
// state, every rank trains on its slice of each global batch with
// batch-normalization statistics synchronized over the ranks
// (ops.Options.BatchStatsReducer), the gradients are all-reduced before the
// optimizer step, metrics and evaluations are aggregated over the ranks,
// and rank 0 alone writes RUNDIR; dist.Local, the default, is a single
// process.
//
// The model's input encoding (bsnn.input_encoding) decides the data
// (dataset.go): a direct-encoded model reads image data sets, batches
// [N, C, H, W]; an event-input model (spec §8) reads the event data sets
// (nmnist, dvsgesture, cifar10dvs), each sample binned into T frames of
// the model's input size (T its time steps; Config.Bin, FrameSize,
// FrameValues, FrameCache, NoFrameCache), time-major batches
// [T, N, 2, H, W] augmented with Config.AugFlip and AugRoll. A data set of
// the other kind is one error naming the model's input.
//
// Evaluate is `bsnnctl eval` (EvaluateEvents for event data, which
// OpenEvents bins for a model); BenchTrainStep times one training step
// (the CLI's `bench train`).
package train
