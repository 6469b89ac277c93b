package bitkern

import "fmt"

// blockM is the number of output channels a GEMM micro-kernel computes at
// once; packed weights come in blocks of blockM channels.
const blockM = 16

// Weights are the ±1 weights of a binary convolution packed as one sign
// plane: bit 1 for +1 (w⁺), 0 for -1. For a patch s of spikes in {0, 1},
// Σ s·w = 2·popcount(s ∧ w⁺) − popcount(s). The words are stored in blocks of
// 16 output channels, k-major inside a block: word k of channel m is at
// ((m/16)*kWords + k)*16 + m%16, with zero words for the channels past M (the
// operand order of the micro-kernels). A Weights value is immutable once
// packed (but for Conv.Repack) and safe for concurrent use.
type Weights struct {
	g     geom
	m     int
	words []uint64
}

// M returns the number of output channels.
func (w *Weights) M() int { return w.m }

// Layout returns the patch layout the weights are packed for.
func (w *Weights) Layout() Layout { return w.g.layout }

// PatchWords returns the words of one receptive field (the GEMM depth).
func (w *Weights) PatchWords() int { return w.g.kWords }

// SizeBytes returns the memory the packed weights take.
func (w *Weights) SizeBytes() int { return 8 * len(w.words) }

func (w *Weights) blocks() int { return (w.m + blockM - 1) / blockM }

// panel returns the words of channel block b: kWords rows of 16 words.
func (w *Weights) panel(b int) []uint64 {
	n := w.g.kWords * blockM
	return w.words[b*n : (b+1)*n]
}

func newWeights(g geom, m int) *Weights {
	w := &Weights{g: g, m: m}
	w.words = make([]uint64, w.blocks()*g.kWords*blockM)
	return w
}

// setPlus marks weight (m, kh, kw, c) as +1.
func (w *Weights) setPlus(m, i, j, c int) {
	bit := w.g.bit(i, j, c)
	w.words[((m/blockM)*w.g.kWords+bit>>6)*blockM+m%blockM] |= 1 << (bit & 63)
}

// PackConvWeights packs the float weights w of the convolution p, in ONNX
// order [M, C, KH, KW], for layout l. A weight is +1 where w >= 0 and -1
// elsewhere (BipolarQuant's sign: sign(0) = +1, NaN is -1), so w may be the
// latent weights or their ±1 binarization.
func PackConvWeights(p ConvParams, l Layout, w []float32) (*Weights, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if want := p.M * p.C * p.KH * p.KW; len(w) != want {
		return nil, fmt.Errorf("bitkern: PackConvWeights: %d weights, want M*C*KH*KW = %d", len(w), want)
	}
	pw := newWeights(newGeom(l, p.C, p.KH, p.KW), p.M)
	pw.packConv(p, w)
	return pw, nil
}

// packConv sets the sign bits of float weights [M, C, KH, KW] (the words
// must be zero).
func (pw *Weights) packConv(p ConvParams, w []float32) {
	for m := range p.M {
		for c := range p.C {
			for i := range p.KH {
				for j := range p.KW {
					if w[((m*p.C+c)*p.KH+i)*p.KW+j] >= 0 {
						pw.setPlus(m, i, j, c)
					}
				}
			}
		}
	}
}

// PackDenseWeights packs the weights of a dense layer y = x·W for the
// convolution DenseParams(n, c, h, w, m): wt is the MatMul weight [C*H*W, M]
// (row-major, input index c*H*W + y*W + x as Flatten of NCHW orders it).
func PackDenseWeights(p ConvParams, l Layout, wt []float32) (*Weights, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.KH != p.H || p.KW != p.W || p.OutPixels() != 1 {
		return nil, fmt.Errorf("bitkern: PackDenseWeights: %dx%d kernel on a %dx%d image is not a dense layer (see DenseParams)", p.KH, p.KW, p.H, p.W)
	}
	in := p.C * p.H * p.W
	if len(wt) != in*p.M {
		return nil, fmt.Errorf("bitkern: PackDenseWeights: %d weights, want C*H*W*M = %d", len(wt), in*p.M)
	}
	pw := newWeights(newGeom(l, p.C, p.KH, p.KW), p.M)
	for c := range p.C {
		for i := range p.KH {
			for j := range p.KW {
				row := wt[((c*p.H+i)*p.W+j)*p.M:][:p.M]
				for m, v := range row {
					if v >= 0 {
						pw.setPlus(m, i, j, c)
					}
				}
			}
		}
	}
	return pw, nil
}
