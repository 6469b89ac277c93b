package spiking

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bsnnctl/bsnnctl/ops/kernels"
)

// lifConfigs returns LIF attribute sets covering every reset mode, decay_input, detach_reset
// and surrogate, with neuron constants (tau, v_threshold, v_reset) for which float32 and
// float64 arithmetic on inputs that are multiples of 1/8 are both exact (k in {1, 1/2, 1/4, 0}).
func lifConfigs() []LIFParams {
	consts := []struct{ tau, vth, vr float32 }{
		{2, 1, 0}, {4, 0.5, -0.5}, {1, 1.25, 0.25}, {float32(math.Inf(1)), 1, 0},
	}
	var out []LIFParams
	for _, c := range consts {
		for _, sur := range allSurrogates {
			for bits := range 8 {
				p := LIFParams{
					Tau: c.tau, VThreshold: c.vth, VReset: c.vr,
					DecayInput: bits&1 != 0, SoftReset: bits&2 != 0, DetachReset: bits&4 != 0,
					Surrogate: sur, SurrogateAlpha: []float32{1, 0.5, 2, 1}[bits%4],
				}
				out = append(out, p)
			}
		}
	}
	return out
}

func lifName(p LIFParams) string {
	return fmt.Sprintf("tau=%g,vth=%g,vr=%g,decay=%v,soft=%v,detach=%v,%v/%g",
		p.Tau, p.VThreshold, p.VReset, p.DecayInput, p.SoftReset, p.DetachReset, p.Surrogate, p.SurrogateAlpha)
}

// gridInput returns n multiples of 1/8 in [-1.5, 2.5]: exact in float32 and float64 through T
// LIF steps, and landing exactly on the thresholds often.
func gridInput(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.IntN(33)-12) / 8
	}
	return x
}

func randVec(rng *rand.Rand, n int, lo, hi float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + (hi-lo)*rng.Float32()
	}
	return x
}

func TestDefaultLIF(t *testing.T) {
	want := LIFParams{Tau: 2, VThreshold: 1, VReset: 0, Surrogate: Triangle, SurrogateAlpha: 1}
	if got := DefaultLIF(); got != want {
		t.Fatalf("DefaultLIF() = %+v, want %+v", got, want)
	}
	if err := DefaultLIF().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLIFValidate(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	ok := []func(*LIFParams){
		func(p *LIFParams) {},
		func(p *LIFParams) { p.Tau = 1 },
		func(p *LIFParams) { p.Tau = inf },
		func(p *LIFParams) { p.VThreshold, p.VReset = -1, 2 },
		func(p *LIFParams) { p.Surrogate, p.SurrogateAlpha = Rect, 1e-3 },
	}
	bad := []func(*LIFParams){
		func(p *LIFParams) { *p = LIFParams{} },
		func(p *LIFParams) { p.Tau = 0.5 },
		func(p *LIFParams) { p.Tau = -2 },
		func(p *LIFParams) { p.Tau = nan },
		func(p *LIFParams) { p.VThreshold = inf },
		func(p *LIFParams) { p.VReset = nan },
		func(p *LIFParams) { p.SurrogateAlpha = 0 },
		func(p *LIFParams) { p.SurrogateAlpha = inf },
		func(p *LIFParams) { p.Surrogate = 4 },
	}
	for i, f := range ok {
		p := DefaultLIF()
		f(&p)
		if err := p.Validate(); err != nil {
			t.Errorf("ok case %d: %v", i, err)
		}
	}
	for i, f := range bad {
		p := DefaultLIF()
		f(&p)
		err := p.Validate()
		if !errors.Is(err, ErrParam) {
			t.Errorf("bad case %d (%+v): err = %v, want ErrParam", i, p, err)
		}
		if err := LIFForward(p, 1, 1, []float32{0}, []float32{0}, nil); !errors.Is(err, ErrParam) {
			t.Errorf("bad case %d: LIFForward err = %v, want ErrParam", i, err)
		}
	}
}

// TestLIFForwardMatchesReference checks spikes and V_T against the float64 spec formulas, for
// inputs on which both are exact, so that they must agree bit for bit (H == v_threshold
// included: it must spike).
func TestLIFForwardMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const T, M = 6, 41
	exactHits := 0
	for _, p := range lifConfigs() {
		if p.DetachReset || p.Surrogate != Triangle { // forward does not depend on them
			continue
		}
		x := gridInput(rng, T*M)
		s, vT := make([]float32, T*M), make([]float32, M)
		if err := LIFForward(p, T, M, x, s, vT); err != nil {
			t.Fatal(err)
		}
		ref := buildRefLIF(p, T, M, to64(x), stepSpikes, nil)
		for j := range s {
			if float64(s[j]) != ref.spikes[j] {
				t.Fatalf("%s: S[%d] = %v, want %v (H = %v)", lifName(p), j, s[j], ref.spikes[j], ref.tp.val[ref.h[j]])
			}
			if ref.tp.val[ref.h[j]] == float64(p.VThreshold) {
				exactHits++
			}
		}
		for i := range vT {
			if want := ref.tp.val[ref.vT[i]]; float64(vT[i]) != want {
				t.Fatalf("%s: V_T[%d] = %v, want %v", lifName(p), i, vT[i], want)
			}
		}
	}
	if exactHits == 0 {
		t.Fatal("no input reached H == v_threshold exactly; the >= case is untested")
	}
	t.Logf("%d spikes at H == v_threshold exactly", exactHits)
}

// TestLIFExactThreshold pins the spike condition H >= v_threshold and both resets on
// hand-computed cases.
func TestLIFExactThreshold(t *testing.T) {
	below := math.Nextafter32(1, 0)
	soft := DefaultLIF()
	soft.SoftReset = true
	half := DefaultLIF()
	half.VThreshold = 0.5
	cases := []struct {
		name  string
		p     LIFParams
		x     []float32
		s, vT []float32 // T = len(x), M = 1
	}{
		{"H==vth spikes", DefaultLIF(), []float32{1}, []float32{1}, []float32{0}},
		{"just below", DefaultLIF(), []float32{below}, []float32{0}, []float32{below}},
		{"hard reset then leak", DefaultLIF(), []float32{1.5, 0.25}, []float32{1, 0}, []float32{0.25}},
		{"leak to threshold", DefaultLIF(), []float32{1, 0.5}, []float32{1, 0}, []float32{0.5}},
		{"0.5*V + X == vth", DefaultLIF(), []float32{0.5, 0.75}, []float32{0, 1}, []float32{0}},
		{"soft at threshold", soft, []float32{1}, []float32{1}, []float32{0}},
		{"soft keeps excess", soft, []float32{1.5, 0.25}, []float32{1, 0}, []float32{0.5}},
		{"vth 0.5 via leak", half, []float32{0.25, 0.375}, []float32{0, 1}, []float32{0}},
		{"negative input", DefaultLIF(), []float32{-2, 2}, []float32{0, 1}, []float32{0}},
	}
	for _, c := range cases {
		T := len(c.x)
		s, vT := make([]float32, T), make([]float32, 1)
		if err := LIFForward(c.p, T, 1, c.x, s, vT); err != nil {
			t.Fatal(err)
		}
		for i := range s {
			if s[i] != c.s[i] {
				t.Errorf("%s: S = %v, want %v", c.name, s, c.s)
				break
			}
		}
		if vT[0] != c.vT[0] {
			t.Errorf("%s: V_T = %v, want %v", c.name, vT[0], c.vT[0])
		}
	}
}

// refStep32 is one LIF step written from the float32 operation order of the package
// documentation, one rounding per operation.
func refStep32(p LIFParams, v, x float32) (s, vNext float32) {
	k := float32(1) / p.Tau
	a := float32(1)
	if p.DecayInput {
		a = k
	}
	d := v - p.VReset
	l := float32(d * k)
	h0 := v - l
	ax := float32(a * x)
	h := h0 + ax
	if h >= p.VThreshold {
		s = 1
	}
	if p.SoftReset {
		pr := float32(s * p.VThreshold)
		return s, h - pr
	}
	r := h - p.VReset
	pr := float32(s * r)
	return s, h - pr
}

// TestLIFForwardFloat32Order runs arbitrary (non-dyadic) constants and inputs: the kernel must
// match the documented float32 order bit for bit, and the float64 spec formulas up to rounding.
func TestLIFForwardFloat32Order(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const T, M = 8, 301
	for _, tau := range []float32{1.7, 3, 10, 2, 1e4} {
		for bits := range 4 {
			p := DefaultLIF()
			p.Tau, p.VThreshold, p.VReset = tau, 0.8, 0.1
			p.DecayInput, p.SoftReset = bits&1 != 0, bits&2 != 0
			x := randVec(rng, T*M, -1, 3)
			s, vT := make([]float32, T*M), make([]float32, M)
			if err := LIFForward(p, T, M, x, s, vT); err != nil {
				t.Fatal(err)
			}
			ref := buildRefLIF(p, T, M, to64(x), stepSpikes, nil)
			for i := range M {
				v := p.VReset
				for tt := range T {
					var sp float32
					sp, v = refStep32(p, v, x[tt*M+i])
					if s[tt*M+i] != sp {
						t.Fatalf("%s: S[%d,%d] = %v, float32 order gives %v", lifName(p), tt, i, s[tt*M+i], sp)
					}
				}
				if math.Float32bits(vT[i]) != math.Float32bits(v) {
					t.Fatalf("%s: V_T[%d] = %v, float32 order gives %v", lifName(p), i, vT[i], v)
				}
				// float64: same spikes unless H is within rounding of the threshold.
				for tt := range T {
					j := tt*M + i
					h := ref.tp.val[ref.h[j]]
					if math.Abs(h-float64(p.VThreshold)) < 1e-5 {
						break // trajectories may diverge from here on
					}
					if float64(s[j]) != ref.spikes[j] {
						t.Fatalf("%s: S[%d,%d] = %v, float64 spec gives %v (H = %v)", lifName(p), tt, i, s[j], ref.spikes[j], h)
					}
				}
			}
		}
	}
}

func randGrads(rng *rand.Rand, T, M int, withVT bool) (gs, gvT []float32) {
	gs = randVec(rng, T*M, -1, 1)
	if withVT {
		gvT = randVec(rng, M, -1, 1)
	}
	return gs, gvT
}

func opt64(v []float32) []float64 {
	if v == nil {
		return nil
	}
	return to64(v)
}

// TestLIFBackwardMatchesTape compares LIFBackward with reverse-mode differentiation of the
// recorded float64 spec forward pass (Heaviside spikes, surrogate derivative), for every
// attribute combination, on exact inputs.
func TestLIFBackwardMatchesTape(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const T, M = 5, 37
	for n, p := range lifConfigs() {
		x := gridInput(rng, T*M)
		gs, gvT := randGrads(rng, T, M, n%2 == 0)
		gx := make([]float32, T*M)
		if err := LIFBackward(p, T, M, x, gs, gvT, gx); err != nil {
			t.Fatal(err)
		}
		want := buildRefLIF(p, T, M, to64(x), stepSpikes, nil).gradX(to64(gs), opt64(gvT))
		compareGrad(t, lifName(p), to64(gx), want, 1e-5)
	}
}

// TestLIFBackwardContinuous does the same for arbitrary constants and inputs, skipping the
// neurons whose float32 and float64 trajectories may differ (H within rounding of the
// threshold, or of a discontinuity of the rect surrogate).
func TestLIFBackwardContinuous(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const T, M = 6, 200
	for _, tau := range []float32{1.7, 3, 10} {
		for _, sur := range allSurrogates {
			for bits := range 8 {
				p := LIFParams{Tau: tau, VThreshold: 0.8, VReset: 0.1, DecayInput: bits&1 != 0,
					SoftReset: bits&2 != 0, DetachReset: bits&4 != 0, Surrogate: sur, SurrogateAlpha: 0.7}
				x := randVec(rng, T*M, -1, 3)
				gs, gvT := randGrads(rng, T, M, true)
				gx := make([]float32, T*M)
				if err := LIFBackward(p, T, M, x, gs, gvT, gx); err != nil {
					t.Fatal(err)
				}
				ref := buildRefLIF(p, T, M, to64(x), stepSpikes, nil)
				want := ref.gradX(to64(gs), to64(gvT))
				compared := 0
			neurons:
				for i := range M {
					for tt := range T {
						u := ref.tp.val[ref.h[tt*M+i]] - float64(p.VThreshold)
						if math.Abs(u) < 1e-4 || (sur == Rect && math.Abs(math.Abs(u)-0.35) < 1e-4) {
							continue neurons
						}
					}
					for tt := range T {
						j := tt*M + i
						if d := math.Abs(float64(gx[j]) - want[j]); d > 1e-4*math.Max(1, math.Abs(want[j])) {
							t.Fatalf("%s: gx[%d,%d] = %v, want %v", lifName(p), tt, i, gx[j], want[j])
						}
					}
					compared++
				}
				if compared < M*9/10 {
					t.Fatalf("%s: only %d of %d neurons compared", lifName(p), compared, M)
				}
			}
		}
	}
}

func compareGrad(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	scale := 1.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for j := range want {
		if math.Abs(got[j]-want[j]) > tol*scale {
			t.Fatalf("%s: grad[%d] = %v, want %v", name, j, got[j], want[j])
		}
	}
}

// TestLIFTapeFiniteDifference validates the tape reference itself: on the smooth model (spikes
// replaced by the surrogate's primitive) its reverse-mode gradient must equal central finite
// differences, detach_reset included (modelled by freezing the reset's S at its nominal value).
func TestLIFTapeFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const T, M, h = 4, 3, 1e-6
	for _, p := range lifConfigs() {
		x := to64(randVec(rng, T*M, -1, 3))
		gs, gvT := randGrads(rng, T, M, true)
		gs64, gvT64 := to64(gs), to64(gvT)
		nominal := buildRefLIF(p, T, M, x, smoothSpikes, nil)
		var frozen []float64
		if p.DetachReset {
			frozen = nominal.spikes
		}
		got := nominal.gradX(gs64, gvT64)
		for j := range x {
			xp := append([]float64(nil), x...)
			xp[j] += h
			lp := buildRefLIF(p, T, M, xp, smoothSpikes, frozen).loss(gs64, gvT64)
			xp[j] -= 2 * h
			lm := buildRefLIF(p, T, M, xp, smoothSpikes, frozen).loss(gs64, gvT64)
			fd := (lp - lm) / (2 * h)
			if math.Abs(fd-got[j]) > 1e-5*math.Max(1, math.Abs(fd)) {
				t.Fatalf("%s: tape grad[%d] = %v, finite difference %v", lifName(p), j, got[j], fd)
			}
		}
	}
}

// TestLIFStepMatchesMultiStep chains LIFStep and LIFStepBackward over T steps: both must
// reproduce LIFForward and LIFBackward bit for bit.
func TestLIFStepMatchesMultiStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, M := range []int{37, 1500, 40000} { // serial, several chunks, parallel
		for n, p := range lifConfigs() {
			if M > 37 && n%9 != 0 {
				continue
			}
			const T = 4
			x := randVec(rng, T*M, -1, 3)
			gs, gvT := randGrads(rng, T, M, n%2 == 0)
			s, vT, gx := make([]float32, T*M), make([]float32, M), make([]float32, T*M)
			if err := LIFForward(p, T, M, x, s, vT); err != nil {
				t.Fatal(err)
			}
			if err := LIFBackward(p, T, M, x, gs, gvT, gx); err != nil {
				t.Fatal(err)
			}
			vs := make([][]float32, T+1) // vs[t] = V_t
			vs[0] = make([]float32, M)
			for i := range vs[0] {
				vs[0][i] = p.VReset
			}
			st := make([]float32, M)
			for tt := range T {
				vs[tt+1] = make([]float32, M)
				if err := LIFStep(p, x[tt*M:(tt+1)*M], vs[tt], st, vs[tt+1]); err != nil {
					t.Fatal(err)
				}
				sameBits(t, fmt.Sprintf("M=%d %s S_%d", M, lifName(p), tt), st, s[tt*M:(tt+1)*M])
			}
			sameBits(t, fmt.Sprintf("M=%d %s V_T", M, lifName(p)), vs[T], vT)
			gv, gxt := gvT, make([]float32, M)
			for tt := T - 1; tt >= 0; tt-- {
				gprev := make([]float32, M)
				if err := LIFStepBackward(p, x[tt*M:(tt+1)*M], vs[tt], gs[tt*M:(tt+1)*M], gv, gxt, gprev); err != nil {
					t.Fatal(err)
				}
				sameBits(t, fmt.Sprintf("M=%d %s gx_%d", M, lifName(p), tt), gxt, gx[tt*M:(tt+1)*M])
				gv = gprev
			}
		}
	}
}

func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// TestLIFParallelMatchesSerial runs inputs large enough to be split between goroutines and
// compares them with one serial sweep.
func TestLIFParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const T, M = 3, 70001 // odd M: the split is not a multiple of the chunk
	if numParts(M, T*M, partAlign) < 2 {
		t.Fatal("test input too small to run in parallel")
	}
	for _, p := range []LIFParams{DefaultLIF(), {Tau: 3, VThreshold: 0.7, VReset: -0.2, SoftReset: true, DecayInput: true, Surrogate: ATan, SurrogateAlpha: 0.5}} {
		x := randVec(rng, T*M, -1, 3)
		gs, gvT := randGrads(rng, T, M, true)
		s, vT, gx := make([]float32, T*M), make([]float32, M), make([]float32, T*M)
		if err := LIFForward(p, T, M, x, s, vT); err != nil {
			t.Fatal(err)
		}
		if err := LIFBackward(p, T, M, x, gs, gvT, gx); err != nil {
			t.Fatal(err)
		}
		c := p.consts()
		s2, vT2, gx2 := make([]float32, T*M), make([]float32, M), make([]float32, T*M)
		lifForwardRange(&c, T, M, x, s2, vT2, nil, nil, 0, M)
		lifBackwardRange(&c, T, M, x, nil, gs, gvT, gx2, 0, M)
		sameBits(t, "S", s, s2)
		sameBits(t, "V_T", vT, vT2)
		sameBits(t, "gx", gx, gx2)
	}
}

// TestLIFInPlace checks the documented aliasing: s = x, gx = x, vNext = v, gv = v, gx = gs.
func TestLIFInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	p := DefaultLIF()
	const T, M = 3, 1100
	x := randVec(rng, T*M, -1, 3)
	gs, gvT := randGrads(rng, T, M, true)
	s, gx := make([]float32, T*M), make([]float32, T*M)
	must(t, LIFForward(p, T, M, x, s, nil))
	must(t, LIFBackward(p, T, M, x, gs, gvT, gx))

	buf := append([]float32(nil), x...)
	must(t, LIFForward(p, T, M, buf, buf, nil))
	sameBits(t, "LIFForward s=x", buf, s)
	buf = append(buf[:0], x...)
	must(t, LIFBackward(p, T, M, buf, gs, gvT, buf))
	sameBits(t, "LIFBackward gx=x", buf, gx)
	if err := LIFBackward(p, T, M, x, gs, gvT, gs); !errors.Is(err, ErrShape) {
		t.Errorf("LIFBackward gx=gs: err = %v, want ErrShape", err)
	}

	x0, v0 := x[:M], randVec(rng, M, -1, 1)
	sWant, vWant := make([]float32, M), make([]float32, M)
	must(t, LIFStep(p, x0, v0, sWant, vWant))
	xb, vb := append([]float32(nil), x0...), append([]float32(nil), v0...)
	must(t, LIFStep(p, xb, vb, xb, vb))
	sameBits(t, "LIFStep s=x", xb, sWant)
	sameBits(t, "LIFStep vNext=v", vb, vWant)

	gs0, gvn := gs[:M], gvT
	gxWant, gvWant := make([]float32, M), make([]float32, M)
	must(t, LIFStepBackward(p, x0, v0, gs0, gvn, gxWant, gvWant))
	gsb, vb2 := append([]float32(nil), gs0...), append([]float32(nil), v0...)
	must(t, LIFStepBackward(p, x0, vb2, gsb, gvn, gsb, vb2))
	sameBits(t, "LIFStepBackward gx=gs", gsb, gxWant)
	sameBits(t, "LIFStepBackward gv=v", vb2, gvWant)
	gvb := append([]float32(nil), gvn...)
	must(t, LIFStepBackward(p, x0, v0, gs0, gvb, gxWant, gvb))
	sameBits(t, "LIFStepBackward gv=gvNext", gvb, gvWant)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLIFNilOptionals: gvT = nil means zero, vT and gv may be omitted, T = 0 leaves V_T = v_reset.
func TestLIFNilOptionals(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	p := DefaultLIF()
	p.VReset = -0.25
	const T, M = 3, 50
	x := randVec(rng, T*M, -1, 3)
	gs, _ := randGrads(rng, T, M, false)
	gx1, gx2 := make([]float32, T*M), make([]float32, T*M)
	must(t, LIFBackward(p, T, M, x, gs, nil, gx1))
	must(t, LIFBackward(p, T, M, x, gs, make([]float32, M), gx2))
	sameBits(t, "gvT nil vs zeros", gx1, gx2)

	vT := randVec(rng, M, 5, 6)
	must(t, LIFForward(p, 0, M, nil, nil, vT))
	for i, v := range vT {
		if v != p.VReset {
			t.Fatalf("T=0: V_T[%d] = %v, want v_reset", i, v)
		}
	}
	must(t, LIFBackward(p, 0, M, nil, nil, nil, nil))
	gxa, gxb := make([]float32, M), make([]float32, M)
	must(t, LIFStepBackward(p, x[:M], x[M:2*M], gs[:M], nil, gxa, nil))
	must(t, LIFStepBackward(p, x[:M], x[M:2*M], gs[:M], make([]float32, M), gxb, make([]float32, M)))
	sameBits(t, "step gvNext nil", gxa, gxb)
}

func TestLIFShapeErrors(t *testing.T) {
	p := DefaultLIF()
	f := func(n int) []float32 { return make([]float32, n) }
	cases := []struct {
		name string
		err  error
	}{
		{"fwd x", LIFForward(p, 2, 3, f(5), f(6), nil)},
		{"fwd s", LIFForward(p, 2, 3, f(6), f(7), nil)},
		{"fwd vT", LIFForward(p, 2, 3, f(6), f(6), f(2))},
		{"fwd negative T", LIFForward(p, -1, 3, nil, nil, nil)},
		{"fwd overflow", LIFForward(p, maxInt/2, 3, nil, nil, nil)},
		{"bwd gs", LIFBackward(p, 2, 3, f(6), f(5), nil, f(6))},
		{"bwd gvT", LIFBackward(p, 2, 3, f(6), f(6), f(6), f(6))},
		{"bwd gx", LIFBackward(p, 2, 3, f(6), f(6), nil, nil)},
		{"step v", LIFStep(p, f(3), f(2), f(3), f(3))},
		{"step vNext", LIFStep(p, f(3), f(3), f(3), nil)},
		{"stepbwd gs", LIFStepBackward(p, f(3), f(3), f(2), nil, f(3), nil)},
		{"stepbwd gv", LIFStepBackward(p, f(3), f(3), f(3), nil, f(3), f(4))},
	}
	for _, c := range cases {
		if !errors.Is(c.err, ErrShape) {
			t.Errorf("%s: err = %v, want ErrShape", c.name, c.err)
		}
	}
}

// TestLIFAsmMatchesGo runs every configuration through the assembly rows
// (where the CPU has them) and the Go loops and compares the bits, at sizes
// that leave Go tails after the vectors; LIFForwardCount's counts must be
// the number of ones in S.
func TestLIFAsmMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, p := range lifConfigs() {
		for _, M := range []int{5, 8, 37, 1100} {
			const T = 4
			x := randVec(rng, T*M, -2, 3)
			for i := range x[:M] {
				x[i] = float32(i%3) * 0.5 // exact thresholds and resets
			}
			gs, gvT := randGrads(rng, T, M, true)
			run := func(goOnly bool) (s, vT, gx []float32, counts []int64) {
				old := forceGo
				forceGo = goOnly
				defer func() { forceGo = old }()
				s, vT, gx, counts = make([]float32, T*M), make([]float32, M), make([]float32, T*M), make([]int64, T)
				must(t, LIFForwardCount(p, T, M, x, s, vT, counts))
				must(t, LIFBackward(p, T, M, x, gs, gvT, gx))
				return
			}
			s1, v1, g1, c1 := run(false)
			s2, v2, g2, c2 := run(true)
			name := fmt.Sprintf("%s M=%d", lifName(p), M)
			sameBits(t, name+" S", s1, s2)
			sameBits(t, name+" V_T", v1, v2)
			sameBits(t, name+" gx", g1, g2)
			for tt := range T {
				var ones int64
				for _, v := range s1[tt*M : (tt+1)*M] {
					if v == 1 {
						ones++
					}
				}
				if c1[tt] != ones || c2[tt] != ones {
					t.Errorf("%s: counts[%d] = %d (asm), %d (Go), want %d", name, tt, c1[tt], c2[tt], ones)
				}
			}
		}
	}
}

// TestLIFAffine: LIFForwardAffine and LIFBackwardAffine equal LIFForward
// and LIFBackward on the mapped inputs bit for bit, with the assembly rows
// and the Go loops, with channel runs that do and do not line up with the
// vectors and the chunks.
func TestLIFAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, p := range lifConfigs() {
		for _, sh := range []struct{ N, C, S int }{{2, 3, 5}, {2, 4, 64}, {3, 2, 1031}, {4, 4, 256}} {
			const T = 3
			M := sh.N * sh.C * sh.S
			x := randVec(rng, T*M, -2, 2)
			aff := &Affine{S: sh.S, A: randVec(rng, sh.C, 0.5, 2), B: randVec(rng, sh.C, -0.5, 1)}
			if sh.S != 5 {
				aff.R = randVec(rng, T*M, -1, 1) // with a residual
			}
			mapped := make([]float32, len(x))
			for i, v := range x {
				c := (i % M / sh.S) % sh.C
				mapped[i] = float32(v*aff.A[c]) + aff.B[c]
				if aff.R != nil {
					mapped[i] += aff.R[i]
				}
			}
			gs, gvT := randGrads(rng, T, M, true)
			for _, goOnly := range []bool{false, true} {
				forceGo = goOnly
				name := fmt.Sprintf("%s %v go=%v", lifName(p), sh, goOnly)
				s1, s2 := make([]float32, T*M), make([]float32, T*M)
				v1, v2 := make([]float32, M), make([]float32, M)
				c1, c2 := make([]int64, T), make([]int64, T)
				must(t, LIFForwardAffine(p, T, M, x, aff, s1, v1, c1))
				must(t, LIFForwardCount(p, T, M, mapped, s2, v2, c2))
				sameBits(t, name+" S", s1, s2)
				sameBits(t, name+" V_T", v1, v2)
				if fmt.Sprint(c1) != fmt.Sprint(c2) {
					t.Errorf("%s: counts %v, want %v", name, c1, c2)
				}
				g1, g2 := make([]float32, T*M), make([]float32, T*M)
				aff.Mean, aff.RowSums = randVec(rng, sh.C, -1, 1), make([]float32, 2*T*M/sh.S)
				must(t, LIFBackwardAffine(p, T, M, x, aff, gs, gvT, g1))
				must(t, LIFBackward(p, T, M, mapped, gs, gvT, g2))
				sameBits(t, name+" gx", g1, g2)
				if aff.SumsOK() {
					for r := 0; r < T*M/sh.S; r++ {
						a, b := kernels.SumDyDx(g2[r*sh.S:(r+1)*sh.S], x[r*sh.S:(r+1)*sh.S], aff.Mean[r%sh.C])
						if aff.RowSums[2*r] != a || aff.RowSums[2*r+1] != b {
							t.Fatalf("%s: row %d sums %v %v, want %v %v", name, r, aff.RowSums[2*r], aff.RowSums[2*r+1], a, b)
						}
					}
				} else if sh.S == 64 {
					t.Fatalf("%s: no row sums for S = 64", name)
				}
				aff.Mean, aff.RowSums = nil, nil
			}
			forceGo = false
		}
	}
}
