package kernels

// Direct kernels for depthwise convolutions (Groups == C: every output
// channel reads a single input channel). There an im2col GEMM would have
// only M/Groups rows and KH*KW columns, too few to amortise packing, so the
// kernels loop over the KH*KW taps instead: for each tap the output plane
// (the part whose window tap is inside the image) gets one strided vector
// update from the input plane.

// tapWindow returns, for kernel tap t, the input offsets of output pixel
// (0, 0) and the ranges [ohLo, ohHi), [owLo, owHi) of output rows and
// columns whose tap lies inside the image.
func (g *convGeom) tapWindow(t int) (ihOff, iwOff, ohLo, ohHi, owLo, owHi int) {
	ihOff, iwOff = t/g.KW*g.DH-g.PT, t%g.KW*g.DW-g.PL
	ohLo, ohHi = validRange(ihOff, g.SH, g.H, g.OH)
	owLo, owHi = validRange(iwOff, g.SW, g.W, g.OW)
	return
}

// depthwiseForward computes output plane item = n*M + m.
func (c *convCall) depthwiseForward(item int) {
	p, g := &c.p, &c.geom
	n, m := item/p.M, item%p.M
	kk := p.KH * p.KW
	x := c.x[(n*p.C+m/c.Mg)*c.HW:][:c.HW]
	y := c.y[(n*p.M+m)*c.P:][:c.P]
	var b float32
	if c.bias != nil {
		b = c.bias[m]
	}
	for i := range y {
		y[i] = b
	}
	for t, wv := range c.w[m*kk : (m+1)*kk] {
		ihOff, iwOff, ohLo, ohHi, owLo, owHi := g.tapWindow(t)
		if ohLo == ohHi || owLo == owHi {
			continue
		}
		xs := (ohLo*g.SH+ihOff)*g.W + owLo*g.SW + iwOff
		ys := ohLo*g.OW + owLo
		if g.SW == 1 {
			axpy2D(wv, x[xs:], y[ys:], ohHi-ohLo, owHi-owLo, g.SH*g.W, g.OW)
			continue
		}
		for r := 0; r < ohHi-ohLo; r++ {
			xr, yr := x[xs+r*g.SH*g.W:], y[ys+r*g.OW:ys+r*g.OW+owHi-owLo]
			for s := range yr {
				yr[s] += wv * xr[s*g.SW]
			}
		}
	}
}

// depthwiseBackwardData computes input-gradient plane item = n*C + c from
// the Mg output planes that read it.
func (c *convCall) depthwiseBackwardData(item int) {
	p, g := &c.p, &c.geom
	n, ci := item/p.C, item%p.C
	kk := p.KH * p.KW
	dx := c.dx[(n*p.C+ci)*c.HW:][:c.HW]
	clear(dx)
	for m := ci * c.Mg; m < (ci+1)*c.Mg; m++ {
		dy := c.dy[(n*p.M+m)*c.P:][:c.P]
		for t, wv := range c.w[m*kk : (m+1)*kk] {
			ihOff, iwOff, ohLo, ohHi, owLo, owHi := g.tapWindow(t)
			if ohLo == ohHi || owLo == owHi {
				continue
			}
			xs := (ohLo*g.SH+ihOff)*g.W + owLo*g.SW + iwOff
			ys := ohLo*g.OW + owLo
			if g.SW == 1 {
				axpy2D(wv, dy[ys:], dx[xs:], ohHi-ohLo, owHi-owLo, g.OW, g.SH*g.W)
				continue
			}
			for r := 0; r < ohHi-ohLo; r++ {
				xr, yr := dx[xs+r*g.SH*g.W:], dy[ys+r*g.OW:ys+r*g.OW+owHi-owLo]
				for s, v := range yr {
					xr[s*g.SW] += wv * v
				}
			}
		}
	}
}

// depthwiseBackwardFilter computes the KH*KW weight gradients of output
// channel item, summed over the batch (in float64 across samples).
func (c *convCall) depthwiseBackwardFilter(item int) {
	p, g := &c.p, &c.geom
	m := item
	kk := p.KH * p.KW
	ci := m / c.Mg
	dw := c.dw[m*kk : (m+1)*kk]
	for t := range dw {
		ihOff, iwOff, ohLo, ohHi, owLo, owHi := g.tapWindow(t)
		var s float64
		for n := 0; n < p.N && ohLo < ohHi && owLo < owHi; n++ {
			x := c.x[(n*p.C+ci)*c.HW:][:c.HW]
			dy := c.dy[(n*p.M+m)*c.P:][:c.P]
			xs := (ohLo*g.SH+ihOff)*g.W + owLo*g.SW + iwOff
			ys := ohLo*g.OW + owLo
			if g.SW == 1 {
				s += float64(dot2D(dy[ys:], x[xs:], ohHi-ohLo, owHi-owLo, g.OW, g.SH*g.W))
				continue
			}
			var r float32
			for row := 0; row < ohHi-ohLo; row++ {
				xr, yr := x[xs+row*g.SH*g.W:], dy[ys+row*g.OW:ys+row*g.OW+owHi-owLo]
				for q, v := range yr {
					r += v * xr[q*g.SW]
				}
			}
			s += float64(r)
		}
		dw[t] = float32(s)
	}
}
