package kernels

import "runtime"

// Kernels split their work with internal/parallel: a call's state (convCall,
// gemmCall, poolCall) is its parallel.Task and holds the parallel.Group it
// runs with, so that a call allocates nothing.

// maxThreads returns how many goroutines a kernel may use: GOMAXPROCS.
func maxThreads() int {
	return runtime.GOMAXPROCS(0)
}
