//go:build amd64 && !purego

package kernels

// Vector helpers in vec_amd64.s (AVX2/FMA).

//go:noescape
func axpyAVX2(a float32, x, y *float32, rows, cols, ldx, ldy int)

//go:noescape
func dotAVX2(x, y *float32, rows, cols, ldx, ldy int) float32

//go:noescape
func addToAVX2(dst, src *float32, n int)

// vecAccel is set when the CPU has AVX2 and FMA.
var vecAccel = asmKernel != nil

func axpy2DAccel(a float32, x, y []float32, rows, cols, ldx, ldy int) {
	if rows == 0 || cols == 0 {
		return
	}
	_ = x[(rows-1)*ldx+cols-1]
	_ = y[(rows-1)*ldy+cols-1]
	axpyAVX2(a, &x[0], &y[0], rows, cols, ldx, ldy)
}

func dot2DAccel(x, y []float32, rows, cols, ldx, ldy int) float32 {
	if rows == 0 || cols == 0 {
		return 0
	}
	_ = x[(rows-1)*ldx+cols-1]
	_ = y[(rows-1)*ldy+cols-1]
	return dotAVX2(&x[0], &y[0], rows, cols, ldx, ldy)
}

func addToAccel(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	_ = src[len(dst)-1]
	addToAVX2(&dst[0], &src[0], len(dst))
}

// The vector primitives of vecops.go (vecops_amd64.s).

//go:noescape
func sum64AVX2(x *float32, n int) float64

//go:noescape
func sumDot64AVX2(x, y *float32, n int) (sum, dot float64)

//go:noescape
func sumShiftedAVX2(x *float32, n int, k float32) (float32, float32)

//go:noescape
func sumDyDxAVX2(dy, x *float32, n int, m float32) (float32, float32)

//go:noescape
func scaleAVX2(dst, x *float32, n int, a float32)

//go:noescape
func scaleAddAVX2(dst, x *float32, n int, a, b float32)

//go:noescape
func affine2AVX2(dst, gr, x *float32, n int, k, p, q float32)

//go:noescape
func addAVX2(dst, a, b *float32, n int)

//go:noescape
func reluAVX2(dst, x *float32, n int)

//go:noescape
func reluGradAVX2(dst, x, dy *float32, n int)

//go:noescape
func countNonzeroAVX2(x *float32, n int) int
