package bitkern

import "fmt"

// A Layout says where the bits of a receptive field go in the packed patch
// that the binary GEMM reads: bit (kh, kw, c) of output pixel p's patch is at
// kh*rowStride + kw*tapStride + c. The weights of a convolution are packed in
// the same layout (PackConvWeights), so any layout gives the same sums; they
// differ in how many words a patch takes and how cheaply patches are built.
type Layout uint8

const (
	// Tight packs the whole receptive field contiguously: C*KH*KW bits in
	// Words(C*KH*KW) words (3 words for 16 channels and a 3x3 kernel, 5 for
	// 32 channels).
	Tight Layout = iota
	// RowWords packs each kernel row (KW taps of C bits) contiguously and
	// starts each row on a word boundary: KH*Words(KW*C) words (3 for 16
	// channels and a 3x3 kernel, 6 for 32). A row is a span of the
	// horizontally unrolled image, so building a patch is a word copy.
	RowWords
	// TapWords starts every tap on a word boundary: KH*KW*Words(C) words
	// (9 for any C <= 64 and a 3x3 kernel). Patches are gathers of whole
	// pixel words.
	TapWords
)

func (l Layout) String() string {
	switch l {
	case Tight:
		return "tight"
	case RowWords:
		return "row-words"
	case TapWords:
		return "tap-words"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// geom is the patch geometry of a convolution in a layout.
type geom struct {
	layout          Layout
	c, kh, kw       int
	cw              int // words of a packed pixel, Words(c)
	tapStride       int // bits between taps of a kernel row
	spanBits, spanW int // bits and words of a kernel row (a span)
	rowStride       int // bits between kernel rows
	kBits, kWords   int // bits and words of a patch
	alignedTaps     bool
	alignedRows     bool
}

func newGeom(l Layout, c, kh, kw int) geom {
	g := geom{layout: l, c: c, kh: kh, kw: kw, cw: Words(c)}
	g.tapStride = c
	if l == TapWords {
		g.tapStride = 64 * g.cw
	}
	g.spanBits = (kw-1)*g.tapStride + c
	g.spanW = Words(g.spanBits)
	g.rowStride = kw * g.tapStride
	if l != Tight {
		g.rowStride = 64 * Words(kw*g.tapStride)
	}
	g.kBits = (kh-1)*g.rowStride + g.spanBits
	g.kWords = Words(g.kBits)
	g.alignedTaps = g.tapStride%64 == 0
	g.alignedRows = g.rowStride%64 == 0
	return g
}

// bit returns the patch bit of tap (i, j), channel ch.
func (g *geom) bit(i, j, ch int) int { return i*g.rowStride + j*g.tapStride + ch }

// PatchWords returns the number of 64-bit words of one packed receptive field
// of the convolution p in layout l: the depth of its binary GEMM.
func PatchWords(p ConvParams, l Layout) int { return newGeom(l, p.C, p.KH, p.KW).kWords }

// ChooseLayout returns the layout that the benchmarks in this package found
// fastest for the convolution p (see the package documentation for the
// measurements).
func ChooseLayout(p ConvParams) Layout {
	return RowWords
}
