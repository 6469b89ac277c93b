package ops

import "fmt"

// Synchronized batch normalization: in a data-parallel run every replica
// compiles the model for its slice of the global batch, and BatchNormalization
// in training mode must still normalize with the statistics of the whole
// global batch, as one process training on it would. With
// Options.BatchStatsReducer the BatchNormalization kernels sum their
// per-channel sums over the replicas, in the forward pass (sum(x),
// sum(x^2), the sample count) and in the backward pass (sum(dY),
// sum(dY*xhat), which dX needs), so that every replica computes the same
// mean, variance, running statistics and input gradient as one process
// with the global batch (up to the order of float64 additions). The
// gradients of scale and B stay those of this replica's samples: the
// trainer sums them over the replicas with the other parameters'
// gradients.

// A BatchStatsReducer sums BatchNormalization's per-channel sums over the
// replicas of a data-parallel run. dist.Comm is one.
type BatchStatsReducer interface {
	// AllreduceSum64 replaces sums, on every replica, by the element-wise
	// sum of every replica's sums. Every replica must get the same bits
	// and call it at the same points: once per BatchNormalization node in
	// the forward pass, and once more in the backward pass of those whose
	// input has a gradient, in program order.
	AllreduceSum64(sums []float64) error
}

// bnSync is a training-mode BatchNormalization kernel's synchronization
// with the other replicas. Its buffers are made at compile time: a step
// allocates nothing.
type bnSync struct {
	k *bnKernel
	r BatchStatsReducer
	// sums holds, per channel, this replica's sums and then, after the
	// reduction, every replica's: forward sum(x), sum(x^2) and the count
	// (2c+1 values), backward sum(dY), sum(dY*xhat) (2c values).
	sums []float64
	// global holds the backward sums over every replica in float32 while
	// dX is computed (the kernel's own sums keep this replica's, the
	// gradients of B and scale).
	global []float32
	count  int // values per channel over every replica, from the last forward
	task   bnSyncTask
}

func newBNSync(k *bnKernel, r BatchStatsReducer) *bnSync {
	s := &bnSync{k: k, r: r, sums: make([]float64, 2*k.c+1), global: make([]float32, 2*k.c), count: k.n * k.s}
	s.task.f, s.task.s = k, s
	return s
}

// forward computes this replica's sums, reduces them, and normalizes with
// the statistics of the global batch (or, for a kernel fused into a LIF,
// only sets them).
func (s *bnSync) forward(x, scale, bias, out []float32) error {
	c := s.k.c
	s.task.run(syncFwdSums, x, nil, nil, nil, nil)
	s.sums[2*c] = float64(s.k.n * s.k.s)
	if err := s.r.AllreduceSum64(s.sums); err != nil {
		return fmt.Errorf("summing the batch statistics over the replicas: %w", err)
	}
	s.count = int(s.sums[2*c])
	apply := syncFwdApply
	if s.k.feedsLIF {
		apply = syncFwdStats
	}
	s.task.run(apply, x, scale, bias, nil, out)
	return nil
}

// dx computes this replica's backward sums (kept for the B and scale
// gradients), from dY and X or, with rows, from the row sums the fused LIF
// left, reduces them, and writes dX with the global batch's sums.
func (s *bnSync) dx(x, scale, dy, out []float32, rows bool) error {
	k := s.k
	sums := syncBwdSums
	if rows {
		sums = syncBwdRowSums
	}
	s.task.run(sums, x, scale, nil, dy, nil)
	if err := s.r.AllreduceSum64(s.sums[:2*k.c]); err != nil {
		return fmt.Errorf("summing the batch-normalization gradient sums over the replicas: %w", err)
	}
	for i := range s.global {
		s.global[i] = float32(s.sums[i])
	}
	own := k.sums
	k.sums = s.global // what dxTrain reads
	s.task.run(syncBwdApply, x, scale, nil, dy, out)
	k.sums = own
	return nil
}

const (
	syncFwdSums = iota
	syncFwdApply
	syncFwdStats
	syncBwdSums
	syncBwdRowSums
	syncBwdApply
)

// bnSyncTask runs one phase (its mode) of a synchronized
// BatchNormalization split over channels, with bnTask's per-channel
// computations.
type bnSyncTask struct {
	bnTask
	s *bnSync
}

func (t *bnSyncTask) run(phase int, x, scale, bias, dy, out []float32) {
	t.startParts(t, phase, x, scale, bias, dy, out)
}

func (t *bnSyncTask) runPart(part, parts int) {
	f := t.f
	for c := f.c * part / parts; c < f.c*(part+1)/parts; c++ {
		switch t.mode {
		case syncFwdSums:
			t.s.sums[c], t.s.sums[f.c+c] = t.channelSums(c)
		case syncFwdApply:
			t.setStats(c, t.s.sums[c], t.s.sums[f.c+c], float64(t.s.count))
			t.normalize(c)
		case syncFwdStats:
			t.setStats(c, t.s.sums[c], t.s.sums[f.c+c], float64(t.s.count))
		case syncBwdSums:
			t.reduce(c) // leaves the float64 sums in t.s.sums
		case syncBwdRowSums:
			t.reduceRows(c)
		case syncBwdApply:
			t.dxTrain(c)
		}
	}
}
