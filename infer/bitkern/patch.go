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
//
// When kernel rows start on word boundaries (rowStride = spanW words) and
// the vertical stride is 1 ("direct" mode: RowWords and TapWords, and Tight
// with C a multiple of 64), the spans themselves are the GEMM operand and
// nothing is copied: kernel row kh of the patch of band pixel q is span q +
// kh*DilH*OutW of a span buffer that starts at the band's first kernel row
// (zero rows for the padding), so patch q starts spanW words after patch
// q-1 and is KH runs of spanW words, DilH*OutW*spanW words apart (see
// operand).

// patcher builds the patches of one convolution; one per goroutine.
type patcher struct {
	k      *tileKernel // the kernel of the current call (for spans3)
	p      ConvParams
	g      geom
	oh, ow int
	direct bool

	// spans of input rows [y0, y1): row y, column x at ((y-y0)*ow + x)*spanW,
	// its spike count in spc. In direct mode the rows are not clipped to
	// the image (rows outside it are zero) and slack words follow.
	spans  []uint64
	spc    []int32
	y0, y1 int
	base   []int
	padded bool
	rowW   int     // words of a row of spans
	pxc    []int32 // spike counts of the pixels of a padded row
}

// With aligned taps (a tap starts every Words(C) words, as in TapWords or
// with C a multiple of 64), unit horizontal stride and dilation, the span
// of column x is KW consecutive pixels of the row with its padding: the
// span rows are the zero-padded input rows themselves ("padded" mode, OutW
// + KW - 1 pixels each), span x starts x*Words(C) words into its row and
// the spans of a row overlap; building them is a row copy, not KW copies
// per column.

// paddedSpans reports whether the convolution p reads its patches in
// padded mode.
func paddedSpans(p *ConvParams, g *geom) bool {
	return g.alignedRows && g.rowStride == 64*g.spanW && g.alignedTaps && g.tapStride == 64*g.cw &&
		p.KW > 1 && p.StrideW == 1 && p.DilW == 1
}

// pitchedRows reports whether the GEMM of the convolution p reads patches
// in rows with a pitch (see operand): with a vertical stride or in padded
// mode.
func pitchedRows(p *ConvParams, g *geom) bool { return p.StrideH != 1 || paddedSpans(p, g) }

// directSlack is the number of zero words after the spans in direct mode:
// the GEMM computes whole tiles, whose last rows may pass the band's end.
const directSlack = 8

func newPatcher(p ConvParams, g geom) *patcher {
	pt := &patcher{p: p, g: g, oh: p.OutH(), ow: p.OutW(),
		direct: g.alignedRows && g.rowStride == 64*g.spanW, padded: paddedSpans(&p, &g)}
	pt.rowW = pt.ow * g.spanW
	if pt.padded {
		pt.rowW = (pt.ow + p.KW - 1) * g.cw
	}
	return pt
}

// build prepares the patches of output rows [oy0, oy1) of the image img
// (H*W*Words(C) words).
func (pt *patcher) build(img []uint64, oy0, oy1 int) {
	p := &pt.p
	y0 := oy0*p.StrideH - p.PadTop
	y1 := (oy1-1)*p.StrideH - p.PadTop + (p.KH-1)*p.DilH + 1
	if !pt.direct {
		y0, y1 = max(y0, 0), min(y1, p.H)
	}
	pt.y0, pt.y1 = y0, y1
	n := max(y1-y0, 0) * pt.ow
	slack := 0
	if pt.direct {
		slack = directSlack
	}
	rows := max(y1-y0, 0)
	pt.spc = grow(pt.spc, n+slack)
	pt.spans = grow(pt.spans, rows*pt.rowW+slack*pt.g.spanW)
	clear(pt.spans[rows*pt.rowW:])
	for y := y0; y < y1; y++ {
		dst, cnt := pt.spans[(y-y0)*pt.rowW:][:pt.rowW], pt.spc[(y-y0)*pt.ow:][:pt.ow]
		if y < 0 || y >= p.H {
			clear(dst)
			clear(cnt)
			continue
		}
		row := img[y*p.W*pt.g.cw:][:p.W*pt.g.cw]
		if pt.padded {
			pt.paddedRow(row, dst, cnt)
		} else {
			pt.spanRow(row, dst, cnt)
		}
	}
}

// paddedRow copies one input row (W pixels of cw words) between its
// left and right padding into dst, and computes the spike count of each of
// its spans (KW pixels from column x) in cnt.
func (pt *patcher) paddedRow(row, dst []uint64, cnt []int32) {
	p, cw := &pt.p, pt.g.cw
	l := p.PadLeft * cw
	clear(dst[:l])
	clear(dst[l+copy(dst[l:], row):])
	wp := len(dst) / cw
	pxc := grow(pt.pxc, wp)
	pt.pxc = pxc
	for x := range pxc {
		pxc[x] = int32(popcount(dst[x*cw:][:cw]))
	}
	for x := range cnt {
		n := int32(0)
		for _, v := range pxc[x:][:p.KW] {
			n += v
		}
		cnt[x] = n
	}
}

// spanRow computes the spans of one input row (W pixels of cw words).
func (pt *patcher) spanRow(row, dst []uint64, cnt []int32) {
	p, g := &pt.p, &pt.g
	cw, sw := g.cw, g.spanW
	switch {
	case sw == 1 && p.KW == 3 && p.PadLeft == 1 && p.W >= 3 && p.StrideW == 1 && p.DilW == 1:
		pt.spans3Row(row[:p.W], dst[:len(cnt)], cnt, uint(g.tapStride))
	case sw == 1 && p.StrideW == 1 && p.DilW == 1:
		slideSpans(row[:p.W], dst[:len(cnt)], cnt, p.KW, p.PadLeft, uint(g.tapStride))
	case sw == 2 && cw == 1 && g.tapStride <= 32 && p.KW == 3 && p.PadLeft == 1 && p.W >= 3 && p.StrideW == 1 && p.DilW == 1:
		pt.spans3x2Row(row[:p.W], dst[:2*len(cnt)], cnt, uint(g.tapStride))
	case sw == 2 && cw == 1 && p.StrideW == 1 && p.DilW == 1:
		slideSpans2(row[:p.W], dst[:2*len(cnt)], cnt, p.KW, p.PadLeft, uint(g.tapStride))
	case sw == 1:
		pt.oneWordSpans(row[:p.W], dst[:len(cnt)], cnt)
	case g.alignedTaps:
		tw := g.tapStride >> 6
		for x := range cnt {
			ix := x*p.StrideW - p.PadLeft
			s := dst[x*sw:][:sw]
			n := 0
			for j := range p.KW {
				t := s[j*tw:][:cw]
				if uint(ix) < uint(p.W) {
					n += copyCount(t, row[ix*cw:][:cw])
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

// slideSpans computes the one-word spans of a row of one-word pixels for a
// kernel row of kw taps c bits apart with unit stride and dilation: from
// one output column to the next, the oldest tap is shifted out and the next
// pixel shifted in.
func slideSpans(row, dst []uint64, cnt []int32, kw, padLeft int, c uint) {
	top := uint(kw-1) * c
	var s uint64
	for j := range kw - 1 {
		if ix := j - padLeft; uint(ix) < uint(len(row)) {
			s |= row[ix] << (uint(j) * c)
		}
	}
	dst = dst[:len(cnt)]
	ix := kw - 1 - padLeft
	for x := range cnt {
		if uint(ix) < uint(len(row)) {
			s |= row[ix] << top
		}
		dst[x] = s
		cnt[x] = int32(bits.OnesCount64(s))
		s >>= c
		ix++
	}
}

// oneWordSpans computes the one-word spans of a row of one-word pixels
// for any stride and dilation. The columns whose taps are all inside the
// row take no bounds tests.
func (pt *patcher) oneWordSpans(row, dst []uint64, cnt []int32) {
	p := &pt.p
	c, sx, d := uint(pt.g.tapStride), p.StrideW, p.DilW
	w := len(row)
	// Columns [x0, x1) read only the row.
	x0 := min((p.PadLeft+sx-1)/sx, len(cnt))
	x1 := x0
	if last := w - 1 - (p.KW-1)*d + p.PadLeft; last >= 0 {
		x1 = max(x0, min(len(cnt), last/sx+1))
	}
	edge := func(x int) {
		ix := x*sx - p.PadLeft
		var s uint64
		for j := range p.KW {
			if uint(ix) < uint(w) {
				s |= row[ix] << (uint(j) * c)
			}
			ix += d
		}
		dst[x] = s
		cnt[x] = int32(bits.OnesCount64(s))
	}
	for x := range x0 {
		edge(x)
	}
	ix := x0*sx - p.PadLeft
	switch p.KW {
	case 1:
		for x := x0; x < x1; x++ {
			s := row[ix]
			dst[x], cnt[x] = s, int32(bits.OnesCount64(s))
			ix += sx
		}
	case 3:
		for x := x0; x < x1; x++ {
			t := row[ix : ix+2*d+1]
			s := t[0] | t[d]<<c | t[2*d]<<(2*c)
			dst[x], cnt[x] = s, int32(bits.OnesCount64(s))
			ix += sx
		}
	default:
		for x := x0; x < x1; x++ {
			var s uint64
			for j := range p.KW {
				s |= row[ix+j*d] << (uint(j) * c)
			}
			dst[x], cnt[x] = s, int32(bits.OnesCount64(s))
			ix += sx
		}
	}
	for x := x1; x < len(cnt); x++ {
		edge(x)
	}
}

// spans3Row computes the one-word spans of a row of one-word pixels for a
// 3-tap kernel row with taps c bits apart, unit stride and dilation and
// one column of left padding: span x is row[x-1] | row[x]<<c |
// row[x+1]<<2c (zero outside the row). The spans whose taps are all inside
// the row do not depend on each other (unlike slideSpans' running
// register) and go to the kernel's vector routine when it has one.
func (pt *patcher) spans3Row(row, dst []uint64, cnt []int32, c uint) {
	w := len(row)
	// Column 0 reads the padding on the left; columns [1, inner] read
	// only the row; the columns past inner read the padding on the right.
	inner := min(len(cnt), w-1)
	dst[0] = row[0]<<c | row[1]<<(2*c)
	cnt[0] = int32(bits.OnesCount64(dst[0]))
	if inner > 1 {
		if pt.k != nil && pt.k.spans3 != nil {
			pt.k.spans3(row, dst[1:inner], cnt[1:inner], c)
		} else {
			spans3Go(row, dst[1:inner], cnt[1:inner], c)
		}
	}
	for x := inner; x < len(cnt); x++ {
		var s uint64
		for j := range 3 {
			if ix := x - 1 + j; ix < w {
				s |= row[ix] << (uint(j) * c)
			}
		}
		dst[x] = s
		cnt[x] = int32(bits.OnesCount64(s))
	}
}

// spans3x2Row is spans3Row for two-word spans (taps c <= 32 bits apart):
// span x is row[x-1] | row[x]<<c | row[x+1]<<2c as 128 bits, in dst[2x]
// (low word) and dst[2x+1].
func (pt *patcher) spans3x2Row(row, dst []uint64, cnt []int32, c uint) {
	w := len(row)
	inner := min(len(cnt), w-1)
	span := func(x int) {
		var lo, hi uint64
		for j := range 3 {
			if ix := x - 1 + j; ix >= 0 && ix < w {
				// j*c <= 64: Go's shifts of 64 give 0.
				lo |= row[ix] << (uint(j) * c)
				hi |= row[ix] >> (64 - uint(j)*c)
			}
		}
		dst[2*x], dst[2*x+1] = lo, hi
		cnt[x] = int32(bits.OnesCount64(lo) + bits.OnesCount64(hi))
	}
	span(0)
	if inner > 1 {
		if pt.k != nil && pt.k.spans3x2 != nil {
			pt.k.spans3x2(row, dst[2:2*inner], cnt[1:inner], c)
		} else {
			spans3x2Go(row, dst[2:2*inner], cnt[1:inner], c)
		}
	}
	for x := inner; x < len(cnt); x++ {
		span(x)
	}
}

// spans3x2Go is spans3Go for two-word spans (c <= 32): span i, the 128
// bits src[i] | src[i+1]<<c | src[i+2]<<2c, goes to dst[2i] (low word) and
// dst[2i+1].
func spans3x2Go(src, dst []uint64, cnt []int32, c uint) {
	n := len(cnt)
	src, dst = src[:n+2], dst[:2*n]
	for i := range cnt {
		lo := src[i] | src[i+1]<<c | src[i+2]<<(2*c)
		hi := src[i+1]>>(64-c) | src[i+2]>>(64-2*c)
		dst[2*i], dst[2*i+1] = lo, hi
		cnt[i] = int32(bits.OnesCount64(lo) + bits.OnesCount64(hi))
	}
}

// spans3Go sets dst[i] = src[i] | src[i+1]<<c | src[i+2]<<2c and cnt[i] to
// its popcount, for i < len(cnt) (src must hold len(cnt)+2 words).
func spans3Go(src, dst []uint64, cnt []int32, c uint) {
	n := len(cnt)
	src, dst = src[:n+2], dst[:n]
	for i := range cnt {
		s := src[i] | src[i+1]<<c | src[i+2]<<(2*c)
		dst[i] = s
		cnt[i] = int32(bits.OnesCount64(s))
	}
}

// slideSpans2 is slideSpans for spans of two words (up to 128 bits: 32
// channels and a 3-tap kernel row), kept in a pair of registers.
func slideSpans2(row, dst []uint64, cnt []int32, kw, padLeft int, c uint) {
	var lo, hi uint64
	put := func(v uint64, at uint) {
		if at < 64 {
			lo |= v << at
			if at+c > 64 {
				hi |= v >> (64 - at)
			}
		} else {
			hi |= v << (at - 64)
		}
	}
	for j := range kw - 1 {
		if ix := j - padLeft; uint(ix) < uint(len(row)) {
			put(row[ix], uint(j)*c)
		}
	}
	top := uint(kw-1) * c
	dst = dst[:2*len(cnt)]
	ix := kw - 1 - padLeft
	for x := range cnt {
		if uint(ix) < uint(len(row)) {
			put(row[ix], top)
		}
		dst[2*x], dst[2*x+1] = lo, hi
		cnt[x] = int32(bits.OnesCount64(lo) + bits.OnesCount64(hi))
		lo = lo>>c | hi<<(64-c)
		hi >>= c
		ix++
	}
}

// patches makes the patches of output rows [oy0, oy1) (inside the rows
// given to build) and their spike counts (pcs), and returns them as a GEMM
// operand, patch q row-major from the band's first pixel. In direct mode
// the operand is the span buffer; otherwise the patches are written to
// buf, kWords contiguous words each.
func (pt *patcher) patches(oy0, oy1 int, buf []uint64, pcs []int32) operand {
	p, g := &pt.p, &pt.g
	kw, sw, ow := g.kWords, g.spanW, pt.ow
	if pt.direct {
		// pcs[q] is the sum of the counts of spans q + i*ldk: KH
		// row-wise passes (per output row with a vertical stride).
		ldk := p.DilH * ow
		add := addInt32Go
		if pt.k != nil && pt.k.addInt32 != nil {
			add = pt.k.addInt32
		}
		sumRows := func(pcs, spc []int32) {
			copy(pcs, spc[:len(pcs)])
			for i := 1; i < p.KH; i++ {
				add(pcs, spc[i*ldk:][:len(pcs)])
			}
		}
		op := operand{a: pt.spans, lda: sw, ldk: ldk * sw, sw: sw}
		if pt.padded {
			op.lda, op.ldk = g.cw, p.DilH*pt.rowW
		}
		if !pitchedRows(p, g) {
			sumRows(pcs[:(oy1-oy0)*ow], pt.spc)
			return op
		}
		for r := range oy1 - oy0 {
			sumRows(pcs[r*ow:][:ow], pt.spc[r*p.StrideH*ow:])
		}
		op.pitch, op.ow, op.outRows = p.StrideH*pt.rowW, ow, oy1-oy0
		return op
	}
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
				dst := buf[(q+ox)*kw:][:kw]
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
				dst := buf[(q+ox)*kw:][:kw]
				n := int32(0)
				for i, b := range base {
					t := dst[i*rw:][:sw]
					if b >= 0 {
						copyWords(t, pt.spans[(b+ox)*sw:][:sw])
						n += pt.spc[b+ox]
					} else {
						clear(t)
					}
				}
				pcs[q+ox] = n
			}
		default:
			for ox := range ow {
				dst := buf[(q+ox)*kw:][:kw]
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
	return contiguous(buf, kw, kw)
}

// addInt32Go adds src to dst element by element (a loop the compiler keeps
// free of bounds checks).
func addInt32Go(dst, src []int32) {
	src = src[:len(dst)]
	for q, v := range src {
		dst[q] += v
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

// copyWords copies src to dst; for the few words of a span a loop beats
// copy's call to memmove.
func copyWords(dst, src []uint64) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = v
	}
}

// copyCount copies src to dst and returns its popcount.
func copyCount(dst, src []uint64) int {
	dst = dst[:len(src)]
	n := 0
	for i, v := range src {
		dst[i] = v
		n += bits.OnesCount64(v)
	}
	return n
}

func popcount(x []uint64) int {
	n := 0
	for _, v := range x {
		n += bits.OnesCount64(v)
	}
	return n
}
