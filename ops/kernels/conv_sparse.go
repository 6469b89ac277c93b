package kernels

// The sparse weight gradient (ConvBackwardFilter on spike inputs). The data
// input of a binary layer in a spiking network is AGMM-gated spikes: every
// value of sample n is 0 or the sample's gate v_n, and most are 0 (firing
// rates 0.1-0.25). Then
//
//	dW[m, c, i, j] = sum_n v_n * sum_{q : x[n,c,q] != 0} dy[n, m, q + PT - i*DH, q + PL - j*DW]
//
// (unit strides, positions outside the output skipped): a sum of rows of dy
// over the input's nonzeros only, with no multiplications but one per
// sample. The call runs in three phases, each split over the threads:
//
//  1. per sample, the nonzero positions of every input plane are listed
//     (and the input checked: every nonzero of the sample equal);
//  2. per sample, dy is transposed into a zero-bordered grid of output
//     positions, 16 output channels per row (one chunk of 16 channels
//     after another), so that every tap of every nonzero reads one whole
//     row, and positions outside the output read zeros;
//  3. per input channel c, each tap (i, j) of the weight gradient sums, in
//     sample order, v_n times the grid rows at the listed positions
//     shifted by the tap, 16 output channels per register.
//
// Phase 3 splits over input channels, so each weight gradient element is
// summed by one thread in a fixed order: the result does not depend on the
// thread count. A dense input, an input whose nonzeros differ within a
// sample, strides other than 1, groups, or more than sparseMaxRate nonzeros
// take the GEMM path.

// sparseMaxRate is the largest fraction of nonzero inputs the sparse weight
// gradient takes: above it the dense GEMM is faster.
const sparseMaxRate = 0.35

// sparseArgs is the argument block of sparseTapsAVX512 (the assembly reads
// its fields by offset: keep their order and sizes).
type sparseArgs struct {
	acc         *float32 // taps rows of mvec*16 floats, accStride bytes apart: added to
	grid        *float32 // the sample's grid, first chunk
	list        *int32   // the channel's position list
	count       int      // its length
	v           float32  // the sample's value
	_           float32
	mvec        int  // 16-channel chunks per row, 1 to 4
	chunkStride int  // bytes between two chunks of the grid
	taps        int  // number of taps (>= 1)
	tapOffs     *int // [taps] grid positions added to every listed position
	accStride   int  // bytes between two taps' accumulator rows
}

// tapSums is one call of sparseTaps, for one sample and input channel: for
// every tap t, acc[t*accStride:][:16*mvec] += v * (sum over the entries b
// of list (byte offsets) of the 16*mvec floats at grid[(b+tapOffs[t])/4:],
// chunk k at + k*chunkStride). Strides are in elements. The entries are summed as two
// interleaved halves (even and odd entries) added at the end, multiplied by
// v and added to acc, with no FMA.
type tapSums struct {
	acc                          []float32
	grid                         []float32
	list                         []int32
	v                            float32
	mvec, chunkStride, accStride int
	tapOffs                      []int
}

// sparseState is the scratch of the sparse weight gradient, kept in the
// convCall between calls.
type sparseState struct {
	lists   []int32   // [n][c][HW] positions (the first counts[n*C+c] valid)
	counts  []int32   // [n][c]
	vs      []float32 // [n]
	nnz     []int     // [n]
	ok      []bool    // [n]
	grids   []float32 // [n][chunk][position][16]
	acc     []float32 // per part: [taps][64]
	tapOffs []int     // per part: [taps]
	hg, wg  int       // grid size
	lh, lw  int       // grid row and column of output position (0, 0)
	chunks  int
}

// sparseFilter tries the sparse path for ConvBackwardFilter (c.x, c.dy,
// c.dw set) and reports whether it computed dw.
func (c *convCall) sparseFilter() bool {
	p := c.p
	if !sparseOK(c.kr) || p.Groups != 1 || p.StrideH != 1 || p.StrideW != 1 || c.strategy != convGEMM {
		return false
	}
	s := &c.sparse
	g := &c.geom
	s.chunks = (p.M + 15) / 16
	// Grid rows cover every output row a tap of an input row reaches.
	lo := min(0, p.PadTop-(p.KH-1)*p.DilH)
	hi := max(g.OH-1, p.H-1+p.PadTop)
	s.lh, s.hg = -lo, hi-lo+1
	lo = min(0, p.PadLeft-(p.KW-1)*p.DilW)
	hi = max(g.OW-1, p.W-1+p.PadLeft)
	s.lw, s.wg = -lo, hi-lo+1
	s.lists = growInt32(s.lists, p.N*p.C*c.HW)
	s.counts = growInt32(s.counts, p.N*p.C)
	s.vs = grow(s.vs, p.N)
	if cap(s.nnz) < p.N {
		s.nnz, s.ok = make([]int, p.N), make([]bool, p.N)
	}
	s.nnz, s.ok = s.nnz[:p.N], s.ok[:p.N]

	c.mode = modeSparseList
	c.runItems(p.N, false)
	total := 0
	for n := 0; n < p.N; n++ {
		if !s.ok[n] {
			return false
		}
		total += s.nnz[n]
	}
	if float64(total) > sparseMaxRate*float64(p.N*p.C*c.HW) {
		return false
	}
	s.grids = grow(s.grids, p.N*s.chunks*s.hg*s.wg*16)
	c.mode = modeSparseGrid
	c.runItems(p.N, false)
	s.acc = grow(s.acc, c.threads*p.KH*p.KW*64)
	if n := c.threads * p.KH * p.KW; cap(s.tapOffs) < n {
		s.tapOffs = make([]int, n)
	}
	s.tapOffs = s.tapOffs[:c.threads*p.KH*p.KW]
	c.mode = modeSparseSum
	c.runItems(p.C, false)
	return true
}

// sparseListItem lists the nonzero positions of sample n (phase 1).
func (c *convCall) sparseListItem(n int) {
	p, s := c.p, &c.sparse
	x := c.x[n*p.C*c.HW:][:p.C*c.HW]
	v := float32(0)
	for _, e := range x {
		if e != 0 {
			v = e
			break
		}
	}
	s.vs[n], s.ok[n], s.nnz[n] = v, true, 0
	// Grid position of input pixel (0, 0) with no tap applied; a row down
	// adds wg.
	base := (p.PadTop+s.lh)*s.wg + p.PadLeft + s.lw
	for ci := 0; ci < p.C; ci++ {
		cnt, ok := spikeIndexes(x[ci*c.HW:][:c.HW], p.W, v, int32(base), int32(s.wg), s.lists[(n*p.C+ci)*c.HW:][:c.HW])
		if !ok {
			s.ok[n] = false
			return
		}
		s.counts[n*p.C+ci] = int32(cnt)
		s.nnz[n] += cnt
	}
}

// sparseGridItem writes sample n's grid (phase 2): grid[chunk][pos][16]
// holds dy[n, 16*chunk+l, oh, ow] at pos = (oh+lh)*wg + ow+lw, zeros
// elsewhere (channels past M included).
func (c *convCall) sparseGridItem(ws *gemmWorkspace, n int) {
	p, s := c.p, &c.sparse
	g := &c.geom
	per := s.hg * s.wg * 16
	grid := s.grids[n*s.chunks*per:][:s.chunks*per]
	dy := c.dy[n*p.M*c.P:][:p.M*c.P]
	for ch := 0; ch < s.chunks; ch++ {
		gc := grid[ch*per:][:per]
		// Zero the border rows and columns; the output area is overwritten.
		clear(gc[:s.lh*s.wg*16])
		clear(gc[(s.lh+g.OH)*s.wg*16:])
		for oh := 0; oh < g.OH; oh++ {
			row := gc[(oh+s.lh)*s.wg*16:][:s.wg*16]
			clear(row[:s.lw*16])
			clear(row[(s.lw+g.OW)*16:])
		}
		m0, mc := ch*16, min(16, p.M-ch*16)
		for q := 0; q < c.P; q += 16 {
			w := min(16, c.P-q)
			if mc == 16 && w == 16 && c.kr.transpose16 != nil {
				c.kr.transpose16(ws.block[:], dy[m0*c.P+q:], c.P, 0, 1)
			} else {
				ws.block = [256]float32{}
				for l := 0; l < mc; l++ {
					for t := 0; t < w; t++ {
						ws.block[16*t+l] = dy[(m0+l)*c.P+q+t]
					}
				}
			}
			// Pixels of one output row are consecutive grid rows: copy runs.
			for t := 0; t < w; {
				oh, ow := (q+t)/g.OW, (q+t)%g.OW
				run := min(w-t, g.OW-ow)
				copy(gc[((oh+s.lh)*s.wg+ow+s.lw)*16:][:16*run], ws.block[16*t:16*(t+run)])
				t += run
			}
		}
	}
}

// sparseSumItem computes the weight gradient of input channel ci (phase
// 3): samples outer, so that a sample's grid stays in cache for all its
// taps; every element sums its samples in order.
func (c *convCall) sparseSumItem(part, ci int) {
	p, s := c.p, &c.sparse
	kk := p.KH * p.KW
	acc := s.acc[part*kk*64 : (part+1)*kk*64]
	clear(acc)
	per := s.hg * s.wg * 16
	tapOffs := s.tapOffs[part*kk : (part+1)*kk]
	for i := 0; i < p.KH; i++ {
		for j := 0; j < p.KW; j++ {
			tapOffs[i*p.KW+j] = -64 * (i*p.DilH*s.wg + j*p.DilW)
		}
	}
	for m0 := 0; m0 < p.M; m0 += 64 {
		mvec := min(4, (p.M-m0+15)/16)
		if m0 > 0 {
			clear(acc)
		}
		for n := 0; n < p.N; n++ {
			cnt := int(s.counts[n*p.C+ci])
			if cnt == 0 {
				continue
			}
			sparseTaps(&tapSums{
				acc: acc, grid: s.grids[(n*s.chunks+m0/16)*per:], list: s.lists[(n*p.C+ci)*c.HW:][:cnt], v: s.vs[n],
				mvec: mvec, chunkStride: per, accStride: 64, tapOffs: tapOffs,
			})
		}
		for t := 0; t < kk; t++ {
			for l := 0; l < min(64, p.M-m0); l++ {
				c.dw[(m0+l)*p.C*kk+ci*kk+t] = acc[t*64+l]
			}
		}
	}
}

// sparseTapsGo is sparseTapsAVX512 in Go, summing in the same order.
func sparseTapsGo(t *tapSums) {
	lanes := 16 * t.mvec
	for tap, off := range t.tapOffs {
		var even, odd [64]float32
		for e, pos := range t.list {
			sum := &even
			if e%2 == 1 {
				sum = &odd
			}
			row := (int(pos) + off) / 4
			for k := 0; k < t.mvec; k++ {
				for l, x := range t.grid[k*t.chunkStride+row:][:16] {
					sum[16*k+l] += x
				}
			}
		}
		acc := t.acc[tap*t.accStride:][:lanes]
		for l := range acc {
			acc[l] += float32(t.v * (even[l] + odd[l]))
		}
	}
}

// spikeIndexesGo is spikeIndexesAVX512 in Go: for the rows of w floats of
// x, (base + row*rowStep + i)*64 for every nonzero x[row*w+i], false when a
// nonzero is not v.
func spikeIndexesGo(x []float32, w int, v float32, base, rowStep int32, out []int32) (int, bool) {
	k := 0
	for i, e := range x {
		if e != 0 {
			if e != v {
				return 0, false
			}
			out[k] = (base + int32(i/w)*rowStep + int32(i%w)) * 64
			k++
		}
	}
	return k, true
}
