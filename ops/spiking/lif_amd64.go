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

// haveAVX2 selects the assembly rows (POPCNT comes with every AVX2 CPU).
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// fireRowAsm runs the first multiple of 8 neurons of a fireRow in
// assembly and returns how many it did and the spikes among them.
func fireRowAsm(c *lifConsts, x, v, s []float32) (done, spikes int) {
	n := len(v) &^ 7
	if !haveAVX2 || forceGo || n == 0 {
		return 0, 0
	}
	_, _ = x[n-1], s[n-1]
	return n, lifFireRowAVX2(&x[0], &v[0], &s[0], n, &c.vec)
}

func chargeRowAsm(c *lifConsts, x, v, h []float32) int {
	n := len(v) &^ 7
	if !haveAVX2 || forceGo || n == 0 {
		return 0
	}
	_, _ = x[n-1], h[n-1]
	lifChargeRowAVX2(&x[0], &v[0], &h[0], n, &c.vec)
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
