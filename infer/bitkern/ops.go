package bitkern

import (
	"fmt"
	"math/bits"
	"sync/atomic"

	"github.com/bsnnctl/bsnnctl/internal/parallel"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// LIFChannelsLast runs the multi-step LIF neuron on float32 inputs and
// packs the spikes. x holds T steps of N images of P pixels, channels last
// with a stride of ldc floats per pixel (ldc >= C; channel c of pixel p of
// image i at x[(i*P+p)*ldc+c], image t*N+n for step t of sample n), or,
// when repeated is set, one step (N images) that every step receives (a
// directly encoded input). out receives T*N packed images. The spikes are
// identical to spiking.LIFForward's: the epilogue's operations, with an
// identity affine step (x*1 + 0, which can only turn -0 into +0, and no
// comparison or non-zero value tells those apart).
func LIFChannelsLast(lif spiking.LIFParams, T, N, P, C, ldc int, x []float32, repeated bool, out []uint64, threads int) error {
	return runLIF(lif, T, N, P, C, ldc, false, x, repeated, out, threads)
}

// LIFNCHW is LIFChannelsLast on images in NCHW order (channel c of pixel
// p of image i at x[(i*C+c)*P+p]): each thread moves its samples' images
// to channels last in a buffer of its own as it goes, which keeps them in
// cache and spreads the transposition over the threads.
func LIFNCHW(lif spiking.LIFParams, T, N, P, C int, x []float32, repeated bool, out []uint64, threads int) error {
	return runLIF(lif, T, N, P, C, C, true, x, repeated, out, threads)
}

func runLIF(lif spiking.LIFParams, T, N, P, C, ldc int, nchw bool, x []float32, repeated bool, out []uint64, threads int) error {
	if err := lif.Validate(); err != nil {
		return err
	}
	steps := T
	if repeated {
		steps = 1
	}
	if T < 1 || N < 1 || P < 1 || C < 1 || ldc < C {
		return fmt.Errorf("bitkern: LIFChannelsLast: T=%d N=%d P=%d C=%d ldc=%d", T, N, P, C, ldc)
	}
	mw := Words(C)
	if len(x) < steps*N*P*ldc || len(out) < T*N*P*mw {
		return fmt.Errorf("bitkern: LIFChannelsLast: x has %d values and out %d words, want %d and %d", len(x), len(out), steps*N*P*ldc, T*N*P*mw)
	}
	t := &lifTask{k: activeKernel(), n: N, steps: steps, x: x}
	if nchw {
		// The buffers have whole groups of 16 channels.
		t.nchw, ldc = true, roundUp(C, blockM)
	}
	// The assembly epilogues read whole groups of 16 channels.
	if ldc%blockM != 0 {
		t.k = goKernel
	}
	cp := roundUp(C, blockM)
	one, zero, gate := make([]float32, cp), make([]float32, cp), make([]float32, T)
	for i := range one {
		one[i] = 1
	}
	for i := range gate {
		gate[i] = 1
	}
	accT := N * P * ldc
	if repeated {
		accT = 0
	}
	t.a = epiArgs{T: T, rows: P, m: C, mw: mw, accF: x, accT: accT, ldd: ldc,
		gate: gate, scale: one, shift: zero, out: out, outT: N * P * mw, lif: newLIFConsts(lif)}
	clear(out[:T*N*P*mw])
	var g parallel.Group
	g.Run(t, min(parallel.Threads(threads), N))
	return nil
}

// lifTask runs runLIF's samples, split over parts.
type lifTask struct {
	k     *tileKernel
	a     epiArgs
	n     int
	steps int       // input images per sample
	x     []float32 // the input
	nchw  bool      // x is NCHW: each part transposes a sample's images
	next  atomic.Int64
}

// lifScratch is one part's working space; lifScratches recycles it
// between calls, so steady-state calls allocate little.
type lifScratch struct {
	v, x, mem, buf []float32
}

var lifScratches parallel.FreeList[lifScratch]

func (t *lifTask) RunPart(int) {
	a := t.a
	s := lifScratches.Get()
	defer lifScratches.Put(s)
	s.v, s.x = grow(s.v, a.m), grow(s.x, a.m)
	s.mem = grow(s.mem, a.rows*roundUp(a.m, blockM))
	a.v, a.x, a.mem = s.v, s.x, s.mem
	var buf []float32
	if t.nchw {
		s.buf = grow(s.buf, t.steps*a.rows*a.ldd)
		buf = s.buf
	}
	for {
		i := int(t.next.Add(1)) - 1
		if i >= t.n {
			return
		}
		b := a
		if !t.nchw {
			b.accF = a.accF[i*a.rows*a.ldd:]
		} else {
			// Step s of sample i is image s*N+i; in buf, image s.
			img := a.m * a.rows
			for s := range t.steps {
				nchwToNHWC(a.m, a.rows, a.ldd, t.x[(s*t.n+i)*img:][:img], buf[s*a.rows*a.ldd:][:a.rows*a.ldd])
			}
			b.accF = buf
			if t.steps > 1 {
				b.accT = a.rows * a.ldd
			}
		}
		b.out = a.out[i*a.rows*a.mw:]
		if t.k.epi == nil || !t.k.epi(&b) {
			epiSpikesGo(&b)
		}
	}
}

// nchwToNHWC transposes one image of c channels and p pixels to channels
// last with ldc floats per pixel; the channels past c are zero.
func nchwToNHWC(c, p, ldc int, src, dst []float32) {
	if ldc > c {
		clear(dst)
	}
	for ch := range c {
		for q, v := range src[ch*p:][:p] {
			dst[q*ldc+ch] = v
		}
	}
}

// MaxPool computes the max pooling p of N packed images: the maximum of 0/1
// values is their OR, and the padding (which ONNX fills with -inf) adds
// nothing to it. out receives N images of p.OutH() x p.OutW(). p must be
// valid (p.Validate).
func MaxPool(p kernels.PoolParams, x, out []uint64) {
	cw, oh, ow := Words(p.C), p.OutH(), p.OutW()
	mustLen("MaxPool", "x", len(x), p.N*p.H*p.W*cw)
	mustLen("MaxPool", "out", len(out), p.N*oh*ow*cw)
	for n := range p.N {
		img := x[n*p.H*p.W*cw:][:p.H*p.W*cw]
		dst := out[n*oh*ow*cw:][:oh*ow*cw]
		for oy := range oh {
			for ox := range ow {
				d := dst[(oy*ow+ox)*cw:][:cw]
				clear(d)
				for i := range p.KH {
					iy := oy*p.StrideH - p.PadTop + i*p.DilH
					if iy < 0 || iy >= p.H {
						continue
					}
					for j := range p.KW {
						ix := ox*p.StrideW - p.PadLeft + j*p.DilW
						if ix < 0 || ix >= p.W {
							continue
						}
						for k, v := range img[(iy*p.W+ix)*cw:][:cw] {
							d[k] |= v
						}
					}
				}
			}
		}
	}
}

// ChannelCounts writes, for each of N packed images of C channels and P
// pixels, the number of spikes of every channel: counts[n*C+c].
func ChannelCounts(N, C, P int, x []uint64, counts []int32) {
	cw := Words(C)
	mustLen("ChannelCounts", "x", len(x), N*P*cw)
	mustLen("ChannelCounts", "counts", len(counts), N*C)
	clear(counts[:N*C])
	for n := range N {
		cnt := counts[n*C:][:C]
		for p := range P {
			for k, v := range x[(n*P+p)*cw:][:cw] {
				for v != 0 {
					cnt[k*64+bits.TrailingZeros64(v)]++
					v &= v - 1
				}
			}
		}
	}
}
