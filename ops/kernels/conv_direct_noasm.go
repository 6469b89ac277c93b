//go:build !amd64 || purego

package kernels

// convTile is nil: no direct convolution in this build.
var convTile func(k int, a, x []float32, offs []int32, c []float32, ldc, rows int, mask uint16, accumulate bool)
