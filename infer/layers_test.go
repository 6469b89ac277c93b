package infer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// awkwardNet is a small BSNN whose binary layers have the shapes that
// stress the packed path: 1, 3, 63, 65 and 130 channels, a stride with
// asymmetric pads, dilation, 1x1 convolutions, an identity residual of
// spikes and a projection shortcut (a strided 1x1 binary convolution),
// BatchNormalizations with negative gammas.
func awkwardNet(T int, gates bool, seed uint64) (*onnx.Model, *onnx.Tensor, int) {
	b := newNet(seed, T, 2, gates)
	x := b.input(3, 11, 10)
	s := b.lif(b.bn(b.floatConv(x, sq(1, 3, 1, 1, 1)), 4))
	s = b.block(s, sq(3, 3, 1, 1, 1), nil)
	s = b.block(s, conv{m: 63, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pads: [4]int{0, 1, 1, 0}}, nil)
	s = b.block(s, sq(65, 3, 1, 2, 2), nil)
	s = b.block(s, sq(130, 1, 1, 1, 0), nil)
	r := s
	s = b.block(s, sq(130, 3, 1, 1, 1), &r)
	shortcut := b.bn(b.binaryConv(s, sq(65, 1, 2, 1, 0)), 130)
	s = b.block(s, sq(65, 3, 2, 1, 1), &shortcut)
	b.head(s, 7)
	return b.model(), b.sample(x), 7
}

// TestAwkwardLayersMatchFloatEngine runs awkwardNet with T = 1, 4 and 8,
// with and without AGMM gates, on every micro-kernel this CPU has (the
// assembly ones and the portable Go one), against the float engine:
// without gates every spike is identical and the outputs agree within
// 1e-5, with gates 99.99% of the spikes and the outputs within 1e-4.
func TestAwkwardLayersMatchFloatEngine(t *testing.T) {
	for _, T := range []int{1, 4, 8} {
		for _, gates := range []bool{false, true} {
			m, x, packed := awkwardNet(T, gates, uint64(10*T))
			for _, k := range bitkern.Kernels() {
				t.Run(fmt.Sprintf("T%d_gates_%v_%s", T, gates, k), func(t *testing.T) {
					restore, err := bitkern.UseKernel(k)
					if err != nil {
						t.Fatal(err)
					}
					defer restore()
					minSame, rtol := 1.0, 1e-5
					if gates {
						minSame, rtol = 0.9999, 1e-4
					}
					e := compareEngines(t, m, x, minSame, rtol)
					if n := packedLayers(e.Plan()); n != packed {
						t.Fatalf("%d layers packed, want %d: %+v", n, packed, e.Plan())
					}
				})
			}
		}
	}
}

// fallbackNet has the patterns the packed engine leaves to the float
// fallback or to float kernels: a binary depthwise convolution, a
// broadcasting Add before a LIF, a LIF whose final membrane is an output,
// a GlobalAveragePool of floats, a Softmax.
func fallbackNet(T int, gates bool) (*onnx.Model, *onnx.Tensor) {
	b := newNet(uint64(T)+100, T, 3, gates)
	x := b.input(2, 8, 8)
	s := b.lif(b.bn(b.floatConv(x, sq(16, 3, 1, 1, 1)), 4))
	s = b.block(s, sq(24, 3, 1, 1, 1), nil)
	dw := sq(24, 3, 1, 1, 1)
	dw.group = 24
	s = b.lifWithVT(b.addConst(b.bn(b.binaryConv(s, dw), 9)))
	y := b.bn(b.binaryConv(s, sq(20, 3, 2, 1, 1)), 24*9)
	b.softmaxHead(y, 5)
	return b.model(), b.sample(x)
}

// TestFallbackMatchesFloatEngine checks that the nodes without a packed or
// dedicated float path run on the float fallback, exactly as in the float
// engine, and that the plan says why.
func TestFallbackMatchesFloatEngine(t *testing.T) {
	for _, gates := range []bool{false, true} {
		t.Run(fmt.Sprintf("gates_%v", gates), func(t *testing.T) {
			m, x := fallbackNet(4, gates)
			minSame, rtol := 1.0, 1e-5
			if gates {
				minSame, rtol = 0.9999, 1e-4
			}
			e := compareEngines(t, m, x, minSame, rtol)
			runs := map[string]string{}
			for _, l := range e.Plan() {
				runs[l.Op] += l.Runs() + ": " + l.Reason + "; "
				if l.Reason == "" {
					t.Errorf("%s (%s) runs %s without a reason", l.Node, l.Op, l.Runs())
				}
			}
			want := map[string]string{
				"Add":                     "float fallback: broadcasting",
				"GlobalAveragePool":       "float fallback: the packed engine pools spikes",
				"Softmax":                 "float fallback: no packed or dedicated float path",
				"bsnn.custom_op.snn::LIF": "float fallback: the final membrane output V_T is not supported",
				"Conv":                    "float: binary weights, but the Conv has 24 groups",
			}
			for op, w := range want {
				if !strings.Contains(runs[op], w) {
					t.Errorf("%s: plan says %q, want %q", op, runs[op], w)
				}
			}
		})
	}
}
