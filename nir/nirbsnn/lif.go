package nirbsnn

import (
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// DefaultDT is the time step, in seconds, that one BSNN step stands for in
// NIR's continuous time: snnTorch's and SpikingJelly's NIR exchange both
// assume 1e-4 (their import functions' default dt).
const DefaultDT = 1e-4

// Our LIF (spec §2.2), per step with k = 1/tau and a = k (decay_input) or 1:
//
//	H = V - (V - v_reset)·k + a·X;  S = 1[H >= v_threshold];  V = v_reset where S
//
// NIR's LIF, τ_n·dv/dt = (v_leak - v) + r·I with z = 1[v > v_threshold] and
// v = v_reset on z, integrated by forward Euler over one step dt as
// snnTorch's and SpikingJelly's importers do:
//
//	v' = v + (dt/τ_n)·(v_leak - v) + (dt·r/τ_n)·I
//
// The two agree term by term with τ_n = tau·dt, v_leak = v_reset and
// r = tau (a = 1) or r = 1 (a = k); a non-leaky neuron (tau = +Inf) is NIR's
// IF, dv/dt = r·I, with r = 1/dt. The spike conditions differ (≥ against
// >): on float32 membranes, v >= θ holds exactly when v > θ⁻, θ⁻ the
// largest float32 below θ, so v_threshold is written as θ⁻ and read back as
// the smallest float32 above it.

// thresholdBelow is the largest float32 below θ: NIR's v > θ⁻ is our
// v >= θ on float32 values.
func thresholdBelow(theta float32) float64 {
	return float64(math.Nextafter32(theta, float32(math.Inf(-1))))
}

// thresholdAbove is the smallest float32 strictly above a NIR threshold:
// our v >= θ is NIR's v > t on float32 values. It inverts thresholdBelow.
func thresholdAbove(t float64) float32 {
	f := float32(t)
	if float64(f) <= t {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// neuronNode is the NIR node for a LIF layer of per-sample shape shape.
func neuronNode(p spiking.LIFParams, shape []int, dt float64) (nir.Node, error) {
	if p.SoftReset {
		return nil, fmt.Errorf("soft reset (V -= v_threshold on a spike) has no NIR equivalent: NIR's LIF and IF reset to v_reset")
	}
	theta := nir.Full(shape, thresholdBelow(p.VThreshold))
	reset := nir.Full(shape, float64(p.VReset))
	tau := float64(p.Tau)
	if math.IsInf(tau, 1) {
		if p.DecayInput {
			return nil, fmt.Errorf("tau = inf with decay_input = 1 ignores its input (k·X with k = 0)")
		}
		return &nir.IF{R: nir.Full(shape, 1/dt), VThreshold: theta, VReset: reset}, nil
	}
	r := tau
	if p.DecayInput {
		r = 1
	}
	return &nir.LIF{Tau: nir.Full(shape, tau*dt), R: nir.Full(shape, r), VLeak: nir.Full(shape, float64(p.VReset)),
		VThreshold: theta, VReset: reset}, nil
}

// A lifMapping is our LIF for a NIR neuron, with the input factor our
// LIF's a cannot take (NIR's r other than tau or 1).
type lifMapping struct {
	params spiking.LIFParams
	// gain multiplies the input before the LIF (1: none).
	gain float64
}

// uniform returns the one value of a neuron parameter.
func uniform(field string, t nir.Tensor) (float64, error) {
	v, ok := t.Uniform()
	if !ok {
		return 0, fmt.Errorf("%s differs between neurons (a bsnn LIF layer has one value per layer)", field)
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%s is %v", field, v)
	}
	return v, nil
}

// closeTo reports |a - b| <= 1e-6·|b|: parameters that went through
// float32 or a different dt in the exporter.
func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Abs(b) }

// fromLIF maps a NIR LIF to our LIF for time step dt.
func fromLIF(n *nir.LIF, dt float64) (lifMapping, error) {
	var vals [5]float64
	for i, f := range []struct {
		name string
		t    nir.Tensor
	}{{"tau", n.Tau}, {"r", n.R}, {"v_leak", n.VLeak}, {"v_threshold", n.VThreshold}, {"v_reset", n.VReset}} {
		v, err := uniform(f.name, f.t)
		if err != nil {
			return lifMapping{}, err
		}
		vals[i] = v
	}
	tauN, r, leak, theta, reset := vals[0], vals[1], vals[2], vals[3], vals[4]
	if tauN <= 0 {
		return lifMapping{}, fmt.Errorf("tau = %g is not positive", tauN)
	}
	tau := tauN / dt
	if tau < 1 {
		return lifMapping{}, fmt.Errorf("tau/dt = %g/%g < 1: one forward-Euler step would overshoot (our LIF needs tau >= 1 step; import with a smaller --nir-dt)", tauN, dt)
	}
	if !closeTo(leak, reset) {
		return lifMapping{}, fmt.Errorf("v_leak = %g differs from v_reset = %g (our LIF leaks towards v_reset)", leak, reset)
	}
	p := spiking.DefaultLIF()
	p.Tau = float32(tau)
	p.VThreshold = thresholdAbove(theta)
	p.VReset = float32(reset)
	m := lifMapping{params: p, gain: 1}
	switch {
	case closeTo(r, tau):
	case closeTo(r, 1):
		m.params.DecayInput = true
	default:
		m.gain = r / tau
	}
	return m, m.params.Validate()
}

// fromIF maps a NIR IF (dv/dt = r·I) to our LIF with tau = +Inf.
func fromIF(n *nir.IF, dt float64) (lifMapping, error) {
	r, err := uniform("r", n.R)
	if err != nil {
		return lifMapping{}, err
	}
	theta, err := uniform("v_threshold", n.VThreshold)
	if err != nil {
		return lifMapping{}, err
	}
	reset, err := uniform("v_reset", n.VReset)
	if err != nil {
		return lifMapping{}, err
	}
	p := spiking.DefaultLIF()
	p.Tau = float32(math.Inf(1))
	p.VThreshold = thresholdAbove(theta)
	p.VReset = float32(reset)
	m := lifMapping{params: p, gain: 1}
	if g := r * dt; !closeTo(g, 1) {
		m.gain = g
	}
	return m, p.Validate()
}
