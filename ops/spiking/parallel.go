package spiking

import (
	"sync"

	"github.com/bsnnctl/bsnnctl/internal/parallel"
)

// The kernels split large inputs into maxParts contiguous parts. Part 0 runs on the calling
// goroutine and the other parts on the workers of internal/parallel. The split depends only on
// the sizes, never on GOMAXPROCS or on which goroutine runs a part, so results (including
// reductions merged across parts) are bit-identical from run to run.
//
// Nothing is allocated per call in steady state: the job structs come from a sync.Pool and the
// parallel tasks from a free list.
const (
	maxParts = 2
	// parMinWork is the element count (per operation, summed over the whole tensor) below
	// which a kernel stays on the calling goroutine: the hand-off costs a few microseconds.
	parMinWork = 1 << 16
	// partAlign keeps part boundaries on 64-byte cache lines (16 float32) so that two parts
	// never write the same line.
	partAlign = 16
)

// rangeJob is one kernel invocation that can run any sub-range [lo, hi) of its index space.
// part identifies the range (0..parts-1) for kernels that keep per-part partial results.
type rangeJob interface {
	runRange(part, lo, hi int)
}

// numParts is the number of parts for n independent units holding work elements in total,
// when a part should get at least minUnits units.
func numParts(n, work, minUnits int) int {
	if work < parMinWork || n < maxParts*minUnits {
		return 1
	}
	return maxParts
}

// partRange returns part p of [0, n) split into parts pieces aligned to align.
func partRange(n, parts, p, align int) (lo, hi int) {
	per := (n + parts - 1) / parts
	per = (per + align - 1) / align * align
	lo = min(p*per, n)
	hi = min(lo+per, n)
	return lo, hi
}

// runParts runs job over [0, n) split into parts pieces (see numParts), each boundary a
// multiple of align, and returns when every piece is done.
func runParts(job rangeJob, n, parts, align int) {
	if parts <= 1 {
		job.runRange(0, 0, n)
		return
	}
	r := rangers.Get()
	r.job, r.n, r.parts, r.align = job, n, parts, align
	r.group.Run(r, parts)
	r.job = nil
	rangers.Put(r)
}

// ranger runs a rangeJob's pieces as a parallel.Task; concurrent calls take
// their own from rangers.
type ranger struct {
	job             rangeJob
	n, parts, align int
	group           parallel.Group
}

var rangers parallel.FreeList[ranger]

// RunPart runs piece part.
func (r *ranger) RunPart(part int) {
	lo, hi := partRange(r.n, r.parts, part, r.align)
	r.job.runRange(part, lo, hi)
}

// jobPool recycles the job structs handed to helpers, so that parallel calls do not allocate.
type jobPool[J any] struct{ p sync.Pool }

func (jp *jobPool[J]) get() *J {
	if j, ok := jp.p.Get().(*J); ok {
		return j
	}
	return new(J)
}

// put clears j, dropping its references to the caller's slices, and recycles it. A job with a
// reset method clears itself (to keep buffers of its own).
func (jp *jobPool[J]) put(j *J) {
	if r, ok := any(j).(interface{ reset() }); ok {
		r.reset()
	} else {
		var zero J
		*j = zero
	}
	jp.p.Put(j)
}
