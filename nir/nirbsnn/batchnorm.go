package nirbsnn

import (
	"math"

	"github.com/bsnnctl/bsnnctl/nir"
)

// The BatchNormalization of a layer, both ways (docs/spec/nir.md §4).

// bnAffine is the y = a·x + b our engine evaluates for a
// BatchNormalization in inference, in the same float32 operations
// (ops/norm.go): invStd = 1/float32(sqrt(var + eps)), a = invStd·γ,
// b = β - μ·a.
func bnAffine(gamma, beta, mean, variance []float32, eps float32) (a, b []float32) {
	a = make([]float32, len(gamma))
	b = make([]float32, len(gamma))
	for c := range gamma {
		inv := 1 / float32(math.Sqrt(float64(variance[c]+eps)))
		a[c] = float32(inv * gamma[c])
		b[c] = beta[c] - float32(mean[c]*a[c])
	}
	return a, b
}

// bnEpsilon is the epsilon of a BatchNormalization written for a NIR bias
// or scale: with var = 1 - eps, var + eps rounds to exactly 1 in float32,
// so the engine's BN(x) = x·γ + (β - μ·γ) adds no rounding of its own.
const bnEpsilon = float32(1e-5)

// bnParams are a BatchNormalization's parameters from bsnn.batchnorm.
type bnParams struct {
	scale, bias, mean, vari []float32
	eps, momentum           float32
}

// metadata is the bsnn.batchnorm group.
func (p *bnParams) metadata() nir.Metadata {
	var m nir.Metadata
	m.Set("scale", p.scale)
	m.Set("bias", p.bias)
	m.Set("mean", p.mean)
	m.Set("var", p.vari)
	m.Set("epsilon", p.eps)
	m.Set("momentum", p.momentum)
	return m
}

// readBatchNorm reads the bsnn.batchnorm group of a node's metadata for c
// channels.
func readBatchNorm(m nir.Metadata, c int) (*bnParams, bool) {
	g, ok := m.Group(MetaBatchNorm)
	if !ok {
		return nil, false
	}
	p := &bnParams{}
	for _, f := range []struct {
		key string
		dst *[]float32
	}{{"scale", &p.scale}, {"bias", &p.bias}, {"mean", &p.mean}, {"var", &p.vari}} {
		a, ok := g.Array(f.key)
		v, isF32 := a.Data.([]float32)
		if !ok || !isF32 || len(v) != c {
			return nil, false
		}
		*f.dst = v
	}
	eps, ok1 := g.Float("epsilon")
	mom, ok2 := g.Float("momentum")
	if !ok1 || !ok2 {
		return nil, false
	}
	p.eps, p.momentum = float32(eps), float32(mom)
	return p, true
}

// affine is the per-channel y = a·x + b the BatchNormalization computes, a
// multiplied by the layer's weight scale alpha (nil: 1), as Export writes it.
func (p *bnParams) affine(alpha []float32) (a, b []float32) {
	a, b = bnAffine(p.scale, p.bias, p.mean, p.vari, p.eps)
	for c := range alpha {
		a[c] *= alpha[c]
	}
	return a, b
}

// identityBN is BN(x) = x: γ 1, β 0, μ 0, var 1 - eps.
func identityBN(c int) *bnParams {
	p := &bnParams{eps: bnEpsilon, momentum: 0.9}
	p.scale, p.bias, p.mean, p.vari = make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
	for i := 0; i < c; i++ {
		p.scale[i], p.vari[i] = 1, 1-bnEpsilon
	}
	return p
}
