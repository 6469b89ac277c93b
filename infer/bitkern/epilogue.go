package bitkern

import (
	"errors"
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// Affine is a per-channel y = x*Scale[m] + Shift[m], evaluated in float32 as
// y = float32(x*Scale[m]) + Shift[m] (two roundings, no fused multiply-add):
// the order in which the float engine (ops/norm.go) applies an
// inference-mode BatchNormalization, so that the results agree bit for bit.
type Affine struct {
	Scale, Shift []float32
}

// BatchNorm returns the Affine of an inference-mode BatchNormalization with
// the given parameters and running statistics, computed exactly as the float
// engine computes it: invStd = 1/float32(sqrt(float64(var+eps))) in float32,
// Scale = invStd*gamma, Shift = beta - float32(mean*Scale).
func BatchNorm(gamma, beta, mean, variance []float32, eps float32) (Affine, error) {
	m := len(gamma)
	if len(beta) != m || len(mean) != m || len(variance) != m {
		return Affine{}, fmt.Errorf("bitkern: BatchNorm: scale, B, mean and var have %d, %d, %d and %d elements",
			m, len(beta), len(mean), len(variance))
	}
	a := Affine{Scale: make([]float32, m), Shift: make([]float32, m)}
	for c := range m {
		invStd := 1 / float32(math.Sqrt(float64(variance[c]+eps)))
		s := invStd * gamma[c]
		a.Scale[c] = s
		a.Shift[c] = beta[c] - float32(mean[c]*s)
	}
	return a, nil
}

// Epilogue is what a fused convolution does with the exact integer sums
// acc of each output (step t, sample n, pixel, channel m), in this order,
// every step one float32 operation:
//
//	x = float32(acc)                      exact: |acc| < 2^24
//	x = x * Gate[t*N+n]                   when Gate is set (AGMMGate: conv(g·s) = g·conv(s))
//	y = float32(x*Scale[m]) + Shift[m]    when Affine is set (BatchNormalization)
//	y = y + residual                      when Residual or ResidualSpikes is set (Add)
//	spike = LIF(y)                        for the Spikes output (spiking.LIFForward's operations)
//
// Without Gate the float engine's convolution of spikes and ±1 weights
// gives exactly float32(acc), so the whole chain matches it bit for bit. A
// gate multiplies after the exact sum, where the float engine sums the
// gated inputs (rounding after every term): the two may differ in the last
// bit.
type Epilogue struct {
	Affine Affine
	// Gate holds one factor per image (T*N), or is nil.
	Gate []float32
	// Residual is a float32 tensor shaped like the output, channels last
	// ([T*N, OutH, OutW, M]), or nil.
	Residual []float32
	// ResidualSpikes are packed spikes shaped like the output (T*N images of
	// OutH x OutW pixels of M channels), added as 0/1, or nil.
	ResidualSpikes []uint64
	// LIF is the neuron of the Spikes output (ignored by Float32).
	LIF spiking.LIFParams
}

// check validates e for the convolution c run on images = T*N images.
func (e *Epilogue) check(c *Conv, spikes bool) error {
	p := c.p
	var errs []error
	if e.Affine.Scale != nil || e.Affine.Shift != nil {
		if len(e.Affine.Scale) != p.M || len(e.Affine.Shift) != p.M {
			errs = append(errs, fmt.Errorf("affine has %d scales and %d shifts, want M = %d", len(e.Affine.Scale), len(e.Affine.Shift), p.M))
		}
	}
	if e.Gate != nil && len(e.Gate) != p.N {
		errs = append(errs, fmt.Errorf("gate has %d factors, want one per image (%d)", len(e.Gate), p.N))
	}
	out := p.N * c.oh * c.ow
	if e.Residual != nil && len(e.Residual) != out*p.M {
		errs = append(errs, fmt.Errorf("residual has %d values, want %d", len(e.Residual), out*p.M))
	}
	if e.ResidualSpikes != nil && len(e.ResidualSpikes) != out*Words(p.M) {
		errs = append(errs, fmt.Errorf("residual spikes have %d words, want %d", len(e.ResidualSpikes), out*Words(p.M)))
	}
	if e.Residual != nil && e.ResidualSpikes != nil {
		errs = append(errs, errors.New("both Residual and ResidualSpikes are set"))
	}
	if spikes {
		if err := e.LIF.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("bitkern: invalid Epilogue: %w", errors.Join(errs...))
	}
	return nil
}

// lifConsts are LIF's float32 constants, computed as ops/spiking does.
type lifConsts struct {
	k, a, vth, vr float32
	soft          bool
}

func newLIFConsts(p spiking.LIFParams) lifConsts {
	k := 1 / p.Tau
	a := float32(1)
	if p.DecayInput {
		a = k
	}
	return lifConsts{k: k, a: a, vth: p.VThreshold, vr: p.VReset, soft: p.SoftReset}
}

// step is one LIF update of membrane v with input x in spiking.LIFForward's
// float32 operation order (see the ops/spiking package documentation):
// H = V - (V - v_reset)*k + a*X, S = H >= v_threshold, then the reset.
func (c *lifConsts) step(v, x float32) (fired bool, next float32) {
	h := v - float32((v-c.vr)*c.k) + float32(c.a*x)
	fired = h >= c.vth
	s := float32(0)
	if fired {
		s = 1
	}
	if c.soft {
		return fired, h - float32(s*c.vth)
	}
	return fired, h - float32(s*(h-c.vr))
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("bitkern: "+format, args...)
}
