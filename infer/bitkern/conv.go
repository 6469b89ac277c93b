package bitkern

import (
	"fmt"
	"sync/atomic"

	"github.com/bsnnctl/bsnnctl/internal/parallel"
)

// Conv is a binary convolution ready to run: its parameters and packed
// weights. It is safe for concurrent use; scratch space is recycled between
// calls, so steady-state calls allocate nothing.
type Conv struct {
	p      ConvParams
	w      *Weights
	oh, ow int

	scratch parallel.FreeList[convScratch]
	tasks   parallel.FreeList[convTask]
}

// NewConv returns the convolution p with the packed weights w (packed for p
// by PackConvWeights or PackDenseWeights).
func NewConv(p ConvParams, w *Weights) (*Conv, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if w.m != p.M || w.g.c != p.C || w.g.kh != p.KH || w.g.kw != p.KW {
		return nil, fmt.Errorf("bitkern: NewConv: weights packed for M=%d C=%d %dx%d, convolution has M=%d C=%d %dx%d",
			w.m, w.g.c, w.g.kh, w.g.kw, p.M, p.C, p.KH, p.KW)
	}
	return &Conv{p: p, w: w, oh: p.OutH(), ow: p.OutW()}, nil
}

// Repack packs new float weights [M, C, KH, KW] into the convolution's
// weights, in place (a training step's binarized weights): the weights are
// the convolution's own, packed by PackConvWeights for it, and no call of
// the convolution may run meanwhile.
func (c *Conv) Repack(w []float32) error {
	p := c.p
	if want := p.M * p.C * p.KH * p.KW; len(w) != want {
		return fmt.Errorf("bitkern: Repack: %d weights, want M*C*KH*KW = %d", len(w), want)
	}
	clear(c.w.words)
	c.w.packConv(p, w)
	return nil
}

// Params returns the convolution's parameters.
func (c *Conv) Params() ConvParams { return c.p }

// Weights returns the packed weights.
func (c *Conv) Weights() *Weights { return c.w }

// convScratch is one goroutine's working space: the patcher, patches and
// their spike counts, and the accumulator tile.
type convScratch struct {
	pt   *patcher
	a    []uint64
	pcs  []int32
	acc  []int32
	gate []float32
	v, x []float32
	mem  []float32
	ea   epiArgs
}

// Tile budgets: a band of output rows is built and multiplied at once; its
// patches and its accumulators should stay in the 48 KiB L1 data cache
// (Zen 4/5) or at least in L2 while the GEMM sweeps them.
const (
	patchBudgetBytes = 16 << 10
	accBudgetBytes   = 32 << 10
	maxBandPixels    = 1024
)

// minParallelMACs is the size of the smallest call that is spread over
// threads: below it, handing parts to other threads costs more than it
// saves (ResNet-20 at batch 1, whose layers are 9.4 M binary MACs each,
// ran 30% slower on two threads than on one on the reference machine).
// The tests lower it to cover the threaded paths with small cases.
var minParallelMACs int64 = 32 << 20

// mPad is the channel count rounded up to whole weight blocks: the row
// stride of accumulator tiles.
func (c *Conv) mPad() int { return c.w.blocks() * blockM }

// bandRows returns how many output rows a work item covers, for accumulator
// tiles of steps time steps and at least minItems items over n images.
func (c *Conv) bandRows(steps, n, minItems int) int {
	px := min(patchBudgetBytes/(8*c.w.g.kWords), accBudgetBytes/(4*c.mPad()*steps), maxBandPixels)
	rows := max(1, px/c.ow)
	// Enough items for every thread (and some slack for balance).
	if per := (minItems + n - 1) / n; per > 1 {
		rows = min(rows, max(1, c.oh/per))
	}
	return min(rows, c.oh)
}

// getScratch returns scratch space for bands of rows output rows and steps
// accumulator tiles.
func (c *Conv) getScratch(rows, steps int, k *tileKernel) *convScratch {
	s := c.scratch.Get()
	if s.pt == nil {
		s.pt = newPatcher(c.p, c.w.g)
	}
	s.pt.k = k
	px := roundUp(rows*c.ow+k.rows-1, k.rows)
	// Rows past a band's end (up to a whole tile, see bandTile) are
	// computed from whatever the buffers hold there, and dropped.
	s.a = grow(s.a, px*c.w.g.kWords)
	s.pcs = grow(s.pcs, px)
	s.acc = grow(s.acc, steps*px*c.mPad())
	return s
}

// Int32 computes out = conv(x, w) as exact integers: x holds N packed images
// (N*H*W*Words(C) words), out is [N, OutH, OutW, M] (channels last) and is
// overwritten. threads goroutines work on it (0: GOMAXPROCS). It panics when
// a slice is too short.
func (c *Conv) Int32(x []uint64, out []int32, threads int) {
	p := c.p
	mustLen("Int32", "x", len(x), p.InLen())
	mustLen("Int32", "out", len(out), p.N*c.oh*c.ow*p.M)
	c.run(convCall{mode: outInt32, steps: 1, x: x, i32: out}, threads)
}

// Output modes of a convCall.
const (
	outInt32 = iota
	outFloat32
	outSpikes
)

// convCall is one call: the input, the epilogue and the output.
type convCall struct {
	mode         int
	steps        int // time steps: image t*N/steps + n is step t of sample n
	x            []uint64
	e            *Epilogue
	i32          []int32
	f32          []float32
	spk          []uint64
	scale, shift []float32 // e.Affine padded to mPad channels (nil: none)
}

// run runs call on threads goroutines. Work items are (sample, band of
// output rows); an item computes the band for every time step, then runs
// the epilogue over the steps, so LIF membranes live in registers and the
// accumulators in cache.
func (c *Conv) run(call convCall, threads int) {
	t := c.tasks.Get()
	defer c.tasks.Put(t)
	threads = parallel.Threads(threads)
	if c.p.MACs() < minParallelMACs {
		threads = 1
	}
	samples := c.p.N / call.steps
	t.c, t.k, t.call = c, activeKernel(), call
	if call.e != nil && call.e.Affine.Scale != nil {
		mp := c.mPad()
		t.scale, t.shift = grow(t.scale, mp), grow(t.shift, mp)
		clear(t.scale[copy(t.scale, call.e.Affine.Scale):])
		clear(t.shift[copy(t.shift, call.e.Affine.Shift):])
		t.call.scale, t.call.shift = t.scale, t.shift
	}
	t.rows = c.bandRows(call.steps, samples, 2*threads)
	t.bands = (c.oh + t.rows - 1) / t.rows
	t.items = samples * t.bands
	t.next.Store(0)
	t.group.Run(t, min(threads, t.items))
	t.call = convCall{}
}

// convTask is one run, split into items that the parts take in turn.
type convTask struct {
	c                  *Conv
	k                  *tileKernel
	call               convCall
	rows, bands, items int
	next               atomic.Int64
	group              parallel.Group
	scale, shift       []float32
}

func (t *convTask) RunPart(int) {
	c, p, call := t.c, t.c.p, &t.call
	s := c.getScratch(t.rows, call.steps, t.k)
	defer c.scratch.Put(s)
	imgLen := p.H * p.W * p.InWords()
	samples := p.N / call.steps
	mp := c.mPad()
	for {
		i := int(t.next.Add(1)) - 1
		if i >= t.items {
			return
		}
		n, band := i/t.bands, i%t.bands
		oy0 := band * t.rows
		oy1 := min(oy0+t.rows, c.oh)
		q0, q1 := oy0*c.ow, oy1*c.ow
		rows := c.bandTile(q1-q0, t.k)
		for step := range call.steps {
			img := step*samples + n
			s.pt.build(call.x[img*imgLen:][:imgLen], oy0, oy1)
			op := s.pt.patches(oy0, oy1, s.a, s.pcs)
			if call.mode == outInt32 {
				dst := call.i32[(img*c.oh*c.ow+q0)*p.M:]
				if mp == p.M && rows == q1-q0 {
					gemm(t.k, c.w, op, s.pcs, rows, dst, mp)
					continue
				}
				gemm(t.k, c.w, op, s.pcs, rows, s.acc, mp)
				for q := range q1 - q0 {
					d, a := dst[q*p.M:][:p.M], s.acc[q*mp:][:p.M]
					for m, v := range a {
						d[m] = v
					}
				}
				continue
			}
			gemm(t.k, c.w, op, s.pcs, rows, s.acc[step*rows*mp:], mp)
		}
		if call.mode != outInt32 {
			c.epilogue(t.k, call, s, n, q0, q1, rows)
		}
	}
}

// bandTile returns the number of patch rows the GEMM computes for a band
// of n output pixels: n rounded up to whole tiles or, when the patches
// come in rows with a pitch (see gemm and pitchedRows), one tile more.
func (c *Conv) bandTile(n int, k *tileKernel) int {
	if pitchedRows(&c.p, &c.w.g) {
		return roundUp(n+k.rows-1, k.rows)
	}
	return roundUp(n, k.rows)
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// grow returns s resliced to n elements, reallocated when too small. The
// contents are unspecified.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func mustLen(fn, name string, have, want int) {
	if have < want {
		panic(fmt.Sprintf("bitkern: %s: %s has %d elements, want %d", fn, name, have, want))
	}
}
