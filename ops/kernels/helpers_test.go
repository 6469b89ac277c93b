package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// forEachKernel runs f once per micro-kernel this build and CPU have: the
// assembly ones (when available) and the portable Go one.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, k := range asmKernels {
		t.Run(k.name, func(t *testing.T) {
			old := forceKernel
			forceKernel = k
			defer func() { forceKernel = old }()
			f(t)
		})
	}
	t.Run(goKernel.name, func(t *testing.T) {
		old := forceGo
		forceGo = true
		defer func() { forceGo = old }()
		f(t)
	})
}

// forEachThreads runs f with GOMAXPROCS 1 and 2, covering the serial and the
// parallel paths.
func forEachThreads(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, n := range []int{1, 2} {
		t.Run(map[int]string{1: "serial", 2: "threads2"}[n], func(t *testing.T) {
			old := runtime.GOMAXPROCS(n)
			defer runtime.GOMAXPROCS(old)
			f(t)
		})
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func nanSlice(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

// dot64 is the float64 inner product of two float32 vectors.
func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// checkClose fails unless got and want agree within tol relative to the
// scale of want (its largest magnitude, at least 1).
func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	scale := 1.0
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	bad := 0
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (diff %.3g, tol %.3g)", what, i, got[i], want[i], d, tol*scale)
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d elements differ", what, bad, len(want))
	}
}
