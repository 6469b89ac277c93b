package kernels

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/bsnnctl/bsnnctl/internal/parallel"
)

// PoolParams describes 2-D max or average pooling on NCHW tensors: input x is
// [N, C, H, W], output y is [N, C, OutH(), OutW()]. Strides and dilations
// must be at least 1 (there are no defaults), pads at least 0. The semantics
// are those of ONNX MaxPool / AveragePool (and PyTorch): pads are never
// part of a maximum, and in ceil mode the last window along an axis is
// dropped when it would start in the end padding.
type PoolParams struct {
	N, C, H, W                           int
	KH, KW                               int
	StrideH, StrideW                     int
	PadTop, PadLeft, PadBottom, PadRight int
	DilH, DilW                           int
	CeilMode                             bool
}

// OutH is the output height: (H + PadTop + PadBottom - DilH*(KH-1) - 1) /
// StrideH + 1, the division rounded up in ceil mode, minus one when the last
// window would then start at or after H + PadTop.
func (p PoolParams) OutH() int {
	return poolOutSize(p.H, p.PadTop, p.PadBottom, p.DilH*(p.KH-1)+1, p.StrideH, p.CeilMode)
}

// OutW is the output width, like OutH.
func (p PoolParams) OutW() int {
	return poolOutSize(p.W, p.PadLeft, p.PadRight, p.DilW*(p.KW-1)+1, p.StrideW, p.CeilMode)
}

func poolOutSize(in, padBegin, padEnd, extent, stride int, ceil bool) int {
	span := in + padBegin + padEnd - extent
	if span < 0 || stride < 1 {
		return 0
	}
	if !ceil {
		return span/stride + 1
	}
	out := (span+stride-1)/stride + 1
	if (out-1)*stride >= in+padBegin {
		out--
	}
	return out
}

// Validate reports every problem with p at once, or nil.
func (p PoolParams) Validate() error {
	errs := atLeast(nil, 1, field{"N", p.N}, field{"C", p.C}, field{"H", p.H}, field{"W", p.W},
		field{"KH", p.KH}, field{"KW", p.KW}, field{"StrideH", p.StrideH}, field{"StrideW", p.StrideW},
		field{"DilH", p.DilH}, field{"DilW", p.DilW})
	errs = atLeast(errs, 0, field{"PadTop", p.PadTop}, field{"PadLeft", p.PadLeft}, field{"PadBottom", p.PadBottom}, field{"PadRight", p.PadRight})
	if len(errs) == 0 && (p.OutH() < 1 || p.OutW() < 1) {
		errs = append(errs, fmt.Errorf("dilated window %dx%d does not fit the padded input %dx%d",
			p.DilH*(p.KH-1)+1, p.DilW*(p.KW-1)+1, p.H+p.PadTop+p.PadBottom, p.W+p.PadLeft+p.PadRight))
	}
	if len(errs) > 0 {
		return fmt.Errorf("kernels: invalid PoolParams: %w", errors.Join(errs...))
	}
	return nil
}

func (p PoolParams) xLen() int { return p.N * p.C * p.H * p.W }
func (p PoolParams) yLen() int { return p.N * p.C * p.OutH() * p.OutW() }

// taps returns, for output index o along one axis, the window start
// o*stride - padBegin, the range [lo, hi) of taps t whose input index
// start + t*dil lies in [0, in), and the number of taps before the end of the
// end pad (the divisor of average pooling with count_include_pad).
func taps(o, stride, padBegin, padEnd, k, dil, in int) (start, lo, hi, padded int) {
	start = o*stride - padBegin
	if start < 0 {
		lo = min((-start+dil-1)/dil, k)
	}
	count := func(end int) int { // taps with start + t*dil < end
		if end <= start {
			return 0
		}
		return min(k, (end-1-start)/dil+1)
	}
	hi = max(count(in), lo)
	return start, lo, hi, count(in + padEnd)
}

// MaxPoolForward computes y, the maximum of every window of x (NaN
// propagates). When argmax is not nil it receives, for every output, the
// index h*W + w of the maximum within its input plane (the first one on
// ties), or -1 for a window that lies entirely in the padding (whose output
// is -Inf). Add (n*C + c)*H*W for the flat index of ONNX's Indices output.
func MaxPoolForward(p PoolParams, x, y []float32, argmax []int32) {
	mustCheck("MaxPoolForward", p.Validate(), namedLen{"x", len(x), p.xLen()}, namedLen{"y", len(y), p.yLen()})
	if argmax != nil && len(argmax) < p.yLen() {
		panic(fmt.Sprintf("kernels: MaxPoolForward: argmax has %d elements, want %d", len(argmax), p.yLen()))
	}
	runPool(p, poolMaxForward, false, x, y, argmax)
}

// MaxPoolBackward computes dx from dy and the argmax of MaxPoolForward: each
// dy element is added to the input position that was its window's maximum.
// dx is overwritten.
func MaxPoolBackward(p PoolParams, dy []float32, argmax []int32, dx []float32) {
	mustCheck("MaxPoolBackward", p.Validate(), namedLen{"dy", len(dy), p.yLen()}, namedLen{"argmax", len(argmax), p.yLen()}, namedLen{"dx", len(dx), p.xLen()})
	runPool(p, poolMaxBackward, false, dy, dx, argmax)
}

// AvgPoolForward computes y, the mean of every window of x. The divisor
// counts the window positions inside the input, or with countIncludePad
// also those in the pads (but not those past the end pad, which ceil mode
// can add). A window with nothing to average gives 0.
func AvgPoolForward(p PoolParams, countIncludePad bool, x, y []float32) {
	mustCheck("AvgPoolForward", p.Validate(), namedLen{"x", len(x), p.xLen()}, namedLen{"y", len(y), p.yLen()})
	runPool(p, poolAvgForward, countIncludePad, x, y, nil)
}

// AvgPoolBackward computes dx from dy for AvgPoolForward with the same
// countIncludePad: each window spreads dy/divisor over its input positions.
// dx is overwritten.
func AvgPoolBackward(p PoolParams, countIncludePad bool, dy, dx []float32) {
	mustCheck("AvgPoolBackward", p.Validate(), namedLen{"dy", len(dy), p.yLen()}, namedLen{"dx", len(dx), p.xLen()})
	runPool(p, poolAvgBackward, countIncludePad, dy, dx, nil)
}

const (
	poolMaxForward = iota
	poolMaxBackward
	poolAvgForward
	poolAvgBackward
)

// poolCall is one pooling call; its items are the N*C planes.
type poolCall struct {
	p            PoolParams
	mode         int
	includePad   bool
	in, out      []float32 // x, y forward; dy, dx backward
	argmax       []int32
	items, parts int
	next         atomic.Int64
	group        parallel.Group
}

// poolParallelMin is the input size (floats) from which pooling uses
// several goroutines.
const poolParallelMin = 1 << 15

// poolCalls recycles poolCall values, which are handed to the workers.
var poolCalls parallel.FreeList[poolCall]

func runPool(p PoolParams, mode int, includePad bool, in, out []float32, argmax []int32) {
	c := poolCalls.Get()
	defer poolCalls.Put(c)
	c.next.Store(0)
	c.p, c.mode, c.includePad, c.in, c.out, c.argmax = p, mode, includePad, in, out, argmax
	c.items = p.N * p.C
	c.parts = 1
	if p.xLen() >= poolParallelMin {
		c.parts = min(maxThreads(), c.items)
	}
	c.group.Run(c, c.parts)
	c.in, c.out, c.argmax = nil, nil, nil
}

func (c *poolCall) RunPart(int) {
	p := &c.p
	hw, ohw := p.H*p.W, p.OutH()*p.OutW()
	for {
		item := int(c.next.Add(1) - 1)
		if item >= c.items {
			return
		}
		switch c.mode {
		case poolMaxForward:
			var am []int32
			if c.argmax != nil {
				am = c.argmax[item*ohw : (item+1)*ohw]
			}
			maxPoolPlane(p, c.in[item*hw:(item+1)*hw], c.out[item*ohw:(item+1)*ohw], am)
		case poolMaxBackward:
			dx := c.out[item*hw : (item+1)*hw]
			clear(dx)
			for o, a := range c.argmax[item*ohw : (item+1)*ohw] {
				if a >= 0 {
					dx[a] += c.in[item*ohw+o]
				}
			}
		case poolAvgForward:
			avgPoolPlane(p, c.includePad, c.in[item*hw:(item+1)*hw], c.out[item*ohw:(item+1)*ohw], false)
		case poolAvgBackward:
			dx := c.out[item*hw : (item+1)*hw]
			clear(dx)
			avgPoolPlane(p, c.includePad, dx, c.in[item*ohw:(item+1)*ohw], true)
		}
	}
}

func maxPoolPlane(p *PoolParams, x, y []float32, argmax []int32) {
	oh, ow := p.OutH(), p.OutW()
	for i := 0; i < oh; i++ {
		hs, hlo, hhi, _ := taps(i, p.StrideH, p.PadTop, p.PadBottom, p.KH, p.DilH, p.H)
		for j := 0; j < ow; j++ {
			ws, wlo, whi, _ := taps(j, p.StrideW, p.PadLeft, p.PadRight, p.KW, p.DilW, p.W)
			best, at := float32(math.Inf(-1)), -1
		window:
			for a := hlo; a < hhi; a++ {
				row := (hs + a*p.DilH) * p.W
				for b := wlo; b < whi; b++ {
					idx := row + ws + b*p.DilW
					v := x[idx]
					if v > best || at < 0 {
						best, at = v, idx
					}
					if v != v { // NaN wins and stays
						best, at = v, idx
						break window
					}
				}
			}
			y[i*ow+j] = best
			if argmax != nil {
				argmax[i*ow+j] = int32(at)
			}
		}
	}
}

// avgPoolPlane computes one plane of average pooling, or with backward set
// its adjoint: x is then dx (accumulated) and y is dy.
func avgPoolPlane(p *PoolParams, includePad bool, x, y []float32, backward bool) {
	oh, ow := p.OutH(), p.OutW()
	for i := 0; i < oh; i++ {
		hs, hlo, hhi, hpad := taps(i, p.StrideH, p.PadTop, p.PadBottom, p.KH, p.DilH, p.H)
		for j := 0; j < ow; j++ {
			ws, wlo, whi, wpad := taps(j, p.StrideW, p.PadLeft, p.PadRight, p.KW, p.DilW, p.W)
			count := (hhi - hlo) * (whi - wlo)
			if includePad {
				count = hpad * wpad
			}
			if count == 0 || hhi == hlo || whi == wlo {
				if !backward {
					y[i*ow+j] = 0
				}
				continue
			}
			inv := 1 / float32(count)
			if backward {
				g := y[i*ow+j] * inv
				for a := hlo; a < hhi; a++ {
					row := (hs+a*p.DilH)*p.W + ws
					for b := wlo; b < whi; b++ {
						x[row+b*p.DilW] += g
					}
				}
				continue
			}
			var s float32
			for a := hlo; a < hhi; a++ {
				row := (hs+a*p.DilH)*p.W + ws
				for b := wlo; b < whi; b++ {
					s += x[row+b*p.DilW]
				}
			}
			y[i*ow+j] = s * inv
		}
	}
}
