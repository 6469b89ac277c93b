//go:build amd64 && !purego

package kernels

// convTileAVX512 is the direct-convolution micro-kernel of
// conv_direct_amd64.s.
//
//go:noescape
func convTileAVX512(k int, a, x *float32, offs *int32, c *float32, ldc, rows int, mask uint16, accumulate bool)

// convTile checks the slices and runs convTileAVX512; nil without AVX-512.
var convTile func(k int, a, x []float32, offs []int32, c []float32, ldc, rows int, mask uint16, accumulate bool)

func init() {
	if avx512Kernel == nil {
		return
	}
	convTile = func(k int, a, x []float32, offs []int32, c []float32, ldc, rows int, mask uint16, accumulate bool) {
		_ = a[16*k-1]
		_ = offs[k-1]
		_ = c[(rows-1)*ldc]
		convTileAVX512(k, &a[0], &x[0], &offs[0], &c[0], ldc, rows, mask, accumulate)
	}
}
