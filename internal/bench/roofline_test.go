//go:build amd64 && !purego

package bench

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// The roofline of the machine for docs/performance.md: peak FMA
// throughput and memory bandwidth, per thread count (run with -cpu 1,2).

// BenchmarkPeakFMA runs independent FMA chains on every thread: the
// float32 peak for 8-lane (AVX2) and 16-lane (AVX-512) registers
// (best_GFLOP/s: the fastest of the b.N runs).
func BenchmarkPeakFMA(b *testing.B) {
	for _, c := range []struct {
		name  string
		ok    bool
		flops float64 // per iteration
		loop  func(int)
	}{
		{"avx2", DetectMachine(1).AVX2, 12 * 8 * 2, fmaLoopAVX2},
		{"avx512", DetectMachine(1).AVX512, 12 * 16 * 2, fmaLoopAVX512},
	} {
		b.Run(c.name, func(b *testing.B) {
			if !c.ok {
				b.Skip("not supported by this CPU")
			}
			const iters = 1 << 20
			threads := runtime.GOMAXPROCS(0)
			b.ResetTimer()
			best := bestOf(b, func() { onThreads(threads, func(int) { c.loop(iters) }) })
			b.ReportMetric(c.flops*iters*float64(threads)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(c.flops*iters*float64(threads)/best.Seconds()/1e9, "best_GFLOP/s")
		})
	}
}

// BenchmarkMemoryBandwidth streams a buffer split between the threads:
// read (a sum), write (a fill) and copy (the runtime's memmove from one
// half of the buffer to the other; bytes counted once). 256 MiB is far
// beyond the caches (DRAM bandwidth); 8 MiB is one activation tensor of
// the first ResNet-20 stage at batch 32, T=4, which may stay in L3.
// best_GB/s is the fastest of the b.N runs.
func BenchmarkMemoryBandwidth(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int // floats
	}{{"256MiB", 64 << 20}, {"8MiB", 2 << 20}} {
		b.Run(size.name, func(b *testing.B) { benchStreams(b, size.n) })
	}
}

func benchStreams(b *testing.B, n int) {
	buf := make([]float32, n)
	for i := range buf {
		buf[i] = 1
	}
	threads := runtime.GOMAXPROCS(0)
	part := func(p int, s []float32) []float32 {
		per := len(s) / threads / 32 * 32
		return s[p*per : (p+1)*per]
	}
	var sink [64]float32
	stream := func(name string, f func(p int)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(4 * n))
			best := bestOf(b, func() { onThreads(threads, f) })
			b.ReportMetric(float64(4*n)/best.Seconds()/1e9, "best_GB/s")
		})
	}
	stream("read", func(p int) {
		s := part(p, buf)
		sink[p] = sumAVX2(&s[0], len(s))
	})
	stream("write", func(p int) {
		s := part(p, buf)
		fillAVX2(&s[0], len(s), 2)
	})
	src, dst := buf[:n/2], buf[n/2:]
	stream("copy", func(p int) { copy(part(p, dst), part(p, src)) })
	runtime.KeepAlive(sink)
}

// bestOf runs f b.N times and returns the fastest run: on a shared machine
// the best run is the one other processes disturbed least.
func bestOf(b *testing.B, f func()) time.Duration {
	best := time.Duration(1<<63 - 1)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		f()
		best = min(best, time.Since(t0))
	}
	return best
}

// onThreads runs f(0..threads-1) concurrently and waits.
func onThreads(threads int, f func(part int)) {
	var wg sync.WaitGroup
	for p := 1; p < threads; p++ {
		wg.Add(1)
		go func() { defer wg.Done(); f(p) }()
	}
	f(0)
	wg.Wait()
}
