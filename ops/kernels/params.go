package kernels

import (
	"fmt"
	"sync"
)

// field is a named integer parameter, for validation messages.
type field struct {
	name string
	v    int
}

// atLeast appends an error to errs for every field below lo.
func atLeast(errs []error, lo int, fields ...field) []error {
	for _, f := range fields {
		if f.v < lo {
			errs = append(errs, fmt.Errorf("%s is %d, must be >= %d", f.name, f.v, lo))
		}
	}
	return errs
}

// namedLen is a slice argument's length and the length the call needs.
type namedLen struct {
	name       string
	have, want int
}

// mustCheck panics, naming the function, when err (the parameters'
// validation result) is not nil or a slice is too short.
func mustCheck(fn string, err error, slices ...namedLen) {
	if err != nil {
		panic(fmt.Sprintf("kernels: %s: %v", fn, err))
	}
	for _, s := range slices {
		if s.have < s.want {
			panic(fmt.Sprintf("kernels: %s: %s has %d elements, want %d", fn, s.name, s.have, s.want))
		}
	}
}

// freeList recycles per-call state and buffers. Unlike a sync.Pool it
// never drops what it holds (a pool empties on every GC, which would
// reallocate megabytes of packing buffers), so steady-state calls allocate
// nothing. It holds at most as many values as were ever in use at once.
type freeList[T any] struct {
	mu   sync.Mutex
	free []*T
}

func (l *freeList[T]) get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		v := l.free[n-1]
		l.free = l.free[:n-1]
		return v
	}
	return new(T)
}

func (l *freeList[T]) put(v *T) {
	l.mu.Lock()
	l.free = append(l.free, v)
	l.mu.Unlock()
}
