package opstest

import (
	"math"
	"math/rand/v2"
)

// A Gen draws n input values.
type Gen func(r *rand.Rand, n int) []float32

// Uniform draws values uniformly in [lo, hi).
func Uniform(lo, hi float64) Gen {
	return func(r *rand.Rand, n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return out
	}
}

// AwayFrom draws values uniformly in [lo, hi) that are at least margin away
// from every one of the points (kinks of the op: 0 for Relu, the bounds of
// Clip), redrawing values that come too close.
func AwayFrom(lo, hi, margin float64, points ...float64) Gen {
	return func(r *rand.Rand, n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			for try := 0; ; try++ {
				v := lo + (hi-lo)*r.Float64()
				ok := true
				for _, p := range points {
					ok = ok && math.Abs(v-p) >= margin
				}
				if ok || try > 1000 {
					out[i] = float32(v)
					break
				}
			}
		}
		return out
	}
}

// Distinct draws n values in [lo, hi) that are pairwise at least
// (hi-lo)/(2n) apart: a shuffled evenly spaced grid with jitter. Max-like
// ops (MaxPool, GlobalMaxPool, Max, Min) need it so that a small
// perturbation never changes which element wins.
func Distinct(lo, hi float64) Gen {
	return func(r *rand.Rand, n int) []float32 {
		out := make([]float32, n)
		step := (hi - lo) / float64(n)
		for i := range out {
			out[i] = float32(lo + step*(float64(i)+0.25+0.5*r.Float64()))
		}
		r.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
}

// Fill returns n copies of v.
func Fill(v float32) Gen {
	return func(_ *rand.Rand, n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
}

// Signs draws values of magnitude in [lo, hi) with a random sign.
func Signs(lo, hi float64) Gen {
	return func(r *rand.Rand, n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			v := lo + (hi-lo)*r.Float64()
			if r.IntN(2) == 0 {
				v = -v
			}
			out[i] = float32(v)
		}
		return out
	}
}
