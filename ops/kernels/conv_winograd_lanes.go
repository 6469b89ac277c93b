package kernels

// The Winograd transforms 16 lanes at a time. With a micro-kernel whose B
// panels are 16 wide (and that has the 16x16 transposer), 16 tiles (or 16
// channels) of a chunk are gathered tile by tile, transposed so that each
// tile element holds 16 lanes, and transformed as vectors, straight into
// the packed panels: assembly on AVX-512, the scalar transforms per lane
// elsewhere.

// winoLaneOps are the three transforms on 16 lanes. input: blk is a 6x6
// tile of lanes (element (r, j) at blk[(6r+j)*16:][:16], clobbered), and
// element (i, j) of B^T d B goes to dst[(6i+j)*stride:][:16]. output: the
// 6x6 Winograd-domain tile at src[(6r+j)*stride:][:16] becomes A^T m A +
// bias at dst[(4i+j)*16:][:16]. grad: the 4x4 tile e at blk[(4i+j)*16:]
// becomes A e A^T at dst[(6r+j)*stride:][:16].
type winoLaneOps struct {
	name   string
	input  func(blk, dst []float32, stride int)
	output func(src []float32, stride int, dst []float32, bias float32)
	grad   func(blk, dst []float32, stride int)
}

// winoAsmLanes is the assembly implementation, nil when the CPU lacks it.
var winoAsmLanes *winoLaneOps

// winoGoLanes runs the scalar transforms lane by lane.
var winoGoLanes = &winoLaneOps{name: "go", input: winoInputLanesGo, output: winoOutputLanesGo, grad: winoGradLanesGo}

// winoForceGoLanes makes the lane path use winoGoLanes (tests).
var winoForceGoLanes bool

// winoLanes returns the lane transforms for kernel kr, or nil when its
// panels do not fit them (the chunk then runs the scalar transforms).
func winoLanes(kr *microKernel) *winoLaneOps {
	switch {
	case kr.nr != 16 || kr.transpose16 == nil:
		return nil
	case winoAsmLanes != nil && !winoForceGoLanes:
		return winoAsmLanes
	}
	return winoGoLanes
}

func winoInputLanesGo(blk, dst []float32, stride int) {
	for l := 0; l < 16; l++ {
		var d [winoPositions]float32
		for xi := range d {
			d[xi] = blk[xi*16+l]
		}
		winoInput(&d)
		for xi, v := range d {
			dst[xi*stride+l] = v
		}
	}
}

func winoOutputLanesGo(src []float32, stride int, dst []float32, bias float32) {
	for l := 0; l < 16; l++ {
		var m [winoPositions]float32
		for xi := range m {
			m[xi] = src[xi*stride+l]
		}
		var y [16]float32
		winoOutput(&m, &y)
		for q, v := range y {
			dst[q*16+l] = v + bias
		}
	}
}

func winoGradLanesGo(blk, dst []float32, stride int) {
	for l := 0; l < 16; l++ {
		var e [16]float32
		for q := range e {
			e[q] = blk[q*16+l]
		}
		var m [winoPositions]float32
		winoGrad(&e, &m)
		for xi, v := range m {
			dst[xi*stride+l] = v
		}
	}
}

// winoScratch holds a worker's tile blocks for the lane transforms: 16
// tiles of 48 floats (36 used) as gathered, and the same transposed.
type winoScratch struct {
	tiles, lanes [16 * 48]float32
}

// tileOrigins holds the sample and top-left input element of up to 16 tiles.
type tileOrigins struct {
	n, ih, iw [16]int
}

// set fills o for the lanes tiles from t0 on; the input origin is the
// output origin moved by the pads.
func (o *tileOrigins) set(w *winoPlan, t0, lanes int) {
	for l := 0; l < lanes; l++ {
		n, oh, ow := w.tileOrigin(t0 + l)
		o.n[l], o.ih[l], o.iw[l] = n, oh-w.geom.PT, ow-w.geom.PL
	}
}

// winoInputByTiles writes B^T d B of the nt tiles from t0 on into V in
// the forward layout (panels of 16 tiles, 16 floats per channel), 16 tiles
// at a time; lanes past nt are zero.
func (c *convCall) winoInputByTiles(ops *winoLaneOps, s *winoScratch, V []float32, pos, t0, nt int) {
	w := &c.wino
	g := &w.geom
	hw := g.H * g.W
	var org tileOrigins
	for p := 0; p < nt; p += 16 {
		lanes := min(16, nt-p)
		org.set(w, t0+p, lanes)
		for ci := 0; ci < g.C; ci++ {
			for l := 0; l < 16; l++ {
				d := (*[winoPositions]float32)(s.tiles[48*l:])
				if l >= lanes {
					*d = [winoPositions]float32{}
					continue
				}
				winoGather(d, w.src[(org.n[l]*g.C+ci)*hw:][:hw], g.H, g.W, org.ih[l], org.iw[l])
			}
			c.kr.transpose16(s.lanes[:], s.tiles[:], 48, 16, 3)
			ops.input(s.lanes[:], V[p*g.C+ci*16:], pos)
		}
	}
}

// winoInputByChannels writes B^T d B of the nt tiles from t0 on into V in
// the weight-gradient layout (panels of 16 channels, 16 floats per tile);
// lanes past the channel count are zero.
func (c *convCall) winoInputByChannels(ops *winoLaneOps, s *winoScratch, V []float32, pos, t0, nt int) {
	w := &c.wino
	g := &w.geom
	hw := g.H * g.W
	var org tileOrigins
	for t := 0; t < nt; t++ {
		org.set(w, t0+t, 1)
		x := w.src[org.n[0]*g.C*hw:][:g.C*hw]
		for c0 := 0; c0 < g.C; c0 += 16 {
			for l := 0; l < 16; l++ {
				d := (*[winoPositions]float32)(s.tiles[48*l:])
				if c0+l >= g.C {
					*d = [winoPositions]float32{}
					continue
				}
				winoGather(d, x[(c0+l)*hw:][:hw], g.H, g.W, org.ih[0], org.iw[0])
			}
			c.kr.transpose16(s.lanes[:], s.tiles[:], 48, 16, 3)
			ops.input(s.lanes[:], V[c0*nt+t*16:], pos)
		}
	}
}

// winoOutputByTiles writes A^T M A (+ bias) of the chunk's nt tiles into
// the output, 16 tiles at a time. M is [36][out][tp].
func (c *convCall) winoOutputByTiles(ops *winoLaneOps, s *winoScratch, M []float32, t0, nt, tp int) {
	w := &c.wino
	OH, OW := w.geom.OH, w.geom.OW
	plane := OH * OW
	ms := w.out * tp
	for p := 0; p < nt; p += 16 {
		lanes := min(16, nt-p)
		for k := 0; k < w.out; k++ {
			var b float32
			if w.bias != nil {
				b = w.bias[k]
			}
			ops.output(M[k*tp+p:], ms, s.lanes[:256], b)
			c.kr.transpose16(s.tiles[:256], s.lanes[:256], 16, 16, 1)
			for l := 0; l < lanes; l++ {
				n, oh, ow := w.tileOrigin(t0 + p + l)
				y := w.dst[(n*w.out+k)*plane:][:plane]
				putTile(y, s.tiles[16*l:][:16], OW, oh, ow, min(4, OH-oh), min(4, OW-ow))
			}
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

// winoGradByChannels writes A e A^T of the chunk's nt output-gradient
// tiles into M in the packed-A layout of a 16-row kernel (panels of 16
// output channels, 16 floats per tile); lanes past the channel count are
// zero.
func (c *convCall) winoGradByChannels(ops *winoLaneOps, s *winoScratch, M []float32, pos, t0, nt int) {
	w := &c.wino
	OH, OW := w.geom.OH, w.geom.OW
	plane := OH * OW
	for t := 0; t < nt; t++ {
		n, oh, ow := w.tileOrigin(t0 + t)
		dy := w.dst[n*w.out*plane:][:w.out*plane]
		for k0 := 0; k0 < w.out; k0 += 16 {
			for l := 0; l < 16; l++ {
				e := s.tiles[16*l:][:16]
				if k0+l >= w.out {
					clear(e)
					continue
				}
				getTile(e, dy[(k0+l)*plane:][:plane], OW, oh, ow, min(4, OH-oh), min(4, OW-ow))
			}
			c.kr.transpose16(s.lanes[:256], s.tiles[:256], 16, 16, 1)
			ops.grad(s.lanes[:256], M[k0*nt+t*16:], pos)
		}
	}
}
