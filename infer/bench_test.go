package infer

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// BenchmarkResNet20 runs the fixture ResNet-20 converted to a BSNN (T = 4,
// no AGMM gates) in the packed engine and in the float engine (ops), one
// after the other in every round (b.N rounds after a warm-up run of each),
// with GOMAXPROCS threads, and reports the fastest and median round of
// each and the ratio of the fastest:
//
//	go test ./infer -run '^$' -bench ResNet20 -cpu 2 -benchtime 10x
func BenchmarkResNet20(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			m, e, x, shape := resnet20Bench(b, batch)
			fl, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{e.InputName(): shape}})
			if err != nil {
				b.Fatal(err)
			}
			prog, err := fl.Compile(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer prog.Close()
			runPacked := func() {
				if _, err := e.Run(x, shape); err != nil {
					b.Fatal(err)
				}
			}
			runFloat := func() {
				if err := prog.SetInput(e.InputName(), x); err != nil {
					b.Fatal(err)
				}
				if err := prog.Run(); err != nil {
					b.Fatal(err)
				}
			}
			runPacked()
			runFloat()
			var tp, tf []time.Duration
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				runPacked()
				tp = append(tp, time.Since(start))
				start = time.Now()
				runFloat()
				tf = append(tf, time.Since(start))
			}
			slices.Sort(tp)
			slices.Sort(tf)
			b.ReportMetric(float64(tp[0].Microseconds())/1e3, "packed-min-ms")
			b.ReportMetric(float64(tp[len(tp)/2].Microseconds())/1e3, "packed-med-ms")
			b.ReportMetric(float64(tf[0].Microseconds())/1e3, "float-min-ms")
			b.ReportMetric(float64(tf[len(tf)/2].Microseconds())/1e3, "float-med-ms")
			b.ReportMetric(tf[0].Seconds()/tp[0].Seconds(), "speedup")
			b.ReportMetric(float64(batch)/tp[0].Seconds(), "packed-images/s")
		})
	}
}

// BenchmarkResNet20Packed runs the fixture ResNet-20 (T = 4) in the packed
// engine alone, b.N runs after a warm-up run, and reports the fastest: the
// benchmark to profile the engine with,
//
//	go test ./infer -run '^$' -bench ResNet20Packed/batch=32 -cpu 1 -benchtime 200x -cpuprofile cpu.out
func BenchmarkResNet20Packed(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			_, e, x, shape := resnet20Bench(b, batch)
			if _, err := e.Run(x, shape); err != nil {
				b.Fatal(err)
			}
			best := time.Duration(1<<63 - 1)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, err := e.Run(x, shape); err != nil {
					b.Fatal(err)
				}
				best = min(best, time.Since(start))
			}
			b.ReportMetric(float64(best.Microseconds())/1e3, "min-ms")
		})
	}
}

var _ = onnx.Float

// resnet20Bench compiles the fixture ResNet-20 (T = 4, no AGMM gates) for
// the packed engine with GOMAXPROCS threads and makes a random batch of
// batch images for it.
func resnet20Bench(b *testing.B, batch int) (m *onnx.Model, e *Engine, x []float32, shape []int) {
	m, x0 := fixture(&testing.T{}, "resnet20_op13_folded_dynamic", false, 4)
	shape = slices.Clone(x0.Shape())
	shape[0] = batch
	r := rand.New(rand.NewPCG(1, 2))
	x = make([]float32, numel(shape))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	e, err := Compile(m, Options{Threads: runtime.GOMAXPROCS(0)})
	if err != nil {
		b.Fatal(err)
	}
	return m, e, x, shape
}
