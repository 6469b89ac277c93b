//go:build !amd64 || purego

package kernels

var (
	packSpikesAccel func(x []float32, C, HW int, gate float32, dst []uint64) bool
	cvtScaleAccel   func(dst []float32, ld int, src []int32, gate float32, scale []float32)
)
