package kernels

import (
	"unsafe"

	"github.com/bsnnctl/bsnnctl/internal/parallel"
)

// Spike packing for binary convolutions (infer/bitkern's layout: an image
// is H*W pixels, each Words(C) 64-bit words, channel c at bit c%64 of word
// c/64) and the conversion of their integer results back to float NCHW.

// PackSpikes packs one image of C float planes of HW values (NCHW) into dst
// (HW*words words, words = (C+63)/64, overwritten): bit c of pixel p is set
// where x[c*HW+p] is not 0. The image must be gated spikes: every nonzero
// value the same, returned as gate (0 when there is none); ok is false,
// and dst undefined, when two nonzero values differ (NaN included).
func PackSpikes(x []float32, C, HW int, dst []uint64) (gate float32, ok bool) {
	words := (C + 63) / 64
	x, dst = x[:C*HW], dst[:HW*words]
	for _, v := range x {
		if v != 0 {
			gate = v
			break
		}
	}
	if gate != gate { // NaN
		return 0, false
	}
	if words == 1 && packSpikesAccel != nil && !forceGo {
		return gate, packSpikesAccel(x, C, HW, gate, dst)
	}
	clear(dst)
	for c := 0; c < C; c++ {
		w, bit := c/64, uint64(1)<<(c%64)
		for p, v := range x[c*HW : (c+1)*HW] {
			if v != 0 {
				if v != gate {
					return 0, false
				}
				dst[p*words+w] |= bit
			}
		}
	}
	return gate, true
}

// spikeBlocks recycles SpikeConvOutput's 16x16 transposition blocks.
var spikeBlocks parallel.FreeList[[256]float32]

// SpikeConvOutput writes dst [M, P] (NCHW) = float32(src[p*M+m]) * gate *
// scale[m] from the integer results src [P, M] (channels last) of a binary
// convolution of one image: the product with the gate rounded first.
func SpikeConvOutput(dst []float32, src []int32, P, M int, gate float32, scale []float32) {
	dst, src, scale = dst[:M*P], src[:P*M], scale[:M]
	if cvtScaleAccel != nil && !forceGo && M%16 == 0 && P%16 == 0 && avx512Kernel != nil {
		// 16 pixels x 16 channels at a time: the integers transposed
		// (channels become rows), then converted and scaled into 16 output
		// rows.
		block := spikeBlocks.Get() // a local array would escape through the kernel's func value
		defer spikeBlocks.Put(block)
		for m0 := 0; m0 < M; m0 += 16 {
			for p0 := 0; p0 < P; p0 += 16 {
				avx512Kernel.transpose16(block[:], int32sAsFloats(src[p0*M+m0:]), M, 0, 1)
				cvtScaleAccel(dst[m0*P+p0:], P, floatsAsInt32s(block[:]), gate, scale[m0:m0+16])
			}
		}
		return
	}
	for p := 0; p < P; p++ {
		for m, k := range src[p*M : (p+1)*M] {
			dst[m*P+p] = float32(float32(k)*gate) * scale[m]
		}
	}
}

// int32sAsFloats and floatsAsInt32s reinterpret memory (transpose16 moves
// bits, whatever they are).
func int32sAsFloats(s []int32) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func floatsAsInt32s(s []float32) []int32 {
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}
