package train

import (
	"math"
	"testing"
)

// TestTETLossByHand checks the loss kernel against the TET formula worked
// out by hand and its gradient against central differences.
func TestTETLossByHand(t *testing.T) {
	// T=2 steps, N=2 samples, C=3 classes, time-major.
	z := []float32{
		1, 2, 3, // t0 n0
		0, 0, 0, // t0 n1
		3, 2, 1, // t1 n0
		-1, 0, 1, // t1 n1
	}
	y := []int{2, 0}
	k, err := newSoftmaxCE([]int{2, 2, 3}, 2, 2, 3, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetLabels(y); err != nil {
		t.Fatal(err)
	}
	out := []float32{0}
	if err := k.Forward(out, z); err != nil {
		t.Fatal(err)
	}
	// CE with smoothing 0.1: lse - 0.9 z_y - 0.1/3 sum(z).
	lse := func(a, b, c float64) float64 { return math.Log(math.Exp(a) + math.Exp(b) + math.Exp(c)) }
	ce := func(a, b, c float64, y int) float64 {
		zs := []float64{a, b, c}
		return lse(a, b, c) - 0.9*zs[y] - 0.1/3*(a+b+c)
	}
	want := (ce(1, 2, 3, 2) + ce(0, 0, 0, 0) + ce(3, 2, 1, 2) + ce(-1, 0, 1, 0)) / 4
	if math.Abs(k.loss-want) > 1e-9 {
		t.Errorf("TET loss %v, want %v", k.loss, want)
	}
	// Accuracy of the mean over time: n0 mean (2, 2, 2) -> argmax 0 != 2;
	// n1 mean (-0.5, 0, 0.5) -> 2 != 0.
	if k.correct != 0 {
		t.Errorf("correct %d, want 0", k.correct)
	}
	// Gradient: analytic vs central differences of the forward.
	gk := &softmaxCEGrad{f: k}
	grad := make([]float32, len(z))
	if err := gk.Forward(grad, z, []float32{1}); err != nil {
		t.Fatal(err)
	}
	for i := range z {
		zp := append([]float32(nil), z...)
		zm := append([]float32(nil), z...)
		zp[i] += 1e-2
		zm[i] -= 1e-2
		_ = k.Forward(out, zp)
		lp := k.loss
		_ = k.Forward(out, zm)
		lm := k.loss
		num := (lp - lm) / 2e-2
		if math.Abs(num-float64(grad[i])) > 1e-4 {
			t.Errorf("dL/dz[%d] = %v, finite difference %v", i, grad[i], num)
		}
	}

	// CE on the mean output (T = 1) with the labels of the second sample correct.
	k1, _ := newSoftmaxCE([]int{2, 3}, 1, 2, 3, 0)
	_ = k1.SetLabels([]int{2, 2})
	_ = k1.Forward(out, []float32{1, 2, 3, 0, 0, 5})
	want = (lse(1, 2, 3) - 3 + lse(0, 0, 5) - 5) / 2
	if math.Abs(k1.loss-want) > 1e-9 || k1.correct != 2 {
		t.Errorf("CE loss %v correct %d, want %v and 2", k1.loss, k1.correct, want)
	}
	if err := k1.SetLabels([]int{0, 3}); err == nil {
		t.Error("label 3 of 3 classes accepted")
	}
}

// TestFlipBookkeeping follows a hand example: sign(0) = +1, so 0 and -0
// count as +1; a weight flipping and flipping back counts twice in the
// per-step rates and not at all in the epoch's net flip fraction.
func TestFlipBookkeeping(t *testing.T) {
	p := testParam("w", 0.5, -0.2, 0, 0.1, -1, 2)
	f := newFlipTracker("L", p)
	w := p.Data()
	// Step 1: w0 0.5 -> -0.1 (flip), w2 0 -> -0.0 (no flip: -0 >= 0), w3 0.1 -> 0 (no flip).
	w[0], w[2], w[3] = -0.1, float32(math.Copysign(0, -1)), 0
	if n := f.step(); n != 1 {
		t.Fatalf("step 1: %d flips, want 1", n)
	}
	// Step 2: w0 back to 0.2 (flip), w1 -0.2 -> 0 (flip: 0 is +1), w4 -1 -> -0.5 (no flip).
	w[0], w[1], w[4] = 0.2, 0, -0.5
	if n := f.step(); n != 2 {
		t.Fatalf("step 2: %d flips, want 2", n)
	}
	// Net over the epoch: only w1 differs from the start (w0 flipped back).
	if n := f.netFlips(); n != 1 {
		t.Fatalf("net flips %d, want 1", n)
	}
	// Per-step rates 1/6 and 2/6: epoch mean 0.25; net fraction 1/6.
	f.newEpoch()
	if n := f.netFlips(); n != 0 {
		t.Fatalf("net flips after a new epoch: %d", n)
	}
	// NaN binarizes to -1 (BipolarQuant: NaN >= 0 is false).
	w[5] = float32(math.NaN())
	if n := f.step(); n != 1 {
		t.Fatalf("NaN: %d flips, want 1", n)
	}
	// Masks survive encoding (checkpoints).
	s := encodeBits(f.prev)
	back := make([]uint64, len(f.prev))
	if err := decodeBits(s, back); err != nil || back[0] != f.prev[0] {
		t.Fatalf("sign mask round trip: %v %x vs %x", err, back, f.prev)
	}
}

// TestEnergyFormula: E = 4.6 pJ * MACs(float) + 0.9 pJ * SOPs with
// SOPs_l = T * fr_in_l * MACs_l.
func TestEnergyFormula(t *testing.T) {
	layers := []LayerCost{
		{Name: "first", Binary: false, Steps: 4, MACsPerStep: 1000, MACs: 4000},
		{Name: "mid", Binary: true, Steps: 4, MACsPerStep: 50000, MACs: 200000, FrIn: 0.2},
		{Name: "last", Binary: false, Steps: 4, MACsPerStep: 100, MACs: 400},
	}
	e, sops, fm := EnergyOf(layers)
	wantSOPs := 4 * 0.2 * 50000.0
	wantE := 4.6*(4000+400) + 0.9*wantSOPs
	if math.Abs(sops-wantSOPs) > 1e-9 || math.Abs(e-wantE) > 1e-9 || fm != 4400 {
		t.Fatalf("energy %v pJ, SOPs %v, float MACs %v; want %v, %v, 4400", e, sops, fm, wantE, wantSOPs)
	}
	if layers[1].SOPs != wantSOPs || math.Abs(layers[0].EnergyPJ-4.6*4000) > 1e-9 {
		t.Errorf("per-layer values %+v", layers)
	}
}
