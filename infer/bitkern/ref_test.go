package bitkern

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// refConv is the naive definition of a binary convolution: x is [N, C, H, W]
// spikes (0/1), w [M, C, KH, KW] weights whose sign (w >= 0: +1) is used;
// the result is [N, OutH, OutW, M] (channels last, like Conv.Int32).
func refConv(p ConvParams, x, w []float32) []int32 {
	oh, ow := p.OutH(), p.OutW()
	out := make([]int32, p.N*oh*ow*p.M)
	for n := range p.N {
		for oy := range oh {
			for ox := range ow {
				for m := range p.M {
					var s int32
					for c := range p.C {
						for i := range p.KH {
							iy := oy*p.StrideH - p.PadTop + i*p.DilH
							if iy < 0 || iy >= p.H {
								continue
							}
							for j := range p.KW {
								ix := ox*p.StrideW - p.PadLeft + j*p.DilW
								if ix < 0 || ix >= p.W || x[((n*p.C+c)*p.H+iy)*p.W+ix] == 0 {
									continue
								}
								if w[((m*p.C+c)*p.KH+i)*p.KW+j] >= 0 {
									s++
								} else {
									s--
								}
							}
						}
					}
					out[((n*oh+oy)*ow+ox)*p.M+m] = s
				}
			}
		}
	}
	return out
}

// randSpikes returns n values, each 1 with probability rate, else 0.
func randSpikes(r *rand.Rand, n int, rate float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		if r.Float64() < rate {
			x[i] = 1
		}
	}
	return x
}

// randWeights returns n latent weights in [-1, 1), with some exact zeros
// (sign(0) = +1).
func randWeights(r *rand.Rand, n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		if r.IntN(16) != 0 {
			w[i] = float32(r.Float64()*2 - 1)
		}
	}
	return w
}

// eachKernel runs f once per micro-kernel this machine has (the assembly
// ones the CPU supports, then the portable one).
func eachKernel(t testing.TB, f func(t testing.TB, k *tileKernel)) {
	ks := []*tileKernel{goKernel}
	for _, k := range asmKernels {
		if k != nil {
			ks = append(ks, k)
		}
	}
	for _, k := range ks {
		withKernel(k, func() { f(t, k) })
	}
}

// withKernel runs f with k as the active kernel.
func withKernel(k *tileKernel, f func()) {
	restore, err := UseKernel(k.name)
	if err != nil {
		panic(err)
	}
	defer restore()
	f()
}

func sq(n, c, hw, m, k, s, d, pad int) ConvParams {
	return ConvParams{N: n, C: c, H: hw, W: hw, M: m, KH: k, KW: k, StrideH: s, StrideW: s, DilH: d, DilW: d,
		PadTop: pad, PadLeft: pad, PadBottom: pad, PadRight: pad}
}

func (p ConvParams) String() string {
	return fmt.Sprintf("N%d_C%d_%dx%d_M%d_k%dx%d_s%d,%d_d%d,%d_p%d,%d,%d,%d", p.N, p.C, p.H, p.W, p.M, p.KH, p.KW,
		p.StrideH, p.StrideW, p.DilH, p.DilW, p.PadTop, p.PadLeft, p.PadBottom, p.PadRight)
}
