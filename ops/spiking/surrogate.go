package spiking

import (
	"fmt"
	"math"
)

// Surrogate selects the smooth stand-in for dS/dH, the derivative of the spike step
// S = 1[H >= v_threshold], used by the LIF backward pass. It is evaluated at
// u = H - v_threshold with a width parameter alpha (the LIF attribute surrogate_alpha, > 0).
// Each Grad integrates to 1 over u, as the step it replaces does (spec §2.2).
type Surrogate int

// The surrogates of spec §2.2. The zero value is Triangle, the spec default.
const (
	// Triangle: (1/alpha^2) * max(0, alpha - |u|) (TET's "ZIF" with gamma = alpha).
	Triangle Surrogate = iota
	// Sigmoid: kappa*sig(kappa*u)*(1 - sig(kappa*u)) with kappa = 4/alpha.
	Sigmoid
	// ATan: (1/alpha) / (1 + (pi*u/alpha)^2); alpha = 1 is SpikingJelly's ATan(alpha=2).
	ATan
	// Rect: (1/alpha) * 1[|u| < alpha/2].
	Rect
)

var surrogateNames = [...]string{Triangle: "triangle", Sigmoid: "sigmoid", ATan: "atan", Rect: "rect"}

// ParseSurrogate returns the Surrogate named by the LIF attribute value name: exactly one of
// "triangle", "sigmoid", "atan", "rect" (the spelling of spec §2.2, lower case).
func ParseSurrogate(name string) (Surrogate, error) {
	for i, n := range surrogateNames {
		if n == name {
			return Surrogate(i), nil
		}
	}
	return 0, fmt.Errorf("%w: surrogate %q (want triangle, sigmoid, atan or rect)", ErrParam, name)
}

// String returns the attribute spelling ("triangle", ...), or "Surrogate(n)" for an invalid value.
func (s Surrogate) String() string {
	if s.valid() {
		return surrogateNames[s]
	}
	return fmt.Sprintf("Surrogate(%d)", int(s))
}

func (s Surrogate) valid() bool { return s >= 0 && int(s) < len(surrogateNames) }

// Grad returns the surrogate derivative dS/dH at u = H - v_threshold for width alpha > 0, by the
// closed forms of spec §2.2. Triangle and Rect are computed in float32; Sigmoid and ATan in
// float64, rounded once. An invalid Surrogate gives NaN. The LIF backward kernels use exactly
// this function (bit for bit).
func (s Surrogate) Grad(u, alpha float32) float32 {
	switch s {
	case Triangle:
		return triangleGrad(u, alpha, 1/(alpha*alpha))
	case Sigmoid:
		return sigmoidGrad(u, alpha)
	case ATan:
		return atanGrad(u, alpha)
	case Rect:
		return rectGrad(u, alpha/2, 1/alpha)
	}
	return float32(math.NaN())
}

// Primitive returns the antiderivative of Grad that rises from 0 (u -> -inf) to 1 (u -> +inf):
// the smooth spike function the surrogate stands for. It is computed in float64 and rounded
// once. It is meant for checks (Grad is its derivative) and for smoothed reference models; the
// LIF forward pass always uses the exact step. An invalid Surrogate gives NaN.
//
//	Triangle: 0 for u <= -alpha; (u+alpha)^2/(2 alpha^2) for -alpha < u <= 0;
//	          1 - (alpha-u)^2/(2 alpha^2) for 0 < u < alpha; 1 for u >= alpha
//	Sigmoid:  sig(4u/alpha)
//	ATan:     atan(pi*u/alpha)/pi + 1/2
//	Rect:     clamp(u/alpha + 1/2, 0, 1)
func (s Surrogate) Primitive(u, alpha float32) float32 {
	x, a := float64(u), float64(alpha)
	switch s {
	case Triangle:
		switch {
		case x <= -a:
			return 0
		case x <= 0:
			return float32((x + a) * (x + a) / (2 * a * a))
		case x < a:
			return float32(1 - (a-x)*(a-x)/(2*a*a))
		}
		return 1
	case Sigmoid:
		return float32(sigmoid64(4 * x / a))
	case ATan:
		return float32(math.Atan(math.Pi*x/a)/math.Pi + 0.5)
	case Rect:
		return float32(min(max(x/a+0.5, 0), 1))
	}
	return float32(math.NaN())
}

// gradSlice sets dst[i] = s.Grad(h[i] - vth, alpha) for every i (the subtraction rounded to
// float32 first), hoisting the switch and the per-alpha constants out of the loop. dst may be h.
func (s Surrogate) gradSlice(dst, h []float32, vth, alpha float32) {
	h = h[:len(dst)]
	switch s {
	case Triangle:
		inv := 1 / (alpha * alpha)
		for i, v := range h {
			dst[i] = triangleGrad(v-vth, alpha, inv)
		}
	case Sigmoid:
		for i, v := range h {
			dst[i] = sigmoidGrad(v-vth, alpha)
		}
	case ATan:
		for i, v := range h {
			dst[i] = atanGrad(v-vth, alpha)
		}
	case Rect:
		half, inv := alpha/2, 1/alpha
		for i, v := range h {
			dst[i] = rectGrad(v-vth, half, inv)
		}
	default:
		nan := float32(math.NaN())
		for i := range dst {
			dst[i] = nan
		}
	}
}

// abs32 is |v| without a branch.
func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// b2f is 1 for true and 0 for false, without a branch.
func b2f(b bool) float32 {
	var i int32
	if b {
		i = 1
	}
	return float32(i)
}

// triangleGrad is inv * max(0, alpha - |u|) with inv = 1/alpha^2. The max is taken without a
// branch as (d + |d|)/2, which is exact for every finite d.
func triangleGrad(u, alpha, inv float32) float32 {
	d := alpha - abs32(u)
	return inv * ((d + abs32(d)) * 0.5)
}

// rectGrad is inv * 1[|u| < half] with half = alpha/2 and inv = 1/alpha.
func rectGrad(u, half, inv float32) float32 { return inv * b2f(abs32(u) < half) }

func sigmoidGrad(u, alpha float32) float32 {
	k := 4 / float64(alpha)
	// sig(z)(1-sig(z)) = e/(1+e)^2 with e = exp(-|z|): no cancellation, no overflow.
	e := math.Exp(-math.Abs(k * float64(u)))
	return float32(k * e / ((1 + e) * (1 + e)))
}

func atanGrad(u, alpha float32) float32 {
	a := float64(alpha)
	w := math.Pi * float64(u) / a
	return float32((1 / a) / (1 + w*w))
}

// sigmoid64 is the logistic function 1/(1+exp(-z)), accurate for every z.
func sigmoid64(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}
