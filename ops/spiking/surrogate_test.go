package spiking

import (
	"errors"
	"math"
	"testing"
)

var allSurrogates = []Surrogate{Triangle, Sigmoid, ATan, Rect}

func TestParseSurrogate(t *testing.T) {
	for _, s := range allSurrogates {
		got, err := ParseSurrogate(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSurrogate(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
	want := map[string]Surrogate{"triangle": Triangle, "sigmoid": Sigmoid, "atan": ATan, "rect": Rect}
	for name, s := range want {
		if got, _ := ParseSurrogate(name); got != s {
			t.Errorf("ParseSurrogate(%q) = %v, want %v", name, got, s)
		}
	}
	for _, bad := range []string{"", "Triangle", "fast_sigmoid", "tri"} {
		if _, err := ParseSurrogate(bad); !errors.Is(err, ErrParam) {
			t.Errorf("ParseSurrogate(%q) error = %v, want ErrParam", bad, err)
		}
	}
	if got := Surrogate(9).String(); got != "Surrogate(9)" {
		t.Errorf("String of invalid = %q", got)
	}
	if g := Surrogate(-1).Grad(0, 1); !math.IsNaN(float64(g)) {
		t.Errorf("Grad of invalid surrogate = %v, want NaN", g)
	}
}

// TestSurrogateClosedForms compares Grad with the spec formulas evaluated in float64.
func TestSurrogateClosedForms(t *testing.T) {
	for _, s := range allSurrogates {
		for _, alpha := range []float32{0.25, 0.5, 1, 2, 3.7} {
			for i := -400; i <= 400; i++ {
				u := float32(i) * alpha / 97
				got := float64(s.Grad(u, alpha))
				want := refSurrogateGrad(s, float64(u), float64(alpha))
				if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
					t.Fatalf("%v.Grad(%v, %v) = %v, want %v", s, u, alpha, got, want)
				}
			}
		}
	}
	// Spot values straight from the spec text.
	spots := []struct {
		s           Surrogate
		u, alpha, g float32
	}{
		{Triangle, 0, 1, 1}, {Triangle, 0.5, 1, 0.5}, {Triangle, -1, 1, 0}, {Triangle, 0, 2, 0.5},
		{Sigmoid, 0, 1, 1}, {Sigmoid, 0, 2, 0.5}, // kappa/4 at u = 0
		{ATan, 0, 1, 1}, {ATan, 0, 0.5, 2},
		{Rect, 0, 1, 1}, {Rect, 0.4999, 1, 1}, {Rect, 0.5, 1, 0}, {Rect, -0.5, 1, 0}, {Rect, 0, 0.5, 2},
	}
	for _, c := range spots {
		if got := c.s.Grad(c.u, c.alpha); got != c.g {
			t.Errorf("%v.Grad(%v, %v) = %v, want %v", c.s, c.u, c.alpha, got, c.g)
		}
	}
}

// TestSurrogateGradIsPrimitiveDerivative checks Grad against a central difference of Primitive.
func TestSurrogateGradIsPrimitiveDerivative(t *testing.T) {
	const h = 1e-3
	for _, s := range allSurrogates {
		for _, alpha := range []float32{0.5, 1, 2} {
			for i := -300; i <= 300; i++ {
				u := float32(i) * alpha / 101
				if nearKink(s, float64(u), float64(alpha), 2*h) {
					continue
				}
				fd := (float64(s.Primitive(u+h, alpha)) - float64(s.Primitive(u-h, alpha))) / (2 * h)
				g := float64(s.Grad(u, alpha))
				if math.Abs(fd-g) > 2e-4*math.Max(1, g) {
					t.Fatalf("%v alpha=%v u=%v: Grad = %v, d Primitive/du = %v", s, alpha, u, g, fd)
				}
			}
			if lo, hi := s.Primitive(-1e6, alpha), s.Primitive(1e6, alpha); math.Abs(float64(lo)) > 1e-6 || math.Abs(float64(hi)-1) > 1e-6 {
				t.Errorf("%v alpha=%v: Primitive(-inf) = %v, Primitive(+inf) = %v, want 0 and 1", s, alpha, lo, hi)
			}
		}
	}
}

// TestSurrogateIntegratesToOne integrates Grad over u numerically (midpoint rule).
func TestSurrogateIntegratesToOne(t *testing.T) {
	for _, s := range allSurrogates {
		for _, alpha := range []float32{0.5, 1, 2} {
			L := 2000 * float64(alpha)
			const n = 1_000_000
			du := 2 * L / n
			var sum float64
			for i := range n {
				sum += float64(s.Grad(float32(-L+(float64(i)+0.5)*du), alpha))
			}
			sum *= du
			// atan has 1/u^2 tails: the mass beyond +-L is 2/(pi^2 L/alpha) ~ 1e-4.
			tail := 0.0
			if s == ATan {
				tail = 1 - 2*math.Atan(math.Pi*L/float64(alpha))/math.Pi
			}
			if math.Abs(sum+tail-1) > 1e-4 {
				t.Errorf("%v alpha=%v: integral of Grad = %v (+ tail %v), want 1", s, alpha, sum, tail)
			}
		}
	}
}

// TestGradSliceMatchesGrad checks that the loop the LIF kernels use is Grad(h - v_th) bit for bit.
func TestGradSliceMatchesGrad(t *testing.T) {
	u := make([]float32, 1000)
	for i := range u {
		u[i] = float32(i-500) / 173
	}
	u = append(u, 0, float32(math.Copysign(0, -1)), 0.5, -0.5, 1, -1, 2, float32(math.Inf(1)), float32(math.Inf(-1)))
	out := make([]float32, len(u))
	for _, s := range allSurrogates {
		for _, alpha := range []float32{0.5, 1, 3} {
			for _, vth := range []float32{0, 1, 0.7} {
				s.gradSlice(out, u, vth, alpha)
				for i, v := range u {
					if want := s.Grad(v-vth, alpha); math.Float32bits(out[i]) != math.Float32bits(want) {
						t.Fatalf("%v alpha=%v vth=%v h=%v: gradSlice = %v, Grad = %v", s, alpha, vth, v, out[i], want)
					}
				}
			}
		}
	}
}

// nearKink reports whether u is within h of a point where Grad is not differentiable
// (triangle: 0 and +-alpha) or not continuous (rect: +-alpha/2); a central difference of
// Primitive is not accurate there.
func nearKink(s Surrogate, u, alpha, h float64) bool {
	var kinks []float64
	switch s {
	case Triangle:
		kinks = []float64{-alpha, 0, alpha}
	case Rect:
		kinks = []float64{-alpha / 2, alpha / 2}
	}
	for _, k := range kinks {
		if math.Abs(u-k) < h {
			return true
		}
	}
	return false
}
