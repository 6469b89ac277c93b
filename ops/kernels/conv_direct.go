package kernels

// The direct convolution (strategy convDirect): for unit strides, one group
// and rows of at least 16 output pixels, when the 16x16 AVX-512 kernel is
// active. Instead of packing im2col panels (which costs a third of the
// product's time at 3x3), each image is copied once into a zero-padded
// buffer and convTile reads the im2col column of 16 consecutive output
// pixels in place: for im2col row r = (c*KH + i)*KW + j the 16 floats at
// the tile origin plus offs[r] = c*Hp*Wp + i*DH*Wp + j*DW, where Hp x Wp is
// the padded plane. The weights are the packed A panels of the GEMM (16
// output channels per panel, kc-deep blocks), so every element of the
// output is the same sum of products in the same order as the GEMM's.
// Backward data with unit strides is the same kernel on the transposed
// geometry (dy convolved with the flipped kernel).

// directMinWidth is the narrowest output row the direct kernel takes: a
// tile is 16 pixels of one row, so narrower rows would leave lanes idle.
const directMinWidth = 16

// forceIm2col disables the direct convolution (tests and benchmarks
// compare it with the im2col GEMM).
var forceIm2col bool

// directOK reports whether geometry g (one group) runs as a direct
// convolution with kernel kr.
func directOK(kr *microKernel, g *convGeom) bool {
	return convTile != nil && !forceIm2col && kr == avx512Kernel && g.SH == 1 && g.SW == 1 && g.OW >= directMinWidth
}

// padded returns the padded plane size of g: every input row and column an
// output pixel's window reaches.
func (g *convGeom) padded() (hp, wp int) {
	return g.OH + g.DH*(g.KH-1), g.OW + g.DW*(g.KW-1)
}

// buildDirectOffsets fills offs with the offset of every im2col row.
func (g *convGeom) buildDirectOffsets(offs []int32) []int32 {
	hp, wp := g.padded()
	offs = offs[:0]
	for c := 0; c < g.C; c++ {
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				offs = append(offs, int32(c*hp*wp+i*g.DH*wp+j*g.DW))
			}
		}
	}
	return offs
}

// padInto copies image x (C planes of H x W) into dst as C planes of
// Hp x Wp with the image at row PT, column PL and zeros around it (rows
// or columns outside the padded plane are left out), plus 16 zero floats
// of slack for the last tile's loads.
func (g *convGeom) padInto(dst, x []float32) []float32 {
	hp, wp := g.padded()
	dst = grow(dst, g.C*hp*wp+16)
	clear(dst)
	ih0, ih1 := max(0, -g.PT), min(g.H, hp-g.PT)
	iw0, iw1 := max(0, -g.PL), min(g.W, wp-g.PL)
	if iw0 >= iw1 {
		return dst
	}
	for c := 0; c < g.C; c++ {
		src := x[c*g.H*g.W:]
		d := dst[c*hp*wp:]
		for ih := ih0; ih < ih1; ih++ {
			copy(d[(ih+g.PT)*wp+iw0+g.PL:(ih+g.PT)*wp+iw1+g.PL], src[ih*g.W+iw0:ih*g.W+iw1])
		}
	}
	return dst
}

// directItem computes out (mRows x OH*OW) = W * im2col(x) for one image x
// of geometry g, with the prepacked weights A (mPad rows, k = g.rows()).
func directItem(ws *gemmWorkspace, g *convGeom, kr *microKernel, A []float32, mRows, mPad int, offs []int32, x, out []float32) {
	ws.pad = g.padInto(ws.pad, x)
	_, wp := g.padded()
	k := g.rows()
	kc := kr.kBlock(k)
	P := g.OH * g.OW
	for ir := 0; ir < mRows; ir += 16 {
		rows := min(16, mRows-ir)
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow += 16 {
				mask := uint16(1<<min(16, g.OW-ow) - 1)
				origin := ws.pad[oh*wp+ow:]
				c := out[ir*P+oh*g.OW+ow:]
				for pc := 0; pc < k; pc += kc {
					kcb := min(kc, k-pc)
					a := A[pc*mPad+ir*kcb : pc*mPad+(ir+16)*kcb]
					convTile(kcb, a, origin, offs[pc:pc+kcb], c, P, rows, mask, pc > 0)
				}
			}
		}
	}
}
