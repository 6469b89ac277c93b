package kernels

// The Winograd weight gradient (see conv_winograd.go): per chunk of tiles,
// dU_xi += dM_xi V_xi^T for every position xi, with dM = A dY A^T of the
// output gradient's tiles and V = B^T d B of the input's; dw = G^T dU G.

// winoFilterGradient computes c.dw from c.x and c.dy (the forward geometry
// is c.geom).
func (c *convCall) winoFilterGradient() {
	p := c.p
	c.winoSetup(c.geom, p.M, winoFilterBudget)
	w := &c.wino
	w.src, w.dst = c.x, c.dy
	c.mode = modeWinogradFilter
	c.items = w.chunks
	c.setParts(false)
	for i := 0; i < c.parts; i++ {
		c.partials[i] = growClear(c.partials[i], winoPositions*p.M*p.C)
	}
	c.start()
	w.src, w.dst = nil, nil
	// The parts' sums are added in part order, in parallel over output
	// channels.
	w.sums = c.parts
	c.mode = modeWinogradFilterGrad
	c.runItems(p.M, false)
}

// winoFilterGradItem sets the kernel gradients of output channel k to
// G^T dU G, dU being the sum of the parts' sums.
func (c *convCall) winoFilterGradItem(ws *gemmWorkspace, k int) {
	if ops := winoLanes(c.kr); ops != nil {
		c.winoFilterGradLanes(ops, &ws.wino, k)
		return
	}
	p := c.p
	per := p.M * p.C
	for ci := 0; ci < p.C; ci++ {
		var u [winoPositions]float32
		o := k*p.C + ci
		for part := 0; part < c.wino.sums; part++ {
			dU := c.partials[part][:winoPositions*per]
			for xi := range u {
				u[xi] += dU[xi*per+o]
			}
		}
		winoFilterGrad(&u, c.dw[9*o:])
	}
}

// winoFilterGradLanes is winoFilterGradItem 16 input channels at a time:
// the scalar transform took a twentieth of a weight-gradient pass. The
// parts are summed in the same order, so the results are the same.
func (c *convCall) winoFilterGradLanes(ops *winoLaneOps, s *winoScratch, k int) {
	p := c.p
	per := p.M * p.C
	u, g := s.lanes[:winoPositions*16], s.kern[:]
	for c0 := 0; c0 < p.C; c0 += 16 {
		n := min(16, p.C-c0)
		clear(u)
		for part := 0; part < c.wino.sums; part++ {
			dU := c.partials[part][:winoPositions*per]
			for xi := 0; xi < winoPositions; xi++ {
				dst := u[xi*16:][:n]
				for l, v := range dU[xi*per+k*p.C+c0:][:n] {
					dst[l] += v
				}
			}
		}
		ops.filterGrad(u, g)
		for l := 0; l < n; l++ {
			d := c.dw[9*(k*p.C+c0+l):][:9]
			for q := range d {
				d[q] = g[q*16+l]
			}
		}
	}
}

// winoFilterItem adds one chunk's dU to part's sum.
func (c *convCall) winoFilterItem(ws *gemmWorkspace, item, part int) {
	w, kr := &c.wino, c.kr
	t0 := item * w.chunk
	nt := min(w.chunk, w.tiles-t0)
	in, out := w.geom.C, w.out
	// V: per position, panels of nr channels, nr floats per tile (packed
	// B); dM: panels of mr output channels, mr floats per tile (packed A).
	inPad, outPad := roundUp(in, kr.nr), roundUp(out, kr.mr)
	vl := winoLayout{pos: winoStride(inPad * nt), panel: kr.nr, panelStride: nt * kr.nr}
	ml := winoLayout{pos: winoStride(outPad * nt), panel: kr.mr, panelStride: nt * kr.mr}
	ws.winoV = grow(ws.winoV, winoPositions*vl.pos)
	ws.winoM = grow(ws.winoM, winoPositions*ml.pos)
	ops := winoLanes(kr)
	if ops != nil {
		c.winoInputByChannels(ops, &ws.wino, ws.winoV, vl.pos, t0, nt)
	} else {
		if inPad > in {
			clear(ws.winoV)
		}
		c.winoInputTiles(ws.winoV, vl, t0, nt)
	}
	if ops != nil && kr.mr == 16 {
		c.winoGradByChannels(ops, &ws.wino, ws.winoM, ml.pos, t0, nt)
	} else {
		if outPad > out {
			clear(ws.winoM)
		}
		c.winoGradTiles(ws.winoM, ml, t0, nt)
	}

	dU := c.partials[part]
	ws.reserve(kr, 0, 0, 0)
	for xi := 0; xi < winoPositions; xi++ {
		g := gemmProblem{kern: kr, alpha: 1, c: dU[xi*out*in:][:out*in], ldc: in}
		ap := ws.winoM[xi*ml.pos:][:ml.pos]
		V := ws.winoV[xi*vl.pos:][:vl.pos]
		for j := 0; j < in; j += kr.nr {
			g.sweep(ws, ap, V[j*nt:][:kr.nr*nt], nt, 0, out, j, min(kr.nr, in-j), 1)
		}
	}
}

// winoGradTiles writes A e A^T of the chunk's nt output-gradient tiles e,
// every output channel, into M laid out by lay (tiles are the lanes'
// other index, output channels the lanes).
func (c *convCall) winoGradTiles(M []float32, lay winoLayout, t0, nt int) {
	w := &c.wino
	OH, OW := w.geom.OH, w.geom.OW
	plane := OH * OW
	for t := 0; t < nt; t++ {
		n, oh, ow := w.tileOrigin(t0 + t)
		dy := w.dst[n*w.out*plane:][:w.out*plane]
		for k := 0; k < w.out; k++ {
			var e [16]float32
			getTile(e[:], dy[k*plane:][:plane], OW, oh, ow, min(4, OH-oh), min(4, OW-ow))
			var m [winoPositions]float32
			winoGrad(&e, &m)
			o := lay.at(t, k)
			for xi, v := range m {
				M[xi*lay.pos+o] = v
			}
		}
	}
}
