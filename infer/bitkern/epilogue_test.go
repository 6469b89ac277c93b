package bitkern

import (
	"math"
	"math/rand/v2"

	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// bnParams draws BatchNormalization parameters that put the potentials of
// a K-bit receptive field around the threshold, with some negative gammas
// (which flip the threshold's direction).
func bnParams(r *rand.Rand, m, k int) (gamma, beta, mean, variance []float32, eps float32) {
	eps = 1e-5
	sd := math.Sqrt(float64(k)) / 2
	for range m {
		gamma = append(gamma, float32(r.Float64()*3-1))
		beta = append(beta, float32(r.Float64()*1.5-0.25))
		mean = append(mean, float32(r.NormFloat64()*sd/2))
		variance = append(variance, float32(sd*sd*(0.25+r.Float64())))
	}
	return
}

var lifVariants = []struct {
	name string
	p    spiking.LIFParams
}{
	{"default", spiking.DefaultLIF()},
	{"tau3_soft_vreset", func() spiking.LIFParams {
		p := spiking.DefaultLIF()
		p.Tau, p.SoftReset, p.VReset, p.VThreshold = 3, true, -0.3, 0.7
		return p
	}()},
	{"decay_input_vreset", func() spiking.LIFParams {
		p := spiking.DefaultLIF()
		p.Tau, p.DecayInput, p.VReset = 1.7, true, 0.2
		return p
	}()},
}

// firstBitDiff returns the first index where a and b differ in their bits,
// or -1.
func firstBitDiff(a, b []float32) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}
