package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"unsafe"

	"github.com/bsnnctl/bsnnctl/dist"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// Data parallelism: with WithComm, a Trainer is one rank of a group
// (dist.Comm) of Size processes that together run the training run one
// process would run with the same Config: the same global batches, seed,
// schedule and updates. The Trainer uses the group at these points:
//
//   - start: rank 0 alone reads what the run starts from (the model, or the
//     newest checkpoint of RUNDIR with its loop state) and broadcasts it,
//     so every rank starts from the same weights, batch-normalization
//     statistics, optimizer state and loop position, whatever each rank's
//     file system holds; other ranks never read or write RUNDIR;
//   - data: rank r trains on samples [r*B/Size, (r+1)*B/Size) of every
//     global batch of B = Config.Batch samples (B must be a multiple of
//     Size), in the order one process would see them (data.LoaderConfig's
//     shards), and evaluates on its contiguous part of the test set;
//   - forward and backward: BatchNormalization in training mode uses the
//     statistics of the global batch (ops.Options.BatchStatsReducer: the
//     per-channel sums are all-reduced), so it normalizes as one process
//     does, and the running statistics stay identical on every rank;
//   - gradients: after the backward pass the gradients of every trainable
//     tensor (latent and float weights, BN scale and shift, AGMM alpha; one
//     flat buffer, ops.Program.FlatGrads) are summed over the ranks in rank
//     order by one all-reduce and divided by Size, before clipping and the
//     optimizer step, which every rank then applies identically;
//   - metrics: the loss, correct predictions, firing rates and mean AGMM
//     gates of a step are averaged over the ranks, and evaluations sum
//     their per-sample results over the ranks, so metrics.jsonl shows the
//     global batch and the whole test set; flip rates and gradient
//     statistics come from identical weights and gradients;
//   - agreement: a failure one rank sees (a NaN, a data error, a
//     cancelled context) is made every rank's with dist.Agree before the
//     next collective, so all ranks stop at the same point with the same
//     *dist.RankError;
//   - files: rank 0 alone writes metrics.jsonl, checkpoints, best.onnx,
//     final.onnx and the plots (atomically); a checkpoint holds nothing
//     rank-specific, so it resumes under any rank count.
//
// With a logger at debug level (on rank 0), every step also checks that the
// ranks still hold identical weights, batch-normalization statistics and
// flip counts.

// checkComm validates a group against the global batch.
func checkComm(c dist.Comm, batch int) error {
	size, rank := c.Size(), c.Rank()
	switch {
	case size < 1 || rank < 0 || rank >= size:
		return fmt.Errorf("data-parallel rank %d of %d", rank, size)
	case batch%size != 0:
		return fmt.Errorf("--batch %d (the global batch) does not split evenly over %d ranks: use a multiple of %d",
			batch, size, size)
	}
	return nil
}

// agree is dist.Agree on the Trainer's group: every rank passes its error
// (nil if none) and all get the same answer.
func (t *Trainer) agree(err error) error { return dist.Agree(t.comm, err) }

// leader reports whether this rank writes RUNDIR and reports progress.
func (t *Trainer) leader() bool { return t.comm.Rank() == 0 }

// allReduceMean averages v over the ranks (in place): summed in rank
// order, then scaled.
func allReduceMean(c dist.Comm, v []float32) error {
	if c.Size() == 1 {
		return nil
	}
	if err := c.AllreduceSum32(v); err != nil {
		return fmt.Errorf("all-reduce of %d values: %w", len(v), err)
	}
	s := 1 / float32(c.Size())
	for i := range v {
		v[i] *= s
	}
	return nil
}

// startMsg is what rank 0 hands the other ranks at the start, besides the
// model: the loop state of the checkpoint resumed (nil for a new run), the
// test accuracies of the epochs before it, and whether to check the
// replicas every step.
type startMsg struct {
	Loop     *loopState `json:"loop"`
	TestAccs []float64  `json:"test_accs"`
	Checks   bool       `json:"checks"`
}

// shareStart broadcasts rank 0's model and start message; every rank,
// rank 0 included, then decodes the same bytes.
func (t *Trainer) shareStart(ls *loopState) (*loopState, error) {
	var mb, sb []byte
	if t.leader() {
		var err error
		if mb, err = onnx.Marshal(t.model); err != nil {
			return nil, err
		}
		if sb, err = json.Marshal(startMsg{Loop: ls, TestAccs: t.testAccs, Checks: t.checks}); err != nil {
			return nil, err
		}
	}
	mb, err := dist.BroadcastBytes(t.comm, mb, 0)
	if err == nil {
		sb, err = dist.BroadcastBytes(t.comm, sb, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("broadcasting the model from rank 0: %w", err)
	}
	var msg startMsg
	err = json.Unmarshal(sb, &msg)
	if err == nil {
		t.model, err = onnx.Decode(bytes.NewReader(mb))
	}
	if err != nil {
		return nil, fmt.Errorf("the start state from rank 0: %w", err)
	}
	t.testAccs, t.checks, t.resumed = msg.TestAccs, msg.Checks, msg.Loop != nil
	return msg.Loop, nil
}

// batchStats are a step's metrics that depend on the samples: computed on
// this rank's slice, then averaged over the ranks (whose slices are of
// equal size), they are those of the global batch.
type batchStats struct {
	loss    float64
	correct int         // of the global batch
	lif     [][]float64 // per LIF tap of the training program: firing rate per time step
	gates   [][]float64 // per AGMM tap: mean gate per time step
	buf     []float64   // the reduction's vector
}

func newBatchStats(tp *trainProgram) *batchStats {
	s := &batchStats{lif: make([][]float64, len(tp.b.LIF)), gates: make([][]float64, len(tp.b.AGMM))}
	n := 2
	for i, tap := range tp.b.LIF {
		s.lif[i] = make([]float64, tap.T)
		n += tap.T
	}
	for i, tap := range tp.b.AGMM {
		s.gates[i] = make([]float64, tap.T)
		n += tap.T
	}
	s.buf = make([]float64, n)
	return s
}

// collect reads this rank's values from the program's last run.
func (s *batchStats) collect(tp *trainProgram) {
	s.loss, s.correct = tp.loss.loss, tp.loss.correct
	for i, tap := range tp.b.LIF {
		copy(s.lif[i], tap.Rate)
	}
	for i, tap := range tp.b.AGMM {
		copy(s.gates[i], tap.MeanGate())
	}
}

// reduce averages the values over the ranks (sums the correct counts).
func (s *batchStats) reduce(c dist.Comm) error {
	if c.Size() == 1 {
		return nil
	}
	v := append(s.buf[:0], s.loss, float64(s.correct))
	for _, r := range s.lif {
		v = append(v, r...)
	}
	for _, g := range s.gates {
		v = append(v, g...)
	}
	if err := c.AllreduceSum64(v); err != nil {
		return fmt.Errorf("all-reduce of the step's metrics: %w", err)
	}
	inv := 1 / float64(c.Size())
	s.loss, s.correct = v[0]*inv, int(v[1])
	v = v[2:]
	for _, dst := range slices.Concat(s.lif, s.gates) {
		for i := range dst {
			dst[i] = v[i] * inv
		}
		v = v[len(dst):]
	}
	return nil
}

// reduce sums an evaluation's per-sample results over the ranks, so that
// every rank holds those of the whole test set.
func (a *evalAcc) reduce(c dist.Comm, samples int) (int, error) {
	if c.Size() == 1 {
		return samples, nil
	}
	v := []float64{float64(samples), float64(a.correct), a.ceSum, a.tetSum}
	for _, s := range slices.Concat(a.lifSum, a.gateSum) {
		v = append(v, s...)
	}
	v = append(v, a.nzSum...)
	v = append(v, a.nzTotal...)
	if err := c.AllreduceSum64(v); err != nil {
		return 0, fmt.Errorf("all-reduce of the evaluation's sums: %w", err)
	}
	samples, a.correct, a.ceSum, a.tetSum = int(v[0]), int(v[1]), v[2], v[3]
	v = v[4:]
	for _, dst := range slices.Concat(a.lifSum, a.gateSum, [][]float64{a.nzSum, a.nzTotal}) {
		v = v[copy(dst, v):]
	}
	return samples, nil
}

// checkReplicas verifies that every rank holds the same weights,
// batch-normalization statistics and flip count after a step (the
// replicas' invariant; debug runs only): every rank all-reduces its values
// in its own slots of a vector, and all compare them.
func (t *Trainer) checkReplicas(flips int) error {
	size := t.comm.Size()
	if !t.checks || size == 1 {
		return nil
	}
	h := fnv.New64a()
	for _, p := range t.tp.b.Params {
		h.Write(floatBytes(p.Data()))
	}
	for _, s := range t.tp.b.States {
		h.Write(floatBytes(s.Data))
	}
	sum := h.Sum64()
	const per = 3 // flips, checksum high and low 32 bits (exact in float64)
	v := make([]float64, per*size)
	r := t.comm.Rank()
	v[per*r], v[per*r+1], v[per*r+2] = float64(flips), float64(sum>>32), float64(sum&(1<<32-1))
	if err := t.comm.AllreduceSum64(v); err != nil {
		return fmt.Errorf("step %d: replica check: %w", t.step, err)
	}
	for q := 1; q < size; q++ {
		if v[per*q] != v[0] {
			return fmt.Errorf("step %d: rank %d counted %v sign flips, rank 0 %v: the replicas diverged", t.step, q, v[per*q], v[0])
		}
		if v[per*q+1] != v[1] || v[per*q+2] != v[2] {
			return fmt.Errorf("step %d: the weights or batch-normalization statistics of rank %d differ from rank 0's: the replicas diverged", t.step, q)
		}
	}
	t.log.Debug("replicas identical", "step", t.step, "ranks", size, "flips", flips, "checksum", fmt.Sprintf("%016x", sum))
	return nil
}

// floatBytes views v's memory as bytes.
func floatBytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// batchStatsReducer is what the training program sums its
// batch-normalization statistics with: the group when there are several
// ranks, none in a single process.
func batchStatsReducer(c dist.Comm) ops.BatchStatsReducer {
	if c.Size() == 1 {
		return nil
	}
	return c
}
