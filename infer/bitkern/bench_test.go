package bitkern

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// Roofline. The AVX2 way to count the bits of s AND w (Muła, Kurz, Lemire
// 2018) takes 8 vector instructions per 256 bits: VPAND, VPSRLW, two VPAND
// with 0x0f, two VPSHUFB table lookups, two VPADDB into a byte accumulator
// (the VPSADBW that sums the bytes runs once per up to 31 words and is
// negligible). Zen 4 and Zen 5 issue 4 integer-vector instructions per
// cycle (pipes FP0-FP3; VPSHUFB and VPSRLW on two of them, 3 of the 8 per
// 256 bits, so those two pipes are not the limit). Hence 2 cycles per 256
// bits of AND-popcount, i.e.
//
//	AVX2 popcount roofline = 128 binary multiply-accumulates per cycle per core
//
// (a binary MAC is one bit of spikes times one ±1 weight). At the 3.5 GHz
// this machine runs at (measured below with a chain of dependent 64-bit
// IMULs, 3 cycles each on Zen), that is 448 G binary MAC/s per core. For
// comparison: scalar POPCNT (AND, POPCNT, ADD per 64 bits) reaches about 70
// MAC/cycle here, and AVX-512 VPOPCNTQ (VPANDQ, VPOPCNTQ, VPADDQ per 512
// bits, 4 pipes) has a ceiling of 683 MAC/cycle.
const avx2MACsPerCycle = 128

var clockMul = uint64(0x9e3779b97f4a7c15)

// mulChain runs n iterations of 4 dependent 64-bit multiplications.
func mulChain(n int) uint64 {
	x, m := uint64(1), clockMul
	for range n {
		x *= m
		x *= m
		x *= m
		x *= m
	}
	return x
}

var (
	clockOnce sync.Once
	clockHz   float64
	sinkU64   uint64
)

// cpuHz estimates the core clock: the fastest of several timed runs of a
// chain of dependent IMULs (3 cycles of latency each on Zen 2-5 and recent
// Intel cores).
func cpuHz() float64 {
	clockOnce.Do(func() {
		// Many short runs: under load, one of them runs undisturbed.
		const n = 1 << 14
		best := time.Duration(1 << 62)
		for range 300 {
			start := time.Now()
			sinkU64 += mulChain(n)
			best = min(best, time.Since(start))
		}
		clockHz = 12 * n / best.Seconds()
	})
	return clockHz
}

// benchRounds times every call of f (b.N of them, after one warm-up call)
// and reports the fastest and the median call, and the binary
// multiply-accumulates per second per core of the fastest (macs per call
// divided by GOMAXPROCS: run with -cpu 1 for one core) with the fraction of
// the AVX2 popcount roofline that is. The fastest of many short calls
// estimates the speed of an idle machine even when others share it.
func benchRounds(b *testing.B, macs int64, f func()) {
	f()
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		f()
		d = append(d, time.Since(start))
	}
	lo, med := minMedian(d)
	b.ReportMetric(float64(lo.Nanoseconds()), "min-ns")
	b.ReportMetric(float64(med.Nanoseconds()), "med-ns")
	perCore := float64(macs) / lo.Seconds() / float64(runtime.GOMAXPROCS(0))
	b.ReportMetric(perCore/1e9, "GMAC/s/core")
	b.ReportMetric(perCore/(avx2MACsPerCycle*cpuHz()), "avx2-roofline")
}

func TestClockEstimate(t *testing.T) {
	hz := cpuHz()
	if hz < 0.3e9 || hz > 8e9 {
		t.Fatalf("estimated clock %.2f GHz is implausible", hz/1e9)
	}
	t.Logf("core clock about %.2f GHz; AVX2 popcount roofline %.0f G binary MAC/s per core", hz/1e9, avx2MACsPerCycle*hz/1e9)
}

// benchKernels runs f once per micro-kernel.
func benchKernels(b *testing.B, f func(b *testing.B)) {
	ks := []*tileKernel{}
	for _, k := range asmKernels {
		if k != nil {
			ks = append(ks, k)
		}
	}
	ks = append(ks, goKernel)
	for _, k := range ks {
		b.Run("kernel="+k.name, func(b *testing.B) { withKernel(k, func() { f(b) }) })
	}
}

// BenchmarkTile is the micro-kernel alone on L1-resident operands: 64
// patches of kw words by 64 channels.
func BenchmarkTile(b *testing.B) {
	for _, kw := range []int{3, 9, 36} {
		b.Run(fmt.Sprintf("kw=%d", kw), func(b *testing.B) {
			benchKernels(b, func(b *testing.B) {
				k := activeKernel()
				r := rand.New(rand.NewPCG(1, 1))
				const rows, m = 64, 64
				p := ConvParams{N: 1, C: 64 * kw, H: 1, W: 1, M: m, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
				w, _ := PackConvWeights(p, Tight, randWeights(r, m*64*kw))
				a := make([]uint64, rows*kw)
				for i := range a {
					a[i] = r.Uint64()
				}
				pcs := make([]int32, rows)
				acc := make([]int32, rows*m)
				benchRounds(b, int64(rows*m*64*kw), func() { gemm(k, w, contiguous(a, kw, kw), pcs, rows, acc, m) })
			})
		})
	}
}

// convShapes are 3x3 stride-1 convolutions at the channel counts of
// ResNet-20 (16, 32, 64 at 32x32, 16x16, 8x8) and ResNet-18 (128 to 512),
// 16 images (T*N of a batch), M = C.
var convShapes = []ConvParams{
	sq(16, 16, 32, 16, 3, 1, 1, 1),
	sq(16, 32, 16, 32, 3, 1, 1, 1),
	sq(16, 64, 8, 64, 3, 1, 1, 1),
	sq(16, 128, 8, 128, 3, 1, 1, 1),
	sq(16, 256, 4, 256, 3, 1, 1, 1),
	sq(16, 512, 4, 512, 3, 1, 1, 1),
}

// BenchmarkLayouts compares the patch layouts on whole binary convolutions
// (patches, GEMM, int32 out; one thread, 30% firing rate). Every b.N round
// runs each layout once, interleaved, and the benchmark reports the
// fastest and the median round per layout (ns and binary MACs per second):
//
//	go test ./infer/bitkern -run '^$' -bench Layouts -benchtime 200x
func BenchmarkLayouts(b *testing.B) {
	for _, p := range convShapes {
		b.Run(fmt.Sprintf("C=%d_%dx%d", p.C, p.H, p.W), func(b *testing.B) {
			benchKernels(b, func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				xp := make([]uint64, p.InLen())
				if err := PackNCHW(p.N, p.C, p.H, p.W, randSpikes(r, p.N*p.C*p.H*p.W, 0.3), xp); err != nil {
					b.Fatal(err)
				}
				wf := randWeights(r, p.M*p.C*p.KH*p.KW)
				out := make([]int32, p.N*p.OutPixels()*p.M)
				convs := make([]*Conv, len(layouts))
				for i, l := range layouts {
					convs[i] = newTestConv(b, p, l, wf)
					convs[i].Int32(xp, out, 1) // warm up
				}
				times := make([][]time.Duration, len(layouts))
				b.ResetTimer()
				for range b.N {
					for i, c := range convs {
						start := time.Now()
						c.Int32(xp, out, 1)
						times[i] = append(times[i], time.Since(start))
					}
				}
				for i, l := range layouts {
					lo, med := minMedian(times[i])
					b.ReportMetric(float64(lo.Nanoseconds()), l.String()+"-min-ns")
					b.ReportMetric(float64(med.Nanoseconds()), l.String()+"-med-ns")
					b.ReportMetric(float64(p.MACs())/lo.Seconds()/1e9, l.String()+"-GMAC/s")
				}
			})
		})
	}
}

// minMedian returns the smallest and the median of d (which it sorts).
func minMedian(d []time.Duration) (lo, med time.Duration) {
	slices.Sort(d)
	return d[0], d[len(d)/2]
}

// BenchmarkConv is a whole binary convolution (patches, GEMM, int32 out)
// in the layout ChooseLayout picks, per kernel:
//
//	go test ./infer/bitkern -run '^$' -bench 'Conv$' -cpu 1 -benchtime 200x
func BenchmarkConv(b *testing.B) {
	for _, p := range convShapes {
		b.Run(fmt.Sprintf("C=%d_%dx%d", p.C, p.H, p.W), func(b *testing.B) {
			benchKernels(b, func(b *testing.B) { benchConv(b, p, ChooseLayout(p)) })
		})
	}
}

func benchConv(b *testing.B, p ConvParams, l Layout) {
	r := rand.New(rand.NewPCG(1, 1))
	xp := make([]uint64, p.InLen())
	if err := PackNCHW(p.N, p.C, p.H, p.W, randSpikes(r, p.N*p.C*p.H*p.W, 0.3), xp); err != nil {
		b.Fatal(err)
	}
	c := newTestConv(b, p, l, randWeights(r, p.M*p.C*p.KH*p.KW))
	out := make([]int32, p.N*p.OutPixels()*p.M)
	benchRounds(b, p.MACs(), func() { c.Int32(xp, out, 0) })
}

// resnet20Convs are the binary 3x3 convolutions of a CIFAR ResNet-20 stage
// (and the stride-2 ones that enter stages 2 and 3), for T = 4 steps of 8
// samples.
var resnet20Convs = []ConvParams{
	sq(4*8, 16, 32, 16, 3, 1, 1, 1),
	sq(4*8, 16, 32, 32, 3, 2, 1, 1),
	sq(4*8, 32, 16, 32, 3, 1, 1, 1),
	sq(4*8, 32, 16, 64, 3, 2, 1, 1),
	sq(4*8, 64, 8, 64, 3, 1, 1, 1),
}

// BenchmarkConvLIF is a binary layer of a BSNN as the engine runs it: the
// convolution fused with BatchNormalization and LIF (T = 4), packed spikes
// in and out, input firing rate 15%:
//
//	go test ./infer/bitkern -run '^$' -bench ConvLIF -cpu 1 -benchtime 200x
func BenchmarkConvLIF(b *testing.B) {
	const T = 4
	for _, p := range resnet20Convs {
		b.Run(fmt.Sprintf("C=%d_M=%d_%dx%d_s%d", p.C, p.M, p.H, p.W, p.StrideH), func(b *testing.B) {
			benchKernels(b, func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				xp := make([]uint64, p.InLen())
				if err := PackNCHW(p.N, p.C, p.H, p.W, randSpikes(r, p.N*p.C*p.H*p.W, 0.15), xp); err != nil {
					b.Fatal(err)
				}
				c := newTestConv(b, p, ChooseLayout(p), randWeights(r, p.M*p.C*p.KH*p.KW))
				bn, err := BatchNorm(bnParams(r, p.M, p.C*p.KH*p.KW))
				if err != nil {
					b.Fatal(err)
				}
				e := &Epilogue{Affine: bn, LIF: spiking.DefaultLIF()}
				out := make([]uint64, p.N*p.OutPixels()*Words(p.M))
				if err := c.Spikes(T, xp, e, out, 0); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(Count(out))/float64(p.N*p.OutPixels()*p.M), "out-rate")
				benchRounds(b, p.MACs(), func() { _ = c.Spikes(T, xp, e, out, 0) })
			})
		})
	}
}
