package opstest

import (
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Closed-form references of the BSNN custom ops, written from the formulas
// of docs/spec/bsnn-onnx.md §2 independently of ops/spiking. Their
// forwards are step functions (LIF spikes, BipolarQuant), or their training
// gradients are not the derivative of the forward by design (surrogates,
// straight-through estimators, detached statistics, AGMMGate's grad_only
// mode), so finite differences cannot check them: these references can.

// LIFRef holds the attributes of a LIF or LIFStep node (spec §2.2).
type LIFRef struct {
	Tau, VThreshold, VReset float32
	DecayInput, SoftReset   bool
	DetachReset             bool
	Surrogate               string
	Alpha                   float64 // surrogate_alpha
}

// LIFRefOf reads LIF attributes, with the spec's defaults for those absent.
func LIFRefOf(attrs []*onnxpb.AttributeProto) (LIFRef, error) {
	p := LIFRef{Tau: 2, VThreshold: 1, VReset: 0, Surrogate: "triangle", Alpha: 1}
	for _, a := range attrs {
		switch a.GetName() {
		case "tau":
			p.Tau = a.GetF()
		case "v_threshold":
			p.VThreshold = a.GetF()
		case "v_reset":
			p.VReset = a.GetF()
		case "decay_input":
			p.DecayInput = a.GetI() != 0
		case "soft_reset":
			p.SoftReset = a.GetI() != 0
		case "detach_reset":
			p.DetachReset = a.GetI() != 0
		case "surrogate":
			p.Surrogate = string(a.GetS())
		case "surrogate_alpha":
			p.Alpha = float64(a.GetF())
		default:
			return p, fmt.Errorf("unknown LIF attribute %q", a.GetName())
		}
	}
	switch p.Surrogate {
	case "triangle", "sigmoid", "atan", "rect":
	default:
		return p, fmt.Errorf("unknown surrogate %q", p.Surrogate)
	}
	return p, nil
}

// Forward runs T steps of M neurons from the membrane v0 (nil: v_reset):
// spikes s and charges h ([T*M], time-major), final membrane vT [M]. It
// rounds to float32 after each operation of the spec's formula, in the
// order H = (V - (V - v_reset)*k) + a*X, so that spikes are exact.
func (p LIFRef) Forward(T, M int, x, v0 []float32) (s, h, vT []float32) {
	k := float32(1) / p.Tau
	a := float32(1)
	if p.DecayInput {
		a = k
	}
	v := make([]float32, M)
	for i := range v {
		v[i] = p.VReset
		if v0 != nil {
			v[i] = v0[i]
		}
	}
	s, h = make([]float32, T*M), make([]float32, T*M)
	for t := 0; t < T; t++ {
		for i := 0; i < M; i++ {
			d := v[i] - p.VReset
			l := d * k
			h0 := v[i] - l
			ax := a * x[t*M+i]
			H := h0 + ax
			var S float32
			if H >= p.VThreshold {
				S = 1
			}
			if p.SoftReset {
				v[i] = H - S*p.VThreshold
			} else {
				v[i] = H - S*(H-p.VReset)
			}
			s[t*M+i], h[t*M+i] = S, H
		}
	}
	return s, h, v
}

// SurrogateGrad is dS/dH at u = H - v_threshold (spec §2.2).
func (p LIFRef) SurrogateGrad(u float64) float64 {
	al := p.Alpha
	switch p.Surrogate {
	case "triangle":
		return math.Max(0, al-math.Abs(u)) / (al * al)
	case "sigmoid":
		kap := 4 / al
		sg := 1 / (1 + math.Exp(-kap*u))
		return kap * sg * (1 - sg)
	case "atan":
		z := math.Pi * u / al
		return (1 / al) / (1 + z*z)
	case "rect":
		if math.Abs(u) < al/2 {
			return 1 / al
		}
		return 0
	}
	return math.NaN()
}

// Margin returns how far the charges h are from the points where the
// forward or the surrogate jumps: the threshold, and for rect the edges
// |u| = alpha/2. Inputs with a small margin make the float32 engine and
// this reference disagree on a spike or a surrogate value.
func (p LIFRef) Margin(h []float32) float64 {
	m := math.Inf(1)
	for _, H := range h {
		u := float64(H) - float64(p.VThreshold)
		m = math.Min(m, math.Abs(u))
		if p.Surrogate == "rect" {
			m = math.Min(m, math.Abs(math.Abs(u)-p.Alpha/2))
		}
	}
	return m
}

// Backward is BPTT through the membrane with the surrogate in place of
// dS/dH (spec §2.2): given the charges h and spikes s of Forward and the
// gradients gS [T*M] (nil: zero) and gVT [M] (nil: zero) of the loss with
// respect to the spikes and the final membrane, it returns the gradients
// with respect to the inputs x and the initial membrane v0. With
// H_t = (1-k)*V_{t-1} + k*v_reset + a*X_t:
//
//	dV_t/dH_t = 1 - S_t - (H_t - v_reset)*sg_t   (hard reset)
//	          = 1 - v_threshold*sg_t              (soft reset)
//
// where the sg_t terms (the gradient through S in the reset) are dropped
// with detach_reset.
func (p LIFRef) Backward(T, M int, h, s []float32, gS, gVT []float64) (gx, gv0 []float64) {
	k := float64(float32(1) / p.Tau)
	a := 1.0
	if p.DecayInput {
		a = k
	}
	gx = make([]float64, T*M)
	gv0 = make([]float64, M)
	for i := 0; i < M; i++ {
		gv := 0.0
		if gVT != nil {
			gv = gVT[i]
		}
		for t := T - 1; t >= 0; t-- {
			j := t*M + i
			H, S := float64(h[j]), float64(s[j])
			sg := p.SurrogateGrad(H - float64(p.VThreshold))
			var dvdh float64
			if p.SoftReset {
				dvdh = 1
				if !p.DetachReset {
					dvdh -= float64(p.VThreshold) * sg
				}
			} else {
				dvdh = 1 - S
				if !p.DetachReset {
					dvdh -= (H - float64(p.VReset)) * sg
				}
			}
			gh := gv * dvdh
			if gS != nil {
				gh += gS[j] * sg
			}
			gx[j] = a * gh
			gv = (1 - k) * gh
		}
		gv0[i] = gv
	}
	return gx, gv0
}

// AGMMRef is the AGMMGate reference (spec §2.3) for X [T, N, D] and
// alpha [T].
type AGMMRef struct {
	GradOnly   bool // mode grad_only
	DetachStat bool
}

func sigmoid64(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// Forward returns Y: g[t,n]*X[t,n,:] with g = alpha[t]*sigmoid(mean X[t,n,:])
// (mode forward), or X itself (grad_only).
func (p AGMMRef) Forward(T, N, D int, x, alpha []float32) []float64 {
	y := make([]float64, len(x))
	for t := 0; t < T; t++ {
		for n := 0; n < N; n++ {
			row := x[(t*N+n)*D : (t*N+n+1)*D]
			var m float64
			for _, v := range row {
				m += float64(v)
			}
			m /= float64(D)
			g := float64(alpha[t]) * sigmoid64(m)
			for d, v := range row {
				y[(t*N+n)*D+d] = float64(v)
				if !p.GradOnly {
					y[(t*N+n)*D+d] = g * float64(v)
				}
			}
		}
	}
	return y
}

// Backward returns the gradients of sum(w*Y) with respect to X and alpha,
// the forward mode's in both modes (spec §2.3):
//
//	dX = g*w + alpha*sigmoid'(m)*<w,X>/D   (second term dropped with detach_stat)
//	dalpha[t] = sum_n sigmoid(m[t,n])*<w,X>[t,n]
func (p AGMMRef) Backward(T, N, D int, x, alpha []float32, w []float64) (gx, galpha []float64) {
	gx, galpha = make([]float64, len(x)), make([]float64, T)
	for t := 0; t < T; t++ {
		for n := 0; n < N; n++ {
			off := (t*N + n) * D
			var m, wx float64
			for d := 0; d < D; d++ {
				m += float64(x[off+d])
				wx += w[off+d] * float64(x[off+d])
			}
			m /= float64(D)
			s := sigmoid64(m)
			g := float64(alpha[t]) * s
			stat := 0.0
			if !p.DetachStat {
				stat = float64(alpha[t]) * s * (1 - s) * wx / float64(D)
			}
			for d := 0; d < D; d++ {
				gx[off+d] = g*w[off+d] + stat
			}
			galpha[t] += s * wx
		}
	}
	return gx, galpha
}

// BipolarRef is the BipolarQuant reference (spec §2.1): scale gives one
// value per element of X (expand a scalar or per-channel scale first).
type BipolarRef struct {
	// Identity selects the identity straight-through estimator instead of
	// the default clipped one, 1[|X| <= 1].
	Identity bool
}

// Forward returns where(X >= 0, +1, -1) * scale.
func (p BipolarRef) Forward(x, scale []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		s := 1.0
		if v < 0 {
			s = -1
		}
		y[i] = s * float64(scale[i])
	}
	return y
}

// Backward returns the straight-through gradient w * scale * ste(X).
func (p BipolarRef) Backward(x, scale []float32, w []float64) []float64 {
	g := make([]float64, len(x))
	for i, v := range x {
		if p.Identity || math.Abs(float64(v)) <= 1 {
			g[i] = w[i] * float64(scale[i])
		}
	}
	return g
}
