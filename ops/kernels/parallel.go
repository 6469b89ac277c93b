package kernels

import (
	"runtime"
	"sync"
)

// A task is work split into parts that run concurrently: run(part) is called
// once for every part in [0, parts).
type task interface {
	run(part int)
}

type workItem struct {
	t    task
	part int
	done *sync.WaitGroup
}

// The worker goroutines are started on first use and live for the rest of the
// process. They only run leaf work (a task part never waits for other parts),
// so several callers can share them without deadlock.
var workers struct {
	mu      sync.Mutex
	started int
	queue   chan workItem
}

func startWorkers(n int) {
	workers.mu.Lock()
	defer workers.mu.Unlock()
	if workers.queue == nil {
		workers.queue = make(chan workItem, 64)
	}
	for ; workers.started < n; workers.started++ {
		go func(q <-chan workItem) {
			for it := range q {
				it.t.run(it.part)
				it.done.Done()
			}
		}(workers.queue)
	}
}

// runParts runs t.run(0..parts-1), part 0 on the calling goroutine and the
// others on the worker goroutines, and returns when all are done. wg must not
// be in use by another runParts call; tasks embed their own so that nothing
// is allocated per call.
func runParts(t task, parts int, wg *sync.WaitGroup) {
	if parts <= 1 {
		t.run(0)
		return
	}
	startWorkers(parts - 1)
	wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		workers.queue <- workItem{t: t, part: p, done: wg}
	}
	t.run(0)
	wg.Wait()
}

// maxThreads returns how many goroutines a kernel may use: GOMAXPROCS.
func maxThreads() int {
	return runtime.GOMAXPROCS(0)
}
