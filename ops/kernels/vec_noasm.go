//go:build !amd64 || purego

package kernels

// vecAccel is false: this build has no assembly vector helpers, so the
// *Accel functions below are never called.
const vecAccel = false

func axpy2DAccel(a float32, x, y []float32, rows, cols, ldx, ldy int) {
	axpy2DGo(a, x, y, rows, cols, ldx, ldy)
}
func dot2DAccel(x, y []float32, rows, cols, ldx, ldy int) float32 {
	return dot2DGo(x, y, rows, cols, ldx, ldy)
}
func addToAccel(dst, src []float32) { addToGo(dst, src) }

func sum64AVX2(x *float32, n int) float64                             { panic("no assembly") }
func sumDot64AVX2(x, y *float32, n int) (sum, dot float64)            { panic("no assembly") }
func sumShiftedAVX2(x *float32, n int, k float32) (float32, float32)  { panic("no assembly") }
func sumDyDxAVX2(dy, x *float32, n int, m float32) (float32, float32) { panic("no assembly") }
func scaleAVX2(dst, x *float32, n int, a float32)                     { panic("no assembly") }
func scaleAddAVX2(dst, x *float32, n int, a, b float32)               { panic("no assembly") }
func affine2AVX2(dst, gr, x *float32, n int, k, p, q float32)         { panic("no assembly") }
func addAVX2(dst, a, b *float32, n int)                               { panic("no assembly") }
func reluAVX2(dst, x *float32, n int)                                 { panic("no assembly") }
func reluGradAVX2(dst, x, dy *float32, n int)                         { panic("no assembly") }
func countNonzeroAVX2(x *float32, n int) int                          { panic("no assembly") }
