package kernels

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/internal/parallel"
)

// A microKernel computes one mr x nr tile of C from a packed A micro-panel
// (mr floats per k step) and a packed B micro-panel (nr floats per k step):
// C = alpha*A*B + beta*C, without reading C when beta is zero. c holds the
// tile's top-left element and at least (mr-1)*ldc+nr floats. The blocking
// sizes say how the driver cuts the operands: kc rows of k per packed block,
// mc rows of A and nc columns of B per packed block (mc is a multiple of mr,
// nc of nr).
type microKernel struct {
	name       string
	mr, nr     int
	mc, kc, nc int
	fn         func(k int, a, b, c []float32, ldc int, alpha, beta float32)

	// Optional packing routines for B panels of this kernel's width (nil:
	// the portable Go loops). copyRows sets dst[r*nr:(r+1)*nr] =
	// src[r*ld:r*ld+nr] for r < rows; gatherPanels packs im2col panels as
	// described at gatherPanels16 (nr = 16); transpose16 transposes 16x16
	// blocks as described at transpose16.
	copyRows     func(dst, src []float32, ld, rows int)
	gatherPanels func(dst, src []float32, panels, rows int, lanes []int32, contig []uint8, rowOffs []int32, h, w int)
	transpose16  func(dst, src []float32, ld, blockStride, blocks int)
}

// forceGo makes every kernel use the portable Go micro-kernel even when the
// assembly one is available, and forceKernel (when not nil) makes them use
// that one of asmKernels. Tests set them to cover every path.
var (
	forceGo     bool
	forceKernel *microKernel
)

// activeKernel returns the micro-kernel the next call will use.
func activeKernel() *microKernel {
	switch {
	case forceGo || asmKernel == nil:
		return goKernel
	case forceKernel != nil:
		return forceKernel
	}
	return asmKernel
}

// parallelMinFlops is the size (m*n*k) from which Sgemm splits the work over
// several goroutines; below it the hand-off costs more than it saves.
const parallelMinFlops = 1 << 22

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major float32
// matrices, where op(X) is X or its transpose. op(A) is m x k, op(B) is k x n
// and C is m x n. A is stored m x k (k x m when transA) with row stride lda;
// B is stored k x n (n x k when transB) with row stride ldb; C has row
// stride ldc. As in BLAS, C is not read when beta is zero, so whatever it
// held (NaN included) is overwritten, and A and B are not read when alpha is
// zero or k is zero.
//
// Sgemm panics when a dimension is negative, a leading dimension is too
// small or a slice is too short for the shape; those are programming errors.
// Large products run on up to GOMAXPROCS goroutines.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkLd("Sgemm", "A", ac, lda)
	checkLd("Sgemm", "B", bc, ldb)
	checkLd("Sgemm", "C", n, ldc)
	if m == 0 || n == 0 {
		return
	}
	checkLen("Sgemm", "A", a, ar, ac, lda)
	checkLen("Sgemm", "B", b, br, bc, ldb)
	checkLen("Sgemm", "C", c, m, n, ldc)
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	gemm(maxThreads(), activeKernel(), m, n, k, alpha, denseOperand(transA, a, lda), denseOperand(transB, b, ldb), beta, c, ldc)
}

// checkLd panics unless ld is a valid row stride for cols columns.
func checkLd(fn, name string, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels: %s: leading dimension of %s is %d, want >= %d", fn, name, ld, max(1, cols)))
	}
}

// checkLen panics unless data holds a rows x cols row-major matrix with row
// stride ld.
func checkLen(fn, name string, data []float32, rows, cols, ld int) {
	if rows > 0 && cols > 0 && len(data) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels: %s: %s has %d elements, a %dx%d matrix with stride %d needs %d", fn, name, len(data), rows, cols, ld, (rows-1)*ld+cols))
	}
}

// scaleMatrix sets C = beta*C, writing zeros without reading C when beta is 0.
func scaleMatrix(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// gemm runs C = alpha*A*B + beta*C (k >= 1, m, n >= 1) with kernel kr on
// up to threads goroutines.
func gemm(threads int, kr *microKernel, m, n, k int, alpha float32, A, B operand, beta float32, c []float32, ldc int) {
	g := gemmCalls.Get()
	g.gemmProblem = gemmProblem{kern: kr, m: m, n: n, k: k, alpha: alpha, beta: beta, a: A, b: B, c: c, ldc: ldc}
	g.split(threads)
	g.group.Run(g, g.parts)
	g.gemmProblem = gemmProblem{}
	gemmCalls.Put(g)
}

// gemmSerial runs C = alpha*A*B + beta*C (k >= 1, m, n >= 1) on the calling
// goroutine with the packing buffers of ws.
func gemmSerial(ws *gemmWorkspace, kr *microKernel, m, n, k int, alpha float32, A, B operand, beta float32, c []float32, ldc int) {
	g := gemmProblem{kern: kr, m: m, n: n, k: k, alpha: alpha, beta: beta, a: A, b: B, c: c, ldc: ldc}
	g.serial(ws, 0, m, 0, n)
}

// gemmProblem is one product C = alpha*A*B + beta*C.
type gemmProblem struct {
	kern        *microKernel
	m, n, k     int
	alpha, beta float32
	a, b        operand
	c           []float32
	ldc         int
}

// gemmCalls recycles gemmCall values (they are handed to worker goroutines,
// so they live on the heap).
var gemmCalls parallel.FreeList[gemmCall]

// gemmCall is one GEMM split into parts over rows or columns of C.
type gemmCall struct {
	gemmProblem
	parts  int
	splitN bool // parts own column ranges of C (else row ranges)
	chunk  int  // columns (rows) of C per part
	group  parallel.Group
}

// split decides how many parts the product gets and along which dimension:
// the one with more micro-tiles, so that each part still packs most of its
// operands once.
func (g *gemmCall) split(threads int) {
	g.parts, g.splitN, g.chunk = 1, true, g.n
	if threads < 2 || g.m*g.n*g.k < parallelMinFlops {
		return
	}
	mr, nr := g.kern.mr, g.kern.nr
	nt := (g.n + nr - 1) / nr
	mt := (g.m + mr - 1) / mr
	if nt >= mt {
		parts := min(threads, nt)
		g.chunk = (nt + parts - 1) / parts * nr
		g.parts = (g.n + g.chunk - 1) / g.chunk
		return
	}
	parts := min(threads, mt)
	g.splitN = false
	g.chunk = (mt + parts - 1) / parts * mr
	g.parts = (g.m + g.chunk - 1) / g.chunk
}

func (g *gemmCall) RunPart(part int) {
	ws := getWorkspace()
	if g.splitN {
		j0 := part * g.chunk
		g.serial(ws, 0, g.m, j0, min(g.n, j0+g.chunk))
	} else {
		i0 := part * g.chunk
		g.serial(ws, i0, min(g.m, i0+g.chunk), 0, g.n)
	}
	putWorkspace(ws)
}

// serial computes rows [i0, i1) and columns [j0, j1) of C with the packing
// buffers of ws, GotoBLAS style. For each nc-wide column block and each kc
// deep slice of k, A is packed mc rows at a time into mr-high panels that
// stay in L2, B into nr-wide panels, and the micro-kernel sweeps the block
// with the B panel outermost, so that the B panel stays in L1 while the A
// panels stream from L2.
//
// When all rows fit one mc block (the usual case for convolutions, where m
// is the channel count), each B panel is packed right before the kernel
// sweeps it and is still in L1; otherwise the whole kc x nc block of B is
// packed first and reused by every row block.
func (g *gemmProblem) serial(ws *gemmWorkspace, i0, i1, j0, j1 int) {
	kr := g.kern
	mr, nr, mc, nc := kr.mr, kr.nr, kr.mc, kr.nc
	k := g.k
	kc := kr.kBlock(k)
	oneBlock := i1-i0 <= mc
	bcols := min(nc, roundUp(j1-j0, nr))
	if oneBlock {
		bcols = nr
	}
	ws.reserve(kr, kc, min(mc, roundUp(i1-i0, mr)), bcols)
	mPad := roundUp(g.m, mr)
	for jc := j0; jc < j1; jc += nc {
		ncb := min(nc, j1-jc)
		for pc := 0; pc < k; pc += kc {
			kcb := min(kc, k-pc)
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			if oneBlock {
				ap := packA(ws.a, &g.a, i0, i1-i0, pc, kcb, mr, mPad)
				bpanel := ws.b[:nr*kcb]
				for jr := 0; jr < ncb; jr += nr {
					nrb := min(nr, ncb-jr)
					packB(bpanel, &g.b, kr, ws, pc, kcb, jc+jr, nrb)
					g.sweep(ws, ap, bpanel, kcb, i0, i1-i0, jc+jr, nrb, beta)
				}
				continue
			}
			bp := ws.b[:roundUp(ncb, nr)*kcb]
			packB(bp, &g.b, kr, ws, pc, kcb, jc, ncb)
			for ic := i0; ic < i1; ic += mc {
				mcb := min(mc, i1-ic)
				ap := packA(ws.a, &g.a, ic, mcb, pc, kcb, mr, mPad)
				for jr := 0; jr < ncb; jr += nr {
					g.sweep(ws, ap, bp[jr*kcb:(jr+nr)*kcb], kcb, ic, mcb, jc+jr, min(nr, ncb-jr), beta)
				}
			}
		}
	}
}

// sweep runs the micro-kernel down one packed B panel (columns [j, j+nrb)
// of C) over the packed A panels of rows [i, i+mcb).
func (g *gemmProblem) sweep(ws *gemmWorkspace, ap, bpanel []float32, kcb, i, mcb, j, nrb int, beta float32) {
	kr := g.kern
	mr, nr := kr.mr, kr.nr
	c, ldc, alpha := g.c, g.ldc, g.alpha
	for ir := 0; ir < mcb; ir += mr {
		mrb := min(mr, mcb-ir)
		apanel := ap[ir*kcb : (ir+mr)*kcb]
		ci := (i+ir)*ldc + j
		if mrb == mr && nrb == nr {
			kr.fn(kcb, apanel, bpanel, c[ci:], ldc, alpha, beta)
			continue
		}
		// Edge tile: compute the full tile into ws.tmp and merge the
		// valid part.
		tmp := ws.tmp[:mr*nr]
		kr.fn(kcb, apanel, bpanel, tmp, nr, alpha, 0)
		for r := 0; r < mrb; r++ {
			crow := c[ci+r*ldc : ci+r*ldc+nrb]
			trow := tmp[r*nr : r*nr+nrb]
			if beta == 0 {
				copy(crow, trow)
				continue
			}
			for t := range crow {
				crow[t] = beta*crow[t] + trow[t]
			}
		}
	}
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// kBlock is the depth of the packed blocks for a product of depth k: at
// most kr.kc, and as even as the blocks can be (k = 576 gives 3 x 192, not
// 256 + 256 + 64), so that no block is too shallow to amortise loading and
// storing C.
func (kr *microKernel) kBlock(k int) int {
	blocks := (k + kr.kc - 1) / kr.kc
	return min(roundUp((k+blocks-1)/blocks, 8), kr.kc)
}

// gemmWorkspace holds one goroutine's packing buffers.
type gemmWorkspace struct {
	a, b  []float32
	tmp   []float32
	col   []float32    // im2col-gradient chunk of ConvBackwardData
	pad   []float32    // zero-padded image of the direct convolution
	tpose []float32    // im2col panels that packIm2colT transposes
	winoV []float32    // a chunk's transformed Winograd input tiles
	winoM []float32    // a chunk's Winograd products (or output-gradient tiles)
	wino  winoScratch  // tile blocks of the Winograd lane transforms
	block [256]float32 // one transposed 16x16 block
}

// reserve grows the buffers to hold a kc x mc block of A, a kc x nc block of
// B and one mr x nr tile.
func (ws *gemmWorkspace) reserve(kr *microKernel, kc, mc, nc int) {
	if n := kc * mc; cap(ws.a) < n {
		ws.a = make([]float32, n)
	}
	ws.a = ws.a[:cap(ws.a)]
	if n := kc * nc; cap(ws.b) < n {
		ws.b = make([]float32, n)
	}
	ws.b = ws.b[:cap(ws.b)]
	if n := kr.mr * kr.nr; cap(ws.tmp) < n {
		ws.tmp = make([]float32, n)
	}
	ws.tmp = ws.tmp[:cap(ws.tmp)]
}

// workspaces recycles packing buffers, one workspace per running GEMM part.
var workspaces parallel.FreeList[gemmWorkspace]

func getWorkspace() *gemmWorkspace   { return workspaces.Get() }
func putWorkspace(ws *gemmWorkspace) { workspaces.Put(ws) }
