package kernels

// opKind says how a GEMM operand is stored. For A the rows are indexed by i
// (m) and the columns by p (k); for B the rows by p (k) and the columns by
// j (n).
type opKind uint8

const (
	// opRowMajor: element (r, c) at data[r*ld+c].
	opRowMajor opKind = iota
	// opColMajor: element (r, c) at data[c*ld+r] (a transposed row-major
	// matrix).
	opColMajor
	// opPacked (A only): data was laid out by prepackA with the active
	// kernel's mr and kc.
	opPacked
	// opIm2col (B only): the im2col matrix of one image of a convolution
	// group, read straight from the image; rows are (c, kh, kw), columns
	// output pixels. See conv.go.
	opIm2col
	// opIm2colT (B only): the transpose of opIm2col: rows are output
	// pixels, columns (c, kh, kw).
	opIm2colT
)

// operand is one GEMM input.
type operand struct {
	kind opKind
	data []float32
	ld   int
	geom *convGeom // opIm2col, opIm2colT
}

// denseOperand describes a row-major matrix with row stride ld, or its
// transpose when trans.
func denseOperand(trans bool, data []float32, ld int) operand {
	if trans {
		return operand{kind: opColMajor, data: data, ld: ld}
	}
	return operand{kind: opRowMajor, data: data, ld: ld}
}

// packA packs rows [i0, i0+mcb) and columns [p0, p0+kcb) of A into mr-high
// panels (kcb*mr floats each, mr floats per k step, rows past mcb zero) and
// returns them. A prepacked operand is returned in place; mPad is its row
// count rounded up to mr.
func packA(dst []float32, a *operand, i0, mcb, p0, kcb, mr, mPad int) []float32 {
	n := roundUp(mcb, mr) * kcb
	switch a.kind {
	case opPacked:
		off := p0*mPad + i0*kcb
		return a.data[off : off+n]
	case opRowMajor:
		packStrided(dst[:n], a.data, a.ld, p0, kcb, i0, mcb, mr)
	case opColMajor:
		packContig(dst[:n], a.data, a.ld, p0, kcb, i0, mcb, mr)
	default:
		panic("kernels: unsupported A operand")
	}
	return dst[:n]
}

// packB packs rows [p0, p0+kcb) and columns [j0, j0+ncb) of B into panels
// of kr.nr columns (kcb*nr floats each, nr floats per k step, columns past
// ncb zero).
func packB(dst []float32, b *operand, kr *microKernel, ws *gemmWorkspace, p0, kcb, j0, ncb int) {
	nr := kr.nr
	switch b.kind {
	case opRowMajor:
		if kr.copyRows != nil {
			full := ncb / nr
			for q := 0; q < full; q++ {
				kr.copyRows(dst[q*nr*kcb:(q+1)*nr*kcb], b.data[p0*b.ld+j0+q*nr:], b.ld, kcb)
			}
			if full*nr < ncb {
				packContig(dst[full*nr*kcb:], b.data, b.ld, p0, kcb, j0+full*nr, ncb-full*nr, nr)
			}
			return
		}
		packContig(dst, b.data, b.ld, p0, kcb, j0, ncb, nr)
	case opColMajor:
		if kr.transpose16 != nil && nr == 16 {
			// Transpose each full panel 16x16 at a time; the rest (rows
			// past the last multiple of 16, narrow last panel) in Go.
			full, fullK := ncb/16, kcb/16*16
			for q := 0; q < full; q++ {
				d := dst[q*16*kcb : (q+1)*16*kcb]
				kr.transpose16(d, b.data[(j0+q*16)*b.ld+p0:], b.ld, 16, fullK/16)
				if fullK < kcb {
					packStrided(d[fullK*16:], b.data, b.ld, p0+fullK, kcb-fullK, j0+q*16, 16, 16)
				}
			}
			if full*16 < ncb {
				packStrided(dst[full*16*kcb:], b.data, b.ld, p0, kcb, j0+full*16, ncb-full*16, 16)
			}
			return
		}
		packStrided(dst, b.data, b.ld, p0, kcb, j0, ncb, nr)
	case opIm2col:
		b.geom.packIm2col(dst, b.data, kr, ws, p0, kcb, j0, ncb)
	case opIm2colT:
		b.geom.packIm2colT(dst, b.data, kr, ws, p0, kcb, j0, ncb)
	default:
		panic("kernels: unsupported B operand")
	}
}

// prepackA packs the whole m x k matrix a (row-major, stride lda, or its
// transpose when trans) for kernel kr, so that several GEMMs with the same A
// skip packing it: block by block of kc along k, each as packA lays it out.
// dst must hold roundUp(m, kr.mr)*k floats.
func prepackA(dst []float32, kr *microKernel, trans bool, m, k int, a []float32, lda int) {
	op := denseOperand(trans, a, lda)
	mPad := roundUp(m, kr.mr)
	kc := kr.kBlock(k)
	for pc := 0; pc < k; pc += kc {
		kcb := min(kc, k-pc)
		packA(dst[pc*mPad:(pc+kcb)*mPad], &op, 0, m, pc, kcb, kr.mr, mPad)
	}
}

// packContig packs a matrix whose element (p, x) is at src[p*ld+x] (rows
// along k contiguous in x) into w-wide panels over x: panel q holds columns
// [x0+q*w, x0+q*w+w) as kcb rows of w floats.
func packContig(dst, src []float32, ld, p0, kcb, x0, xcb, w int) {
	full := xcb / w
	for q := 0; q < full; q++ {
		d := dst[q*w*kcb : (q+1)*w*kcb]
		s := src[p0*ld+x0+q*w:]
		switch w { // fixed-size copies for the kernels' panel widths
		case 6:
			for p := 0; p < kcb; p++ {
				*(*[6]float32)(d[p*6:]) = *(*[6]float32)(s[p*ld:])
			}
		case 4:
			for p := 0; p < kcb; p++ {
				*(*[4]float32)(d[p*4:]) = *(*[4]float32)(s[p*ld:])
			}
		case 2:
			for p := 0; p < kcb; p++ {
				*(*[2]float32)(d[p*2:]) = *(*[2]float32)(s[p*ld:])
			}
		default:
			for p := 0; p < kcb; p++ {
				copy(d[p*w:p*w+w], s[p*ld:p*ld+w])
			}
		}
	}
	if rem := xcb - full*w; rem > 0 {
		d := dst[full*w*kcb : (full+1)*w*kcb]
		s := src[p0*ld+x0+full*w:]
		for p := 0; p < kcb; p++ {
			copy(d[p*w:p*w+rem], s[p*ld:p*ld+rem])
			clear(d[p*w+rem : p*w+w])
		}
	}
}

// packStrided packs a matrix whose element (p, x) is at src[x*ld+p] (each x
// a contiguous run along k) into w-wide panels over x, like packContig.
func packStrided(dst, src []float32, ld, p0, kcb, x0, xcb, w int) {
	for q := 0; q*w < xcb; q++ {
		d := dst[q*w*kcb : (q+1)*w*kcb]
		cols := min(w, xcb-q*w)
		if cols == 6 && w == 6 {
			base := (x0+q*6)*ld + p0
			r0 := src[base : base+kcb]
			r1 := src[base+ld : base+ld+kcb]
			r2 := src[base+2*ld : base+2*ld+kcb]
			r3 := src[base+3*ld : base+3*ld+kcb]
			r4 := src[base+4*ld : base+4*ld+kcb]
			r5 := src[base+5*ld : base+5*ld+kcb]
			for p := range r0 {
				e := (*[6]float32)(d[p*6:])
				e[0], e[1], e[2], e[3], e[4], e[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
			continue
		}
		for x := 0; x < cols; x++ {
			row := src[(x0+q*w+x)*ld+p0:]
			row = row[:kcb]
			for p, v := range row {
				d[p*w+x] = v
			}
		}
		for x := cols; x < w; x++ {
			for p := 0; p < kcb; p++ {
				d[p*w+x] = 0
			}
		}
	}
}
