package bitkern

import "math/bits"

// Patches are built in two stages, so that the work shared by neighbouring
// output pixels is done once:
//
//  1. spans: for every input row y and output column x, the KW taps of the
//     kernel row that output column x reads from row y, packed at tapStride
//     bits apart (zero for taps in the left/right padding), and their spike
//     count. With unit vertical stride each span serves KH output rows.
//  2. patches: the patch of output pixel (oy, ox) is the KH spans of rows
//     oy*StrideH - PadTop + kh*DilH at column ox, at rowStride bits apart
//     (zero for rows in the top/bottom padding). In the RowWords and
//     TapWords layouts (and Tight with C a multiple of 64) spans start on
//     word boundaries and a patch is KH word copies.

// patcher builds the patches of one convolution; one per goroutine.
type patcher struct {
	p      ConvParams
	g      geom
	oh, ow int

	// spans of input rows [y0, y1): row y, column x at ((y-y0)*ow + x)*spanW,
	// its spike count in spc.
	spans  []uint64
	spc    []int32
	y0, y1 int
	base   []int
}

func newPatcher(p ConvParams, g geom) *patcher {
	return &patcher{p: p, g: g, oh: p.OutH(), ow: p.OutW()}
}

// inRows returns the input rows [y0, y1) that output rows [oy0, oy1) read,
// clipped to the image.
func (pt *patcher) inRows(oy0, oy1 int) (int, int) {
	p := pt.p
	y0 := oy0*p.StrideH - p.PadTop
	y1 := (oy1-1)*p.StrideH - p.PadTop + (p.KH-1)*p.DilH + 1
	return max(y0, 0), min(y1, p.H)
}

// build prepares the patches of output rows [oy0, oy1) of the image img
// (H*W*Words(C) words).
func (pt *patcher) build(img []uint64, oy0, oy1 int) {
	y0, y1 := pt.inRows(oy0, oy1)
	pt.y0, pt.y1 = y0, y1
	n := max(y1-y0, 0) * pt.ow
	if cap(pt.spc) < n {
		pt.spc = make([]int32, n)
		pt.spans = make([]uint64, n*pt.g.spanW)
	}
	pt.spc = pt.spc[:n]
	pt.spans = pt.spans[:n*pt.g.spanW]
	for y := y0; y < y1; y++ {
		row := img[y*pt.p.W*pt.g.cw:][:pt.p.W*pt.g.cw]
		o := (y - y0) * pt.ow
		pt.spanRow(row, pt.spans[o*pt.g.spanW:][:pt.ow*pt.g.spanW], pt.spc[o:][:pt.ow])
	}
}

// spanRow computes the spans of one input row (W pixels of cw words).
func (pt *patcher) spanRow(row, dst []uint64, cnt []int32) {
	p, g := &pt.p, &pt.g
	cw, sw := g.cw, g.spanW
	switch {
	case sw == 1:
		// The whole kernel row fits one word (KW*C <= 64 bits).
		for x := range cnt {
			ix := x*p.StrideW - p.PadLeft
			var s uint64
			for j := range p.KW {
				if uint(ix) < uint(p.W) {
					s |= row[ix] << uint(j*g.tapStride)
				}
				ix += p.DilW
			}
			dst[x] = s
			cnt[x] = int32(bits.OnesCount64(s))
		}
	case g.alignedTaps:
		tw := g.tapStride >> 6
		for x := range cnt {
			ix := x*p.StrideW - p.PadLeft
			s := dst[x*sw:][:sw]
			n := 0
			for j := range p.KW {
				t := s[j*tw:][:cw]
				if uint(ix) < uint(p.W) {
					copy(t, row[ix*cw:][:cw])
					n += popcount(t)
				} else {
					clear(t)
				}
				ix += p.DilW
			}
			cnt[x] = int32(n)
		}
	default:
		for x := range cnt {
			ix := x*p.StrideW - p.PadLeft
			s := dst[x*sw:][:sw]
			clear(s)
			n := 0
			for j := range p.KW {
				if uint(ix) < uint(p.W) {
					px := row[ix*cw:][:cw]
					orBits(s, j*g.tapStride, px)
					n += popcount(px)
				}
				ix += p.DilW
			}
			cnt[x] = int32(n)
		}
	}
}

// patches writes the patches of output rows [oy0, oy1) (inside the rows
// given to build) into a, kWords words each in row-major pixel order, and
// their spike counts into pcs.
func (pt *patcher) patches(oy0, oy1 int, a []uint64, pcs []int32) {
	p, g := &pt.p, &pt.g
	kw, sw, ow := g.kWords, g.spanW, pt.ow
	// base[i]: the span index of kernel row i at column 0, or -1 in the
	// padding.
	base := grow(pt.base, p.KH)
	pt.base = base
	q := 0
	for oy := oy0; oy < oy1; oy++ {
		iy := oy*p.StrideH - p.PadTop
		for i := range base {
			base[i] = -1
			if iy >= pt.y0 && iy < pt.y1 {
				base[i] = (iy - pt.y0) * ow
			}
			iy += p.DilH
		}
		switch {
		case g.alignedRows && sw == 1:
			for ox := range ow {
				dst := a[(q+ox)*kw:][:kw]
				n := int32(0)
				for i, b := range base {
					if b >= 0 {
						dst[i] = pt.spans[b+ox]
						n += pt.spc[b+ox]
					} else {
						dst[i] = 0
					}
				}
				pcs[q+ox] = n
			}
		case g.alignedRows:
			rw := g.rowStride >> 6
			for ox := range ow {
				dst := a[(q+ox)*kw:][:kw]
				n := int32(0)
				for i, b := range base {
					t := dst[i*rw:][:sw]
					if b >= 0 {
						src := pt.spans[(b+ox)*sw:][:sw]
						for j, v := range src {
							t[j] = v
						}
						n += pt.spc[b+ox]
					} else {
						clear(t)
					}
				}
				pcs[q+ox] = n
			}
		default:
			for ox := range ow {
				dst := a[(q+ox)*kw:][:kw]
				clear(dst)
				n := int32(0)
				for i, b := range base {
					if b >= 0 {
						orBits(dst, i*g.rowStride, pt.spans[(b+ox)*sw:][:sw])
						n += pt.spc[b+ox]
					}
				}
				pcs[q+ox] = n
			}
		}
		q += ow
	}
}

// orBits ORs the bits of src into dst starting at bit off. Bits of src that
// would land past the end of dst must be zero.
func orBits(dst []uint64, off int, src []uint64) {
	q, r := off>>6, uint(off&63)
	if r == 0 {
		for i, v := range src {
			dst[q+i] |= v
		}
		return
	}
	for i, v := range src {
		dst[q+i] |= v << r
		if q+i+1 < len(dst) {
			dst[q+i+1] |= v >> (64 - r)
		}
	}
}

func popcount(x []uint64) int {
	n := 0
	for _, v := range x {
		n += bits.OnesCount64(v)
	}
	return n
}
