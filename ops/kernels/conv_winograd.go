package kernels

// Winograd convolution: 3x3, unit-stride, undilated, ungrouped
// convolutions with enough channels run as F(4x4, 3x3) (the transforms are
// in winograd_transforms.go). The output is cut into 4x4 tiles, each read
// from a 6x6 input tile; in the transformed (Winograd) domain the 3x3
// correlation summed over input channels becomes, for each of the 36
// positions, a matrix product over channels, so a pass costs 36 products of
// (K x C) by (C x tiles) instead of 9*16 = 144 multiply-adds per output
// pixel and channel pair: 4x fewer multiplications. The transforms cost
// O(channels x tiles) each and are the overhead that decides where it pays
// (winoMinChannels).
//
// The tiles are cut into chunks (winoChunkTiles), one work item each: a
// chunk's transformed tiles are written straight in the GEMM micro-kernel's
// packed panel layout (no packing pass), multiplied position by position
// with the sweep of the blocked GEMM, and transformed back, while they are
// in L2. With the 16-wide panels of the assembly kernels the tiles are
// gathered, transformed and scattered 16 at a time
// (conv_winograd_lanes.go); the Go kernel's chunks take the scalar
// transforms below.
//
//   - Forward: V = B^T d B per tile and channel, M = U V per position with
//     U = G g G^T prepacked, Y = A^T M A per tile.
//   - Backward data at unit stride is the forward convolution of dy with the
//     flipped, transposed kernel (as for the direct kernels), so it runs the
//     forward code on the transposed geometry.
//   - Backward filter: dU = sum over tiles of (A dY A^T) V^T per position,
//     dg = G^T dU G. Each part sums a fixed range of chunks into its own dU,
//     and the parts are added in order, so the result does not depend on
//     scheduling.

// winoMinChannels is the smallest input and output channel count for
// which the forward and backward-data passes of a 3x3 convolution run as
// Winograd, and winoMinFilterChannels the same for the weight gradient.
// Below them the per-channel transforms cost more than the multiplications
// they save. Measured with BenchmarkConvWinograd (2 threads, AVX-512, three
// runs each): at the BSNN ResNet-20's 16 channels the forward pass takes
// 2.47 ms against the direct kernel's 2.16-2.34 and backward data 2.9-3.0
// against 2.26-2.30; at 32 channels (16x16 pixels) 1.52-1.78 against
// 1.93-2.00 forward and 1.44 against 1.99-2.00 backward data; at 64
// channels 1.69-1.72 against 2.16-2.19. (Before the forward pass took its
// tiles in chunks of up to 64, 32 channels were a wash and the threshold
// was 48.) The weight gradient takes 3.2 against 7.2 ms at 16 channels (the
// direct kernel's GEMM over pixels is deep but narrow there).
// Variables so that tests cover small shapes.
var (
	winoMinChannels       = 32
	winoMinFilterChannels = 16
)

// winograd reports whether p can run as Winograd F(4x4, 3x3) with at least
// minChannels input and output channels.
func (p ConvParams) winograd(minChannels int) bool {
	return p.Groups == 1 && p.KH == 3 && p.KW == 3 && p.StrideH == 1 && p.StrideW == 1 &&
		p.DilH == 1 && p.DilW == 1 && p.C >= minChannels && p.M >= minChannels
}

// winoPlan is one Winograd pass: its geometry (geom.C input channels of
// H x W, output OH x OW, pads PT and PL), out output channels, the tiling,
// and the operands.
type winoPlan struct {
	geom                  convGeom
	out                   int
	tilesH, tilesW, tiles int
	chunk, chunks         int
	src, dst, bias        []float32 // forward: read, written; filter: x, dy
	w                     []float32 // the kernels being transformed
	sums                  int       // weight gradient: parts whose dU sums are added
}

// winoStride is the distance between the positions of a chunk's
// transformed tiles holding n floats per position: n rounded up to a cache
// line, plus one line, so that the 36 positions of a tile do not all fall
// in the same cache set (n is often a multiple of 4 KiB).
func winoStride(n int) int { return roundUp(n, 16) + 16 }

// winoChunkTiles is the number of tiles of a chunk: as many as keep its
// transformed inputs and products (36 positions x (in + out) channels)
// within budget bytes, a multiple of 16 from 16 to 64. The forward pass
// takes 1.25 MiB (it rereads all transformed kernels, 36*in*out floats, per
// chunk: larger chunks read them less often), the weight gradient 640 KiB
// (it adds each chunk into its 36*in*out sums, which should stay in L2
// with the chunk); BenchmarkConvWinograd's ResNet block is about 5%
// faster with 64 tiles than 32 in the forward pass, and 8% slower in the
// weight gradient.
func winoChunkTiles(in, out, budget int) int {
	return min(64, max(16, budget/(4*winoPositions*(in+out))/16*16))
}

// The chunk budgets of winoChunkTiles.
const (
	winoForwardBudget = 1280 << 10
	winoFilterBudget  = 640 << 10
)

// winoSetup plans a pass of geometry g with out output channels and the
// chunk budget of winoChunkTiles.
func (c *convCall) winoSetup(g convGeom, out, budget int) {
	w := &c.wino
	w.geom, w.out = g, out
	w.tilesH, w.tilesW = (g.OH+3)/4, (g.OW+3)/4
	w.tiles = c.p.N * w.tilesH * w.tilesW
	w.chunk = winoChunkTiles(g.C, out, budget)
	w.chunks = (w.tiles + w.chunk - 1) / w.chunk
}

// tileOrigin returns tile t's sample and the output row and column of its
// top-left pixel.
func (w *winoPlan) tileOrigin(t int) (n, oh, ow int) {
	per := w.tilesH * w.tilesW
	n, t = t/per, t%per
	return n, t / w.tilesW * 4, t % w.tilesW * 4
}

// winoConvolve runs the forward Winograd pass of geometry g: dst (out
// channels) = conv(src, w) + bias, w being [out][g.C][3][3].
func (c *convCall) winoConvolve(g convGeom, out int, w, src, bias, dst []float32) {
	c.winoSetup(g, out, winoForwardBudget)
	c.wino.src, c.wino.dst, c.wino.bias, c.wino.w = src, dst, bias, w
	c.mPad = roundUp(out, c.kr.mr)
	c.wpack = grow(c.wpack, winoPositions*c.mPad*g.C)
	c.mode = modeWinogradPack
	c.runItems(c.mPad/c.kr.mr, false)
	c.mode = modeWinograd
	c.runItems(c.wino.chunks, false)
	c.wino.src, c.wino.dst, c.wino.bias, c.wino.w = nil, nil, nil, nil
}

// winoPackItem transforms the kernels of the output channels of A panel
// item (mr channels, so that no two threads write the same cache line) and
// stores them straight into the prepacked GEMM operand A of every position
// (out x in, laid out as prepackA does: kBlock-deep blocks of mr-row
// panels), zeros in the rows past out.
func (c *convCall) winoPackItem(ws *gemmWorkspace, item int) {
	wp, kr := &c.wino, c.kr
	in, mr, mPad := wp.geom.C, kr.mr, c.mPad
	kc := kr.kBlock(in)
	per := mPad * in
	ops := winoLanes(kr)
	for ci := 0; ci < in; ci++ {
		pc := ci / kc * kc
		kcb := min(kc, in-pc)
		o := pc*mPad + item*kcb*mr + (ci-pc)*mr
		if ops != nil && mr == 16 {
			c.winoPackLanes(ops, &ws.wino, o, item*mr, ci)
			continue
		}
		for r := 0; r < mr; r++ {
			var u [winoPositions]float32
			if k := item*mr + r; k < wp.out {
				winoFilter(wp.w[9*(k*in+ci):], &u)
			}
			for xi, v := range u {
				c.wpack[xi*per+o+r] = v
			}
		}
	}
}

// winoPackLanes transforms input channel ci of the 16 kernels from output
// channel k0 on (zeros past the output channels) as 16 lanes, into the
// 16 floats at o of every position's A operand: the scalar transform took
// a tenth of a forward pass.
func (c *convCall) winoPackLanes(ops *winoLaneOps, s *winoScratch, o, k0, ci int) {
	wp := &c.wino
	in := wp.geom.C
	g := s.kern[:]
	for l := 0; l < 16; l++ {
		if k := k0 + l; k < wp.out {
			w := wp.w[9*(k*in+ci):][:9]
			for q, v := range w {
				g[q*16+l] = v
			}
		} else {
			for q := 0; q < 9; q++ {
				g[q*16+l] = 0
			}
		}
	}
	ops.filter(g, c.wpack[o:], c.mPad*in)
}

// winoForwardItem computes the output tiles of one chunk.
func (c *convCall) winoForwardItem(ws *gemmWorkspace, item int) {
	w, kr := &c.wino, c.kr
	t0 := item * w.chunk
	nt := min(w.chunk, w.tiles-t0)
	tp := roundUp(nt, kr.nr)
	in, out := w.geom.C, w.out
	vs, ms := winoStride(in*tp), winoStride(out*tp)
	ws.winoV = grow(ws.winoV, winoPositions*vs)
	ws.winoM = grow(ws.winoM, winoPositions*ms)
	// V: per position, panels of nr tiles, nr floats per channel (packed B).
	ops := winoLanes(kr)
	if ops != nil {
		c.winoInputByTiles(ops, &ws.wino, ws.winoV, vs, t0, nt)
	} else {
		if nt < tp {
			clear(ws.winoV) // the padding tiles of the last panel
		}
		lay := winoLayout{pos: vs, panel: kr.nr, panelStride: in * kr.nr, tileLanes: true}
		c.winoInputTiles(ws.winoV, lay, t0, nt)
	}
	c.winoForwardProducts(ws, tp, vs, ms)
	if ops != nil {
		c.winoOutputByTiles(ops, &ws.wino, ws.winoM, t0, nt, tp, ms)
	} else {
		c.winoOutputTiles(ws.winoM, t0, nt, tp, ms)
	}
}

// winoForwardProducts sets, for every position xi, M_xi (out x tp, row
// stride tp, at ms*xi) = U_xi V_xi (V_xi at vs*xi).
func (c *convCall) winoForwardProducts(ws *gemmWorkspace, tp, vs, ms int) {
	w, kr := &c.wino, c.kr
	in, out, nr := w.geom.C, w.out, kr.nr
	kc := kr.kBlock(in)
	ws.reserve(kr, 0, 0, 0)
	for xi := 0; xi < winoPositions; xi++ {
		A := operand{kind: opPacked, data: c.wpack[xi*c.mPad*in:][:c.mPad*in]}
		V := ws.winoV[xi*vs:][:in*tp]
		g := gemmProblem{kern: kr, alpha: 1, c: ws.winoM[xi*ms:][:out*tp], ldc: tp}
		for pc := 0; pc < in; pc += kc {
			kcb := min(kc, in-pc)
			ap := packA(nil, &A, 0, out, pc, kcb, kr.mr, c.mPad)
			beta := float32(1)
			if pc == 0 {
				beta = 0
			}
			for j := 0; j < tp; j += nr {
				g.sweep(ws, ap, V[j*in+pc*nr:][:kcb*nr], kcb, 0, out, j, nr, beta)
			}
		}
	}
}

// winoLayout places element (position xi, tile t, channel c) of a chunk's
// transformed tiles in a packed GEMM panel layout: the lane index (t when
// tileLanes, else c) is cut into panels of panel lanes, panelStride floats
// apart; within a panel the other index steps by panel floats.
type winoLayout struct {
	pos, panel, panelStride int
	tileLanes               bool
}

func (l *winoLayout) at(t, c int) int {
	if l.tileLanes {
		return t/l.panel*l.panelStride + c*l.panel + t%l.panel
	}
	return c/l.panel*l.panelStride + t*l.panel + c%l.panel
}

// winoInputTiles writes B^T d B of the nt input tiles from tile t0 on, every
// input channel, into V laid out by lay.
func (c *convCall) winoInputTiles(V []float32, lay winoLayout, t0, nt int) {
	w := &c.wino
	g := &w.geom
	hw := g.H * g.W
	for t := 0; t < nt; t++ {
		n, oh, ow := w.tileOrigin(t0 + t)
		x := w.src[n*g.C*hw:][:g.C*hw]
		for ci := 0; ci < g.C; ci++ {
			var d [winoPositions]float32
			winoGather(&d, x[ci*hw:][:hw], g.H, g.W, oh-g.PT, ow-g.PL)
			winoInput(&d)
			o := lay.at(t, ci)
			for xi, v := range d {
				V[xi*lay.pos+o] = v
			}
		}
	}
}

// winoGather sets d to the 6x6 tile of the H x W plane whose top-left
// element is (ih, iw); elements outside the plane are 0.
func winoGather(d *[winoPositions]float32, plane []float32, H, W, ih, iw int) {
	if ih >= 0 && iw >= 0 && ih+6 <= H && iw+6 <= W {
		for r := 0; r < 6; r++ {
			*(*[6]float32)(d[6*r:]) = [6]float32(plane[(ih+r)*W+iw:])
		}
		return
	}
	for r := 0; r < 6; r++ {
		row := d[6*r : 6*r+6]
		if ih+r < 0 || ih+r >= H {
			clear(row)
			continue
		}
		src := plane[(ih+r)*W:][:W]
		for j := range row {
			row[j] = 0
			if x := iw + j; x >= 0 && x < W {
				row[j] = src[x]
			}
		}
	}
}

// winoOutputTiles writes A^T M A (+ bias) of the chunk's nt tiles, every
// output channel, into the output, cropped to OH x OW. M holds the
// positions ms apart, each out x tp.
func (c *convCall) winoOutputTiles(M []float32, t0, nt, tp, ms int) {
	w := &c.wino
	OH, OW := w.geom.OH, w.geom.OW
	plane := OH * OW
	for t := 0; t < nt; t++ {
		n, oh, ow := w.tileOrigin(t0 + t)
		for k := 0; k < w.out; k++ {
			var m [winoPositions]float32
			for xi := range m {
				m[xi] = M[xi*ms+k*tp+t]
			}
			var tile [16]float32
			winoOutput(&m, &tile)
			if w.bias != nil {
				for q := range tile {
					tile[q] += w.bias[k]
				}
			}
			y := w.dst[(n*w.out+k)*plane:][:plane]
			putTile(y, tile[:], OW, oh, ow, min(4, OH-oh), min(4, OW-ow))
		}
	}
}

// putTile writes the rows x cols top-left part of the 4x4 tile (row stride
// 4) into the plane of row stride ow at (oh0, ow0).
func putTile(plane, tile []float32, stride, oh0, ow0, rows, cols int) {
	dst := plane[oh0*stride+ow0:]
	if rows == 4 && cols == 4 {
		for i := 0; i < 4; i++ {
			*(*[4]float32)(dst[i*stride:]) = [4]float32(tile[4*i:])
		}
		return
	}
	for i := 0; i < rows; i++ {
		copy(dst[i*stride:i*stride+cols], tile[4*i:4*i+cols])
	}
}

// getTile sets the 4x4 tile (row stride 4) to the rows x cols part of the
// plane of row stride ow at (oh0, ow0), zeros elsewhere.
func getTile(tile, plane []float32, stride, oh0, ow0, rows, cols int) {
	src := plane[oh0*stride+ow0:]
	if rows == 4 && cols == 4 {
		for i := 0; i < 4; i++ {
			*(*[4]float32)(tile[4*i:]) = [4]float32(src[i*stride:])
		}
		return
	}
	clear(tile[:16])
	for i := 0; i < rows; i++ {
		copy(tile[4*i:4*i+cols], src[i*stride:i*stride+cols])
	}
}
