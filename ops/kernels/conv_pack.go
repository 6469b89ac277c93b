package kernels

// This file reads the im2col matrix of one image straight from the image,
// so that no im2col buffer is ever written: packIm2col and packIm2colT pack
// blocks of it (or of its transpose) as GEMM operand B, col2im scatters a
// computed block of its gradient back into the image gradient.
//
// Row r = (c*KH + i)*KW + j of the im2col matrix and column q = oh*OW + ow
// hold x[c, oh*SH - PT + i*DH, ow*SW - PL + j*DW], or 0 in the padding.

// rowOffsets returns, for im2col row r, the input plane and the offsets
// added to oh*SH and ow*SW to find the input row and column.
func (g *convGeom) rowOffsets(x []float32, r int) (plane []float32, ihOff, iwOff int) {
	kk := g.KH * g.KW
	c, t := r/kk, r%kk
	i, j := t/g.KW, t%g.KW
	hw := g.H * g.W
	return x[c*hw : (c+1)*hw], i*g.DH - g.PT, j*g.DW - g.PL
}

// validCols returns the range [lo, hi) of output columns ow whose input
// column ow*SW + iwOff lies inside the image.
func (g *convGeom) validCols(iwOff int) (lo, hi int) {
	return validRange(iwOff, g.SW, g.W, g.OW)
}

// validRange returns the range [lo, hi) of output indexes o < out whose
// input index o*stride + off lies in [0, in).
func validRange(off, stride, in, out int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	if last := in - 1 - off; last >= 0 {
		hi = last/stride + 1
	}
	hi = min(hi, out)
	lo = min(lo, hi)
	return lo, hi
}

// fillRow writes the output columns [ow, ow+len(d)) of the im2col row whose
// input row is row (nil when it lies in the padding) into d; [lo, hi) are
// the row's valid output columns.
func (g *convGeom) fillRow(d, row []float32, ow, iwOff, lo, hi int) {
	if row == nil {
		clear(d)
		return
	}
	a := min(max(lo-ow, 0), len(d))
	b := min(max(hi-ow, a), len(d))
	clear(d[:a])
	if g.SW == 1 {
		if a < b {
			copy(d[a:b], row[ow+a+iwOff:])
		}
	} else {
		for t := a; t < b; t++ {
			d[t] = row[(ow+t)*g.SW+iwOff]
		}
	}
	clear(d[b:])
}

// inputRow returns input row ih of plane, or nil when it is in the padding.
func (g *convGeom) inputRow(plane []float32, ih int) []float32 {
	if ih < 0 || ih >= g.H {
		return nil
	}
	return plane[ih*g.W : (ih+1)*g.W]
}

// Offset tables for kernels with a gatherPanels packer. Entry r of taps
// (im2col row r = (c*KH + i)*KW + j) is i*DH - PT, j*DW - PL and the flat input
// index c*H*W + (i*DH - PT)*W + j*DW - PL; entry q of pixels (output pixel
// q = (oh, ow)) is oh*SH, ow*SW and oh*SH*W + ow*SW. Element (r, q) of the
// im2col matrix is inside the image when both row sums (and both column
// sums) are, and is then at the sum of the flat indexes.
type offsetTable struct {
	entries []int32 // 3 per entry
	lanes   []int32 // the entries of each block of 16, as 16 rows, 16 columns, 16 flat
	contig  []uint8 // per block: bit h when lanes 8h..8h+7 have consecutive flat indexes
}

// canGather reports whether the offsets of g fit in int32.
func (g *convGeom) canGather() bool {
	const limit = 1 << 30
	return g.C*g.H*g.W < limit && (g.OH*g.SH+g.KH*g.DH)*(g.W+g.OW*g.SW+g.KW*g.DW) < limit
}

// buildOffsets fills g.taps and g.pixels, reusing their buffers.
func (g *convGeom) buildOffsets() {
	e := g.taps.reset(g.rows())
	kk := g.KH * g.KW
	for r := 0; r < g.rows(); r++ {
		c, t := r/kk, r%kk
		h, w := t/g.KW*g.DH-g.PT, t%g.KW*g.DW-g.PL
		e[3*r], e[3*r+1], e[3*r+2] = int32(h), int32(w), int32(c*g.H*g.W+h*g.W+w)
	}
	g.taps.fillLanes()
	e = g.pixels.reset(g.cols())
	for oh, q := 0, 0; oh < g.OH; oh++ {
		for ow := 0; ow < g.OW; ow++ {
			h, w := oh*g.SH, ow*g.SW
			e[3*q], e[3*q+1], e[3*q+2] = int32(h), int32(w), int32(h*g.W+w)
			q++
		}
	}
	g.pixels.fillLanes()
}

// reset sizes t for n entries and returns the entry slice to fill.
func (t *offsetTable) reset(n int) []int32 {
	blocks := (n + 15) / 16
	t.entries = growInt32(t.entries, 3*n)
	t.lanes = growInt32(t.lanes, 48*blocks)
	if cap(t.contig) < blocks {
		t.contig = make([]uint8, blocks)
	}
	t.contig = t.contig[:blocks]
	return t.entries
}

// fillLanes derives the lane blocks from the entries. Lanes past the last
// entry get a row offset that puts them outside the image.
func (t *offsetTable) fillLanes() {
	n := len(t.entries) / 3
	for b := range t.contig {
		l := t.lanes[48*b : 48*b+48]
		for j := 0; j < 16; j++ {
			if e := 16*b + j; e < n {
				l[j], l[16+j], l[32+j] = t.entries[3*e], t.entries[3*e+1], t.entries[3*e+2]
			} else {
				l[j], l[16+j], l[32+j] = -1<<30, 0, 0
			}
		}
		t.contig[b] = 0
		for h := 0; h < 2; h++ {
			ok := true
			for j := 8*h + 1; j < 8*h+8 && 16*b+j < n; j++ {
				ok = ok && l[32+j] == l[32+8*h]+int32(j-8*h)
			}
			if ok {
				t.contig[b] |= 1 << h
			}
		}
	}
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// packIm2col packs rows [r0, r0+kcb) and columns [q0, q0+ncb) of the im2col
// matrix of image x into kr.nr-wide panels, like packB.
func (g *convGeom) packIm2col(dst, x []float32, kr *microKernel, ws *gemmWorkspace, r0, kcb, q0, ncb int) {
	nr := kr.nr
	if kr.gatherPanels != nil && g.gather && q0%16 == 0 {
		b0, b1 := q0/16, (q0+ncb+15)/16
		kr.gatherPanels(dst, x, b1-b0, kcb, g.pixels.lanes[48*b0:], g.pixels.contig[b0:], g.taps.entries[3*r0:], g.H, g.W)
		if rem := ncb % 16; rem != 0 && q0+ncb < g.cols() {
			// The last panel read pixels past the block: zero them.
			last := dst[(b1-b0-1)*16*kcb:]
			for t := 0; t < kcb; t++ {
				clear(last[16*t+rem : 16*t+16])
			}
		}
		return
	}
	panel := nr * kcb
	qEnd := q0 + ncb
	for r := r0; r < r0+kcb; r++ {
		plane, ihOff, iwOff := g.rowOffsets(x, r)
		lo, hi := g.validCols(iwOff)
		base := (r - r0) * nr
		oh, ow := q0/g.OW, q0%g.OW
		for q := q0; q < qEnd; {
			off := q - q0
			pi, jj := off/nr, off%nr
			seg := min(nr-jj, g.OW-ow, qEnd-q)
			d := dst[pi*panel+base+jj:][:seg]
			g.fillRow(d, g.inputRow(plane, oh*g.SH+ihOff), ow, iwOff, lo, hi)
			q += seg
			if ow += seg; ow == g.OW {
				ow = 0
				oh++
			}
		}
		if rem := ncb % nr; rem != 0 {
			last := (ncb / nr) * panel
			clear(dst[last+base+rem : last+base+nr])
		}
	}
}

// packIm2colT packs rows [q0, q0+kcb) and columns [r0, r0+ncb) of the
// transposed im2col matrix (rows are output pixels) into kr.nr-wide panels.
func (g *convGeom) packIm2colT(dst, x []float32, kr *microKernel, ws *gemmWorkspace, q0, kcb, r0, ncb int) {
	nr := kr.nr
	if kr.gatherPanels != nil && g.gather && r0%16 == 0 && q0%16 == 0 {
		for pi := 0; pi*nr < ncb; pi++ {
			r, n := r0+pi*nr, min(nr, ncb-pi*nr)
			d := dst[pi*nr*kcb : (pi+1)*nr*kcb]
			if n < 16 || kr.transpose16 == nil {
				kr.gatherPanels(d, x, 1, kcb, g.taps.lanes[48*(r/16):], g.taps.contig[r/16:], g.pixels.entries[3*q0:], g.H, g.W)
				if n < 16 {
					for t := 0; t < kcb; t++ {
						clear(d[16*t+n : 16*t+16])
					}
				}
				continue
			}
			// Pack the 16 x kcb block of the im2col matrix (mostly with
			// consecutive loads) and transpose it 16x16 at a time.
			ws.tpose = grow(ws.tpose, roundUp(kcb, 16)*16)
			g.packIm2col(ws.tpose, x, kr, ws, r, 16, q0, kcb)
			full := kcb / 16
			kr.transpose16(d, ws.tpose, 16, 256, full)
			if rem := kcb - full*16; rem > 0 {
				kr.transpose16(ws.block[:], ws.tpose[full*256:], 16, 256, 1)
				copy(d[full*256:], ws.block[:rem*16])
			}
		}
		return
	}
	panel := nr * kcb
	for r := r0; r < r0+roundUp(ncb, nr); r++ {
		d := dst[(r-r0)/nr*panel+(r-r0)%nr:]
		if r >= r0+ncb {
			for t := 0; t < kcb; t++ {
				d[t*nr] = 0
			}
			continue
		}
		plane, ihOff, iwOff := g.rowOffsets(x, r)
		lo, hi := g.validCols(iwOff)
		oh, ow := q0/g.OW, q0%g.OW
		for t := 0; t < kcb; {
			seg := min(g.OW-ow, kcb-t)
			row := g.inputRow(plane, oh*g.SH+ihOff)
			a := min(max(lo-ow, 0), seg)
			b := min(max(hi-ow, a), seg)
			if row == nil {
				a, b = seg, seg
			}
			for s := 0; s < a; s++ {
				d[(t+s)*nr] = 0
			}
			for s := a; s < b; s++ {
				d[(t+s)*nr] = row[(ow+s)*g.SW+iwOff]
			}
			for s := b; s < seg; s++ {
				d[(t+s)*nr] = 0
			}
			t += seg
			ow = 0
			oh++
		}
	}
}

// col2im adds the im2col-shaped gradient col (all rows, columns [q0, q0+w),
// row stride w) into the image gradient dx.
func (g *convGeom) col2im(dx, col []float32, q0, w int) {
	for r := 0; r < g.rows(); r++ {
		plane, ihOff, iwOff := g.rowOffsets(dx, r)
		lo, hi := g.validCols(iwOff)
		src := col[r*w : (r+1)*w]
		oh, ow := q0/g.OW, q0%g.OW
		for t := 0; t < w; {
			seg := min(g.OW-ow, w-t)
			if row := g.inputRow(plane, oh*g.SH+ihOff); row != nil {
				a := min(max(lo-ow, 0), seg)
				b := min(max(hi-ow, a), seg)
				if g.SW == 1 {
					if a < b {
						addTo(row[ow+a+iwOff:ow+b+iwOff], src[t+a:t+b])
					}
				} else {
					for s := a; s < b; s++ {
						row[(ow+s)*g.SW+iwOff] += src[t+s]
					}
				}
			}
			t += seg
			ow = 0
			oh++
		}
	}
}
