package bitkern

import (
	"errors"
	"fmt"

	"github.com/bsnnctl/bsnnctl/ops/kernels"
)

// Words returns the number of 64-bit words that hold n bits.
func Words(n int) int { return (n + 63) >> 6 }

// ConvParams describes a binary 2-D convolution (one group) of N packed spike
// images of C channels and H x W pixels with M output channels and a KH x KW
// kernel. Strides and dilations must be at least 1, pads at least 0; the
// fields mean what they mean in ONNX Conv (and in ops/kernels.ConvParams).
// A dense layer is the convolution whose kernel covers the whole image
// (KH = H, KW = W, no pads): see DenseParams.
type ConvParams struct {
	N, C, H, W                           int
	M, KH, KW                            int
	StrideH, StrideW                     int
	DilH, DilW                           int
	PadTop, PadLeft, PadBottom, PadRight int
}

// DenseParams returns the convolution that computes a dense (MatMul) layer
// on N packed images of C x H x W spikes flattened in NCHW order (Flatten of
// an [N, C, H, W] tensor): one output pixel, M channels. Pack its weights
// with PackDenseWeights.
func DenseParams(n, c, h, w, m int) ConvParams {
	return ConvParams{N: n, C: c, H: h, W: w, M: m, KH: h, KW: w,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
}

// kernels returns p as the float kernels' parameters (one group), whose
// output size and validation rules are the same.
func (p ConvParams) kernels() kernels.ConvParams {
	return kernels.ConvParams{N: p.N, C: p.C, H: p.H, W: p.W, M: p.M, KH: p.KH, KW: p.KW,
		StrideH: p.StrideH, StrideW: p.StrideW, DilH: p.DilH, DilW: p.DilW,
		PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight, Groups: 1}
}

// OutH is the output height, (H + PadTop + PadBottom - DilH*(KH-1) - 1) /
// StrideH + 1, or 0 when the dilated kernel does not fit.
func (p ConvParams) OutH() int { return p.kernels().OutH() }

// OutW is the output width, like OutH.
func (p ConvParams) OutW() int { return p.kernels().OutW() }

// InWords is the number of words of one packed input pixel, Words(C).
func (p ConvParams) InWords() int { return Words(p.C) }

// OutWords is the number of words of one packed output pixel, Words(M).
func (p ConvParams) OutWords() int { return Words(p.M) }

// InLen is the length in words of the packed input, N*H*W*InWords.
func (p ConvParams) InLen() int { return p.N * p.H * p.W * p.InWords() }

// OutPixels is the number of output pixels of one image, OutH*OutW.
func (p ConvParams) OutPixels() int { return p.OutH() * p.OutW() }

// MACs is the number of binary multiply-accumulates of the convolution,
// N*M*OutH*OutW*C*KH*KW.
func (p ConvParams) MACs() int64 {
	return int64(p.N) * int64(p.M) * int64(p.OutPixels()) * int64(p.C*p.KH*p.KW)
}

// maxK bounds the bits of one receptive field (C*KH*KW): the integer sums
// must stay exact in float32 (|sum| < 2^24) for the fused epilogues to match
// a float engine bit for bit.
const maxK = 1 << 24

// Validate reports every problem with p at once, or nil: those
// ops/kernels.ConvParams.Validate finds, and a receptive field of 2^24 bits
// or more.
func (p ConvParams) Validate() error {
	err := p.kernels().Validate()
	if k := int64(p.C) * int64(p.KH) * int64(p.KW); k >= maxK {
		err = errors.Join(err, fmt.Errorf("receptive field of %d bits, must be < 2^24", k))
	}
	if err != nil {
		return fmt.Errorf("bitkern: invalid ConvParams: %w", err)
	}
	return nil
}
