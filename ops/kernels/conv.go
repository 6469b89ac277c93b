package kernels

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/bsnnctl/bsnnctl/internal/parallel"
)

// ConvParams describes a 2-D convolution on NCHW tensors: input x is
// [N, C, H, W], weights w are [M, C/Groups, KH, KW], output y is
// [N, M, OutH(), OutW()]. Strides and dilations must be at least 1 (there
// are no defaults), pads at least 0. Groups split C and M into Groups equal
// parts; output channel m reads input channels of group m/(M/Groups).
type ConvParams struct {
	N, C, H, W                           int
	M, KH, KW                            int
	StrideH, StrideW                     int
	DilH, DilW                           int
	PadTop, PadLeft, PadBottom, PadRight int
	Groups                               int
}

// OutH is the output height, (H + PadTop + PadBottom - DilH*(KH-1) - 1) /
// StrideH + 1, or 0 when the dilated kernel does not fit.
func (p ConvParams) OutH() int {
	return outSize(p.H, p.PadTop+p.PadBottom, p.DilH*(p.KH-1)+1, p.StrideH)
}

// OutW is the output width, like OutH.
func (p ConvParams) OutW() int {
	return outSize(p.W, p.PadLeft+p.PadRight, p.DilW*(p.KW-1)+1, p.StrideW)
}

func outSize(in, pads, extent, stride int) int {
	span := in + pads - extent
	if span < 0 || stride < 1 {
		return 0
	}
	return span/stride + 1
}

// Validate reports every problem with p at once, or nil.
func (p ConvParams) Validate() error {
	errs := atLeast(nil, 1, field{"N", p.N}, field{"C", p.C}, field{"H", p.H}, field{"W", p.W},
		field{"M", p.M}, field{"KH", p.KH}, field{"KW", p.KW}, field{"StrideH", p.StrideH}, field{"StrideW", p.StrideW},
		field{"DilH", p.DilH}, field{"DilW", p.DilW}, field{"Groups", p.Groups})
	errs = atLeast(errs, 0, field{"PadTop", p.PadTop}, field{"PadLeft", p.PadLeft}, field{"PadBottom", p.PadBottom}, field{"PadRight", p.PadRight})
	if p.Groups >= 1 {
		if p.C%p.Groups != 0 {
			errs = append(errs, fmt.Errorf("C=%d is not a multiple of Groups=%d", p.C, p.Groups))
		}
		if p.M%p.Groups != 0 {
			errs = append(errs, fmt.Errorf("M=%d is not a multiple of Groups=%d", p.M, p.Groups))
		}
	}
	if len(errs) == 0 && (p.OutH() < 1 || p.OutW() < 1) {
		errs = append(errs, fmt.Errorf("dilated kernel %dx%d does not fit the padded input %dx%d",
			p.DilH*(p.KH-1)+1, p.DilW*(p.KW-1)+1, p.H+p.PadTop+p.PadBottom, p.W+p.PadLeft+p.PadRight))
	}
	if len(errs) > 0 {
		return fmt.Errorf("kernels: invalid ConvParams: %w", errors.Join(errs...))
	}
	return nil
}

func (p ConvParams) xLen() int { return p.N * p.C * p.H * p.W }
func (p ConvParams) wLen() int { return p.M * (p.C / p.Groups) * p.KH * p.KW }
func (p ConvParams) yLen() int { return p.N * p.M * p.OutH() * p.OutW() }

// convGeom is the geometry of one convolution group on one image: C input
// channels of H x W, a KH x KW kernel, output OH x OW. Pads may be negative
// (the transposed geometry of backward-data uses that).
type convGeom struct {
	C, H, W        int
	KH, KW         int
	SH, SW, DH, DW int
	PT, PL         int
	OH, OW         int

	// Offset tables for the gatherPanels packers, used when gather is set;
	// see buildOffsets.
	gather       bool
	taps, pixels offsetTable
}

// rows is the im2col row count C*KH*KW; cols the output pixel count.
func (g *convGeom) rows() int { return g.C * g.KH * g.KW }
func (g *convGeom) cols() int { return g.OH * g.OW }

// Convolution strategies.
const (
	convGEMM      = iota // im2col (fused into B packing) + GEMM
	convPointwise        // 1x1, stride 1, no pad: the image is the GEMM operand
	convDepthwise        // one input channel per group: direct loops
	convWinograd         // 3x3, unit stride, enough channels: Winograd F(4x4, 3x3) (forward, backward data)
)

func (p ConvParams) strategy() int {
	switch {
	case p.C == p.Groups:
		return convDepthwise
	case p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadTop == 0 && p.PadLeft == 0 && p.PadBottom == 0 && p.PadRight == 0:
		return convPointwise
	case p.winograd(winoMinChannels):
		return convWinograd
	}
	return convGEMM
}

// ConvForward computes y = conv(x, w) + bias. x is [N, C, H, W], w is
// [M, C/Groups, KH, KW], bias is [M] or nil, y is [N, M, OutH, OutW] and is
// overwritten. It panics when p is invalid (see Validate) or a slice is too
// short.
func ConvForward(p ConvParams, x, w, bias, y []float32) {
	mustCheck("ConvForward", p.Validate(), namedLen{"x", len(x), p.xLen()}, namedLen{"w", len(w), p.wLen()}, namedLen{"y", len(y), p.yLen()})
	if bias != nil && len(bias) < p.M {
		panic(fmt.Sprintf("kernels: ConvForward: bias has %d elements, want %d", len(bias), p.M))
	}
	if q, ok := p.subsampled(); ok {
		convForwardSubsampled(p, q, x, w, bias, y)
		return
	}
	c := getConvCall(p)
	defer putConvCall(c)
	c.x, c.w, c.bias, c.y = x, w, bias, y
	if c.strategy == convDepthwise {
		c.mode = modeDepthwiseForward
		c.runItems(p.N*p.M, false)
		return
	}
	if c.strategy == convWinograd {
		c.winoConvolve(c.geom, p.M, w, x, bias, y)
		return
	}
	c.packWeights(false, c.Mg, c.K, w, c.K)
	if c.direct() {
		c.mode = modeDirect
		c.runItems(p.N, false)
		return
	}
	c.mode = modeForward
	c.prepareIm2col()
	c.runItems(p.N*p.Groups, true)
}

// direct reports whether the call runs as a direct convolution on c.geom
// and if so builds its offset table.
func (c *convCall) direct() bool {
	if c.p.Groups != 1 || c.strategy != convGEMM || !directOK(c.kr, &c.geom) {
		return false
	}
	c.doffs = c.geom.buildDirectOffsets(c.doffs)
	return true
}

// transposedMinChannels is the smallest group input-channel count for which
// ConvBackwardData runs a unit-stride convolution as a transposed
// convolution; its GEMM has only Cg rows, so with fewer channels the
// im2col-gradient GEMM (K = Cg*KH*KW rows) plus col2im is faster.
const transposedMinChannels = 32

// ConvBackwardData computes dx, the gradient of the loss with respect to x,
// from dy (the gradient with respect to y) and w. dx is overwritten.
func ConvBackwardData(p ConvParams, dy, w, dx []float32) {
	mustCheck("ConvBackwardData", p.Validate(), namedLen{"dy", len(dy), p.yLen()}, namedLen{"w", len(w), p.wLen()}, namedLen{"dx", len(dx), p.xLen()})
	if q, ok := p.subsampled(); ok {
		convBackwardDataSubsampled(p, q, dy, w, dx)
		return
	}
	c := getConvCall(p)
	defer putConvCall(c)
	c.dy, c.w, c.dx = dy, w, dx
	switch {
	case c.strategy == convDepthwise:
		c.mode = modeDepthwiseBackwardData
		c.runItems(p.N*p.C, false)
		return
	case c.strategy == convWinograd:
		// The adjoint is the convolution of dy with the flipped,
		// transposed kernel (see transposedGeom).
		c.flipWeights(w)
		c.winoConvolve(c.transposedGeom(), p.C, c.flipped, dy, nil, dx)
		return
	case c.strategy == convPointwise:
		// dx[n,g] (Cg x HW) = W_g^T (Cg x Mg) * dy[n,g] (Mg x HW).
		c.mode = modeBackwardDataPointwise
		c.packWeights(true, c.Cg, c.Mg, w, c.Cg)
	case p.StrideH == 1 && p.StrideW == 1 && (c.Cg >= transposedMinChannels || c.directTransposed()):
		// With unit strides the adjoint is itself a convolution of dy with
		// the flipped, transposed kernel, so it runs like a forward pass.
		c.setGeom(c.transposedGeom())
		c.flipWeights(w)
		c.packWeights(false, c.Cg, c.Mg*p.KH*p.KW, c.flipped, c.Mg*p.KH*p.KW)
		if c.direct() {
			c.mode = modeDirectBackwardData
			c.runItems(p.N, false)
			return
		}
		c.mode = modeBackwardDataTransposed
		c.prepareIm2col()
	default:
		// dcol = W_g^T * dy[n,g] in column chunks, scattered into dx.
		c.mode = modeBackwardDataCol2im
		c.packWeights(true, c.K, c.Mg, w, c.K)
	}
	c.runItems(p.N*p.Groups, true)
}

// directTransposed reports whether the transposed geometry of a unit-stride
// backward-data call would run directly (it does at any channel count).
func (c *convCall) directTransposed() bool {
	g := c.transposedGeom()
	return c.p.Groups == 1 && c.strategy == convGEMM && directOK(c.kr, &g)
}

// ConvBackwardFilter computes dw, the gradient of the loss with respect to w,
// from x and dy. dw is overwritten.
func ConvBackwardFilter(p ConvParams, x, dy, dw []float32) {
	mustCheck("ConvBackwardFilter", p.Validate(), namedLen{"x", len(x), p.xLen()}, namedLen{"dy", len(dy), p.yLen()}, namedLen{"dw", len(dw), p.wLen()})
	if q, ok := p.subsampled(); ok {
		convBackwardFilterSubsampled(p, q, x, dy, dw)
		return
	}
	c := getConvCall(p)
	defer putConvCall(c)
	c.x, c.dy, c.dw = x, dy, dw
	if c.strategy == convDepthwise {
		c.mode = modeDepthwiseBackwardFilter
		c.runItems(p.M, false)
		return
	}
	if c.sparseFilter() {
		return
	}
	if p.winograd(winoMinFilterChannels) {
		c.winoFilterGradient()
		return
	}
	c.mode = modeBackwardFilter
	c.prepareIm2col()
	wl := p.wLen()
	clear(dw[:wl])
	// Each part sums its samples into its own buffer (part 0 straight into
	// dw); the buffers are added at the end.
	c.items = p.N * p.Groups
	c.setParts(true)
	for i := 1; i < c.parts; i++ {
		c.partials[i] = growClear(c.partials[i], wl)
	}
	c.start()
	for i := 1; i < c.parts; i++ {
		addTo(dw[:wl], c.partials[i][:wl])
	}
}

// ConvBackwardBias computes db[m], the sum of dy over the batch and the
// output pixels of channel m. db is overwritten.
func ConvBackwardBias(p ConvParams, dy, db []float32) {
	mustCheck("ConvBackwardBias", p.Validate(), namedLen{"dy", len(dy), p.yLen()}, namedLen{"db", len(db), p.M})
	P := p.OutH() * p.OutW()
	for m := 0; m < p.M; m++ {
		var s float64
		for n := 0; n < p.N; n++ {
			s += float64(sum(dy[(n*p.M+m)*P : (n*p.M+m+1)*P]))
		}
		db[m] = float32(s)
	}
}

// Work modes of a convCall.
const (
	modeForward = iota
	modeBackwardDataPointwise
	modeBackwardDataTransposed
	modeBackwardDataCol2im
	modeBackwardFilter
	modeDepthwiseForward
	modeDepthwiseBackwardData
	modeDepthwiseBackwardFilter
	modeDirect
	modeDirectBackwardData
	modeSparseList
	modeSparseGrid
	modeSparseSum
	modeWinograd
	modeWinogradPack
	modeWinogradFilter
	modeWinogradFilterGrad
)

// convCall is one convolution call: its operands, derived sizes, the packed
// weights and the per-part buffers. Its items (a sample and group, or a
// channel) are handed out to the parts through an atomic counter.
type convCall struct {
	p                     ConvParams
	strategy              int
	kr                    *microKernel
	Cg, Mg, K, HW, P      int
	geom                  convGeom
	mode                  int
	x, w, bias, y         []float32
	dy, dx, dw            []float32
	wpack, flipped        []float32   // packed weights per group, flipped weights
	mPad                  int         // rows of one group's packed weights
	partials              [][]float32 // per-part dw sums (part 0 uses dw)
	doffs                 []int32     // im2col row offsets of the direct convolution
	sparse                sparseState // scratch of the sparse weight gradient
	wino                  winoPlan    // the Winograd pass
	items, parts, threads int
	gemmThreads           int // > 1: one item at a time, each GEMM split
	next                  atomic.Int64
	group                 parallel.Group
}

// convCalls keeps convCall values with their packed-weight, offset-table
// and partial-sum buffers across calls.
var convCalls parallel.FreeList[convCall]

func getConvCall(p ConvParams) *convCall {
	c := convCalls.Get()
	c.p = p
	c.strategy = p.strategy()
	c.kr = activeKernel()
	c.Cg, c.Mg = p.C/p.Groups, p.M/p.Groups
	c.K = c.Cg * p.KH * p.KW
	c.HW = p.H * p.W
	c.P = p.OutH() * p.OutW()
	c.setGeom(c.forwardGeom())
	c.threads = maxThreads()
	if len(c.partials) < c.threads {
		c.partials = append(c.partials, make([][]float32, c.threads-len(c.partials))...)
	}
	return c
}

func putConvCall(c *convCall) {
	c.x, c.w, c.bias, c.y, c.dy, c.dx, c.dw = nil, nil, nil, nil, nil, nil, nil
	convCalls.Put(c)
}

// prepareIm2col builds the offset tables of c.geom when the kernel packs
// im2col panels with gatherPanels.
func (c *convCall) prepareIm2col() {
	if c.strategy == convPointwise || c.kr.gatherPanels == nil || !c.geom.canGather() {
		return
	}
	c.geom.gather = true
	c.geom.buildOffsets()
}

// setGeom sets c.geom to g, keeping the offset tables' buffers.
func (c *convCall) setGeom(g convGeom) {
	g.taps, g.pixels = c.geom.taps, c.geom.pixels
	c.geom = g
}

// forwardGeom is the geometry of one group of the forward convolution.
func (c *convCall) forwardGeom() convGeom {
	p := c.p
	return convGeom{
		C: c.Cg, H: p.H, W: p.W, KH: p.KH, KW: p.KW,
		SH: p.StrideH, SW: p.StrideW, DH: p.DilH, DW: p.DilW,
		PT: p.PadTop, PL: p.PadLeft, OH: p.OutH(), OW: p.OutW(),
	}
}

// transposedGeom is the geometry of the unit-stride backward-data
// convolution: dy (Mg channels of OH x OW) convolved with the flipped kernel,
// padded so that the output is H x W.
func (c *convCall) transposedGeom() convGeom {
	p := c.p
	return convGeom{
		C: c.Mg, H: p.OutH(), W: p.OutW(), KH: p.KH, KW: p.KW,
		SH: 1, SW: 1, DH: p.DilH, DW: p.DilW,
		PT: p.DilH*(p.KH-1) - p.PadTop, PL: p.DilW*(p.KW-1) - p.PadLeft,
		OH: p.H, OW: p.W,
	}
}

// flipWeights stores, for every group, the Cg x (Mg*KH*KW) matrix
// w'[c, (m, i, j)] = w[m, c, KH-1-i, KW-1-j] in c.flipped.
func (c *convCall) flipWeights(w []float32) {
	p := c.p
	kk := p.KH * p.KW
	c.flipped = grow(c.flipped, p.Groups*c.Cg*c.Mg*kk)
	for g := 0; g < p.Groups; g++ {
		for m := 0; m < c.Mg; m++ {
			for ci := 0; ci < c.Cg; ci++ {
				src := w[((g*c.Mg+m)*c.Cg+ci)*kk:][:kk]
				dst := c.flipped[((g*c.Cg+ci)*c.Mg+m)*kk:][:kk]
				for t, v := range src {
					dst[kk-1-t] = v
				}
			}
		}
	}
}

// packWeights prepacks, for every group g, the rows x k matrix stored at
// w[g*rows*k:] with stride ld (its transpose when trans) as GEMM operand A.
func (c *convCall) packWeights(trans bool, rows, k int, w []float32, ld int) {
	c.mPad = roundUp(rows, c.kr.mr)
	per := c.mPad * k
	c.wpack = grow(c.wpack, c.p.Groups*per)
	for g := 0; g < c.p.Groups; g++ {
		prepackA(c.wpack[g*per:(g+1)*per], c.kr, trans, rows, k, w[g*rows*k:], ld)
	}
}

// packedA returns group g's prepacked weights.
func (c *convCall) packedA(g, k int) operand {
	per := c.mPad * k
	return operand{kind: opPacked, data: c.wpack[g*per : (g+1)*per]}
}

// setParts picks how the items run: spread over the threads, each item a
// serial GEMM (when there are enough items to share evenly), or one after the
// other with each GEMM split over the threads.
func (c *convCall) setParts(gemmItems bool) {
	c.parts, c.gemmThreads = 1, 1
	if c.threads < 2 || c.items < 1 {
		return
	}
	if !gemmItems || c.items%c.threads == 0 || c.items >= 4*c.threads {
		c.parts = min(c.threads, c.items)
		return
	}
	c.gemmThreads = c.threads
}

// runItems runs all c.items items.
func (c *convCall) runItems(items int, gemmItems bool) {
	c.items = items
	c.setParts(gemmItems)
	c.start()
}

func (c *convCall) start() {
	c.next.Store(0)
	c.group.Run(c, c.parts)
}

func (c *convCall) RunPart(part int) {
	var ws *gemmWorkspace
	if c.mode <= modeBackwardFilter || c.mode >= modeDirect {
		ws = getWorkspace()
		defer putWorkspace(ws)
	}
	if c.mode == modeBackwardFilter || c.mode == modeWinogradFilter {
		// Each part sums a fixed, contiguous range of items in order into
		// its own buffer, so the result does not depend on scheduling: the
		// weight gradient is bit-identical from run to run (resumed training
		// must reproduce an uninterrupted run exactly).
		lo, hi := part*c.items/c.parts, (part+1)*c.items/c.parts
		for item := lo; item < hi; item++ {
			if c.mode == modeWinogradFilter {
				c.winoFilterItem(ws, item, part)
			} else {
				c.backwardFilterItem(ws, item, part)
			}
		}
		return
	}
	for {
		item := int(c.next.Add(1) - 1)
		if item >= c.items {
			return
		}
		switch c.mode {
		case modeForward:
			c.forwardItem(ws, item)
		case modeBackwardDataPointwise, modeBackwardDataTransposed:
			c.backwardDataItem(ws, item)
		case modeBackwardDataCol2im:
			c.backwardDataCol2imItem(ws, item)
		case modeBackwardFilter:
			c.backwardFilterItem(ws, item, part)
		case modeDepthwiseForward:
			c.depthwiseForward(item)
		case modeDepthwiseBackwardData:
			c.depthwiseBackwardData(item)
		case modeDepthwiseBackwardFilter:
			c.depthwiseBackwardFilter(item)
		case modeDirect:
			c.directForwardItem(ws, item)
		case modeDirectBackwardData:
			c.directBackwardDataItem(ws, item)
		case modeSparseList:
			c.sparseListItem(item)
		case modeSparseGrid:
			c.sparseGridItem(ws, item)
		case modeSparseSum:
			c.sparseSumItem(part, item)
		case modeWinograd:
			c.winoForwardItem(ws, item)
		case modeWinogradPack:
			c.winoPackItem(ws, item)
		case modeWinogradFilterGrad:
			c.winoFilterGradItem(ws, item)
		}
	}
}

// gemm runs one item's product, split over the threads when the items run
// one at a time.
func (c *convCall) gemm(ws *gemmWorkspace, m, n, k int, A, B operand, beta float32, out []float32, ldc int) {
	if c.gemmThreads > 1 {
		gemm(c.gemmThreads, c.kr, m, n, k, 1, A, B, beta, out, ldc)
		return
	}
	gemmSerial(ws, c.kr, m, n, k, 1, A, B, beta, out, ldc)
}

// forwardItem computes y[n, group g] for item n*Groups+g.
func (c *convCall) forwardItem(ws *gemmWorkspace, item int) {
	p := c.p
	n, g := item/p.Groups, item%p.Groups
	x := c.x[(n*p.C+g*c.Cg)*c.HW:][:c.Cg*c.HW]
	y := c.y[(n*p.M+g*c.Mg)*c.P:][:c.Mg*c.P]
	B := operand{kind: opIm2col, data: x, geom: &c.geom}
	if c.strategy == convPointwise {
		B = operand{kind: opRowMajor, data: x, ld: c.P}
	}
	c.gemm(ws, c.Mg, c.P, c.K, c.packedA(g, c.K), B, 0, y, c.P)
	if c.bias != nil {
		for m := 0; m < c.Mg; m++ {
			addScalar(y[m*c.P:(m+1)*c.P], c.bias[g*c.Mg+m])
		}
	}
}

// directForwardItem computes y[n] (one group) directly.
func (c *convCall) directForwardItem(ws *gemmWorkspace, n int) {
	p := c.p
	x := c.x[n*p.C*c.HW:][:p.C*c.HW]
	y := c.y[n*p.M*c.P:][:p.M*c.P]
	directItem(ws, &c.geom, c.kr, c.wpack, p.M, c.mPad, c.doffs, x, y)
	if c.bias != nil {
		for m := 0; m < p.M; m++ {
			addScalar(y[m*c.P:(m+1)*c.P], c.bias[m])
		}
	}
}

// directBackwardDataItem computes dx[n] (one group) as the direct
// convolution of dy[n] with the flipped kernel.
func (c *convCall) directBackwardDataItem(ws *gemmWorkspace, n int) {
	p := c.p
	dy := c.dy[n*p.M*c.P:][:p.M*c.P]
	dx := c.dx[n*p.C*c.HW:][:p.C*c.HW]
	directItem(ws, &c.geom, c.kr, c.wpack, p.C, c.mPad, c.doffs, dy, dx)
}

// backwardDataItem computes dx[n, group g] as one GEMM: pointwise, or the
// transposed convolution of dy.
func (c *convCall) backwardDataItem(ws *gemmWorkspace, item int) {
	p := c.p
	n, g := item/p.Groups, item%p.Groups
	dy := c.dy[(n*p.M+g*c.Mg)*c.P:][:c.Mg*c.P]
	dx := c.dx[(n*p.C+g*c.Cg)*c.HW:][:c.Cg*c.HW]
	if c.mode == modeBackwardDataPointwise {
		c.gemm(ws, c.Cg, c.HW, c.Mg, c.packedA(g, c.Mg), operand{kind: opRowMajor, data: dy, ld: c.P}, 0, dx, c.HW)
		return
	}
	k := c.Mg * p.KH * p.KW
	c.gemm(ws, c.Cg, c.HW, k, c.packedA(g, k), operand{kind: opIm2col, data: dy, geom: &c.geom}, 0, dx, c.HW)
}

// col2imChunk is the number of output pixels whose im2col columns
// backwardDataCol2imItem computes at a time; the chunk (K x col2imChunk
// floats) stays in L2 for the scatter.
const col2imChunk = 128

// backwardDataCol2imItem computes dx[n, group g] for strided convolutions:
// chunk by chunk of output pixels, the im2col gradient W_g^T * dy is
// computed and scattered into dx.
func (c *convCall) backwardDataCol2imItem(ws *gemmWorkspace, item int) {
	p := c.p
	n, g := item/p.Groups, item%p.Groups
	dy := c.dy[(n*p.M+g*c.Mg)*c.P:][:c.Mg*c.P]
	dx := c.dx[(n*p.C+g*c.Cg)*c.HW:][:c.Cg*c.HW]
	clear(dx)
	chunk := min(col2imChunk, c.P)
	ws.col = grow(ws.col, c.K*chunk)
	A := c.packedA(g, c.Mg)
	for j0 := 0; j0 < c.P; j0 += chunk {
		w := min(chunk, c.P-j0)
		col := ws.col[:c.K*w]
		c.gemm(ws, c.K, w, c.Mg, A, operand{kind: opRowMajor, data: dy[j0:], ld: c.P}, 0, col, w)
		c.geom.col2im(dx, col, j0, w)
	}
}

// backwardFilterItem adds dy[n,g] * im2col(x[n,g])^T to part's dw sum.
func (c *convCall) backwardFilterItem(ws *gemmWorkspace, item, part int) {
	p := c.p
	n, g := item/p.Groups, item%p.Groups
	x := c.x[(n*p.C+g*c.Cg)*c.HW:][:c.Cg*c.HW]
	dy := c.dy[(n*p.M+g*c.Mg)*c.P:][:c.Mg*c.P]
	dw := c.dw
	if part > 0 {
		dw = c.partials[part]
	}
	dw = dw[g*c.Mg*c.K:][:c.Mg*c.K]
	B := operand{kind: opIm2colT, data: x, geom: &c.geom}
	if c.strategy == convPointwise {
		B = operand{kind: opColMajor, data: x, ld: c.P}
	}
	c.gemm(ws, c.Mg, c.K, c.P, operand{kind: opRowMajor, data: dy, ld: c.P}, B, 1, dw, c.K)
}

// grow returns s resliced to n elements, reallocated when too small.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func growClear(s []float32, n int) []float32 {
	s = grow(s, n)
	clear(s)
	return s
}
