package infer

import (
	"math/rand/v2"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// FuzzBinaryStack compiles random small stacks of binary convolutions
// (random channels, kernels, strides, dilations, pads, identity residuals,
// T and AGMM gates), built as ONNX BSNNs, and runs them in the packed and
// the float engine:
//
//	go test ./infer -run '^$' -fuzz FuzzBinaryStack -fuzztime 1m
func FuzzBinaryStack(f *testing.F) {
	f.Add(uint64(1), uint8(4), false, uint8(3))
	f.Add(uint64(2), uint8(1), true, uint8(2))
	f.Add(uint64(3), uint8(8), true, uint8(4))
	f.Add(uint64(4), uint8(2), false, uint8(1))
	f.Fuzz(func(t *testing.T, seed uint64, T uint8, gates bool, layers uint8) {
		m, x := randomStack(seed, 1+int(T)%8, gates, 1+int(layers)%4)
		if m == nil {
			return
		}
		minSame, rtol := 1.0, 1e-5
		if gates {
			minSame, rtol = 0.999, 1e-4 // few neurons: one differing spike is 0.1%
		}
		compareEnginesOn(t, m, x, minSame, rtol, true)
	})
}

// randomStack builds a random binary convolution stack (nil when the drawn
// geometry does not fit the image).
func randomStack(seed uint64, T int, gates bool, layers int) (*onnx.Model, *onnx.Tensor) {
	r := rand.New(rand.NewPCG(seed, 5))
	b := newNet(seed, T, 1+r.IntN(3), gates)
	x := b.input(1+r.IntN(3), 3+r.IntN(7), 3+r.IntN(7))
	s := b.lif(b.bn(b.floatConv(x, sq(1+r.IntN(70), 1+2*r.IntN(2), 1, 1, r.IntN(2))), 4))
	for range layers {
		c := conv{m: 1 + r.IntN(140), kh: 1 + r.IntN(3), kw: 1 + r.IntN(3), sh: 1 + r.IntN(2), sw: 1 + r.IntN(2),
			dh: 1 + r.IntN(2), dw: 1 + r.IntN(2), pads: [4]int{r.IntN(3), r.IntN(3), r.IntN(3), r.IntN(3)}}
		oh, ow := c.out(s.h, s.w)
		if oh < 1 || ow < 1 {
			return nil, nil
		}
		var res *act
		if r.IntN(3) == 0 {
			c.m, c.sh, c.sw = s.c, 1, 1
			if oh, ow = c.out(s.h, s.w); oh == s.h && ow == s.w {
				res = &s
			}
		}
		s = b.block(s, c, res)
	}
	b.head(s, 1+r.IntN(5))
	return b.model(), b.sample(x)
}
