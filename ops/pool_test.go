package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

type poolGeo struct {
	N, C, H, W, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR int
	ceil                                               bool
}

func poolOut(in, pb, pe, k, s, d int, ceil bool) int {
	span := in + pb + pe - d*(k-1) - 1
	if !ceil {
		return span/s + 1
	}
	o := (span+s-1)/s + 1
	if (o-1)*s >= in+pb { // PyTorch: the last window must start inside the input or the begin pad
		o--
	}
	return o
}

func (g poolGeo) out() (int, int) {
	return poolOut(g.H, g.PT, g.PB, g.KH, g.SH, g.DH, g.ceil), poolOut(g.W, g.PL, g.PR, g.KW, g.SW, g.DW, g.ceil)
}

// refPool is direct max or average pooling (PyTorch semantics: pads never
// win a max; the average divisor counts the window inside the padded
// input, clipped to the end pad, when includePad, else the valid taps).
func refPool(g poolGeo, x []float64, isMax, includePad bool) []float64 {
	OH, OW := g.out()
	y := make([]float64, g.N*g.C*OH*OW)
	for p := 0; p < g.N*g.C; p++ {
		for oh := 0; oh < OH; oh++ {
			for ow := 0; ow < OW; ow++ {
				best, sum, cnt, padded := math.Inf(-1), 0.0, 0, 0
				for i := 0; i < g.KH; i++ {
					ih := oh*g.SH - g.PT + i*g.DH
					for j := 0; j < g.KW; j++ {
						iw := ow*g.SW - g.PL + j*g.DW
						if ih < g.H+g.PB && iw < g.W+g.PR {
							padded++
						}
						if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
							continue
						}
						v := x[(p*g.H+ih)*g.W+iw]
						best = math.Max(best, v)
						sum += v
						cnt++
					}
				}
				o := (p*OH+oh)*OW + ow
				switch {
				case isMax:
					y[o] = best
				case includePad:
					y[o] = sum / float64(padded)
				case cnt > 0:
					y[o] = sum / float64(cnt)
				}
			}
		}
	}
	return y
}

func TestPooling(t *testing.T) {
	type tc struct {
		name       string
		op         string
		g          poolGeo
		attrs      []*onnxpb.AttributeProto
		includePad bool
		oneD       bool
		opset      int
	}
	base := poolGeo{N: 2, C: 3, H: 7, W: 8, KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1}
	with := func(f func(*poolGeo)) poolGeo { g := base; f(&g); return g }
	k22 := onnx.AttrInts("kernel_shape", 2, 2)
	k33 := onnx.AttrInts("kernel_shape", 3, 3)
	s22 := onnx.AttrInts("strides", 2, 2)
	var cases []tc
	for _, op := range []string{"MaxPool", "AveragePool"} {
		cases = append(cases,
			tc{name: op + "_k2s2", op: op, g: base, attrs: []*onnxpb.AttributeProto{k22, s22}},
			tc{name: op + "_k3s2p1", op: op, g: with(func(g *poolGeo) { g.KH, g.KW, g.PT, g.PL, g.PB, g.PR = 3, 3, 1, 1, 1, 1 }),
				attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrInts("pads", 1, 1, 1, 1)}},
			tc{name: op + "_k3s1_default_strides", op: op, g: with(func(g *poolGeo) { g.KH, g.KW, g.SH, g.SW = 3, 3, 1, 1 }),
				attrs: []*onnxpb.AttributeProto{k33}},
			tc{name: op + "_asym_pads", op: op, g: with(func(g *poolGeo) { g.KH, g.KW, g.PT, g.PL, g.PB, g.PR = 3, 3, 0, 1, 2, 0 }),
				attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrInts("pads", 0, 1, 2, 0)}},
			tc{name: op + "_ceil", op: op, g: with(func(g *poolGeo) { g.KH, g.KW, g.ceil = 3, 3, true }),
				attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrInt("ceil_mode", 1)}},
			tc{name: op + "_ceil_pads", op: op, g: with(func(g *poolGeo) { g.KH, g.KW, g.PT, g.PL, g.PB, g.PR, g.ceil = 3, 3, 1, 1, 1, 1, true }),
				attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInt("ceil_mode", 1)}},
			tc{name: op + "_same_upper", op: op, g: with(func(g *poolGeo) { g.KH, g.KW, g.PT, g.PB, g.PL, g.PR = 3, 3, 1, 1, 0, 1 }),
				attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrString("auto_pad", "SAME_UPPER")}},
			tc{name: op + "_same_lower", op: op, g: with(func(g *poolGeo) { g.KH, g.KW, g.PT, g.PB, g.PL, g.PR = 3, 3, 1, 1, 1, 0 }),
				attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrString("auto_pad", "SAME_LOWER")}},
			tc{name: op + "_valid", op: op, g: with(func(g *poolGeo) { g.KH, g.KW = 3, 3 }),
				attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrString("auto_pad", "VALID")}},
			tc{name: op + "_1d", op: op, oneD: true, g: with(func(g *poolGeo) { g.H, g.KH, g.SH, g.KW, g.PL, g.PR = 1, 1, 1, 3, 1, 1 }),
				attrs: []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 3), onnx.AttrInts("strides", 2), onnx.AttrInts("pads", 1, 1)}},
		)
	}
	cases = append(cases,
		tc{name: "MaxPool_dilated", op: "MaxPool", g: with(func(g *poolGeo) {
			g.KH, g.KW, g.DH, g.DW, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR = 2, 2, 2, 2, 1, 1, 1, 1, 1, 1
		}),
			attrs: []*onnxpb.AttributeProto{k22, onnx.AttrInts("dilations", 2, 2), onnx.AttrInts("pads", 1, 1, 1, 1)}},
		tc{name: "MaxPool_opset8_storage_order", op: "MaxPool", opset: 8, g: base,
			attrs: []*onnxpb.AttributeProto{k22, s22, onnx.AttrInt("storage_order", 0)}},
		tc{name: "AveragePool_include_pad", op: "AveragePool", includePad: true,
			g:     with(func(g *poolGeo) { g.KH, g.KW, g.PT, g.PL, g.PB, g.PR = 3, 3, 1, 1, 1, 1 }),
			attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInt("count_include_pad", 1)}},
		tc{name: "AveragePool_include_pad_ceil", op: "AveragePool", includePad: true,
			g:     with(func(g *poolGeo) { g.KH, g.KW, g.PT, g.PL, g.PB, g.PR, g.ceil = 3, 3, 1, 1, 1, 1, true }),
			attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInt("count_include_pad", 1), onnx.AttrInt("ceil_mode", 1)}},
		tc{name: "AveragePool_opset7_include_pad", op: "AveragePool", opset: 7, includePad: true,
			g:     with(func(g *poolGeo) { g.KH, g.KW, g.PT, g.PL, g.PB, g.PR = 3, 3, 1, 1, 1, 1 }),
			attrs: []*onnxpb.AttributeProto{k33, s22, onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInt("count_include_pad", 1)}},
		tc{name: "AveragePool_opset19_dilated", op: "AveragePool", opset: 19,
			g:     with(func(g *poolGeo) { g.KH, g.KW, g.DH, g.DW, g.SH, g.SW = 2, 2, 2, 2, 1, 1 }),
			attrs: []*onnxpb.AttributeProto{k22, onnx.AttrInts("dilations", 2, 2)}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.g
			OH, OW := g.out()
			xs, out := []int{g.N, g.C, g.H, g.W}, []int{g.N, g.C, OH, OW}
			if c.oneD {
				xs, out = []int{g.N, g.C, g.W}, []int{g.N, g.C, OW}
			}
			opset := c.opset
			if opset == 0 {
				opset = 13
			}
			// Distinct values, so that maxima are unique and differences do
			// not cross ties.
			r := rand.New(rand.NewPCG(2, uint64(len(c.name))))
			x := make([]float32, static.Prod(xs))
			for i, p := range r.Perm(len(x)) {
				x[i] = float32(p)/float32(len(x)) - 0.5
			}
			runRefCase(t, refCase{name: c.name, op: c.op, opset: opset, attrs: c.attrs, outShape: out,
				ins: []refIn{{name: "x", shape: xs, f: x}},
				ref: func(x [][]float64) []float64 { return refPool(g, x[0], c.op == "MaxPool", c.includePad) }})
		})
	}
}

func TestGlobalPooling(t *testing.T) {
	for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool"} {
		for _, shape := range [][]int{{2, 3, 4, 5}, {2, 3, 7}, {1, 2, 2, 3, 2}, {3, 64, 8, 8}} {
			out := []int{shape[0], shape[1]}
			for range shape[2:] {
				out = append(out, 1)
			}
			s := static.Prod(shape[2:])
			r := rand.New(rand.NewPCG(4, uint64(s)))
			x := make([]float32, static.Prod(shape))
			for i, p := range r.Perm(len(x)) {
				x[i] = float32(p)/float32(len(x)) - 0.5
			}
			t.Run(op, func(t *testing.T) {
				runRefCase(t, refCase{name: op, op: op, opset: 13, outShape: out, ins: []refIn{{name: "x", shape: shape, f: x}},
					ref: func(x [][]float64) []float64 {
						y := make([]float64, len(x[0])/s)
						for i := range y {
							best, sum := math.Inf(-1), 0.0
							for _, v := range x[0][i*s : (i+1)*s] {
								best, sum = math.Max(best, v), sum+v
							}
							y[i] = sum / float64(s)
							if op == "GlobalMaxPool" {
								y[i] = best
							}
						}
						return y
					}})
			})
		}
	}
}

func TestPoolingRejects(t *testing.T) {
	x := []refIn{{name: "x", shape: []int{1, 2, 5, 5}}}
	k := onnx.AttrInts("kernel_shape", 2, 2)
	checkUnsupported(t, "MaxPool", 12, []*onnxpb.AttributeProto{k}, x, 2, "Indices output is not supported")
	checkUnsupported(t, "MaxPool", 12, []*onnxpb.AttributeProto{k, onnx.AttrInt("storage_order", 3)}, x, 1, "storage_order 3")
	checkUnsupported(t, "MaxPool", 12, nil, x, 1, `attribute "kernel_shape" is required`)
	checkUnsupported(t, "AveragePool", 12, []*onnxpb.AttributeProto{k, onnx.AttrString("auto_pad", "FOO")}, x, 1, `auto_pad "FOO"`)
	checkUnsupported(t, "AveragePool", 12, []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 2, 2, 2)}, x, 1, "only 1-D and 2-D AveragePool")
	buildErr(t, "MaxPool", 12, []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 7, 7)}, x, "does not fit")
	buildErr(t, "MaxPool", 12, []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 2)}, x, "kernel_shape [2] has 1 values for 2 spatial axes")
	buildErr(t, "GlobalAveragePool", 12, nil, []refIn{{name: "x", shape: []int{2, 3}}}, "at least one spatial axis")
}
