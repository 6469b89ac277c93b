//go:build amd64 && !purego

package spiking

import "golang.org/x/sys/cpu"

// The AVX2 rows of lif_amd64.s.

//go:noescape
func lifFireRowAVX2(x, v, s *float32, n int, c *lifVec) int

//go:noescape
func lifChargeRowAVX2(x, v, h *float32, n int, c *lifVec)

//go:noescape
func lifBackRowTriangleAVX2(h, gs, gv *float32, n int, c *lifVec)

//go:noescape
func lifFireRowAffineAVX2(x, v, s *float32, n int, c *lifVec, a, b float32) int

//go:noescape
func lifChargeRowAffineAVX2(x, v, h *float32, n int, c *lifVec, a, b float32)

//go:noescape
func lifFireRowAffineResAVX2(x, v, s *float32, n int, c *lifVec, a, b float32, r *float32) int

//go:noescape
func lifChargeRowAffineResAVX2(x, v, h *float32, n int, c *lifVec, a, b float32, r *float32)

// haveAVX2 selects the assembly rows (POPCNT comes with every AVX2 CPU).
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// fireRowAsm runs the first multiple of 8 neurons of a fireRow in
// assembly and returns how many it did and the spikes among them. With
// affine, the inputs are x*a + b, plus r when r is not nil.
func fireRowAsm(c *lifConsts, x, v, s []float32, affine bool, a, b float32, r []float32) (done, spikes int) {
	n := len(v) &^ 7
	if !haveAVX2 || forceGo || n == 0 {
		return 0, 0
	}
	_, _ = x[n-1], s[n-1]
	switch {
	case r != nil:
		_ = r[n-1]
		return n, lifFireRowAffineResAVX2(&x[0], &v[0], &s[0], n, &c.vec, a, b, &r[0])
	case affine:
		return n, lifFireRowAffineAVX2(&x[0], &v[0], &s[0], n, &c.vec, a, b)
	}
	return n, lifFireRowAVX2(&x[0], &v[0], &s[0], n, &c.vec)
}

func chargeRowAsm(c *lifConsts, x, v, h []float32, affine bool, a, b float32, r []float32) int {
	n := len(v) &^ 7
	if !haveAVX2 || forceGo || n == 0 {
		return 0
	}
	_, _ = x[n-1], h[n-1]
	switch {
	case r != nil:
		_ = r[n-1]
		lifChargeRowAffineResAVX2(&x[0], &v[0], &h[0], n, &c.vec, a, b, &r[0])
	case affine:
		lifChargeRowAffineAVX2(&x[0], &v[0], &h[0], n, &c.vec, a, b)
	default:
		lifChargeRowAVX2(&x[0], &v[0], &h[0], n, &c.vec)
	}
	return n
}

func backRowAsm(c *lifConsts, h, gs, gv []float32) int {
	n := len(h) &^ 7
	if !haveAVX2 || forceGo || n == 0 || c.sur != Triangle || c.soft || c.detach {
		return 0
	}
	_, _ = gs[n-1], gv[n-1]
	lifBackRowTriangleAVX2(&h[0], &gs[0], &gv[0], n, &c.vec)
	return n
}
