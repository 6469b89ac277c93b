package bitkern

import (
	"fmt"
	"math/bits"
)

// Packed spikes: an image of C channels and H x W pixels is H*W pixels in
// row-major order, each Words(C) 64-bit words; channel c is bit c%64 of word
// c/64 (channels last, NHWC). Bits at and above C in a pixel's last word are
// always zero: the kernels rely on it. N images follow one another.

// PackNCHW packs spikes given as float32 [N, C, H, W] (NCHW, every value 0
// or 1) into dst, which must hold N*H*W*Words(C) words. It returns an error
// naming the first value that is not 0 or 1.
func PackNCHW(n, c, h, w int, x []float32, dst []uint64) error {
	cw, hw := Words(c), h*w
	if len(x) < n*c*hw || len(dst) < n*hw*cw {
		return fmt.Errorf("bitkern: PackNCHW: x has %d values and dst %d words, want %d and %d", len(x), len(dst), n*c*hw, n*hw*cw)
	}
	clear(dst[:n*hw*cw])
	for i := range n {
		img := dst[i*hw*cw:]
		for ch := range c {
			plane := x[(i*c+ch)*hw:][:hw]
			word, bit := ch>>6, uint64(1)<<(ch&63)
			for p, v := range plane {
				switch v {
				case 0:
				case 1:
					img[p*cw+word] |= bit
				default:
					return fmt.Errorf("bitkern: PackNCHW: x[%d] (sample %d, channel %d, pixel %d) is %g, not a spike (0 or 1)",
						(i*c+ch)*hw+p, i, ch, p, v)
				}
			}
		}
	}
	return nil
}

// UnpackNCHW writes the packed spikes x of N images of C x H x W as float32
// 0/1 values into dst [N, C, H, W].
func UnpackNCHW(n, c, h, w int, x []uint64, dst []float32) {
	cw, hw := Words(c), h*w
	_, _ = x[n*hw*cw-1], dst[n*c*hw-1]
	for i := range n {
		img := x[i*hw*cw:]
		for ch := range c {
			plane := dst[(i*c+ch)*hw:][:hw]
			word, sh := ch>>6, uint(ch&63)
			for p := range plane {
				plane[p] = float32(img[p*cw+word] >> sh & 1)
			}
		}
	}
}

// Count returns the number of spikes (set bits) in x.
func Count(x []uint64) int {
	n := 0
	for _, v := range x {
		n += bits.OnesCount64(v)
	}
	return n
}
