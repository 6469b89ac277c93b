package convert

import "math"

// DefaultBNEpsilon is epsilon of a tdBN that absorbs no source BN.
const DefaultBNEpsilon = 1e-5

// DefaultBNMomentum is the momentum of a tdBN that absorbs no source BN
// (ONNX's convention: running = momentum*running + (1-momentum)*batch).
const DefaultBNMomentum = 0.9

// bnParams are the per-channel parameters of a BatchNormalization.
type bnParams struct {
	scale, bias, mean, vari []float64
	eps, momentum           float64
}

// eval computes BN(y) for channel c in inference mode.
func (p *bnParams) eval(c int, y float64) float64 {
	return p.scale[c]*(y-p.mean[c])/math.Sqrt(p.vari[c]+p.eps) + p.bias[c]
}

// tdBNInit sets the tdBN of a binary layer (spec §3.3) so that at
// initialisation
//
//	BN'(W_bin·x) = BN_src(α ⊙ (W_bin·x) + b)
//
// where α_c = mean|W_latent[c,...]|, b is the source layer's bias (nil: 0)
// and BN_src the source BatchNormalization that consumed the layer's output
// (nil: none). Since W_latent ≈ α ⊙ W_bin this keeps the layer's function
// as close as one scale per channel allows, and it is exact for weights
// that are already ±α_c per channel.
//
// With BN_src(γ, β, μ, σ², ε):
//
//	γ' = γ, β' = β, μ' = (μ − b)/α, σ'² = (σ² + ε)/α² − ε, ε' = ε
//
// because γ(αy + b − μ)/√(σ²+ε) + β = γ(y − (μ−b)/α)/(√(σ²+ε)/α) + β.
// Without (BN-folded exports, plain Gemm/MatMul):
//
//	γ' = 1, β' = 0, μ' = −b/α, σ'² = 1/α² − ε', ε' = 1e-5
//
// because (y + b/α)/(1/α) = αy + b. The affine parameters keep the source's
// meaning; the running statistics carry the scale α. σ'² may be negative
// when α > 1/√ε (σ'² + ε' stays 1/α² > 0, which is all BN evaluates).
//
// A dead channel (α_c = 0: all its latent weights are 0) outputs the
// constant BN_src(b_c) (or b_c); it gets γ' = 0, β' = that constant, μ' = 0,
// σ'² = 1 − ε', the only setting that reproduces it.
func tdBNInit(alpha, b []float64, src *bnParams) bnParams {
	n := len(alpha)
	p := bnParams{scale: make([]float64, n), bias: make([]float64, n), mean: make([]float64, n), vari: make([]float64, n),
		eps: DefaultBNEpsilon, momentum: DefaultBNMomentum}
	if src != nil {
		p.eps, p.momentum = src.eps, src.momentum
	}
	for c := 0; c < n; c++ {
		bc := 0.0
		if b != nil {
			bc = b[c]
		}
		a := alpha[c]
		if a == 0 {
			v := bc
			if src != nil {
				v = src.eval(c, bc)
			}
			p.scale[c], p.bias[c], p.mean[c], p.vari[c] = 0, v, 0, 1-p.eps
			continue
		}
		if src != nil {
			p.scale[c], p.bias[c] = src.scale[c], src.bias[c]
			p.mean[c] = (src.mean[c] - bc) / a
			p.vari[c] = (src.vari[c]+src.eps)/(a*a) - src.eps
		} else {
			p.scale[c], p.bias[c] = 1, 0
			p.mean[c] = -bc / a
			p.vari[c] = 1/(a*a) - p.eps
		}
	}
	return p
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
