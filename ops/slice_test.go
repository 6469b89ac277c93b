package ops

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// refWindow computes out[o] = x[first + o*step] per axis (fill outside the
// input), index by index.
func refWindow(x []float64, in, out, first, step []int, fill float64) []float64 {
	inSt := static.RowStrides(in)
	y := make([]float64, static.Prod(out))
	idx := make([]int, len(out))
	for o := range y {
		rem := o
		for i := len(out) - 1; i >= 0; i-- {
			idx[i] = rem % out[i]
			rem /= out[i]
		}
		off, inside := 0, true
		for i := range out {
			p := first[i] + idx[i]*step[i]
			if p < 0 || p >= in[i] {
				inside = false
				break
			}
			off += p * inSt[i]
		}
		y[o] = fill
		if inside {
			y[o] = x[off]
		}
	}
	return y
}

func TestSlice(t *testing.T) {
	in := []int{3, 4, 5}
	ints := func(name string, v ...int64) refIn { return refIn{name: name, shape: []int{len(v)}, ints: v} }
	cases := []struct {
		name        string
		opset       int
		attrs       []*onnxpb.AttributeProto
		args        []refIn
		out         []int
		first, step []int
	}{
		{name: "op1_attrs", opset: 1, attrs: []*onnxpb.AttributeProto{onnx.AttrInts("starts", 1, 0), onnx.AttrInts("ends", 3, -1)},
			out: []int{2, 3, 5}, first: []int{1, 0, 0}, step: []int{1, 1, 1}},
		{name: "op1_axes", opset: 1, attrs: []*onnxpb.AttributeProto{onnx.AttrInts("starts", -2), onnx.AttrInts("ends", 1000), onnx.AttrInts("axes", 2)},
			out: []int{3, 4, 2}, first: []int{0, 0, 3}, step: []int{1, 1, 1}},
		{name: "op10_inputs", opset: 10, args: []refIn{ints("s", 0, 1), ints("e", 2, 4), ints("a", 0, 2)},
			out: []int{2, 4, 3}, first: []int{0, 0, 1}, step: []int{1, 1, 1}},
		{name: "op13_steps", opset: 13, args: []refIn{ints("s", 0, 4), ints("e", 100, -100), ints("a", -1, 1), ints("st", 2, -2)},
			out: []int{3, 2, 3}, first: []int{0, 3, 0}, step: []int{1, -2, 2}},
		{name: "op13_reverse", opset: 13, args: []refIn{ints("s", -1), ints("e", math.MinInt64), ints("a", 0), ints("st", -1)},
			out: []int{3, 4, 5}, first: []int{2, 0, 0}, step: []int{-1, 1, 1}},
		{name: "op13_default_axes", opset: 13, args: []refIn{ints("s", 1, 1, 1), ints("e", 2, 3, 4)},
			out: []int{1, 2, 3}, first: []int{1, 1, 1}, step: []int{1, 1, 1}},
		{name: "op13_empty_axes_input", opset: 13, args: []refIn{ints("s", 1), ints("e", 3), {name: ""}, ints("st", 1)},
			out: []int{2, 4, 5}, first: []int{1, 0, 0}, step: []int{1, 1, 1}},
		{name: "op13_large_step", opset: 13, args: []refIn{ints("s", 1), ints("e", 5), ints("a", 2), ints("st", math.MaxInt64)},
			out: []int{3, 4, 1}, first: []int{0, 0, 1}, step: []int{1, 1, 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ins := append([]refIn{{name: "x", shape: in}}, c.args...)
			runRefCase(t, refCase{name: c.name, op: "Slice", opset: c.opset, attrs: c.attrs, ins: ins, outShape: c.out,
				ref: func(x [][]float64) []float64 { return refWindow(x[0], in, c.out, c.first, c.step, 0) }})
		})
	}
}

// TestSliceFoldsConstants checks the compile-time path on int64 shape
// arithmetic (Shape -> Slice).
func TestSliceFoldsConstants(t *testing.T) {
	b := &Builder{Model: refModel("Slice", 13, nil, nil, 1, 1)}
	node := &onnx.Node{OpType: "Slice", Proto: &onnxpb.NodeProto{}}
	shape := ConstValue(&onnx.Tensor{Type: onnx.Int64, Dims: []int64{4}, Int64: []int64{8, 3, 32, 32}})
	c := func(v ...int64) *Value {
		return ConstValue(&onnx.Tensor{Type: onnx.Int64, Dims: []int64{int64(len(v))}, Int64: v})
	}
	out, err := buildSlice(b, node, []*Value{shape, c(1), c(math.MaxInt64), c(0), c(2)})
	if err != nil {
		t.Fatal(err)
	}
	got := out[0].Const
	if got == nil || got.Type != onnx.Int64 || fmt.Sprint(got.Int64) != "[3 32]" {
		t.Errorf("folded %+v, want int64 [3 32]", got)
	}
}

func TestSliceRejects(t *testing.T) {
	x := refIn{name: "x", shape: []int{3, 4}}
	s := refIn{name: "s", shape: []int{1}, ints: []int64{0}}
	e := refIn{name: "e", shape: []int{1}, ints: []int64{2}}
	buildErr(t, "Slice", 13, nil, []refIn{x, s, e, {name: "a", shape: []int{1}, ints: []int64{0}}, {name: "st", shape: []int{1}, ints: []int64{0}}}, "step 0")
	buildErr(t, "Slice", 13, nil, []refIn{x, s, e, {name: "a", shape: []int{1}, ints: []int64{2}}}, "axis 2 out of range")
	buildErr(t, "Slice", 13, nil, []refIn{x, {name: "s", shape: []int{1}}, e}, "Slice starts must be a constant")
	buildErr(t, "Slice", 13, nil, []refIn{x, s, {name: "e", shape: []int{2}, ints: []int64{1, 2}}}, "differ in length")
	buildErr(t, "Slice", 13, nil, []refIn{x, {name: "s2", shape: []int{2}, ints: []int64{0, 0}}, {name: "e2", shape: []int{2}, ints: []int64{1, 1}},
		{name: "a", shape: []int{2}, ints: []int64{1, -1}}}, "repeated")
	checkUnsupported(t, "Slice", 9, []*onnxpb.AttributeProto{onnx.AttrInts("starts", 0)}, []refIn{x}, 1, `attribute "ends" is required`)
}

func TestPad(t *testing.T) {
	in := []int{2, 3, 4}
	cases := []struct {
		name  string
		opset int
		attrs []*onnxpb.AttributeProto
		args  []refIn
		pads  []int // begin..., end...
		fill  float64
	}{
		{name: "op2_attrs", opset: 2, attrs: []*onnxpb.AttributeProto{onnx.AttrInts("pads", 0, 1, 2, 0, 1, 1), onnx.AttrFloat("value", 1.5)},
			pads: []int{0, 1, 2, 0, 1, 1}, fill: 1.5},
		{name: "op2_default_mode", opset: 2, attrs: []*onnxpb.AttributeProto{onnx.AttrString("mode", "constant"), onnx.AttrInts("pads", 1, 0, 0, 1, 0, 0)},
			pads: []int{1, 0, 0, 1, 0, 0}},
		{name: "op11_inputs", opset: 11, args: []refIn{{name: "p", shape: []int{6}, ints: []int64{0, 0, 1, 0, 0, 2}}},
			pads: []int{0, 0, 1, 0, 0, 2}},
		{name: "op11_value", opset: 11, args: []refIn{{name: "p", shape: []int{6}, ints: []int64{0, 2, 0, 0, 1, 0}},
			{name: "v", shape: []int{}, fixed: true, f: []float32{-2}}}, pads: []int{0, 2, 0, 0, 1, 0}, fill: -2},
		{name: "op11_negative_crop", opset: 11, args: []refIn{{name: "p", shape: []int{6}, ints: []int64{0, -1, 1, 0, 1, -2}}},
			pads: []int{0, -1, 1, 0, 1, -2}},
		{name: "op18_axes", opset: 18, args: []refIn{{name: "p", shape: []int{4}, ints: []int64{1, 2, 0, 1}}, {name: ""},
			{name: "ax", shape: []int{2}, ints: []int64{-1, 0}}}, pads: []int{2, 0, 1, 1, 0, 0}},
		{name: "op13_nchw_spatial", opset: 13, args: []refIn{{name: "p", shape: []int{6}, ints: []int64{0, 0, 1, 0, 0, 1}}},
			pads: []int{0, 0, 1, 0, 0, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := len(in)
			out := make([]int, r)
			first := make([]int, r)
			step := []int{1, 1, 1}
			for i := range in {
				out[i] = in[i] + c.pads[i] + c.pads[r+i]
				first[i] = -c.pads[i]
			}
			ins := append([]refIn{{name: "x", shape: in}}, c.args...)
			runRefCase(t, refCase{name: c.name, op: "Pad", opset: c.opset, attrs: c.attrs, ins: ins, outShape: out,
				ref: func(x [][]float64) []float64 { return refWindow(x[0], in, out, first, step, c.fill) }})
		})
	}
}

func TestPadRejects(t *testing.T) {
	x := refIn{name: "x", shape: []int{2, 3}}
	p := refIn{name: "p", shape: []int{4}, ints: []int64{1, 1, 1, 1}}
	for _, mode := range []string{"reflect", "edge", "wrap"} {
		checkUnsupported(t, "Pad", 19, []*onnxpb.AttributeProto{onnx.AttrString("mode", mode)}, []refIn{x, p}, 1, fmt.Sprintf("Pad mode %q is not supported", mode))
	}
	buildErr(t, "Pad", 11, nil, []refIn{x, {name: "p", shape: []int{2}, ints: []int64{1, 1}}}, "want 4 values")
	buildErr(t, "Pad", 11, nil, []refIn{x, {name: "p", shape: []int{4}, ints: []int64{-3, 0, 0, 0}}}, "negative")
	buildErr(t, "Pad", 11, nil, []refIn{x, {name: "p", shape: []int{4}}}, "Pad pads must be a constant")
}

// TestSliceEmptyIsConstant checks that an empty window of a runtime tensor
// becomes an empty constant (Gorgonia cannot run zero-sized tensors).
func TestSliceEmptyIsConstant(t *testing.T) {
	ins := []refIn{{name: "x", shape: []int{4, 3}}, {name: "s", shape: []int{1}, ints: []int64{10}},
		{name: "e", shape: []int{1}, ints: []int64{20}}, {name: "a", shape: []int{1}, ints: []int64{0}}}
	b, err := NewBuilder(refModel("Slice", 13, nil, ins, 1, 1), Options{InputShapes: map[string][]int{"x": {4, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	y := b.Outputs[0]
	if y.Node != nil || y.Const == nil || !slices.Equal(y.Shape, []int{0, 3}) {
		t.Errorf("empty slice gave %+v, want an empty [0 3] constant", y)
	}
}
