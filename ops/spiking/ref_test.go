package spiking

import "math"

// This file holds the float64 references the tests compare the kernels with. They are written
// from the spec formulas (docs/spec/bsnn-onnx.md §2), independently of the kernels' code.

// refSurrogateGrad is dS/dH of spec §2.2 in float64.
func refSurrogateGrad(s Surrogate, u, alpha float64) float64 {
	switch s {
	case Triangle:
		return (1 / (alpha * alpha)) * math.Max(0, alpha-math.Abs(u))
	case Sigmoid:
		k := 4 / alpha
		sg := 1 / (1 + math.Exp(-k*u))
		return k * sg * (1 - sg)
	case ATan:
		w := math.Pi * u / alpha
		return (1 / alpha) / (1 + w*w)
	case Rect:
		if math.Abs(u) < alpha/2 {
			return 1 / alpha
		}
		return 0
	}
	panic("unknown surrogate")
}

// refSurrogatePrimitive is an antiderivative of refSurrogateGrad rising from 0 to 1.
func refSurrogatePrimitive(s Surrogate, u, alpha float64) float64 {
	switch s {
	case Triangle:
		// Integral of the triangle: quadratic pieces joined at -alpha, 0, alpha.
		if u <= -alpha {
			return 0
		}
		if u >= alpha {
			return 1
		}
		if u <= 0 {
			return 0.5 * (u + alpha) * (u + alpha) / (alpha * alpha)
		}
		return 1 - 0.5*(alpha-u)*(alpha-u)/(alpha*alpha)
	case Sigmoid:
		return 1 / (1 + math.Exp(-4*u/alpha))
	case ATan:
		return 0.5 + math.Atan(math.Pi*u/alpha)/math.Pi
	case Rect:
		return math.Min(1, math.Max(0, u/alpha+0.5))
	}
	panic("unknown surrogate")
}

// tape is a minimal float64 reverse-mode automatic differentiation: every node records its
// value, up to two inputs and the local partial derivatives with respect to them. It is the
// reference for the LIF gradient: the LIF forward pass is recorded op by op (spec formulas) and
// differentiated by the generic reverse sweep, with no hand-derived recurrence.
type tape struct {
	val []float64
	in  [][2]int
	d   [][2]float64
}

func (tp *tape) push(v float64, a int, da float64, b int, db float64) int {
	tp.val = append(tp.val, v)
	tp.in = append(tp.in, [2]int{a, b})
	tp.d = append(tp.d, [2]float64{da, db})
	return len(tp.val) - 1
}

func (tp *tape) leaf(v float64) int        { return tp.push(v, -1, 0, -1, 0) }
func (tp *tape) add(a, b int) int          { return tp.push(tp.val[a]+tp.val[b], a, 1, b, 1) }
func (tp *tape) sub(a, b int) int          { return tp.push(tp.val[a]-tp.val[b], a, 1, b, -1) }
func (tp *tape) mul(a, b int) int          { return tp.push(tp.val[a]*tp.val[b], a, tp.val[b], b, tp.val[a]) }
func (tp *tape) mulc(a int, c float64) int { return tp.push(tp.val[a]*c, a, c, -1, 0) }

// detach has the value of a and no gradient path to it.
func (tp *tape) detach(a int) int { return tp.leaf(tp.val[a]) }

// fn is a unary function node with value f and derivative df.
func (tp *tape) fn(a int, f, df float64) int { return tp.push(f, a, df, -1, 0) }

// grad returns the adjoint of every node for the loss sum_i seeds[i].w * node seeds[i].n.
func (tp *tape) grad(seeds map[int]float64) []float64 {
	adj := make([]float64, len(tp.val))
	for n, w := range seeds {
		adj[n] += w
	}
	for i := len(tp.val) - 1; i >= 0; i-- {
		for j := range 2 {
			if a := tp.in[i][j]; a >= 0 {
				adj[a] += adj[i] * tp.d[i][j]
			}
		}
	}
	return adj
}

// refLIF is the LIF of spec §2.2 recorded on a tape.
type refLIF struct {
	tp     tape
	x      []int // leaves X [T*M]
	h, s   []int // H_t, S_t [T*M]
	vT     []int // V_T [M]
	spikes []float64
}

// lifMode chooses the spike function of the reference: the exact step (what the kernel
// computes, with the surrogate as its derivative) or the surrogate's smooth primitive (a
// differentiable model to check the tape itself against finite differences).
type lifMode int

const (
	stepSpikes lifMode = iota
	smoothSpikes
)

// buildRefLIF records the forward pass in float64. frozenReset, when not nil, gives the value
// of S used in the reset term of each (t, i) as a constant (finite-difference model of
// detach_reset); otherwise detach_reset cuts the tape there.
func buildRefLIF(p LIFParams, T, M int, x []float64, mode lifMode, frozenReset []float64) *refLIF {
	r := &refLIF{}
	tp := &r.tp
	k := 1 / float64(p.Tau)
	a := 1.0
	if p.DecayInput {
		a = k
	}
	vth, vr, alpha := float64(p.VThreshold), float64(p.VReset), float64(p.SurrogateAlpha)
	vrNode := tp.leaf(vr)
	vthNode := tp.leaf(vth)
	v := make([]int, M)
	for i := range v {
		v[i] = vrNode
	}
	for t := range T {
		for i := range M {
			xi := tp.leaf(x[t*M+i])
			r.x = append(r.x, xi)
			d := tp.sub(v[i], vrNode)
			h := tp.add(tp.sub(v[i], tp.mulc(d, k)), tp.mulc(xi, a))
			u := tp.val[h] - vth
			var sv float64
			if mode == smoothSpikes {
				sv = refSurrogatePrimitive(p.Surrogate, u, alpha)
			} else if tp.val[h] >= vth {
				sv = 1
			}
			s := tp.fn(h, sv, refSurrogateGrad(p.Surrogate, u, alpha))
			r.h, r.s, r.spikes = append(r.h, h), append(r.s, s), append(r.spikes, sv)
			sr := s
			switch {
			case frozenReset != nil:
				sr = tp.leaf(frozenReset[t*M+i])
			case p.DetachReset:
				sr = tp.detach(s)
			}
			if p.SoftReset {
				v[i] = tp.sub(h, tp.mul(sr, vthNode))
			} else {
				v[i] = tp.sub(h, tp.mul(sr, tp.sub(h, vrNode)))
			}
		}
	}
	r.vT = v
	return r
}

// loss returns sum gs*S + sum gvT*V_T.
func (r *refLIF) loss(gs, gvT []float64) float64 {
	var l float64
	for j, n := range r.s {
		l += gs[j] * r.tp.val[n]
	}
	for i, n := range r.vT {
		if gvT != nil {
			l += gvT[i] * r.tp.val[n]
		}
	}
	return l
}

// gradX returns d loss / dX by reverse mode over the tape.
func (r *refLIF) gradX(gs, gvT []float64) []float64 {
	seeds := map[int]float64{}
	for j, n := range r.s {
		seeds[n] += gs[j]
	}
	if gvT != nil {
		for i, n := range r.vT {
			seeds[n] += gvT[i]
		}
	}
	adj := r.tp.grad(seeds)
	out := make([]float64, len(r.x))
	for j, n := range r.x {
		out[j] = adj[n]
	}
	return out
}

// refAGMM is AGMMGate of spec §2.3 in float64. When frozenM is not nil it supplies the row
// means as constants (finite-difference model of detach_stat). It returns Y (forward mode) and
// the gates.
func refAGMM(T, N, D int, x, alpha, frozenM []float64) (y, g []float64) {
	y = make([]float64, len(x))
	g = make([]float64, T*N)
	for r := range T * N {
		var m float64
		if frozenM != nil {
			m = frozenM[r]
		} else {
			for _, v := range x[r*D : (r+1)*D] {
				m += v
			}
			m /= float64(D)
		}
		g[r] = alpha[r/N] / (1 + math.Exp(-m))
		for i := r * D; i < (r+1)*D; i++ {
			y[i] = g[r] * x[i]
		}
	}
	return y, g
}

// refAGMMBackward is the analytic backward pass of spec §2.3 written from the formulas.
func refAGMMBackward(T, N, D int, x, alpha, gy []float64, detach bool) (gx, galpha []float64) {
	gx = make([]float64, len(x))
	galpha = make([]float64, T)
	for r := range T * N {
		t := r / N
		var m, dot float64
		for i := r * D; i < (r+1)*D; i++ {
			m += x[i]
			dot += gy[i] * x[i]
		}
		m /= float64(D)
		sg := 1 / (1 + math.Exp(-m))
		c := 0.0
		if !detach {
			c = alpha[t] * sg * (1 - sg) * dot / float64(D)
		}
		for i := r * D; i < (r+1)*D; i++ {
			gx[i] = alpha[t]*sg*gy[i] + c
		}
		galpha[t] += sg * dot
	}
	return gx, galpha
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
