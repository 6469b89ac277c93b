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
