package ops

import (
	"slices"
	"sync"
)

// An Arena is the memory that compiled programs keep their intermediate
// values in. A program plans, when it is compiled, which values can share
// memory (two values share it when one is no longer read by the time the
// other is written), so its arena holds a few layers' activations rather
// than one buffer per op.
//
// Programs compiled with the same Arena (Options.Arena) share that memory:
// a training program and the evaluation programs of the same run, for
// example, need the memory of the largest of them, not of all of them. They
// must not run at the same time. Between runs nothing in an arena is kept:
// a program's outputs, gradients and loss live outside it.
//
// The memory is allocated when a program first runs, at the size of the
// largest program compiled with the arena so far: compile every program of
// a run before running one, and the arena is allocated once.
type Arena struct {
	mu   sync.Mutex
	buf  []float32
	want int // the largest program's need so far
	gen  int // incremented each time buf is replaced
}

// NewArena returns an empty arena; it grows to the largest program that
// uses it.
func NewArena() *Arena { return &Arena{} }

// Len returns the arena's allocated size in float32 values.
func (a *Arena) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.buf)
}

// plan records that a program needs n values.
func (a *Arena) plan(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.want = max(a.want, n)
}

// memory returns the arena's memory, allocated at the largest need planned
// so far, and its generation. Growing replaces the memory: programs bound
// to the old one rebind before their next run (Program.Run compares
// generations).
func (a *Arena) memory() ([]float32, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.want > len(a.buf) {
		a.buf = nil // let the old memory go before the new is allocated
		a.buf = make([]float32, a.want)
		a.gen++
	}
	return a.buf, a.gen
}

// arenaAlign is the granularity of arena offsets in float32 values (64
// bytes: a cache line, and aligned for any vector width the kernels use).
const arenaAlign = 16

// interval is one arena value's lifetime in program steps (both ends
// included: a value read by step i cannot share memory with the output of
// step i) and its size.
type interval struct {
	def, last int
	size      int
	off       int // assigned offset
}

// planOffsets assigns every interval an offset so that intervals alive at
// the same step do not overlap in memory, and returns the arena size
// needed. It is the greedy-by-size strategy of TensorFlow Lite's arena
// planner: the largest values are placed first, each at the lowest offset
// that fits between the values already placed that are alive with it.
func planOffsets(vals []*interval) int {
	order := slices.Clone(vals)
	slices.SortStableFunc(order, func(a, b *interval) int {
		if a.size != b.size {
			return b.size - a.size
		}
		return a.def - b.def
	})
	var placed []*interval // sorted by offset
	total := 0
	for _, v := range order {
		size := roundUp(v.size, arenaAlign)
		off := 0
		for _, p := range placed {
			if p.last < v.def || v.last < p.def {
				continue // not alive at the same time
			}
			if p.off >= off+size {
				break // v fits below p
			}
			off = max(off, p.off+roundUp(p.size, arenaAlign))
		}
		v.off = off
		total = max(total, off+size)
		i, _ := slices.BinarySearchFunc(placed, v, func(a, b *interval) int { return a.off - b.off })
		placed = slices.Insert(placed, i, v)
	}
	return total
}

// generation returns the arena's current generation.
func (a *Arena) generation() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }
