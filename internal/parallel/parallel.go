// Package parallel runs work split into parts on long-lived worker goroutines,
// without allocating per call: the engine's kernels call it many times per
// inference, where starting goroutines or allocating would show.
package parallel

import (
	"runtime"
	"sync"
)

// A Task is work split into parts; RunPart(part) is called once for every part
// in [0, parts). Parts run concurrently and must not wait for one another.
type Task interface {
	RunPart(part int)
}

type item struct {
	t    Task
	part int
	wg   *sync.WaitGroup
}

// The workers are started on first use and live for the rest of the process.
// They only run leaf work (a part never waits for another part), so several
// callers can share them without deadlock.
var workers struct {
	mu      sync.Mutex
	started int
	queue   chan item
}

func ensureWorkers(n int) {
	workers.mu.Lock()
	defer workers.mu.Unlock()
	if workers.queue == nil {
		workers.queue = make(chan item, 64)
	}
	for ; workers.started < n; workers.started++ {
		go func(q <-chan item) {
			for it := range q {
				it.t.RunPart(it.part)
				it.wg.Done()
			}
		}(workers.queue)
	}
}

// A Group runs one task at a time; keep one per concurrent caller (its zero
// value is ready to use). It exists so that Run allocates nothing.
type Group struct {
	wg sync.WaitGroup
}

// Run calls t.RunPart for every part in [0, parts), part 0 on the calling
// goroutine and the others on worker goroutines, and returns when all are
// done.
func (g *Group) Run(t Task, parts int) {
	if parts <= 1 {
		t.RunPart(0)
		return
	}
	ensureWorkers(parts - 1)
	g.wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		workers.queue <- item{t: t, part: p, wg: &g.wg}
	}
	t.RunPart(0)
	g.wg.Wait()
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
