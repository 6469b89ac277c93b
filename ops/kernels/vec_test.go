package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVecHelpers compares the vector helpers of the active build (AVX2
// assembly when available) with float64 references, over lengths that
// exercise every loop tail.
func TestVecHelpers(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(6, 6))
		for _, rows := range []int{1, 3} {
			for cols := 0; cols <= 75; cols++ {
				ldx, ldy := cols+r.IntN(3), cols+r.IntN(3)
				n := max(rows*max(ldx, ldy), 1)
				x, y := randSlice(r, n), randSlice(r, n)
				a := float32(r.NormFloat64())

				want := to64(y)
				var wantDot float64
				for i := 0; i < rows; i++ {
					for j := 0; j < cols; j++ {
						want[i*ldy+j] += float64(a) * float64(x[i*ldx+j])
						wantDot += float64(x[i*ldx+j]) * float64(y[i*ldy+j])
					}
				}
				if got := dot2D(x, y, rows, cols, ldx, ldy); math.Abs(float64(got)-wantDot) > 1e-4*(1+math.Abs(wantDot)) {
					t.Errorf("dot2D(%dx%d) = %v, want %v", rows, cols, got, wantDot)
				}
				axpy2D(a, x, y, rows, cols, ldx, ldy)
				checkClose(t, "axpy2D", y, want, 1e-6)

				sum := to64(y[:cols])
				for j := range sum {
					sum[j] += float64(x[j])
				}
				addTo(y[:cols], x)
				checkClose(t, "addTo", y[:cols], sum, 1e-6)
			}
		}
	})
}
