package infer

import (
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

func BenchmarkPackedOnly(b *testing.B) {
	batch := benchBatch
	m, x0 := fixture(&testing.T{}, "resnet20_op13_folded_dynamic", false, 4)
	shape := slices.Clone(x0.Shape())
	shape[0] = batch
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, numel(shape))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	e, err := Compile(m, Options{Threads: runtime.GOMAXPROCS(0)})
	if err != nil {
		b.Fatal(err)
	}
	e.Run(x, shape)
	b.ResetTimer()
	best := time.Hour
	for range b.N {
		t0 := time.Now()
		if _, err := e.Run(x, shape); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64(best.Microseconds())/1e3, "min-ms")
}

var benchBatch = 32

func init() {
	if os.Getenv("BB") == "1" {
		benchBatch = 1
	}
}
