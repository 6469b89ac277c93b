package spiking

import (
	"fmt"
	"math"
	"strings"

	"github.com/bsnnctl/bsnnctl/ops/kernels"
)

// LIFParams are the attributes of bsnn.custom_op.snn::LIF and ::LIFStep (spec §2.2).
// The zero value is not valid (Tau and SurrogateAlpha are 0); start from DefaultLIF.
type LIFParams struct {
	// Tau is the membrane time constant; the leak per step is k = 1/Tau. Tau must be in
	// [1, +Inf]: Tau = 1 keeps no memory between steps, Tau = +Inf (k = 0) is a non-leaky
	// integrate-and-fire neuron.
	Tau float32
	// VThreshold is the firing threshold: S = 1[H >= VThreshold].
	VThreshold float32
	// VReset is the initial membrane V_0, the value a hard reset sets, and the potential
	// the leak decays towards.
	VReset float32
	// DecayInput scales the input by k as well: H = V - (V - VReset)*k + k*X.
	DecayInput bool
	// SoftReset subtracts VThreshold on a spike instead of setting VReset.
	SoftReset bool
	// DetachReset stops the gradient through S in the reset term (training only).
	DetachReset bool
	// Surrogate and SurrogateAlpha (> 0) choose dS/dH for the backward pass (training only).
	Surrogate      Surrogate
	SurrogateAlpha float32
}

// DefaultLIF returns the spec defaults: tau 2, v_threshold 1, v_reset 0, decay_input 0,
// soft_reset 0, detach_reset 0, surrogate triangle, surrogate_alpha 1. With them
// H_t = 0.5*V_{t-1} + X_t and a spike resets the membrane to 0.
func DefaultLIF() LIFParams {
	return LIFParams{Tau: 2, VThreshold: 1, VReset: 0, Surrogate: Triangle, SurrogateAlpha: 1}
}

// Validate reports (wrapping ErrParam) every attribute that is out of range: Tau not in
// [1, +Inf], a non-finite VThreshold or VReset, SurrogateAlpha not finite and > 0, or an
// unknown Surrogate.
func (p LIFParams) Validate() error {
	var bad []string
	if !(p.Tau >= 1) { // also rejects NaN
		bad = append(bad, fmt.Sprintf("tau = %g (want 1 <= tau <= +Inf)", p.Tau))
	}
	if !finite(p.VThreshold) {
		bad = append(bad, fmt.Sprintf("v_threshold = %g (want finite)", p.VThreshold))
	}
	if !finite(p.VReset) {
		bad = append(bad, fmt.Sprintf("v_reset = %g (want finite)", p.VReset))
	}
	if !(p.SurrogateAlpha > 0) || !finite(p.SurrogateAlpha) {
		bad = append(bad, fmt.Sprintf("surrogate_alpha = %g (want finite and > 0)", p.SurrogateAlpha))
	}
	if !p.Surrogate.valid() {
		bad = append(bad, fmt.Sprintf("surrogate = %v", p.Surrogate))
	}
	if bad != nil {
		return fmt.Errorf("%w: LIF: %s", ErrParam, strings.Join(bad, ", "))
	}
	return nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// lifConsts holds the per-call constants, computed once in float32.
type lifConsts struct {
	k      float32 // 1/tau
	decay  float32 // 1 - k = dH_t/dV_{t-1}
	a      float32 // input gain: k if decay_input, else 1
	vth    float32
	vr     float32
	soft   bool
	detach bool
	sur    Surrogate
	alpha  float32
	vec    lifVec // the same constants for the assembly rows
}

// lifVec is the constant block the assembly rows read (lif_amd64.s).
type lifVec struct {
	k, a, vth, vr float32
	soft          int32
	alpha, inv    float32 // surrogate width and 1/alpha^2 (triangle)
	decay         float32
	one, half     float32
	absMask       uint32
}

// forceGo makes the kernels use the Go loops even where assembly exists
// (tests compare the two).
var forceGo bool

func (p LIFParams) consts() lifConsts {
	k := 1 / p.Tau
	a := float32(1)
	if p.DecayInput {
		a = k
	}
	c := lifConsts{
		k: k, decay: 1 - k, a: a, vth: p.VThreshold, vr: p.VReset,
		soft: p.SoftReset, detach: p.DetachReset, sur: p.Surrogate, alpha: p.SurrogateAlpha,
	}
	c.vec = lifVec{k: c.k, a: c.a, vth: c.vth, vr: c.vr, alpha: c.alpha, inv: 1 / (c.alpha * c.alpha),
		decay: c.decay, one: 1, half: 0.5, absMask: 1<<31 - 1}
	if c.soft {
		c.vec.soft = 1
	}
	return c
}

// An Affine maps a LIF's inputs before the neurons see them:
// X' = X*A[c] + B[c], the product rounded first, plus R[j] when R is not
// nil (j the element's index in X), where neuron i of the [T, M] layout
// belongs to channel c = (i/S) % len(A). It is the BatchNormalization (and
// the residual Add) feeding the neurons in a BSNN's [T*N, C, S] layout
// (A = scale/sqrt(var+eps), B = bias - mean*A), applied on the fly so that
// the normalized tensor (and the sum) is never written.
type Affine struct {
	S    int
	A, B []float32
	R    []float32
	// Mean and RowSums, when both are set, make LIFBackwardAffine also
	// compute the sums the BatchNormalization's backward pass needs, while
	// the gradient is in cache: for every run of S elements of one channel
	// (row r = index/S of the [T*N*C, S] view of X, channel r % C),
	// RowSums[2r] = sum(g) and RowSums[2r+1] = sum(g*(X-Mean[c])) of the
	// run's gradient g, as kernels.SumDyDx computes them. They are only
	// computed when S divides lifChunk (SumsOK); RowSums has 2*T*M/S
	// values.
	Mean, RowSums []float32
}

// SumsOK reports whether LIFBackwardAffine computes a's row sums (Mean and
// RowSums set, and channel runs that a chunk of neurons holds whole).
func (a *Affine) SumsOK() bool {
	return a != nil && a.Mean != nil && a.RowSums != nil && a.S <= lifChunk && lifChunk%a.S == 0
}

func (a *Affine) check(op string, n int) error {
	if a.S < 1 || len(a.A) == 0 || len(a.B) != len(a.A) {
		return fmt.Errorf("%w: %s: affine with S = %d, %d scales and %d offsets", ErrShape, op, a.S, len(a.A), len(a.B))
	}
	if a.R != nil {
		if err := checkLen(op, "residual", a.R, n); err != nil {
			return err
		}
	}
	if a.SumsOK() && (len(a.Mean) != len(a.A) || len(a.RowSums) != 2*(n/a.S)) {
		return fmt.Errorf("%w: %s: %d means and %d row sums for %d channels and %d runs", ErrShape, op, len(a.Mean), len(a.RowSums), len(a.A), n/a.S)
	}
	return nil
}

// fireRow runs one step for a row of neurons: from the membranes v and the
// inputs x it writes the spikes into s and the membranes after the reset
// back into v, and returns the number of spikes. With aff (not nil), the
// inputs are mapped, the row's first neuron being neuron i0.
// The element offset off locates the row in X (for the residual).
func (c *lifConsts) fireRow(x, v, s []float32, aff *Affine, i0, off int) int {
	if aff == nil {
		return c.fireRun(x, v, s, false, 1, 0, nil)
	}
	spikes := 0
	aff.channelRuns(len(v), i0, off, func(lo, hi int, a, b float32, r []float32) {
		spikes += c.fireRun(x[lo:hi], v[lo:hi], s[lo:hi], true, a, b, r)
	})
	return spikes
}

// channelRuns splits a row of n neurons, the first being neuron i0 at
// element offset off, into runs of one channel and calls f with each run's
// bounds, its channel's factors and its slice of the residual (nil without).
func (aff *Affine) channelRuns(n, i0, off int, f func(lo, hi int, a, b float32, r []float32)) {
	for lo := 0; lo < n; {
		ch := (i0 + lo) / aff.S
		hi := min(n, (ch+1)*aff.S-i0)
		ch %= len(aff.A)
		var r []float32
		if aff.R != nil {
			r = aff.R[off+lo : off+hi]
		}
		f(lo, hi, aff.A[ch], aff.B[ch], r)
		lo = hi
	}
}

func (c *lifConsts) fireRun(x, v, s []float32, affine bool, a, b float32, r []float32) int {
	done, spikes := fireRowAsm(c, x, v, s, affine, a, b, r)
	x, s = x[:len(v)], s[:len(v)]
	for i := done; i < len(v); i++ {
		s[i], v[i] = c.fire(c.charge(v[i], mapInput(x, i, affine, a, b, r)))
		spikes += int(s[i])
	}
	return spikes
}

// mapInput returns input i mapped as an Affine does.
func mapInput(x []float32, i int, affine bool, a, b float32, r []float32) float32 {
	xi := x[i]
	if affine {
		xi = float32(xi*a) + b
		if r != nil {
			xi += r[i]
		}
	}
	return xi
}

// chargeRow is fireRow keeping H (into h) instead of the spikes.
func (c *lifConsts) chargeRow(x, v, h []float32, aff *Affine, i0, off int) {
	if aff == nil {
		c.chargeRun(x, v, h, false, 1, 0, nil)
		return
	}
	aff.channelRuns(len(v), i0, off, func(lo, hi int, a, b float32, r []float32) {
		c.chargeRun(x[lo:hi], v[lo:hi], h[lo:hi], true, a, b, r)
	})
}

func (c *lifConsts) chargeRun(x, v, h []float32, affine bool, a, b float32, r []float32) {
	x, h = x[:len(v)], h[:len(v)]
	for i := chargeRowAsm(c, x, v, h, affine, a, b, r); i < len(v); i++ {
		h[i] = c.charge(v[i], mapInput(x, i, affine, a, b, r))
		_, v[i] = c.fire(h[i])
	}
}

// backStep runs one reverse step of BPTT for a row (backRow after the
// surrogate; sg is scratch of the row's length).
func (c *lifConsts) backStep(h, sg, gs, gv []float32) {
	done := backRowAsm(c, h, gs, gv)
	if done == len(h) {
		return
	}
	h, sg, gs, gv = h[done:], sg[done:len(h)], gs[done:len(h)], gv[done:len(h)]
	c.sur.gradSlice(sg, h, c.vth, c.alpha)
	c.backRow(h, sg, gs, gv)
}

// charge returns H = V - (V - v_reset)*k + a*X in the documented float32 order. The explicit
// float32 conversions forbid the compiler from fusing a product with the following add
// (Go spec, "Arithmetic operators"), which would round differently from onnxruntime.
func (c *lifConsts) charge(v, x float32) float32 {
	return v - float32((v-c.vr)*c.k) + float32(c.a*x)
}

// fire returns S = 1[H >= v_threshold] and the membrane after the reset.
func (c *lifConsts) fire(h float32) (s, v float32) {
	s = b2f(h >= c.vth)
	if c.soft {
		return s, h - float32(s*c.vth)
	}
	return s, h - float32(s*(h-c.vr))
}

// backRow runs one reverse step of BPTT for a row of neurons. On entry h holds H_t, sg the
// surrogate dS_t/dH_t, gs dL/dS_t and gv dL/dV_t (everything downstream of V_t); on return h
// holds dL/dX_t and gv holds dL/dV_{t-1}. The reset mode is constant per call, so the switch
// stays outside the loops.
func (c *lifConsts) backRow(h, sg, gs, gv []float32) {
	sg, gs, gv = sg[:len(h)], gs[:len(h)], gv[:len(h)]
	switch {
	case c.soft && c.detach: // dV/dH = 1
		for i := range h {
			h[i], gv[i] = c.grads(gs[i], sg[i], gv[i], 1)
		}
	case c.soft: // dV/dH = 1 - v_th*sg
		for i := range h {
			h[i], gv[i] = c.grads(gs[i], sg[i], gv[i], 1-float32(c.vth*sg[i]))
		}
	case c.detach: // dV/dH = 1 - S
		for i, hi := range h {
			h[i], gv[i] = c.grads(gs[i], sg[i], gv[i], 1-b2f(hi >= c.vth))
		}
	default: // dV/dH = 1 - S - (H - v_reset)*sg
		for i, hi := range h {
			h[i], gv[i] = c.grads(gs[i], sg[i], gv[i], 1-b2f(hi >= c.vth)-float32((hi-c.vr)*sg[i]))
		}
	}
}

// grads returns dL/dX_t = a*gH and dL/dV_{t-1} = (1-k)*gH for gH = gs*sg + gv*dvdh = dL/dH_t.
func (c *lifConsts) grads(gs, sg, gv, dvdh float32) (gx, gvPrev float32) {
	gh := float32(gs*sg) + float32(gv*dvdh)
	return float32(c.a * gh), float32(c.decay * gh)
}

// lifChunk is the number of neurons (columns of the [T, M] layout) processed together: their
// membrane and gradient state lives in stack arrays, and in the backward pass their T values
// of H stay in L1 between the forward and the backward sweep.
const lifChunk = 1024

// LIFForward runs the multi-step LIF of spec §2.2 over a time-major input.
//
// x and s are [T*M] (index t*M + i: step t of neuron i, where M is the product of the non-time
// dimensions); vT is [M] or nil and receives the final membrane V_T (V_0 = v_reset when T = 0).
// Every spike is exactly 0 or 1. s may be the same slice as x (in place); no other overlap
// between arguments is allowed. Each step evaluates, in float32 with one rounding per
// operation (see the package documentation for the exact order):
//
//	H = V - (V - v_reset)*k + a*X;  S = 1[H >= v_threshold]
//	hard reset: V = H - S*(H - v_reset);  soft reset: V = H - S*v_threshold
//
// so the spikes are bit-identical to an onnxruntime run of an ONNX function body that follows
// the same order (each node an IEEE float32 operation, no contraction into FMA, no
// flush-to-zero). Large inputs are split over M between two goroutines.
func LIFForward(p LIFParams, T, M int, x, s, vT []float32) error {
	return lifForward("LIFForward", p, T, M, x, nil, s, vT, nil)
}

// LIFForwardCount is LIFForward that also writes into counts [T] the
// number of spikes at each step, counted in the same pass over the data
// (counts[t]/M is the firing rate at step t).
func LIFForwardCount(p LIFParams, T, M int, x, s, vT []float32, counts []int64) error {
	return lifForward("LIFForwardCount", p, T, M, x, nil, s, vT, counts)
}

// LIFForwardAffine is LIFForwardCount on the inputs mapped by aff (nil: not
// mapped); counts may be nil. s must not be x when aff is not nil.
func LIFForwardAffine(p LIFParams, T, M int, x []float32, aff *Affine, s, vT []float32, counts []int64) error {
	return lifForward("LIFForwardAffine", p, T, M, x, aff, s, vT, counts)
}

// lifForward checks and runs a forward call (aff and counts may be nil).
func lifForward(op string, p LIFParams, T, M int, x []float32, aff *Affine, s, vT []float32, counts []int64) error {
	n, err := lifCheck(op, p, T, M)
	if err == nil {
		err = firstErr(checkLen(op, "x", x, n), checkLen(op, "s", s, n), checkOptLen(op, "vT", vT, M))
	}
	if err == nil && counts != nil && len(counts) != T {
		err = fmt.Errorf("%w: %s: counts has %d values, want T = %d", ErrShape, op, len(counts), T)
	}
	if err == nil && aff != nil {
		err = aff.check(op, n)
	}
	if err != nil {
		return err
	}
	lifJob{kind: lifFwd, c: p.consts(), T: T, M: M, x: x, s: s, vOut: vT, counts: counts, aff: aff}.run(numParts(M, n, partAlign))
	return nil
}

// LIFBackwardAffine is LIFBackward for LIFForwardAffine: the forward input
// is x mapped by aff, and gx receives dL/d(mapped X), the gradient the
// layer that computes the mapping (the BatchNormalization) takes.
func LIFBackwardAffine(p LIFParams, T, M int, x []float32, aff *Affine, gs, gvT, gx []float32) error {
	return lifBackward("LIFBackwardAffine", p, T, M, x, aff, gs, gvT, gx)
}

// lifBackward checks and runs a backward call (aff may be nil).
func lifBackward(op string, p LIFParams, T, M int, x []float32, aff *Affine, gs, gvT, gx []float32) error {
	n, err := lifCheck(op, p, T, M)
	if err == nil {
		err = firstErr(checkLen(op, "x", x, n), checkLen(op, "gs", gs, n),
			checkOptLen(op, "gvT", gvT, M), checkLen(op, "gx", gx, n))
	}
	if err == nil && n > 0 && &gx[0] == &gs[0] {
		err = fmt.Errorf("%w: %s: gx must not alias gs", ErrShape, op)
	}
	if err == nil && aff != nil {
		err = aff.check(op, n)
	}
	if err != nil {
		return err
	}
	j := lifJob{kind: lifBwd, c: p.consts(), T: T, M: M, x: x, aff: aff, gs: gs, gvIn: gvT, gx: gx}
	if aff.SumsOK() {
		// Parts and chunks start on runs: a part is a whole number of
		// lifChunk-neuron chunks.
		j.align = lifChunk
	}
	j.run(numParts(M, n, max(partAlign, j.align)))
	return nil
}

// LIFBackward is the backward pass of LIFForward: full backpropagation through time, with the
// spike derivative dS/dH replaced by p.Surrogate at u = H - v_threshold.
//
// x is the forward input [T*M]; gs = dL/dS [T*M]; gvT = dL/dV_T [M], or nil for zero; gx
// [T*M] receives dL/dX (overwritten). gx may be the same slice as x; it must not overlap gs or
// gvT. No workspace is needed: the kernel recomputes H from x with the forward formulas,
// keeping H_t in gx until dL/dX_t replaces it, then sweeps backward in time:
//
//	gV_T = gvT (or 0)
//	for t = T-1 .. 0 (per neuron), with S_t = 1[H_t >= v_th] and sg_t = surrogate(H_t - v_th):
//	  dV_t/dH_t = 1 - S_t - (H_t - v_reset)*sg_t  hard reset
//	            = 1 - S_t                         hard reset, detach_reset
//	            = 1 - v_th*sg_t                   soft reset
//	            = 1                               soft reset, detach_reset
//	  gH_t      = gs_t*sg_t + gV_t*dV_t/dH_t
//	  gx_t      = a*gH_t                          (dH_t/dX_t = a)
//	  gV_{t-1}  = (1 - k)*gH_t                    (dH_t/dV_{t-1} = 1 - k)
//
// V_0 = v_reset is a constant, so gV_0 is dropped. Large inputs are split over M between two
// goroutines; nothing is allocated per call.
func LIFBackward(p LIFParams, T, M int, x, gs, gvT, gx []float32) error {
	return lifBackward("LIFBackward", p, T, M, x, nil, gs, gvT, gx)
}

// LIFStep is one step of LIFForward from an explicit state (bsnn.custom_op.snn::LIFStep):
// from the membrane v before the step and the input x it computes the spikes s and the
// membrane vNext after the step, with the same float32 operations as LIFForward, so T calls
// starting from v = v_reset reproduce LIFForward bit for bit. All slices are [M]. vNext may be
// the same slice as v and s the same slice as x (in place).
func LIFStep(p LIFParams, x, v, s, vNext []float32) error {
	const op = "LIFStep"
	M := len(x)
	err := p.Validate()
	if err == nil {
		err = firstErr(checkLen(op, "v", v, M), checkLen(op, "s", s, M), checkLen(op, "vNext", vNext, M))
	}
	if err != nil {
		return err
	}
	lifJob{kind: lifStepFwd, c: p.consts(), M: M, x: x, v: v, s: s, vOut: vNext}.run(numParts(M, M, partAlign))
	return nil
}

// LIFStepBackward is the backward pass of LIFStep (one step of LIFBackward's recurrence):
// given the step's inputs x and v, gs = dL/dS and gvNext = dL/dV_next (nil for zero), it
// writes gx = dL/dx and, unless gv is nil, gv = dL/dv. All slices are [M]. Outputs may be the
// same slice as an input (in place). Chaining it backward over T steps reproduces LIFBackward
// bit for bit.
func LIFStepBackward(p LIFParams, x, v, gs, gvNext, gx, gv []float32) error {
	const op = "LIFStepBackward"
	M := len(x)
	err := p.Validate()
	if err == nil {
		err = firstErr(checkLen(op, "v", v, M), checkLen(op, "gs", gs, M),
			checkOptLen(op, "gvNext", gvNext, M), checkLen(op, "gx", gx, M), checkOptLen(op, "gv", gv, M))
	}
	if err != nil {
		return err
	}
	lifJob{kind: lifStepBwd, c: p.consts(), M: M, x: x, v: v, gs: gs, gvIn: gvNext, gx: gx, gvOut: gv}.run(numParts(M, M, partAlign))
	return nil
}

func lifCheck(op string, p LIFParams, T, M int) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	return checkDims(op, T, M)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// lifForwardRange runs LIFForward for neurons [lo, hi), adding the number
// of spikes at step t to counts[t] when counts is not nil.
func lifForwardRange(c *lifConsts, T, M int, x, s, vT []float32, aff *Affine, counts []int64, lo, hi int) {
	var vb [lifChunk]float32
	for c0 := lo; c0 < hi; c0 += lifChunk {
		v := vb[:min(lifChunk, hi-c0)]
		for i := range v {
			v[i] = c.vr
		}
		for t := range T {
			off := t*M + c0
			n := c.fireRow(x[off:off+len(v)], v, s[off:off+len(v)], aff, c0, off)
			if counts != nil {
				counts[t] += int64(n)
			}
		}
		if vT != nil {
			copy(vT[c0:], v)
		}
	}
}

// lifBackwardRange runs LIFBackward for neurons [lo, hi).
func lifBackwardRange(c *lifConsts, T, M int, x []float32, aff *Affine, gs, gvT, gx []float32, lo, hi int) {
	var vb, sgb [lifChunk]float32
	for c0 := lo; c0 < hi; c0 += lifChunk {
		n := min(lifChunk, hi-c0)
		// Forward sweep: H_t into gx.
		v := vb[:n]
		for i := range v {
			v[i] = c.vr
		}
		for t := range T {
			off := t*M + c0
			c.chargeRow(x[off:off+n], v, gx[off:off+n], aff, c0, off)
		}
		// Backward sweep: v now holds dL/dV_t.
		gv := v
		if gvT != nil {
			copy(gv, gvT[c0:c0+n])
		} else {
			clear(gv)
		}
		sg := sgb[:n]
		for t := T - 1; t >= 0; t-- {
			off := t*M + c0
			c.backStep(gx[off:off+n], sg, gs[off:off+n], gv)
			if aff.SumsOK() {
				aff.rowSums(gx, x, off, n)
			}
		}
	}
}

// rowSums computes the row sums of the runs of elements [off, off+n) (whole
// runs: a chunk starts on a run and S divides the chunk).
func (a *Affine) rowSums(g, x []float32, off, n int) {
	for r0 := off; r0 < off+n; r0 += a.S {
		r := r0 / a.S
		s1, s2 := kernels.SumDyDx(g[r0:r0+a.S], x[r0:r0+a.S], a.Mean[r%len(a.A)])
		a.RowSums[2*r], a.RowSums[2*r+1] = s1, s2
	}
}

// lifStepRange runs LIFStep for neurons [lo, hi).
func lifStepRange(c *lifConsts, x, v, s, vNext []float32, lo, hi int) {
	x, v, s, vNext = x[lo:hi], v[lo:hi], s[lo:hi], vNext[lo:hi]
	for i, xi := range x {
		s[i], vNext[i] = c.fire(c.charge(v[i], xi))
	}
}

// lifStepBackwardRange runs LIFStepBackward for neurons [lo, hi).
func lifStepBackwardRange(c *lifConsts, x, v, gs, gvNext, gx, gv []float32, lo, hi int) {
	var hb, sgb, gvb [lifChunk]float32
	for c0 := lo; c0 < hi; c0 += lifChunk {
		c1 := min(c0+lifChunk, hi)
		h, sg, g := hb[:c1-c0], sgb[:c1-c0], gvb[:c1-c0]
		xr, vr := x[c0:c1], v[c0:c1]
		for i, xi := range xr {
			h[i] = c.charge(vr[i], xi)
		}
		c.sur.gradSlice(sg, h, c.vth, c.alpha)
		if gvNext != nil {
			copy(g, gvNext[c0:c1])
		} else {
			clear(g)
		}
		c.backRow(h, sg, gs[c0:c1], g)
		copy(gx[c0:c1], h)
		if gv != nil {
			copy(gv[c0:c1], g)
		}
	}
}

type lifKind uint8

const (
	lifFwd lifKind = iota
	lifBwd
	lifStepFwd
	lifStepBwd
)

// lifJob is one LIF kernel call: its kind, constants, sizes and slices (vOut is V_T or vNext,
// gvIn is gvT or gvNext, gvOut is the step backward's gv).
type lifJob struct {
	kind                               lifKind
	c                                  lifConsts
	T, M                               int
	x, v, s, vOut, gs, gvIn, gx, gvOut []float32
	aff                                *Affine
	// counts [T] receives the spike counts of a forward call (nil: not
	// counted); partCounts [parts*T] holds each part's, summed in part
	// order at the end.
	counts, partCounts []int64
	align              int // part boundaries are multiples of it (0: partAlign)
}

var lifJobs jobPool[lifJob]

// run executes the call described by j over its M neurons in parts pieces.
func (j lifJob) run(parts int) {
	pj := lifJobs.get()
	j.partCounts = pj.partCounts[:0]
	*pj = j
	if j.counts != nil {
		pj.partCounts = growInt64(pj.partCounts, parts*j.T)
		clear(pj.partCounts)
	}
	runParts(pj, j.M, parts, max(partAlign, j.align))
	if j.counts != nil {
		clear(j.counts)
		for part := range parts {
			for t, c := range pj.partCounts[part*j.T : (part+1)*j.T] {
				j.counts[t] += c
			}
		}
	}
	lifJobs.put(pj)
}

func (j *lifJob) reset() { *j = lifJob{partCounts: j.partCounts[:0]} }

func growInt64(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

func (j *lifJob) runRange(part, lo, hi int) {
	switch j.kind {
	case lifFwd:
		var counts []int64
		if j.counts != nil {
			counts = j.partCounts[part*j.T : (part+1)*j.T]
		}
		lifForwardRange(&j.c, j.T, j.M, j.x, j.s, j.vOut, j.aff, counts, lo, hi)
	case lifBwd:
		lifBackwardRange(&j.c, j.T, j.M, j.x, j.aff, j.gs, j.gvIn, j.gx, lo, hi)
	case lifStepFwd:
		lifStepRange(&j.c, j.x, j.v, j.s, j.vOut, lo, hi)
	case lifStepBwd:
		lifStepBackwardRange(&j.c, j.x, j.v, j.gs, j.gvIn, j.gx, j.gvOut, lo, hi)
	}
}
