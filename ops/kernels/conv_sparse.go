package kernels

// The sparse weight gradient (ConvBackwardFilter on spike inputs). The data
// input of a binary layer in a spiking network is AGMM-gated spikes: every
// value of sample n is 0 or the sample's gate v_n, and most are 0 (firing
// rates 0.1-0.25). Then
//
//	dW[m, c, i, j] = sum_n v_n * sum_{q : x[n,c,q] != 0} dy[n, m, q + PT - i*DH, q + PL - j*DW]
//
// (unit strides, positions outside the output skipped): a sum of rows of
// v_n*dy over the input's nonzeros only, with no multiplications. The call
// runs in three phases, each split over the threads:
//
//  1. per sample, the nonzero positions of every input plane are listed
//     (and the input checked: every nonzero of the sample equal);
//  2. per sample, v_n*dy is transposed into a zero-bordered grid of output
//     positions, 16 output channels per row (one chunk of 16 channels
//     after another), so that every tap of every nonzero reads one whole
//     row, and positions outside the output read zeros;
//  3. per block of sparseBlock input channels, sample by sample (so that
//     the sample's grid is read from memory once per block and stays in
//     cache), the taps of the weight gradient, a window of 3x3 taps at a
//     time, add the grid rows at the listed positions: for every nonzero,
//     one row per tap and 16 output channels, into 9 or 18 registers that
//     hold a channel's sums while its list runs.
//
// Phase 3 splits over blocks of input channels, so each weight gradient
// element is summed by one thread in a fixed order: the result does not
// depend on the thread count. A dense input, an input whose nonzeros differ within a
// sample, strides or dilations other than 1, groups, or more than
// sparseMaxRate nonzeros take the GEMM path. Kernels of other sizes than
// 3x3 are covered by 3x3 windows (the taps past the kernel are computed
// and dropped).

// sparseMaxRate is the largest fraction of nonzero inputs the sparse weight
// gradient takes: above it the dense GEMM is faster.
const sparseMaxRate = 0.35

// sparseBlock is the number of input channels an item of phase 3 takes.
// It is fixed (not derived from the thread count), and so is the result.
const sparseBlock = 8

// A sparseRun is one sample's list of an input channel (entries are byte
// offsets into the grids) and the channel's sums of the window, [2][9][16].
// The assembly reads the slices' pointers and the list's length (runs are
// 48 bytes apart): keep the fields.
type sparseRun struct {
	list []int32
	acc  []float32
}

// sparseWindow is one call of the window kernel: for every run, every tap
// (ii, jj) of a 3x3 window and chunk k < mvec, the 16 floats at byte offset
// b + off - ii*rowBytes - 64*jj + k*chunkBytes of grid are added to
// acc[(9k + 3ii + jj)*16:][:16], for the entries b of the list in order.
type sparseWindow struct {
	grid                            []float32
	runs                            []sparseRun
	off, rowBytes, chunkBytes, mvec int
}

// sparseState is the scratch of the sparse weight gradient, kept in the
// convCall between calls.
type sparseState struct {
	lists  []int32     // [n][c][HW] positions (the first counts[n*C+c] valid)
	counts []int32     // [n][c]
	vs     []float32   // [n]
	nnz    []int       // [n]
	ok     []bool      // [n]
	grids  []float32   // [n][chunk][position][16], v_n * dy
	acc    []float32   // per part: [sparseBlock][pairs][windows][2][9][16]
	runs   []sparseRun // per part: [sparseBlock]
	hg, wg int         // grid size
	lh, lw int         // grid row and column of output position (0, 0)
	chunks int
}

// sparseFilter tries the sparse path for ConvBackwardFilter (c.x, c.dy,
// c.dw set) and reports whether it computed dw.
func (c *convCall) sparseFilter() bool {
	p := c.p
	if !sparseOK(c.kr) || p.Groups != 1 || p.StrideH != 1 || p.StrideW != 1 || p.DilH != 1 || p.DilW != 1 || (c.strategy != convGEMM && c.strategy != convWinograd) {
		return false
	}
	s := &c.sparse
	g := &c.geom
	s.chunks = (p.M + 15) / 16
	// Grid rows cover every output row a tap of an input row reaches, the
	// taps of whole 3x3 windows included.
	lo := min(0, p.PadTop-(roundUp(p.KH, 3)-1))
	hi := max(g.OH-1, p.H-1+p.PadTop)
	s.lh, s.hg = -lo, hi-lo+1
	lo = min(0, p.PadLeft-(roundUp(p.KW, 3)-1))
	hi = max(g.OW-1, p.W-1+p.PadLeft)
	s.lw, s.wg = -lo, hi-lo+1
	if p.N*s.chunks*s.hg*s.wg >= 1<<25 {
		return false // the entries (byte offsets into all grids) are int32
	}
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
	s.acc = grow(s.acc, c.threads*sparseBlock*s.accLen(p))
	if cap(s.runs) < c.threads*sparseBlock {
		s.runs = make([]sparseRun, c.threads*sparseBlock)
	}
	c.mode = modeSparseSum
	c.runItems((p.C+sparseBlock-1)/sparseBlock, false)
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
	// Grid position of input pixel (0, 0) with no tap applied, counted from
	// the first sample's; a row down adds wg.
	base := (n*s.chunks*s.hg+p.PadTop+s.lh)*s.wg + p.PadLeft + s.lw
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
// holds v_n * dy[n, 16*chunk+l, oh, ow] at pos = (oh+lh)*wg + ow+lw, zeros
// elsewhere (channels past M included).
func (c *convCall) sparseGridItem(ws *gemmWorkspace, n int) {
	p, s := c.p, &c.sparse
	g := &c.geom
	per := s.hg * s.wg * 16
	grid := s.grids[n*s.chunks*per:][:s.chunks*per]
	dy := c.dy[n*p.M*c.P:][:p.M*c.P]
	v := s.vs[n]
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
				Scale(gc[((oh+s.lh)*s.wg+ow+s.lw)*16:][:16*run], ws.block[16*t:16*(t+run)], v)
				t += run
			}
		}
	}
}

// accLen is the number of sums phase 3 keeps per input channel: pairs of
// chunks times 3x3 windows times [2][9][16].
func (s *sparseState) accLen(p ConvParams) int {
	return (s.chunks + 1) / 2 * ((p.KH + 2) / 3) * ((p.KW + 2) / 3) * 2 * 9 * 16
}

// sparseSumItem computes the weight gradient of the input channels of
// block blk (phase 3): sample by sample, for two chunks of output channels
// and one 3x3 window of taps at a time. Every element sums its samples and
// their nonzeros in order.
func (c *convCall) sparseSumItem(part, blk int) {
	p, s := c.p, &c.sparse
	c0, c1 := blk*sparseBlock, min(p.C, (blk+1)*sparseBlock)
	per, accLen := s.hg*s.wg*16, s.accLen(p)
	wcols := (p.KW + 2) / 3
	windows := (p.KH + 2) / 3 * wcols
	acc := s.acc[part*sparseBlock*accLen:][:(c1-c0)*accLen]
	clear(acc)
	runs := s.runs[part*sparseBlock:][:0:sparseBlock]
	for n := 0; n < p.N; n++ {
		for k0 := 0; k0 < s.chunks; k0 += 2 {
			for win := 0; win < windows; win++ {
				at := (k0/2*windows + win) * 2 * 9 * 16
				runs = runs[:0]
				for ci := c0; ci < c1; ci++ {
					if cnt := int(s.counts[n*p.C+ci]); cnt > 0 {
						runs = append(runs, sparseRun{list: s.lists[(n*p.C+ci)*c.HW:][:cnt], acc: acc[(ci-c0)*accLen+at:][:2*9*16]})
					}
				}
				if len(runs) > 0 {
					i0, j0 := 3*(win/wcols), 3*(win%wcols)
					sparseTaps(&sparseWindow{grid: s.grids[k0*per:], runs: runs,
						off: -64 * (i0*s.wg + j0), rowBytes: 64 * s.wg, chunkBytes: 4 * per, mvec: min(2, s.chunks-k0)})
				}
			}
		}
	}
	kk := p.KH * p.KW
	for ci := c0; ci < c1; ci++ {
		for k0 := 0; k0 < s.chunks; k0 += 2 {
			for win := 0; win < windows; win++ {
				i0, j0 := 3*(win/wcols), 3*(win%wcols)
				sums := acc[(ci-c0)*accLen+(k0/2*windows+win)*2*9*16:][:2*9*16]
				for ii := 0; ii < min(3, p.KH-i0); ii++ {
					for jj := 0; jj < min(3, p.KW-j0); jj++ {
						tap := (i0+ii)*p.KW + j0 + jj
						for k := 0; k < min(2, s.chunks-k0); k++ {
							for l, v := range sums[(9*k+3*ii+jj)*16:][:min(16, p.M-(k0+k)*16)] {
								c.dw[((k0+k)*16+l)*p.C*kk+ci*kk+tap] = v
							}
						}
					}
				}
			}
		}
	}
}

// sparseTapsGo is sparseTapsAVX512 in Go, summing in the same order.
func sparseTapsGo(w *sparseWindow) {
	for _, r := range w.runs {
		for _, b := range r.list {
			for k := 0; k < w.mvec; k++ {
				for ii := 0; ii < 3; ii++ {
					for jj := 0; jj < 3; jj++ {
						row := w.grid[(int(b)+w.off-ii*w.rowBytes-64*jj+k*w.chunkBytes)/4:][:16]
						sum := r.acc[(9*k+3*ii+jj)*16:][:16]
						for l := range sum {
							sum[l] += row[l]
						}
					}
				}
			}
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
