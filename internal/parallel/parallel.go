// Package parallel runs work split into parts on long-lived worker goroutines,
// without allocating per call. It is the one worker pool of the engines'
// kernels (ops, ops/kernels, ops/spiking, infer/bitkern), which call it
// hundreds of times per training step, where starting goroutines or
// allocating would show.
//
// # Why the workers spin
//
// A training step runs a few hundred parallel kernels back to back, with a
// little serial work between them. A worker that blocks when its queue is
// empty lets its thread sleep, and the operating system then idles the core;
// on a virtual machine waking an idle core again costs a hypervisor round
// trip, measured at 50-100 µs on the reference machine, which is the length
// of a whole small kernel. So an idle worker, and a caller waiting for its
// parts, poll for Spin before they block, yielding the processor between
// polls (runtime.Gosched) so that other goroutines still run. OpenMP
// runtimes, and so PyTorch, do the same (OMP_WAIT_POLICY, KMP_BLOCKTIME).
// The polling costs CPU time only while the process is busy with kernels,
// and at most Spin after the last one.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Spin is how long an idle worker, or a caller waiting for its parts,
// polls before it blocks.
const Spin = 200 * time.Microsecond

// A Task is work split into parts; RunPart(part) is called once for every part
// in [0, parts). Parts run concurrently and must not wait for one another.
type Task interface {
	RunPart(part int)
}

type item struct {
	t    Task
	part int
	g    *Group
}

// The workers are started on first use and live for the rest of the process.
// A part may itself run a Group (a kernel calling another kernel): callers
// waiting for their parts run queued parts themselves, and a part that finds
// the queue full runs where it is, so nested and concurrent callers share the
// workers without deadlock.
var workers struct {
	mu      sync.Mutex
	started atomic.Int32
	queue   chan item
}

func ensureWorkers(n int) {
	if int(workers.started.Load()) >= n {
		return
	}
	workers.mu.Lock()
	defer workers.mu.Unlock()
	if workers.queue == nil {
		workers.queue = make(chan item, 64)
	}
	for int(workers.started.Load()) < n {
		workers.started.Add(1)
		go work(workers.queue)
	}
}

func work(q chan item) {
	for {
		var it item
		select {
		case it = <-q:
		default:
			it = receive(q)
		}
		it.run()
	}
}

// receive returns the next item of q, polling for Spin before it blocks.
func receive(q chan item) item {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case it := <-q:
			return it
		default:
		}
		if i%32 == 0 && time.Since(start) > Spin {
			return <-q
		}
		runtime.Gosched()
	}
}

func (it item) run() {
	it.t.RunPart(it.part)
	it.g.partDone()
}

// A Group runs the parts of one call at a time. The zero value is ready to
// use; it must not be copied after first use.
type Group struct {
	pending atomic.Int32  // parts handed out and not yet done
	done    chan struct{} // receives once when the last of them is done
}

// Run runs t's parts 0..parts-1, part 0 on the calling goroutine, the others
// on the workers, and returns when all are done.
func (g *Group) Run(t Task, parts int) {
	if parts <= 1 {
		t.RunPart(0)
		return
	}
	if g.done == nil {
		g.done = make(chan struct{}, 1)
	}
	ensureWorkers(parts - 1)
	g.pending.Store(int32(parts - 1))
	for p := 1; p < parts; p++ {
		select {
		case workers.queue <- item{t: t, part: p, g: g}:
		default: // the workers are saturated: run it here
			item{t: t, part: p, g: g}.run()
		}
	}
	t.RunPart(0)
	g.wait()
}

// partDone is called when one of the parts handed out is done.
func (g *Group) partDone() {
	if g.pending.Add(-1) == 0 {
		g.done <- struct{}{}
	}
}

// wait returns when the parts handed out are done, running queued parts of
// any caller meanwhile, polling for Spin before it blocks.
func (g *Group) wait() {
	q := workers.queue
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case <-g.done:
			return
		case it := <-q:
			it.run()
			continue
		default:
		}
		if i%32 == 0 && time.Since(start) > Spin {
			break
		}
		runtime.Gosched()
	}
	for {
		select {
		case <-g.done:
			return
		case it := <-q:
			it.run()
		}
	}
}

// Threads returns n when it is positive, else GOMAXPROCS: the number of
// goroutines a kernel uses when its caller asks for n threads (0: all).
func Threads(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// A FreeList recycles values (scratch space of concurrent kernel calls).
// Unlike a sync.Pool it never drops what it holds (a pool empties on every
// GC and would reallocate the buffers), and it holds at most as many values
// as were ever in use at once. The zero value is ready to use.
type FreeList[T any] struct {
	mu   sync.Mutex
	free []*T
}

// Get returns a recycled value, or a new zero one.
func (l *FreeList[T]) Get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		v := l.free[n-1]
		l.free = l.free[:n-1]
		return v
	}
	return new(T)
}

// Put gives v back for a later Get.
func (l *FreeList[T]) Put(v *T) {
	l.mu.Lock()
	l.free = append(l.free, v)
	l.mu.Unlock()
}
