package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// --- a harness shared by the tests of conv, pool, norm, softmax, transpose,
// slice and reduce: one ONNX node run through the real Builder/Program path,
// compared with a float64 reference written in the test, and its gradients
// compared with central differences of that reference. ---

// refIn is one node input.
type refIn struct {
	name  string // "" for an absent optional input
	shape []int
	f     []float32 // float data (random when nil and ints is nil)
	ints  []int64   // an int64 constant (initializer)
	param bool      // a float initializer (a parameter) rather than a graph input
	fixed bool      // a float initializer read as a constant (not differentiated)
}

// refCase is one op test.
type refCase struct {
	name     string
	op       string
	opset    int
	attrs    []*onnxpb.AttributeProto
	ins      []refIn
	outs     int // node outputs (default 1)
	training bool
	// ref computes the output from the float inputs (in order, int inputs
	// and absent ones skipped) in float64.
	ref      func(x [][]float64) []float64
	outShape []int
	noGrad   bool
	tolOut   float64 // default 1e-5
	tolGrad  float64 // default 1e-4
}

func refShape(s []int) onnx.Shape {
	d := make(onnx.Shape, len(s))
	for i, v := range s {
		d[i] = onnx.Dim{Value: int64(v)}
	}
	return d
}

// refModel makes a one-node model; output names are y0, y1, ...; only y0
// is a graph output unless graphOuts says more.
func refModel(op string, opset int, attrs []*onnxpb.AttributeProto, ins []refIn, outs, graphOuts int) *onnx.Model {
	g := &onnxpb.GraphProto{Name: proto.String("t")}
	node := &onnxpb.NodeProto{OpType: proto.String(op), Attribute: attrs, Name: proto.String("n0")}
	for _, in := range ins {
		node.Input = append(node.Input, in.name)
		if in.name == "" {
			continue
		}
		switch {
		case in.ints != nil:
			g.Initializer = append(g.Initializer, onnx.Int64Tensor(in.name, dims64(in.shape), in.ints))
		case in.param || in.fixed:
			g.Initializer = append(g.Initializer, onnx.FloatTensor(in.name, dims64(in.shape), in.f))
		default:
			g.Input = append(g.Input, onnx.ValueInfoProto(in.name, onnx.Float, refShape(in.shape)))
		}
	}
	for i := 0; i < outs; i++ {
		node.Output = append(node.Output, fmt.Sprintf("y%d", i))
	}
	for i := 0; i < max(graphOuts, 1); i++ {
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(fmt.Sprintf("y%d", i))})
	}
	g.Node = []*onnxpb.NodeProto{node}
	return &onnx.Model{Proto: &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opset))}},
		Graph:       g,
	}}
}

func randF32(r *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(r.Float64()*2 - 1)
	}
	return d
}

func toF64s(d []float32) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// relErr64 is max|a-b| / max(max|b|, tiny).
func relErr64(a []float32, b []float64) float64 {
	var num, den float64
	for i := range b {
		num = math.Max(num, math.Abs(float64(a[i])-b[i]))
		den = math.Max(den, math.Abs(b[i]))
	}
	if math.IsNaN(num) {
		return math.Inf(1)
	}
	return num / math.Max(den, 1e-12)
}

// runRefCase runs c: output against c.ref, and every differentiable
// input's gradient of L = sum(y * R) against central differences of c.ref.
func runRefCase(t *testing.T, c refCase) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(len(c.name)), 7))
	ins := make([]refIn, len(c.ins))
	copy(ins, c.ins)
	shapes := map[string][]int{}
	for i := range ins {
		in := &ins[i]
		if in.name == "" || in.ints != nil {
			continue
		}
		if in.f == nil {
			in.f = randF32(r, static.Prod(in.shape))
		}
		if !in.param && !in.fixed {
			shapes[in.name] = in.shape
		}
	}
	outs := max(c.outs, 1)
	m := refModel(c.op, c.opset, c.attrs, ins, outs, 1)
	b, err := NewBuilder(m, Options{InputShapes: shapes, InputGrads: true, Training: c.training})
	if err != nil {
		t.Fatal(err)
	}
	y := b.Outputs[0]
	if !slices.Equal(y.Shape, c.outShape) {
		t.Fatalf("output shape %v, want %v", y.Shape, c.outShape)
	}
	R := randF32(r, y.Len())
	loss, err := b.WeightedSum(y, R)
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Compile(loss)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var floatIns [][]float64
	var floatIdx []int
	for i, in := range ins {
		if in.name == "" || in.ints != nil {
			continue
		}
		if !in.param && !in.fixed {
			if err := p.SetInput(in.name, in.f); err != nil {
				t.Fatal(err)
			}
		}
		floatIns = append(floatIns, toF64s(in.f))
		floatIdx = append(floatIdx, i)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	want := c.ref(floatIns)
	tolOut, tolGrad := c.tolOut, c.tolGrad
	if tolOut == 0 {
		tolOut = 1e-5
	}
	if tolGrad == 0 {
		tolGrad = 1e-4
	}
	got := ValueData(y)
	if len(got) != len(want) {
		t.Fatalf("output has %d values, reference %d", len(got), len(want))
	}
	if e := relErr64(got, want); e > tolOut {
		t.Errorf("output rel err %.3g > %.3g\n got %v\nwant %v", e, tolOut, head(got), head64(want))
	}
	if c.noGrad {
		return
	}
	loss64 := func(x [][]float64) float64 {
		var s float64
		for i, v := range c.ref(x) {
			s += v * float64(R[i])
		}
		return s
	}
	for j, i := range floatIdx {
		in := ins[i]
		if in.fixed {
			continue
		}
		var g []float32
		if in.param {
			prm := b.Param(in.name)
			if prm == nil {
				t.Fatalf("%s is not a parameter", in.name)
			}
			g = p.Grad(prm)
		} else {
			g = p.InputGrad(in.name)
		}
		if g == nil {
			t.Errorf("no gradient for %s", in.name)
			continue
		}
		// Central differences at up to 160 elements (all of small inputs).
		idx := r.Perm(len(floatIns[j]))
		if len(idx) > 160 {
			idx = idx[:160]
		}
		gs := make([]float32, len(idx))
		num := make([]float64, len(idx))
		for q, e := range idx {
			v := floatIns[j][e]
			h := 1e-6 * math.Max(1, math.Abs(v))
			floatIns[j][e] = v + h
			lp := loss64(floatIns)
			floatIns[j][e] = v - h
			lm := loss64(floatIns)
			floatIns[j][e] = v
			num[q] = (lp - lm) / (2 * h)
			gs[q] = g[e]
		}
		if e := relErr64(gs, num); e > tolGrad {
			t.Errorf("gradient of %s: rel err %.3g > %.3g\n got %v\nwant %v", in.name, e, tolGrad, head(gs), head64(num))
		}
	}
}

func head(d []float32) []float32 {
	if len(d) > 8 {
		return d[:8]
	}
	return d
}

func head64(d []float64) []float64 {
	if len(d) > 8 {
		return d[:8]
	}
	return d
}

// checkUnsupported asserts that CheckModel rejects a one-node model with a
// reason containing want.
func checkUnsupported(t *testing.T, op string, opset int, attrs []*onnxpb.AttributeProto, ins []refIn, outs int, want string) {
	t.Helper()
	for i := range ins {
		if ins[i].f == nil && ins[i].ints == nil && (ins[i].param || ins[i].fixed) {
			ins[i].f = make([]float32, static.Prod(ins[i].shape))
		}
	}
	m := refModel(op, opset, attrs, ins, outs, 1)
	err := CheckModel(m)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: CheckModel error %v, want one containing %q", op, err, want)
	}
}

// buildErr asserts that building a one-node model fails with an error
// containing want.
func buildErr(t *testing.T, op string, opset int, attrs []*onnxpb.AttributeProto, ins []refIn, want string) {
	t.Helper()
	shapes := map[string][]int{}
	for i := range ins {
		if ins[i].f == nil && ins[i].ints == nil {
			ins[i].f = make([]float32, static.Prod(ins[i].shape))
		}
		if !ins[i].param && !ins[i].fixed && ins[i].ints == nil && ins[i].name != "" {
			shapes[ins[i].name] = ins[i].shape
		}
	}
	_, err := NewBuilder(refModel(op, opset, attrs, ins, 1, 1), Options{InputShapes: shapes})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: build error %v, want one containing %q", op, err, want)
	}
}

// --- Conv ---

type convGeo struct {
	N, C, H, W, M, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, G int
}

func (g convGeo) out() (int, int) {
	return (g.H+g.PT+g.PB-g.DH*(g.KH-1)-1)/g.SH + 1, (g.W+g.PL+g.PR-g.DW*(g.KW-1)-1)/g.SW + 1
}

// refConv is a direct 2-D convolution.
func refConv(g convGeo, x, w, bias []float64) []float64 {
	OH, OW := g.out()
	y := make([]float64, g.N*g.M*OH*OW)
	cg, mg := g.C/g.G, g.M/g.G
	for n := 0; n < g.N; n++ {
		for m := 0; m < g.M; m++ {
			grp := m / mg
			for oh := 0; oh < OH; oh++ {
				for ow := 0; ow < OW; ow++ {
					var s float64
					if bias != nil {
						s = bias[m]
					}
					for c := 0; c < cg; c++ {
						ci := grp*cg + c
						for i := 0; i < g.KH; i++ {
							ih := oh*g.SH - g.PT + i*g.DH
							if ih < 0 || ih >= g.H {
								continue
							}
							for j := 0; j < g.KW; j++ {
								iw := ow*g.SW - g.PL + j*g.DW
								if iw < 0 || iw >= g.W {
									continue
								}
								s += x[((n*g.C+ci)*g.H+ih)*g.W+iw] * w[((m*cg+c)*g.KH+i)*g.KW+j]
							}
						}
					}
					y[((n*g.M+m)*OH+oh)*OW+ow] = s
				}
			}
		}
	}
	return y
}

func TestConv(t *testing.T) {
	type tc struct {
		name   string
		g      convGeo
		attrs  []*onnxpb.AttributeProto
		bias   bool
		oneD   bool
		opset  int
		xParam bool
	}
	base := convGeo{N: 2, C: 3, H: 7, W: 6, M: 4, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, G: 1}
	with := func(f func(*convGeo)) convGeo { g := base; f(&g); return g }
	cases := []tc{
		{name: "plain", g: base, bias: true},
		{name: "pad1", g: with(func(g *convGeo) { g.PT, g.PL, g.PB, g.PR = 1, 1, 1, 1 }), bias: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInts("kernel_shape", 3, 3)}},
		{name: "stride2", g: with(func(g *convGeo) { g.SH, g.SW, g.PT, g.PL, g.PB, g.PR = 2, 2, 1, 1, 1, 1 }), bias: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInts("strides", 2, 2)}},
		{name: "stride_hw", g: with(func(g *convGeo) { g.SH, g.SW = 2, 1 }),
			attrs: []*onnxpb.AttributeProto{onnx.AttrInts("strides", 2, 1)}},
		{name: "dilation", g: with(func(g *convGeo) { g.DH, g.DW, g.PT, g.PL, g.PB, g.PR = 2, 2, 2, 1, 2, 1 }), bias: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInts("dilations", 2, 2), onnx.AttrInts("pads", 2, 1, 2, 1)}},
		{name: "asymmetric_pads", g: with(func(g *convGeo) { g.PT, g.PL, g.PB, g.PR = 0, 1, 2, 0 }), bias: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInts("pads", 0, 1, 2, 0)}},
		{name: "groups2", g: with(func(g *convGeo) { g.C, g.M, g.G = 4, 6, 2 }), bias: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInt("group", 2)}},
		{name: "depthwise", g: with(func(g *convGeo) { g.C, g.M, g.G, g.PT, g.PL, g.PB, g.PR = 4, 4, 4, 1, 1, 1, 1 }), bias: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInt("group", 4), onnx.AttrInts("pads", 1, 1, 1, 1)}},
		{name: "depthwise_stride2_mult2", g: with(func(g *convGeo) { g.C, g.M, g.G, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR = 3, 6, 3, 2, 2, 1, 1, 1, 1 }),
			attrs: []*onnxpb.AttributeProto{onnx.AttrInt("group", 3), onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInts("strides", 2, 2)}},
		{name: "pointwise", g: with(func(g *convGeo) { g.KH, g.KW = 1, 1 }), bias: true},
		{name: "pointwise_stride2", g: with(func(g *convGeo) { g.KH, g.KW, g.SH, g.SW = 1, 1, 2, 2 }),
			attrs: []*onnxpb.AttributeProto{onnx.AttrInts("strides", 2, 2)}},
		{name: "rect_kernel", g: with(func(g *convGeo) { g.KH, g.KW, g.PT, g.PB = 2, 3, 1, 0 }), bias: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 0, 0, 0)}},
		// SAME_UPPER, stride 2 on 7x6: out 4x3, total pads 1 (H: (4-1)*2+3-7=2 -> 1,1; W: (3-1)*2+3-6=1 -> 0,1).
		{name: "same_upper", g: with(func(g *convGeo) { g.SH, g.SW, g.PT, g.PB, g.PL, g.PR = 2, 2, 1, 1, 0, 1 }), bias: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrString("auto_pad", "SAME_UPPER"), onnx.AttrInts("strides", 2, 2)}},
		{name: "same_lower", g: with(func(g *convGeo) { g.SH, g.SW, g.PT, g.PB, g.PL, g.PR = 2, 2, 1, 1, 1, 0 }),
			attrs: []*onnxpb.AttributeProto{onnx.AttrString("auto_pad", "SAME_LOWER"), onnx.AttrInts("strides", 2, 2)}},
		{name: "same_upper_dilated", g: with(func(g *convGeo) { g.DH, g.DW, g.PT, g.PB, g.PL, g.PR = 2, 2, 2, 2, 2, 2 }),
			attrs: []*onnxpb.AttributeProto{onnx.AttrString("auto_pad", "SAME_UPPER"), onnx.AttrInts("dilations", 2, 2)}},
		{name: "valid", g: base, attrs: []*onnxpb.AttributeProto{onnx.AttrString("auto_pad", "VALID")}},
		{name: "conv1d", g: with(func(g *convGeo) { g.H, g.KH, g.SW, g.PL, g.PR = 1, 1, 2, 1, 2 }), bias: true, oneD: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 2), onnx.AttrInts("strides", 2)}},
		{name: "conv1d_groups", g: with(func(g *convGeo) { g.H, g.KH, g.C, g.M, g.G, g.DW = 1, 1, 4, 4, 2, 2 }), oneD: true,
			attrs: []*onnxpb.AttributeProto{onnx.AttrInt("group", 2), onnx.AttrInts("dilations", 2)}},
		{name: "opset1_weights_as_input", g: base, opset: 1, xParam: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.g
			OH, OW := g.out()
			xs, ws := []int{g.N, g.C, g.H, g.W}, []int{g.M, g.C / g.G, g.KH, g.KW}
			out := []int{g.N, g.M, OH, OW}
			if c.oneD {
				xs, ws, out = []int{g.N, g.C, g.W}, []int{g.M, g.C / g.G, g.KW}, []int{g.N, g.M, OW}
			}
			ins := []refIn{{name: "x", shape: xs}, {name: "w", shape: ws, param: !c.xParam}}
			if c.bias {
				ins = append(ins, refIn{name: "b", shape: []int{g.M}, param: true})
			}
			opset := c.opset
			if opset == 0 {
				opset = 13
			}
			runRefCase(t, refCase{name: c.name, op: "Conv", opset: opset, attrs: c.attrs, ins: ins, outShape: out,
				ref: func(x [][]float64) []float64 {
					var b []float64
					if c.bias {
						b = x[2]
					}
					return refConv(g, x[0], x[1], b)
				}})
		})
	}
}

func TestConvRejects(t *testing.T) {
	x := refIn{name: "x", shape: []int{1, 2, 5, 5}}
	w := refIn{name: "w", shape: []int{2, 2, 3, 3}, param: true}
	checkUnsupported(t, "Conv", 13, []*onnxpb.AttributeProto{onnx.AttrString("auto_pad", "SAME")}, []refIn{x, w}, 1, `auto_pad "SAME" is not supported`)
	checkUnsupported(t, "Conv", 13, []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 3, 3, 3)}, []refIn{x, w}, 1, "only 1-D and 2-D Conv")
	checkUnsupported(t, "Conv", 13, []*onnxpb.AttributeProto{onnx.AttrInt("foo", 1)}, []refIn{x, w}, 1, `attribute "foo" not supported`)
	buildErr(t, "Conv", 13, nil, []refIn{{name: "x", shape: []int{1, 2, 3, 3, 3}}, {name: "w", shape: []int{2, 2, 1, 1, 1}, param: true}}, "only 1-D")
	buildErr(t, "Conv", 13, []*onnxpb.AttributeProto{onnx.AttrInt("group", 2)}, []refIn{x, {name: "w", shape: []int{2, 2, 3, 3}, param: true}}, "group 2 does not fit")
	buildErr(t, "Conv", 13, []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 2, 2)}, []refIn{x, w}, "does not match the weight")
	buildErr(t, "Conv", 13, []*onnxpb.AttributeProto{onnx.AttrInts("strides", 1)}, []refIn{x, w}, "strides has 1 values, want 2")
	buildErr(t, "Conv", 13, []*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 1)}, []refIn{x, w}, "pads has 2 values, want 4")
	buildErr(t, "Conv", 13, nil, []refIn{{name: "x", shape: []int{1, 2, 2, 2}}, w}, "does not fit")
}

// TestConvSkipsUnwantedGradients checks that no input gradient is computed
// for a graph input unless Options.InputGrads asks for it, and none for a
// frozen weight.
func TestConvSkipsUnwantedGradients(t *testing.T) {
	count := func(inputGrads bool, frozen map[string]bool) (data, filter, bias int) {
		r := rand.New(rand.NewPCG(1, 2))
		ins := []refIn{{name: "x", shape: []int{1, 2, 5, 5}}, {name: "w", shape: []int{3, 2, 3, 3}, param: true, f: randF32(r, 54)},
			{name: "b", shape: []int{3}, param: true, f: randF32(r, 3)}}
		b, err := NewBuilder(refModel("Conv", 13, nil, ins, 1, 1), Options{InputGrads: inputGrads, Frozen: frozen})
		if err != nil {
			t.Fatal(err)
		}
		loss, err := b.WeightedSum(b.Outputs[0], randF32(r, b.Outputs[0].Len()))
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Compile(loss)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, n := range b.G.AllNodes() {
			switch KernelOf(n).(type) {
			case *convDataGradKernel:
				data++
			case *convFilterGradKernel:
				filter++
			case *convBiasGradKernel:
				bias++
			}
		}
		return
	}
	if d, f, bb := count(false, nil); d != 0 || f != 1 || bb != 1 {
		t.Errorf("without input gradients: %d data, %d filter, %d bias gradient kernels, want 0, 1, 1", d, f, bb)
	}
	if d, f, bb := count(true, nil); d != 1 || f != 1 || bb != 1 {
		t.Errorf("with input gradients: %d data, %d filter, %d bias gradient kernels, want 1, 1, 1", d, f, bb)
	}
	if d, f, bb := count(true, map[string]bool{"w": true}); d != 1 || f != 0 || bb != 1 {
		t.Errorf("frozen weight: %d data, %d filter, %d bias gradient kernels, want 1, 0, 1", d, f, bb)
	}
}

// --- ResNet-20 training step benchmark ---

// BenchmarkResNet20Step times one forward+backward step of the ResNet-20
// fixture (BatchNormalization kept, training mode: batch statistics) on
// 32 images of 3x32x32, and on 128 = batch 32 x T=4, the BSNN's
// [T*N, C, H, W] layout. Run with -cpu 1,2.
func BenchmarkResNet20Step(b *testing.B) {
	for _, batch := range []int{32, 128} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			benchModelStep(b, "../testmodels/fixtures/resnet20_op11_keepbn_dynamic/model.onnx", []int{batch, 3, 32, 32}, true)
		})
	}
}

func benchModelStep(b *testing.B, path string, shape []int, training bool) {
	m, err := onnx.DecodeFile(path)
	if err != nil {
		b.Skip(err)
	}
	g, err := m.Graph()
	if err != nil {
		b.Fatal(err)
	}
	name := g.Inputs[0].Name
	// Static fixtures declare batch 2: rewrite the input's first dimension.
	for _, in := range m.Proto.Graph.Input {
		if in.GetName() == name {
			in.Type.GetTensorType().Shape.Dim[0].Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
		}
	}
	bld, err := NewBuilder(m, Options{InputShapes: map[string][]int{name: shape}, Training: training})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	out := bld.Outputs[0]
	if len(out.Shape) > 0 && out.Shape[0] != shape[0] {
		b.Skipf("model output %v does not follow the batch (a fixed reshape)", out.Shape)
	}
	loss, err := bld.WeightedSum(out, randF32(r, out.Len()))
	if err != nil {
		b.Fatal(err)
	}
	p, err := bld.Compile(loss)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := p.SetInput(name, randF32(r, static.Prod(shape))); err != nil {
		b.Fatal(err)
	}
	benchRuns(b, p)
}

// refConvGrads returns the gradients of sum(conv(x, w) * dy) with respect
// to x, w and the bias, by direct loops.
func refConvGrads(g convGeo, x, w, dy []float64) (dx, dw, db []float64) {
	OH, OW := g.out()
	dx, dw, db = make([]float64, len(x)), make([]float64, len(w)), make([]float64, g.M)
	cg, mg := g.C/g.G, g.M/g.G
	for n := 0; n < g.N; n++ {
		for m := 0; m < g.M; m++ {
			grp := m / mg
			for oh := 0; oh < OH; oh++ {
				for ow := 0; ow < OW; ow++ {
					gy := dy[((n*g.M+m)*OH+oh)*OW+ow]
					db[m] += gy
					for c := 0; c < cg; c++ {
						ci := grp*cg + c
						for i := 0; i < g.KH; i++ {
							ih := oh*g.SH - g.PT + i*g.DH
							if ih < 0 || ih >= g.H {
								continue
							}
							for j := 0; j < g.KW; j++ {
								iw := ow*g.SW - g.PL + j*g.DW
								if iw < 0 || iw >= g.W {
									continue
								}
								xi := ((n*g.C+ci)*g.H+ih)*g.W + iw
								wi := ((m*cg+c)*g.KH+i)*g.KW + j
								dx[xi] += gy * w[wi]
								dw[wi] += gy * x[xi]
							}
						}
					}
				}
			}
		}
	}
	return
}

// TestConvLarge runs convolutions of the sizes of real networks (where the
// kernels block and split work over threads) against direct references for
// the output and all three gradients.
func TestConvLarge(t *testing.T) {
	cases := []convGeo{
		{N: 2, C: 16, H: 32, W: 32, M: 16, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, PB: 1, PR: 1, G: 1},
		{N: 2, C: 32, H: 16, W: 16, M: 32, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, PB: 1, PR: 1, G: 1},
		{N: 2, C: 64, H: 8, W: 8, M: 64, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, PB: 1, PR: 1, G: 1},
		{N: 2, C: 16, H: 32, W: 32, M: 32, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, PT: 1, PL: 1, PB: 1, PR: 1, G: 1},
		{N: 2, C: 16, H: 32, W: 32, M: 32, KH: 1, KW: 1, SH: 2, SW: 2, DH: 1, DW: 1, G: 1},
		{N: 3, C: 3, H: 32, W: 32, M: 16, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, PB: 1, PR: 1, G: 1},
		{N: 1, C: 3, H: 56, W: 56, M: 64, KH: 7, KW: 7, SH: 2, SW: 2, DH: 1, DW: 1, PT: 3, PL: 3, PB: 3, PR: 3, G: 1},
		{N: 2, C: 96, H: 28, W: 28, M: 96, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, PT: 1, PL: 1, PB: 1, PR: 1, G: 96},
		{N: 2, C: 144, H: 14, W: 14, M: 144, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, PB: 1, PR: 1, G: 144},
		{N: 2, C: 64, H: 14, W: 14, M: 384, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, G: 1},
		{N: 1, C: 512, H: 7, W: 7, M: 512, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, PB: 1, PR: 1, G: 1},
	}
	for _, g := range cases {
		t.Run(fmt.Sprintf("%dx%dx%dx%d_m%d_k%d_s%d_g%d", g.N, g.C, g.H, g.W, g.M, g.KH, g.SH, g.G), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(g.C), uint64(g.M)))
			OH, OW := g.out()
			xs, ws := []int{g.N, g.C, g.H, g.W}, []int{g.M, g.C / g.G, g.KH, g.KW}
			ins := []refIn{{name: "x", shape: xs, f: randF32(r, static.Prod(xs))}, {name: "w", shape: ws, param: true, f: randF32(r, static.Prod(ws))},
				{name: "b", shape: []int{g.M}, param: true, f: randF32(r, g.M)}}
			attrs := []*onnxpb.AttributeProto{onnx.AttrInt("group", int64(g.G)), onnx.AttrInts("strides", int64(g.SH), int64(g.SW)),
				onnx.AttrInts("pads", int64(g.PT), int64(g.PL), int64(g.PB), int64(g.PR))}
			b, err := NewBuilder(refModel("Conv", 13, attrs, ins, 1, 1), Options{InputShapes: map[string][]int{"x": xs}, InputGrads: true})
			if err != nil {
				t.Fatal(err)
			}
			R := randF32(r, g.N*g.M*OH*OW)
			loss, err := b.WeightedSum(b.Outputs[0], R)
			if err != nil {
				t.Fatal(err)
			}
			p, err := b.Compile(loss)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.SetInput("x", ins[0].f); err != nil {
				t.Fatal(err)
			}
			for run := 0; run < 2; run++ { // the second run reuses every buffer
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				x, w, bb := toF64s(ins[0].f), toF64s(ins[1].f), toF64s(ins[2].f)
				if e := relErr64(ValueData(b.Outputs[0]), refConv(g, x, w, bb)); e > 1e-5 {
					t.Errorf("output rel err %.3g", e)
				}
				dx, dw, db := refConvGrads(g, x, w, toF64s(R))
				if e := relErr64(p.InputGrad("x"), dx); e > 1e-5 {
					t.Errorf("dX rel err %.3g", e)
				}
				if e := relErr64(p.Grad(b.Param("w")), dw); e > 1e-5 {
					t.Errorf("dW rel err %.3g", e)
				}
				if e := relErr64(p.Grad(b.Param("b")), db); e > 1e-5 {
					t.Errorf("dB rel err %.3g", e)
				}
			}
		})
	}
}

// benchRuns times p.Run, reporting wall and process CPU milliseconds per
// run (CPU time is the steadier figure on a shared machine).
func benchRuns(b *testing.B, p *Program) {
	if err := p.Run(); err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/step")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/step")
}

// cpuTime returns the user+system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestConvRepeatedInput: a convolution of a BSNN's direct encoding, T
// copies of x along the batch axis (bsnnctl's Unsqueeze -> Expand ->
// Reshape, or a Concat of T copies), convolves x once and repeats the
// result. Its output equals the convolution of the explicitly repeated
// input bit for bit, and its weight, bias and input gradients (the input's
// summed over the copies) agree with that convolution's.
func TestConvRepeatedInput(t *testing.T) {
	const T = 3
	r := rand.New(rand.NewPCG(7, 8))
	w, bias := randF32(r, 3*2*3*3), randF32(r, 3)
	x := randF32(r, 2*2*6*6)
	attrs := []*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 1, 1, 1)}
	ins := []refIn{{name: "x", shape: []int{2, 2, 6, 6}}, {name: "w", shape: []int{3, 2, 3, 3}, param: true, f: w},
		{name: "b", shape: []int{3}, param: true, f: bias}}
	encoders := map[string]func(g *onnxpb.GraphProto){
		"concat": func(g *onnxpb.GraphProto) {
			g.Node = append([]*onnxpb.NodeProto{onnx.NewNode("repeat", "Concat", "", []string{"x", "x", "x"}, []string{"xs"}, onnx.AttrInt("axis", 0))}, g.Node...)
		},
		"expand": func(g *onnxpb.GraphProto) {
			g.Initializer = append(g.Initializer, onnx.Int64Tensor("axes", []int64{1}, []int64{0}),
				onnx.Int64Tensor("tshape", []int64{5}, []int64{T, 1, 1, 1, 1}), onnx.Int64Tensor("flat", []int64{4}, []int64{-1, 2, 6, 6}))
			g.Node = append([]*onnxpb.NodeProto{
				onnx.NewNode("unsqueeze", "Unsqueeze", "", []string{"x", "axes"}, []string{"x1"}),
				onnx.NewNode("expand", "Expand", "", []string{"x1", "tshape"}, []string{"xtn"}),
				onnx.NewNode("repeat", "Reshape", "", []string{"xtn", "flat"}, []string{"xs"}),
			}, g.Node...)
		},
	}
	for name, encode := range encoders {
		t.Run(name, func(t *testing.T) {
			repeated := refModel("Conv", 13, attrs, ins, 1, 1)
			g := repeated.Proto.Graph
			g.Node[0].Input[0] = "xs"
			encode(g)
			explicitIns := slices.Clone(ins)
			explicitIns[0] = refIn{name: "x", shape: []int{T * 2, 2, 6, 6}}
			explicit := refModel("Conv", 13, attrs, explicitIns, 1, 1)
			xs := append(append(append([]float32(nil), x...), x...), x...)
			dy := randF32(r, T*2*3*6*6)
			br, pr := compileRun(t, repeated, Options{InputGrads: true}, dy, map[string][]float32{"x": x})
			be, pe := compileRun(t, explicit, Options{InputGrads: true}, dy, map[string][]float32{"x": xs})
			repeats := 0
			for _, n := range br.G.AllNodes() {
				if _, ok := KernelOf(n).(*repeatKernel); ok {
					repeats++
				}
			}
			if repeats != 1 {
				t.Fatalf("%d repeat kernels, want 1: the repeated input was not recognised", repeats)
			}
			yr, ye := pr.Output(0).Float32, pe.Output(0).Float32
			for i := range ye {
				if math.Float32bits(yr[i]) != math.Float32bits(ye[i]) {
					t.Fatalf("y[%d] = %v, explicit repeat %v", i, yr[i], ye[i])
				}
			}
			for _, name := range []string{"w", "b"} {
				if e := relErr64(pr.Grad(br.Param(name)), toF64s(pe.Grad(be.Param(name)))); e > 1e-5 {
					t.Errorf("d%s: relative error %g", name, e)
				}
			}
			dxe := pe.InputGrad("x")
			sum := make([]float64, len(x))
			for i := range dxe {
				sum[i%len(x)] += float64(dxe[i])
			}
			if e := relErr64(pr.InputGrad("x"), sum); e > 1e-5 {
				t.Errorf("dx: relative error %g", e)
			}
		})
	}
}
