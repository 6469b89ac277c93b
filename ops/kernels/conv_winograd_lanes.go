package kernels

import (
	"fmt"
	"math/bits"
)

// The Winograd transforms 16 lanes at a time. With a micro-kernel whose B
// panels are 16 wide, 16 tiles (or 16 channels) of a chunk are gathered
// and transposed in one step, so that each tile element holds 16 lanes,
// and transformed as vectors, straight into the packed panels; the output
// tiles are transposed and scattered in one step the same way: assembly
// on AVX-512, the scalar transforms per lane elsewhere. The transposes run
// in registers, not through a scratch block: a block stored by 6-float
// rows and reloaded whole right away stalls on store forwarding, and the
// gather was a fifth of the ResNet block's time.

// winoLaneOps are the transforms on 16 lanes. input: blk is a 6x6 tile
// of lanes (element (r, j) at blk[(6r+j)*16:][:16], clobbered), and
// element (i, j) of B^T d B goes to dst[(6i+j)*stride:][:16]. output: the
// 6x6 Winograd-domain tile at src[(6r+j)*stride:][:16] becomes A^T m A +
// bias at dst[(4i+j)*16:][:16]. grad: the 4x4 tile e at blk[(4i+j)*16:]
// becomes A e A^T at dst[(6r+j)*stride:][:16]. filter: the 3x3 kernel g
// at g[(3r+j)*16:][:16] becomes G g G^T at dst[(6i+j)*stride:][:16], bit
// for bit as winoFilter; filterGrad: the 6x6 kernel gradient at
// u[(6i+j)*16:][:16] becomes G^T u G at g[(3r+j)*16:][:16], bit for bit as
// winoFilterGrad. gatherT: a gather of the 16 6x6 tiles of lanes (row
// stride ld) and the transposer in one: element (r, j) of tile l goes to
// dst[(6r+j)*16+l], as input takes it, read where bit j of masks[r][l] is
// set (rowMasks), zero elsewhere; gatherT4 the same for 4x4 tiles, as grad
// takes them. scatterT: the transposer and a scatter in one: element
// (r, j) of 4x4 tile l at src[(4r+j)*16+l] goes to dst at lanes[l] where
// bit j of masks[r][l] is set. The caller checks the lanes first
// (checkLanes): the assembly does not. The gathers and the scatter may
// prefetch the elements ahead floats past those they touch (what the next
// call will: the lanes' planes are far apart, and the prefetchers do not
// follow them), which need not be inside the slice.
type winoLaneOps struct {
	name       string
	gatherT    func(src []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, dst []float32, ahead int)
	filter     func(g, dst []float32, stride int)
	filterGrad func(u, g []float32)
	gatherT4   func(src []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, dst []float32, ahead int)
	scatterT   func(dst []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, src []float32, ahead int)
	input      func(blk, dst []float32, stride int)
	output     func(src []float32, stride int, dst []float32, bias float32)
	grad       func(blk, dst []float32, stride int)
}

// winoAsmLanes is the assembly implementation, nil when the CPU lacks it.
var winoAsmLanes *winoLaneOps

// winoGoLanes runs the scalar transforms lane by lane.
var winoGoLanes = &winoLaneOps{
	name: "go", gatherT: winoGatherTLanesGo, gatherT4: winoGatherT4LanesGo, scatterT: winoScatterTLanesGo,
	input: winoInputLanesGo, output: winoOutputLanesGo, grad: winoGradLanesGo,
	filter: winoFilterLanesGo, filterGrad: winoFilterGradLanesGo,
}

// winoForceGoLanes makes the lane path use winoGoLanes (tests).
var winoForceGoLanes bool

// winoLanes returns the lane transforms for kernel kr, or nil when its
// panels do not fit them (the chunk then runs the scalar transforms).
func winoLanes(kr *microKernel) *winoLaneOps {
	switch {
	case kr.nr != 16:
		return nil
	case winoAsmLanes != nil && !winoForceGoLanes:
		return winoAsmLanes
	}
	return winoGoLanes
}

// A winoLane is one tile of a gather or scatter: its top-left element at
// off (which may be negative or past a row's end: the tile hangs over the
// image's border), the rows r0 <= r < r1 and the columns j (bit j of mask)
// that lie inside the image. The assembly reads the fields as four int64s.
type winoLane struct {
	off, mask, r0, r1 int
}

// setLane sets lane to the size x size tile at (ih, iw) of the H x W plane
// that starts at element base.
func setLane(lane *winoLane, size, base, H, W, ih, iw int) {
	lane.off = base + ih*W + iw
	lane.r0, lane.r1 = min(max(-ih, 0), size), min(max(H-ih, 0), size)
	lane.mask = 0
	for j := max(-iw, 0); j < min(W-iw, size); j++ {
		lane.mask |= 1 << j
	}
	if lane.r0 >= lane.r1 || lane.mask == 0 {
		lane.r0, lane.r1 = 0, 0
	}
}

// checkLanes panics unless every element the lanes cover is inside s, with
// the lanes as they are and moved on by up to shift elements (the callers
// step them from plane to plane and check once).
func checkLanes(s []float32, lanes []winoLane, ld, shift int) {
	for l := range lanes {
		ln := &lanes[l]
		if ln.r0 >= ln.r1 {
			continue
		}
		lo := ln.off + ln.r0*ld + bits.TrailingZeros(uint(ln.mask))
		hi := ln.off + (ln.r1-1)*ld + bits.Len(uint(ln.mask)) - 1 + shift
		if lo < 0 || hi >= len(s) || ln.mask >= 1<<16 {
			panic(fmt.Sprintf("kernels: Winograd tile lane %d covers [%d, %d] of %d elements", l, lo, hi, len(s)))
		}
	}
}

func winoGatherTLanesGo(src []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, dst []float32, _ int) {
	winoGatherTiles(src, lanes, masks, ld, dst, 6)
}

func winoGatherT4LanesGo(src []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, dst []float32, _ int) {
	winoGatherTiles(src, lanes, masks, ld, dst, 4)
}

// winoGatherTiles is gatherT for size x size tiles.
func winoGatherTiles(src []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, dst []float32, size int) {
	for r := 0; r < size; r++ {
		for l := range lanes {
			m := masks[r][l]
			for j := 0; j < size; j++ {
				var v float32
				if m>>j&1 != 0 {
					v = src[lanes[l].off+r*ld+j]
				}
				dst[(size*r+j)*16+l] = v
			}
		}
	}
}

// rowMasks sets masks[r][l] to the columns of row r of the tile of lane l
// that lie inside the image (none outside rows r0 to r1): gatherT's and
// scatterT's masks, the same for every channel of a panel.
func rowMasks(masks *[6][16]uint16, lanes *[16]winoLane) {
	for r := range masks {
		for l, ln := range lanes {
			masks[r][l] = 0
			if ln.r0 <= r && r < ln.r1 {
				masks[r][l] = uint16(ln.mask)
			}
		}
	}
}

// byLane runs transform on each of the 16 lanes in turn: lane l's n input
// elements are src[i*srcStride+l], and the m elements transform writes go
// to dst[i*dstStride+l]. It is the Go lane ops: the scalar transforms,
// lane by lane.
func byLane(src []float32, srcStride, n int, dst []float32, dstStride, m int, transform func(in, out []float32)) {
	var in, out [winoPositions]float32
	for l := 0; l < 16; l++ {
		for i := range in[:n] {
			in[i] = src[i*srcStride+l]
		}
		transform(in[:n], out[:m])
		for i, v := range out[:m] {
			dst[i*dstStride+l] = v
		}
	}
}

func winoFilterLanesGo(g, dst []float32, stride int) {
	byLane(g, 16, 9, dst, stride, winoPositions, func(k, u []float32) { winoFilter(k, (*[winoPositions]float32)(u)) })
}

func winoFilterGradLanesGo(u, g []float32) {
	byLane(u, 16, winoPositions, g, 16, 9, func(m, k []float32) { winoFilterGrad((*[winoPositions]float32)(m), k) })
}

func winoScatterTLanesGo(dst []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, src []float32, _ int) {
	for r := 0; r < 4; r++ {
		for l := range lanes {
			for j := 0; j < 4; j++ {
				if masks[r][l]>>j&1 != 0 {
					dst[lanes[l].off+r*ld+j] = src[(4*r+j)*16+l]
				}
			}
		}
	}
}

func winoInputLanesGo(blk, dst []float32, stride int) {
	byLane(blk, 16, winoPositions, dst, stride, winoPositions, func(d, out []float32) {
		winoInput((*[winoPositions]float32)(d))
		copy(out, d)
	})
}

func winoOutputLanesGo(src []float32, stride int, dst []float32, bias float32) {
	byLane(src, stride, winoPositions, dst, 16, 16, func(m, y []float32) {
		winoOutput((*[winoPositions]float32)(m), (*[16]float32)(y))
		for q := range y {
			y[q] += bias
		}
	})
}

func winoGradLanesGo(blk, dst []float32, stride int) {
	byLane(blk, 16, 16, dst, stride, winoPositions, func(e, m []float32) {
		winoGrad((*[16]float32)(e), (*[winoPositions]float32)(m))
	})
}

// winoScratch holds a worker's blocks for the lane transforms: the tiles
// of 16 lanes, the kernels of winoPackLanes and winoFilterGradLanes, the
// lanes and their row masks (here rather than on the stack: the lane ops
// are function values, so a local passed to them would escape to the
// heap).
type winoScratch struct {
	lanes     [winoPositions * 16]float32
	kern      [9 * 16]float32
	tileLanes [16]winoLane
	rowMasks  [6][16]uint16
}

// panelLanes sets lanes to the size x size tiles of the n tiles from t on
// (the rest empty), in planes of H x W, per samples plane floats apart, the
// tiles' top-left elements moved up and left by pt and pl.
func (w *winoPlan) panelLanes(lanes *[16]winoLane, size, sample, H, W, pt, pl, t, n int) {
	for l := range lanes {
		lanes[l] = winoLane{}
		if l < n {
			s, oh, ow := w.tileOrigin(t + l)
			setLane(&lanes[l], size, s*sample, H, W, oh-pt, ow-pl)
		}
	}
}

// channelLanes sets lanes to tile in the planes of channels c0 to c0+15
// (plane floats apart), the lanes past channels empty. The callers walk c0
// up by 16 from 0 for one tile; a block that follows a full block of
// channels is that block moved on by 16 planes, which is all this does
// then (setting the lanes afresh cost a tenth of a weight-gradient pass).
// It reports whether it set them afresh (their masks may have changed).
func channelLanes(lanes *[16]winoLane, tile winoLane, c0, channels, plane int) bool {
	if c0 > 0 && c0+16 <= channels {
		for l := range lanes {
			lanes[l].off += 16 * plane
		}
		return false
	}
	for l := range lanes {
		lanes[l] = winoLane{}
		if c0+l < channels {
			lanes[l] = tile
			lanes[l].off += (c0 + l) * plane
		}
	}
	return true
}

// winoInputByTiles writes B^T d B of the nt tiles from t0 on into V in
// the forward layout (panels of 16 tiles, 16 floats per channel), 16 tiles
// at a time; lanes past nt are zero.
func (c *convCall) winoInputByTiles(ops *winoLaneOps, s *winoScratch, V []float32, pos, t0, nt int) {
	w := &c.wino
	g := &w.geom
	hw := g.H * g.W
	lanes := &s.tileLanes
	for p := 0; p < nt; p += 16 {
		w.panelLanes(lanes, 6, g.C*hw, g.H, g.W, g.PT, g.PL, t0+p, min(16, nt-p))
		checkLanes(w.src, lanes[:], g.W, (g.C-1)*hw)
		rowMasks(&s.rowMasks, lanes)
		for ci := 0; ci < g.C; ci++ {
			ops.gatherT(w.src, lanes, &s.rowMasks, g.W, s.lanes[:], hw)
			ops.input(s.lanes[:], V[p*g.C+ci*16:], pos)
			for l := range lanes {
				lanes[l].off += hw
			}
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
	lanes := &s.tileLanes
	for t := 0; t < nt; t++ {
		n, oh, ow := w.tileOrigin(t0 + t)
		var tile winoLane
		setLane(&tile, 6, n*g.C*hw, g.H, g.W, oh-g.PT, ow-g.PL)
		checkLanes(w.src, []winoLane{tile}, g.W, (g.C-1)*hw)
		for c0 := 0; c0 < g.C; c0 += 16 {
			if channelLanes(lanes, tile, c0, g.C, hw) {
				rowMasks(&s.rowMasks, lanes)
			}
			ops.gatherT(w.src, lanes, &s.rowMasks, g.W, s.lanes[:], 16*hw)
			ops.input(s.lanes[:], V[c0*nt+t*16:], pos)
		}
	}
}

// winoOutputByTiles writes A^T M A (+ bias) of the chunk's nt tiles into
// the output, 16 tiles at a time. M holds the positions ms apart, each
// out x tp.
func (c *convCall) winoOutputByTiles(ops *winoLaneOps, s *winoScratch, M []float32, t0, nt, tp, ms int) {
	w := &c.wino
	OH, OW := w.geom.OH, w.geom.OW
	plane := OH * OW
	lanes := &s.tileLanes
	for p := 0; p < nt; p += 16 {
		w.panelLanes(lanes, 4, w.out*plane, OH, OW, 0, 0, t0+p, min(16, nt-p))
		checkLanes(w.dst, lanes[:], OW, (w.out-1)*plane)
		rowMasks(&s.rowMasks, lanes)
		for k := 0; k < w.out; k++ {
			var b float32
			if w.bias != nil {
				b = w.bias[k]
			}
			ops.output(M[k*tp+p:], ms, s.lanes[:256], b)
			ops.scatterT(w.dst, lanes, &s.rowMasks, OW, s.lanes[:256], plane)
			for l := range lanes {
				lanes[l].off += plane
			}
		}
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
	lanes := &s.tileLanes
	for t := 0; t < nt; t++ {
		n, oh, ow := w.tileOrigin(t0 + t)
		var tile winoLane
		setLane(&tile, 4, n*w.out*plane, OH, OW, oh, ow)
		checkLanes(w.dst, []winoLane{tile}, OW, (w.out-1)*plane)
		for k0 := 0; k0 < w.out; k0 += 16 {
			if channelLanes(lanes, tile, k0, w.out, plane) {
				rowMasks(&s.rowMasks, lanes)
			}
			ops.gatherT4(w.dst, lanes, &s.rowMasks, OW, s.lanes[:256], 16*plane)
			ops.grad(s.lanes[:256], M[k0*nt+t*16:], pos)
		}
	}
}
