package ops

import (
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/internal/parallel"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
)

// The forward pass of a binary convolution on packed spikes. A BSNN's
// binary layer convolves AGMM-gated spikes (every value of an image 0 or
// the image's gate g) with ±s weights (BipolarQuant): the output is
// g * s[m] * (2*popcount(x & w+) - popcount(x)), an exact integer sum
// times two factors. binaryConv packs each image's spikes into bits
// (kernels.PackSpikes), runs the AND-popcount convolution of the packed
// inference engine (infer/bitkern) and writes g*s[m] times the sums
// (kernels.SpikeConvOutput), image by image so that the bits and the
// integer sums stay in cache. An image that is not gated spikes (two
// nonzero values) takes the float convolution instead. The float engine
// sums g*s*x products rounding after every term; the packed one rounds
// once, so the two may differ in the last bits.

// binaryConv is the packed forward pass of one Conv node.
type binaryConv struct {
	conv    *bitkern.Conv      // one image
	one     kernels.ConvParams // one image, for the float fallback
	scale   []float32          // per output channel
	inLen   int                // floats of an input image
	outLen  int                // floats of an output image
	scratch parallel.FreeList[binaryScratch]
	task    binaryConvTask
}

type binaryScratch struct {
	bits []uint64
	acc  []int32
}

// newBinaryConv returns the packed forward pass of the convolution p whose
// weights are BipolarQuant's output with per-channel scales scale (len 1:
// one for all), or nil when the convolution does not allow one (groups).
// The scratch pool holds each part's bits and sums: a few tens of KiB.
func newBinaryConv(p kernels.ConvParams, scale []float32) (*binaryConv, error) {
	if p.Groups != 1 || (len(scale) != 1 && len(scale) != p.M) {
		return nil, nil
	}
	bp := bitkern.ConvParams{N: 1, C: p.C, H: p.H, W: p.W, M: p.M, KH: p.KH, KW: p.KW,
		StrideH: p.StrideH, StrideW: p.StrideW, DilH: p.DilH, DilW: p.DilW,
		PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight}
	w, err := bitkern.PackConvWeights(bp, bitkern.ChooseLayout(bp), make([]float32, p.M*p.C*p.KH*p.KW))
	if err != nil {
		return nil, err
	}
	c, err := bitkern.NewConv(bp, w)
	if err != nil {
		return nil, err
	}
	b := &binaryConv{conv: c, one: p, scale: make([]float32, p.M), inLen: p.C * p.H * p.W, outLen: p.M * p.OutH() * p.OutW()}
	b.one.N = 1
	for m := range b.scale {
		// The packed signs are those of the weights ±s, so |s| scales them.
		b.scale[m] = float32(math.Abs(float64(scale[min(m, len(scale)-1)])))
	}
	b.task.b = b
	return b, nil
}

// forward computes out = conv(x, w) + bias for p.N images.
func (b *binaryConv) forward(p kernels.ConvParams, x, w, bias, out []float32) error {
	if err := b.conv.Repack(w); err != nil {
		return fmt.Errorf("binary convolution: %w", err)
	}
	t := &b.task
	t.x, t.w, t.bias, t.out = x, w, bias, out
	t.runner.run(t, partsFor(p.N, p.N*b.inLen))
	t.x, t.w, t.bias, t.out = nil, nil, nil, nil
	return nil
}

// binaryConvTask runs the images of one call, each part a contiguous
// range of them.
type binaryConvTask struct {
	b               *binaryConv
	x, w, bias, out []float32
	runner          partRunner
	n               int
}

func (t *binaryConvTask) runPart(part, parts int) {
	b := t.b
	n := len(t.x) / b.inLen
	s := b.scratch.Get()
	if s.bits == nil {
		p := b.conv.Params()
		s.bits, s.acc = make([]uint64, p.InLen()), make([]int32, p.OutPixels()*p.M)
	}
	defer b.scratch.Put(s)
	P, M := b.outLen/b.one.M, b.one.M
	for i := n * part / parts; i < n*(part+1)/parts; i++ {
		x, out := t.x[i*b.inLen:(i+1)*b.inLen], t.out[i*b.outLen:(i+1)*b.outLen]
		gate, ok := kernels.PackSpikes(x, b.one.C, b.one.H*b.one.W, s.bits)
		if !ok {
			kernels.ConvForward(b.one, x, t.w, t.bias, out)
			continue
		}
		b.conv.Int32(s.bits, s.acc, 1)
		kernels.SpikeConvOutput(out, s.acc, P, M, gate, b.scale)
		if t.bias != nil {
			for m := 0; m < M; m++ {
				kernels.ScaleAdd(out[m*P:(m+1)*P], out[m*P:(m+1)*P], 1, t.bias[m])
			}
		}
	}
}
