package spiking

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestParseAGMMMode(t *testing.T) {
	for _, m := range []AGMMMode{AGMMModeForward, AGMMModeGradOnly} {
		if got, err := ParseAGMMMode(m.String()); err != nil || got != m {
			t.Errorf("ParseAGMMMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if m, _ := ParseAGMMMode("grad_only"); m != AGMMModeGradOnly {
		t.Errorf("grad_only parsed as %v", m)
	}
	if _, err := ParseAGMMMode("backward"); !errors.Is(err, ErrParam) {
		t.Errorf("bad mode: err = %v", err)
	}
	if (AGMMParams{}) != (AGMMParams{Mode: AGMMModeForward, DetachStat: false}) {
		t.Error("zero AGMMParams is not the spec default")
	}
	if err := (AGMMParams{Mode: 2}).Validate(); !errors.Is(err, ErrParam) {
		t.Errorf("Validate(mode 2) = %v", err)
	}
}

// agmmInput returns X: spikes (0/1) like the input of a binary layer, or arbitrary reals.
func agmmInput(rng *rand.Rand, n int, spikes bool) []float32 {
	if !spikes {
		return randVec(rng, n, -2, 2)
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = b2f(rng.Float32() < 0.3)
	}
	return x
}

type agmmShape struct{ T, N, D int }

var agmmShapes = []agmmShape{{1, 1, 1}, {4, 3, 17}, {2, 5, 64}, {3, 2, 1}, {4, 40, 1000}} // the last one runs in parallel

func TestAGMMForwardMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, sh := range agmmShapes {
		for _, spikes := range []bool{true, false} {
			n := sh.T * sh.N * sh.D
			x := agmmInput(rng, n, spikes)
			alpha := randVec(rng, sh.T, 0.2, 1.5)
			yRef, gRef := refAGMM(sh.T, sh.N, sh.D, to64(x), to64(alpha), nil)
			name := fmt.Sprintf("%+v spikes=%v", sh, spikes)

			y, g := make([]float32, n), make([]float32, sh.T*sh.N)
			must(t, AGMMForward(AGMMParams{}, sh.T, sh.N, sh.D, x, alpha, y, g))
			compareGrad(t, name+" Y", to64(y), yRef, 1e-6)
			compareGrad(t, name+" g", to64(g), gRef, 1e-6)

			yGO, gGO := make([]float32, n), make([]float32, sh.T*sh.N)
			must(t, AGMMForward(AGMMParams{Mode: AGMMModeGradOnly}, sh.T, sh.N, sh.D, x, alpha, yGO, gGO))
			sameBits(t, name+" grad_only Y", yGO, x)
			sameBits(t, name+" grad_only g", gGO, g)

			// Without g, and in place.
			buf := append([]float32(nil), x...)
			must(t, AGMMForward(AGMMParams{}, sh.T, sh.N, sh.D, buf, alpha, buf, nil))
			sameBits(t, name+" in place", buf, y)
		}
	}
}

// TestAGMMForwardKnownValues: a row of spikes with firing rate 1/2 and alpha 2 gives
// g = 2*sigmoid(0.5).
func TestAGMMForwardKnownValues(t *testing.T) {
	x := []float32{1, 0, 1, 0, 0, 0, 0, 0} // T=2, N=1, D=4: means 0.5 and 0
	alpha := []float32{2, 1}
	y, g := make([]float32, 8), make([]float32, 2)
	must(t, AGMMForward(AGMMParams{}, 2, 1, 4, x, alpha, y, g))
	want := float32(2 / (1 + math.Exp(-0.5)))
	if g[0] != want || g[1] != 0.5 {
		t.Fatalf("g = %v, want [%v 0.5]", g, want)
	}
	if y[0] != want || y[1] != 0 || y[2] != want {
		t.Fatalf("Y = %v", y)
	}
}

func TestAGMMBackwardMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, sh := range agmmShapes {
		for _, detach := range []bool{false, true} {
			for _, mode := range []AGMMMode{AGMMModeForward, AGMMModeGradOnly} {
				n := sh.T * sh.N * sh.D
				x := agmmInput(rng, n, detach)
				alpha := randVec(rng, sh.T, 0.2, 1.5)
				gy := randVec(rng, n, -1, 1)
				p := AGMMParams{Mode: mode, DetachStat: detach}
				name := fmt.Sprintf("%+v %v detach=%v", sh, mode, detach)
				gxRef, gaRef := refAGMMBackward(sh.T, sh.N, sh.D, to64(x), to64(alpha), to64(gy), detach)

				gx, ga := make([]float32, n), make([]float32, sh.T)
				must(t, AGMMBackward(p, sh.T, sh.N, sh.D, x, alpha, gy, gx, ga))
				compareGrad(t, name+" gx", to64(gx), gxRef, 1e-6)
				compareGrad(t, name+" galpha", to64(ga), gaRef, 1e-6)

				// galpha nil, gx in place over gy, and over x.
				buf := append([]float32(nil), gy...)
				must(t, AGMMBackward(p, sh.T, sh.N, sh.D, x, alpha, buf, buf, nil))
				sameBits(t, name+" gx=gy", buf, gx)
				buf = append(buf[:0], x...)
				must(t, AGMMBackward(p, sh.T, sh.N, sh.D, buf, alpha, gy, buf, nil))
				sameBits(t, name+" gx=x", buf, gx)

				// Deterministic: a second call gives the same bits.
				ga2 := make([]float32, sh.T)
				must(t, AGMMBackward(p, sh.T, sh.N, sh.D, x, alpha, gy, gx, ga2))
				sameBits(t, name+" galpha repeat", ga2, ga)
			}
		}
	}
}

// TestAGMMFiniteDifference checks AGMMBackward against central differences of the float64
// forward function L = sum(gy * Y) (mode forward); with detach_stat the row means are frozen at
// their nominal values. grad_only must give the same gradients as forward mode.
func TestAGMMFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	const T, N, D, h = 3, 2, 5, 1e-6
	for _, detach := range []bool{false, true} {
		x := to64(randVec(rng, T*N*D, -2, 2))
		alpha := to64(randVec(rng, T, 0.2, 1.5))
		gy := to64(randVec(rng, T*N*D, -1, 1))
		var frozen []float64
		if detach {
			frozen = make([]float64, T*N)
			for r := range frozen {
				for _, v := range x[r*D : (r+1)*D] {
					frozen[r] += v
				}
				frozen[r] /= D
			}
		}
		loss := func(x, alpha []float64) float64 {
			y, _ := refAGMM(T, N, D, x, alpha, frozen)
			var l float64
			for i := range y {
				l += gy[i] * y[i]
			}
			return l
		}
		fdX := make([]float64, len(x))
		for i := range x {
			xp := append([]float64(nil), x...)
			xp[i] += h
			lp := loss(xp, alpha)
			xp[i] -= 2 * h
			fdX[i] = (lp - loss(xp, alpha)) / (2 * h)
		}
		fdA := make([]float64, T)
		for i := range alpha {
			ap := append([]float64(nil), alpha...)
			ap[i] += h
			lp := loss(x, ap)
			ap[i] -= 2 * h
			fdA[i] = (lp - loss(x, ap)) / (2 * h)
		}
		for _, mode := range []AGMMMode{AGMMModeForward, AGMMModeGradOnly} {
			gx, ga := make([]float32, len(x)), make([]float32, T)
			must(t, AGMMBackward(AGMMParams{Mode: mode, DetachStat: detach}, T, N, D, to32(x), to32(alpha), to32(gy), gx, ga))
			name := fmt.Sprintf("%v detach=%v", mode, detach)
			compareGrad(t, name+" gx", to64(gx), fdX, 1e-5)
			compareGrad(t, name+" galpha", to64(ga), fdA, 1e-5)
		}
	}
}

// TestAGMMParallelMatchesSerial compares a split call with one serial sweep; galpha may differ
// only by the order of its float64 partial sums.
func TestAGMMParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	const T, N, D = 4, 33, 777
	if numParts(T*N, T*N*D, 1) < 2 {
		t.Fatal("test input too small to run in parallel")
	}
	x := agmmInput(rng, T*N*D, true)
	alpha := randVec(rng, T, 0.2, 1.5)
	gy := randVec(rng, T*N*D, -1, 1)
	y, g, gx, ga := make([]float32, len(x)), make([]float32, T*N), make([]float32, len(x)), make([]float32, T)
	must(t, AGMMForward(AGMMParams{}, T, N, D, x, alpha, y, g))
	must(t, AGMMBackward(AGMMParams{}, T, N, D, x, alpha, gy, gx, ga))
	y2, g2, gx2 := make([]float32, len(x)), make([]float32, T*N), make([]float32, len(x))
	partials := make([]float64, T)
	agmmForwardRange(AGMMParams{}, N, D, x, alpha, y2, g2, 0, T*N)
	agmmBackwardRange(AGMMParams{}, N, D, x, alpha, gy, gx2, partials, 0, T*N)
	sameBits(t, "Y", y, y2)
	sameBits(t, "g", g, g2)
	sameBits(t, "gx", gx, gx2)
	compareGrad(t, "galpha", to64(ga), partials, 1e-7)
}

func TestAGMMShapeErrors(t *testing.T) {
	f := func(n int) []float32 { return make([]float32, n) }
	p := AGMMParams{}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"x", AGMMForward(p, 2, 3, 4, f(23), f(2), f(24), nil), ErrShape},
		{"alpha", AGMMForward(p, 2, 3, 4, f(24), f(3), f(24), nil), ErrShape},
		{"y", AGMMForward(p, 2, 3, 4, f(24), f(2), f(25), nil), ErrShape},
		{"g", AGMMForward(p, 2, 3, 4, f(24), f(2), f(24), f(5)), ErrShape},
		{"D=0", AGMMForward(p, 2, 3, 0, nil, f(2), nil, nil), ErrShape},
		{"negative", AGMMForward(p, 2, -3, 4, nil, f(2), nil, nil), ErrShape},
		{"mode", AGMMForward(AGMMParams{Mode: 7}, 1, 1, 1, f(1), f(1), f(1), nil), ErrParam},
		{"gy", AGMMBackward(p, 2, 3, 4, f(24), f(2), f(20), f(24), nil), ErrShape},
		{"gx", AGMMBackward(p, 2, 3, 4, f(24), f(2), f(24), nil, nil), ErrShape},
		{"galpha", AGMMBackward(p, 2, 3, 4, f(24), f(2), f(24), f(24), f(3)), ErrShape},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
	// Empty batch: nothing to do, galpha zeroed.
	ga := []float32{5, 5}
	must(t, AGMMBackward(p, 2, 0, 4, nil, f(2), nil, nil, ga))
	if ga[0] != 0 || ga[1] != 0 {
		t.Errorf("N=0: galpha = %v, want zeros", ga)
	}
}
