package ops

import (
	"runtime"

	"github.com/bsnnctl/bsnnctl/internal/parallel"
)

// The kernels of this package split their work with internal/parallel.

// A partTask is work split into parts: runPart(part, parts) is called once
// for every part in [0, parts).
type partTask interface {
	runPart(part, parts int)
}

// partRunner runs a partTask's parts; a task holds its own, so that a call
// allocates nothing. One call at a time.
type partRunner struct {
	t     partTask
	parts int
	group parallel.Group
}

// run runs t's parts 0..parts-1 (part 0 on the calling goroutine) and
// returns when all are done.
func (r *partRunner) run(t partTask, parts int) {
	if parts <= 1 {
		t.runPart(0, 1)
		return
	}
	r.t, r.parts = t, parts
	r.group.Run(r, parts)
	r.t = nil
}

// RunPart is parallel.Task's method.
func (r *partRunner) RunPart(part int) { r.t.runPart(part, r.parts) }

// partsFor returns how many parts to split items over, given the total
// number of floats touched: one below 32K floats, else up to GOMAXPROCS.
func partsFor(items, floats int) int {
	if floats < 1<<15 {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), items))
}
