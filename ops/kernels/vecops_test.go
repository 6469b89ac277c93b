package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVecOpsAsmMatchesGo compares the assembly primitives with the Go loops
// bit for bit (they sum in the same order), at lengths with and without
// tails, and the sums with float64 references.
func TestVecOpsAsmMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 15, 16, 31, 32, 33, 100, 1000, 4099} {
		x, y := randSlice(r, n), randSlice(r, n)
		// The edge cases of Relu: signed zeros, infinities, NaNs of both signs.
		specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
			float32(math.NaN()), -float32(math.NaN())}
		xr := append([]float32(nil), x...)
		for i := range min(n, len(specials)) {
			xr[i] = specials[i]
		}
		type out struct {
			s64, sd64, dot64 float64
			ss1, ss2         float32
			sd1, sd2         float32
			sc, sa, af, ad   []float32
			re, rg           []float32
			nz               int
		}
		run := func(goOnly bool) out {
			old := forceGo
			forceGo = goOnly
			defer func() { forceGo = old }()
			var o out
			o.s64 = Sum64(x)
			o.sd64, o.dot64 = SumDot64(x, y)
			o.ss1, o.ss2 = SumShifted(x, 0.25)
			o.sd1, o.sd2 = SumDyDx(y, x, -0.5)
			o.sc, o.sa, o.af, o.ad = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			Add(o.ad, x, y)
			o.re, o.rg = make([]float32, n), make([]float32, n)
			Relu(o.re, xr)
			o.nz = CountNonzero(xr)
			ReluGrad(o.rg, xr, y)
			Scale(o.sc, x, 1.7)
			ScaleAdd(o.sa, x, 1.7, -0.3)
			Affine2(o.af, x, y, 0.9, -1.3, 0.1)
			return o
		}
		a, g := run(false), run(true)
		if a.nz != g.nz {
			t.Errorf("n=%d: CountNonzero %d (asm), %d (Go)", n, a.nz, g.nz)
		}
		if a.s64 != g.s64 || a.sd64 != g.sd64 || a.dot64 != g.dot64 || a.ss1 != g.ss1 || a.ss2 != g.ss2 || a.sd1 != g.sd1 || a.sd2 != g.sd2 {
			t.Errorf("n=%d: sums differ: asm %+v go %+v", n, a, g)
		}
		for i := range n {
			if math.Float32bits(a.sc[i]) != math.Float32bits(g.sc[i]) || math.Float32bits(a.sa[i]) != math.Float32bits(g.sa[i]) ||
				math.Float32bits(a.af[i]) != math.Float32bits(g.af[i]) || math.Float32bits(a.ad[i]) != math.Float32bits(g.ad[i]) ||
				!sameFloat(a.re[i], g.re[i]) || math.Float32bits(a.rg[i]) != math.Float32bits(g.rg[i]) {
				t.Fatalf("n=%d i=%d: maps differ", n, i)
			}
			if want := float32(float32(x[i]*1.7) - 0.3); a.sa[i] != want {
				t.Fatalf("ScaleAdd[%d] = %v, want %v", i, a.sa[i], want)
			}
		}
		var s, d, s1, s2, q1, q2 float64
		for i := range n {
			s += float64(x[i])
			d += float64(x[i]) * float64(y[i])
			s1 += float64(x[i]) - 0.25
			s2 += (float64(x[i]) - 0.25) * (float64(x[i]) - 0.25)
			q1 += float64(y[i])
			q2 += float64(y[i]) * (float64(x[i]) + 0.5)
		}
		close := func(got, want, scale float64) bool { return math.Abs(got-want) <= 1e-5*(1+scale) }
		if !close(a.s64, s, 0) || !close(a.dot64, d, 0) || !close(float64(a.ss1), s1, float64(n)) ||
			!close(float64(a.ss2), s2, s2) || !close(float64(a.sd1), q1, float64(n)) || !close(float64(a.sd2), q2, float64(n)) {
			t.Errorf("n=%d: sums far from float64: %v %v %v %v %v %v vs %v %v %v %v %v %v", n,
				a.s64, a.dot64, a.ss1, a.ss2, a.sd1, a.sd2, s, d, s1, s2, q1, q2)
		}
	}
}

// sameFloat: equal bits, or both NaN (the NaN's bits are not specified).
func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}
