package spiking

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/ops/kernels"
)

// AGMMMode is the AGMMGate attribute mode (spec §2.3).
type AGMMMode int

const (
	// AGMMModeForward (default): Y = g*X; the gate changes forward activity and scales gradients.
	AGMMModeForward AGMMMode = iota
	// AGMMModeGradOnly: Y = X, while the backward pass is exactly AGMMModeForward's (an ablation that
	// scales gradients by g and still learns alpha).
	AGMMModeGradOnly
)

var agmmModeNames = [...]string{AGMMModeForward: "forward", AGMMModeGradOnly: "grad_only"}

// ParseAGMMMode returns the mode named by the attribute value "forward" or "grad_only".
func ParseAGMMMode(name string) (AGMMMode, error) {
	for i, n := range agmmModeNames {
		if n == name {
			return AGMMMode(i), nil
		}
	}
	return 0, fmt.Errorf("%w: AGMMGate mode %q (want forward or grad_only)", ErrParam, name)
}

// String returns the attribute spelling, or "AGMMMode(n)" for an invalid value.
func (m AGMMMode) String() string {
	if m >= 0 && int(m) < len(agmmModeNames) {
		return agmmModeNames[m]
	}
	return fmt.Sprintf("AGMMMode(%d)", int(m))
}

// AGMMParams are the attributes of bsnn.custom_op.snn::AGMMGate. The zero value is the spec
// default (mode forward, detach_stat 0).
type AGMMParams struct {
	Mode AGMMMode
	// DetachStat stops the gradient through the statistic m = mean(X[t,n,...]).
	DetachStat bool
}

// Validate reports an unknown Mode (wrapping ErrParam).
func (p AGMMParams) Validate() error {
	if p.Mode != AGMMModeForward && p.Mode != AGMMModeGradOnly {
		return fmt.Errorf("%w: AGMMGate: mode %v", ErrParam, p.Mode)
	}
	return nil
}

// AGMMForward computes bsnn.custom_op.snn::AGMMGate (spec §2.3) on x = X[T, N, D] (D is the
// product of the dimensions after N; row r = t*N + n is x[r*D : (r+1)*D]) and alpha [T]:
//
//	m[t,n] = mean(X[t,n,:]);  g[t,n] = alpha[t]*sigmoid(m[t,n])
//	Y[t,n,:] = g[t,n]*X[t,n,:]   (AGMMModeForward)   or   Y = X   (AGMMModeGradOnly)
//
// y is [T*N*D] and may be the same slice as x. g is [T*N] or nil and receives the gates in both
// modes (for the mean-gate metric). The mean is summed in float64 and rounded once to float32,
// the sigmoid is computed in float64 and rounded once, and then g = alpha*sigmoid and Y = g*X
// are float32 products, the order of the ONNX body ReduceMean -> Sigmoid -> Mul(alpha) -> Mul(X);
// onnxruntime's own float32 sum and sigmoid may differ from this in the last bits.
//
// Each row is read from memory once: the product pass re-reads it from cache as long as a row
// (4*D bytes) fits in L2. Large inputs are split over rows between two goroutines.
func AGMMForward(p AGMMParams, T, N, D int, x, alpha, y, g []float32) error {
	const op = "AGMMForward"
	rows, n, err := agmmCheck(op, p, T, N, D, x, alpha)
	if err == nil {
		err = firstErr(checkLen(op, "y", y, n), checkOptLen(op, "g", g, rows))
	}
	if err != nil {
		return err
	}
	j := newAGMMJob(agmmJob{fwd: true, p: p, N: N, D: D, x: x, alpha: alpha, y: y, g: g})
	runParts(j, rows, numParts(rows, n, 1), 1)
	agmmJobs.put(j)
	return nil
}

// AGMMBackward is the backward pass of AGMMGate for both modes (AGMMModeGradOnly's backward is
// AGMMModeForward's). With r[t,n] = <gy[t,n,:], x[t,n,:]> and g, m recomputed from x as in
// AGMMForward:
//
//	gx[t,n,:]  = g[t,n]*gy[t,n,:] + c[t,n],  c = alpha[t]*sig'(m[t,n])*r[t,n]/D  (c = 0 if DetachStat)
//	galpha[t]  = sum_n sigmoid(m[t,n])*r[t,n]
//
// where sig' = sig*(1-sig). gy and gx are [T*N*D]; gx is overwritten and may be the same slice
// as gy or x. galpha is [T] or nil (alpha frozen) and is overwritten, not accumulated. The two
// inner products of a row (sum of x, for m, and r) share one read of the row; the product pass
// re-reads gy from cache. m, r, c and galpha are accumulated in float64 and rounded once;
// galpha's sum over n runs in a fixed order (independent of scheduling), so it is
// deterministic. Large inputs are split over rows between two goroutines.
func AGMMBackward(p AGMMParams, T, N, D int, x, alpha, gy, gx, galpha []float32) error {
	const op = "AGMMBackward"
	rows, n, err := agmmCheck(op, p, T, N, D, x, alpha)
	if err == nil {
		err = firstErr(checkLen(op, "gy", gy, n), checkLen(op, "gx", gx, n), checkOptLen(op, "galpha", galpha, T))
	}
	if err != nil {
		return err
	}
	parts := numParts(rows, n, 1)
	j := newAGMMJob(agmmJob{p: p, N: N, D: D, x: x, alpha: alpha, gy: gy, gx: gx})
	if galpha != nil {
		j.partials = growFloat64(j.partials, parts*T)
		clear(j.partials)
		j.T = T
	}
	runParts(j, rows, parts, 1)
	for t := range galpha {
		var s float64
		for part := range parts { // fixed order
			s += j.partials[part*T+t]
		}
		galpha[t] = float32(s)
	}
	agmmJobs.put(j)
	return nil
}

func agmmCheck(op string, p AGMMParams, T, N, D int, x, alpha []float32) (rows, n int, err error) {
	if err = p.Validate(); err != nil {
		return 0, 0, err
	}
	if rows, err = checkDims(op, T, N); err != nil {
		return 0, 0, err
	}
	if n, err = checkDims(op, rows, D); err != nil {
		return 0, 0, err
	}
	if rows > 0 && D == 0 {
		return 0, 0, fmt.Errorf("%w: %s: D = 0: the mean over an empty row is undefined", ErrShape, op)
	}
	return rows, n, firstErr(checkLen(op, "x", x, n), checkLen(op, "alpha", alpha, T))
}

func growFloat64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// agmmGate returns, for a row mean computed in float64, sigmoid(m) in float64 (m the mean
// rounded to float32), its float32 rounding sig, and the float32 gate alpha*sig.
func agmmGate(mean float64, alpha float32) (sig64 float64, sig, gate float32) {
	sig64 = sigmoid64(float64(float32(mean)))
	sig = float32(sig64)
	return sig64, sig, alpha * sig
}

func agmmForwardRange(p AGMMParams, N, D int, x, alpha, y, g []float32, lo, hi int) {
	for r := lo; r < hi; r++ {
		xr, yr := x[r*D:(r+1)*D], y[r*D:(r+1)*D]
		_, _, gate := agmmGate(kernels.Sum64(xr)/float64(D), alpha[r/N])
		if g != nil {
			g[r] = gate
		}
		if p.Mode == AGMMModeGradOnly {
			copy(yr, xr)
			continue
		}
		kernels.Scale(yr, xr, gate)
	}
}

// agmmBackwardRange runs AGMMBackward for rows [lo, hi), adding each row's galpha term to
// partials[t] when partials is not nil.
func agmmBackwardRange(p AGMMParams, N, D int, x, alpha, gy, gx []float32, partials []float64, lo, hi int) {
	for r := lo; r < hi; r++ {
		t := r / N
		xr, gyr, gxr := x[r*D:(r+1)*D], gy[r*D:(r+1)*D], gx[r*D:(r+1)*D]
		sx, dot := kernels.SumDot64(xr, gyr)
		sig64, sig, gate := agmmGate(sx/float64(D), alpha[t])
		var c float32
		if !p.DetachStat {
			c = float32(float64(alpha[t]) * sig64 * (1 - sig64) * dot / float64(D))
		}
		kernels.ScaleAdd(gxr, gyr, gate, c) // no FMA: same bits on every GOAMD64 level
		if partials != nil {
			partials[t] += float64(sig) * dot
		}
	}
}

// agmmJob is one AGMM kernel call. For the backward pass with galpha, T is set and
// partials[part*T+t] collects part's share of galpha[t].
type agmmJob struct {
	fwd                    bool
	p                      AGMMParams
	T, N, D                int
	x, alpha, y, g, gy, gx []float32
	partials               []float64
}

var agmmJobs jobPool[agmmJob]

// newAGMMJob returns a pooled job set to j, with the pooled partials buffer (j.partials is
// ignored), so that no call allocates it again.
func newAGMMJob(j agmmJob) *agmmJob {
	pj := agmmJobs.get()
	j.partials = pj.partials[:0]
	*pj = j
	return pj
}

// reset drops the references to the caller's slices but keeps the partials buffer.
func (j *agmmJob) reset() { *j = agmmJob{partials: j.partials[:0]} }

func (j *agmmJob) runRange(part, lo, hi int) {
	if j.fwd {
		agmmForwardRange(j.p, j.N, j.D, j.x, j.alpha, j.y, j.g, lo, hi)
		return
	}
	var partials []float64
	if j.T > 0 {
		partials = j.partials[part*j.T : (part+1)*j.T]
	}
	agmmBackwardRange(j.p, j.N, j.D, j.x, j.alpha, j.gy, j.gx, partials, lo, hi)
}
