package train

import "fmt"

// A Comm connects the replicas of a data-parallel run: Size processes (or
// goroutines), each training a copy of the model on its slice of every
// batch. The Trainer uses it at three points:
//
//   - batch slicing: replica Rank trains on samples [Rank*B/Size,
//     (Rank+1)*B/Size) of each global batch of B samples (Config.Batch
//     must be a multiple of Size); every replica draws the same global
//     batches, since the data order is a function of the seed;
//   - gradient reduction: after the backward pass, the flattened gradients
//     of every parameter (one contiguous buffer, ops.Program.FlatGrads)
//     are summed over the replicas with AllReduceSum and divided by Size,
//     before clipping and the optimizer step, so every replica applies the
//     same update;
//   - batch-normalization statistics: BatchNormalization normalizes with
//     the statistics of the replica's own slice (as PyTorch's
//     DistributedDataParallel does without SyncBatchNorm); the running
//     statistics are averaged over the replicas before every evaluation
//     and checkpoint, so the saved model is the same on every replica.
//
// Only replica 0 writes RUNDIR and reports events. The per-step training
// metrics (loss, accuracy) are those of replica 0's slice.
//
// Local is the single-process Comm; an MPI implementation would wrap
// MPI_Allreduce.
type Comm interface {
	// Rank is this replica's index in [0, Size).
	Rank() int
	// Size is the number of replicas.
	Size() int
	// AllReduceSum replaces v, on every replica, by the element-wise sum
	// of the replicas' v (same length everywhere).
	AllReduceSum(v []float32) error
}

// Local is the Comm of a run without replicas: rank 0 of 1, and reductions
// leave their values as they are.
type Local struct{}

func (Local) Rank() int                    { return 0 }
func (Local) Size() int                    { return 1 }
func (Local) AllReduceSum([]float32) error { return nil }

// shardRange returns the samples [lo, hi) of a batch of n that replica rank
// of size trains on.
func shardRange(n, rank, size int) (lo, hi int) {
	return rank * n / size, (rank + 1) * n / size
}

// checkComm validates a Comm against the batch size.
func checkComm(c Comm, batch int) error {
	size, rank := c.Size(), c.Rank()
	switch {
	case size < 1 || rank < 0 || rank >= size:
		return fmt.Errorf("data-parallel rank %d of %d", rank, size)
	case batch%size != 0:
		return fmt.Errorf("batch %d does not split evenly over %d replicas", batch, size)
	}
	return nil
}

// allReduceMean averages v over the replicas (in place).
func allReduceMean(c Comm, v []float32) error {
	if c.Size() == 1 {
		return nil
	}
	if err := c.AllReduceSum(v); err != nil {
		return fmt.Errorf("all-reduce of %d values: %w", len(v), err)
	}
	s := 1 / float32(c.Size())
	for i := range v {
		v[i] *= s
	}
	return nil
}
