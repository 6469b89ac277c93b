//go:build amd64 && !purego

package kernels

//go:noescape
func packSpikesAVX512(x *float32, C, HW int, gate float32, dst *uint64) bool

//go:noescape
func cvtScaleRows16AVX512(dst *float32, ld int, src *int32, gate float32, scale *float32)

// The AVX-512 loops of spikes.go (nil without AVX-512).
var (
	packSpikesAccel func(x []float32, C, HW int, gate float32, dst []uint64) bool
	cvtScaleAccel   func(dst []float32, ld int, src []int32, gate float32, scale []float32)
)

func init() {
	if avx512Kernel == nil {
		return
	}
	packSpikesAccel = func(x []float32, C, HW int, gate float32, dst []uint64) bool {
		if C == 0 || HW == 0 {
			return true
		}
		_, _ = x[C*HW-1], dst[HW-1]
		return packSpikesAVX512(&x[0], C, HW, gate, &dst[0])
	}
	cvtScaleAccel = func(dst []float32, ld int, src []int32, gate float32, scale []float32) {
		_, _, _ = dst[15*ld+15], src[255], scale[15]
		cvtScaleRows16AVX512(&dst[0], ld, &src[0], gate, &scale[0])
	}
}
