package static

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

const N = Symbolic

func node(op string, attrs ...*onnxpb.AttributeProto) *onnx.Node {
	return onnx.NodeOf(onnx.NewNode("n", op, "", nil, nil, attrs...))
}

func ints(dims []int64, v ...int64) *onnx.Tensor {
	return &onnx.Tensor{Type: onnx.Int64, Dims: dims, Int64: v}
}

func floats(dims []int64, v ...float32) *onnx.Tensor {
	return &onnx.Tensor{Type: onnx.Float, Dims: dims, Float32: v}
}

func TestReshape(t *testing.T) {
	cases := []struct {
		x, target []int64
		allowZero bool
		want      []int64 // nil: an error containing err
		err       string
	}{
		{x: []int64{2, 3, 4}, target: []int64{0, -1}, want: []int64{2, 12}},
		{x: []int64{2, 3, 4}, target: []int64{-1, 4}, want: []int64{6, 4}},
		{x: []int64{2, 3, 4}, target: []int64{0, 0, 0, 1}, want: []int64{2, 3, 4, 1}},
		{x: []int64{2, 3, 4}, target: []int64{5, -1}, err: "cannot infer"},
		{x: []int64{2, 3, 4}, target: []int64{-1, -1}, err: "two -1"},
		{x: []int64{2, 3, 4}, target: []int64{2, 3, 5}, err: "element counts differ"},
		{x: []int64{2, 0}, target: []int64{0, 0}, allowZero: true, want: []int64{0, 0}},
		// The symbolic batch: copied, moved, absorbed by -1 alone, never merged.
		{x: []int64{N, 3, 4}, target: []int64{0, -1}, want: []int64{N, 12}},
		{x: []int64{N, 3, 4}, target: []int64{N, 12}, want: []int64{N, 12}},
		{x: []int64{N, 3, 4}, target: []int64{N, -1, 2}, want: []int64{N, 6, 2}},
		{x: []int64{N, 3, 4}, target: []int64{-1, 12}, want: []int64{N, 12}},
		{x: []int64{N, 3, 4}, target: []int64{-1, 4}, err: "merges a size known only at run time"},
		{x: []int64{N, 3, 4}, target: []int64{N, 3, 5}, err: "element counts differ"},
		{x: []int64{3, 4}, target: []int64{N, -1}, err: "cannot infer"},
	}
	for _, c := range cases {
		got, err := Reshape(c.x, c.target, c.allowZero)
		switch {
		case c.want == nil && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Reshape(%s, %s) = %s, %v; want an error containing %q", FormatShape(c.x), FormatShape(c.target), FormatShape(got), err, c.err)
		case c.want != nil && (err != nil || !slices.Equal(got, c.want)):
			t.Errorf("Reshape(%s, %s) = %s, %v; want %s", FormatShape(c.x), FormatShape(c.target), FormatShape(got), err, FormatShape(c.want))
		}
	}
}

func TestBroadcast(t *testing.T) {
	for _, c := range []struct{ a, b, want []int64 }{
		{[]int64{2, 3}, []int64{3}, []int64{2, 3}},
		{[]int64{2, 1, 4}, []int64{3, 1}, []int64{2, 3, 4}},
		{[]int64{}, []int64{5}, []int64{5}},
		{[]int64{N, 3}, []int64{1, 3}, []int64{N, 3}},
		{[]int64{N, 3}, []int64{N, 1}, []int64{N, 3}},
	} {
		if got, err := Broadcast(c.a, c.b); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Broadcast(%v, %v) = %v, %v; want %v", c.a, c.b, got, err, c.want)
		}
	}
	_, err := Broadcast([]int64{N, 3}, []int64{5, 3})
	var be *BroadcastError
	if !errors.As(err, &be) || be.Axis != 0 || be.DimA != N || be.DimB != 5 || !strings.Contains(err.Error(), "[N,3] and [5,3]") {
		t.Errorf("Broadcast of N against 5: %v (%+v)", err, be)
	}
}

func TestSqueezeUnsqueeze(t *testing.T) {
	out, removed, err := Squeeze([]int64{N, 1, 3, 1}, nil)
	if err != nil || !slices.Equal(out, []int64{N, 3}) || !slices.Equal(removed, []int64{1, 3}) {
		t.Errorf("Squeeze all: %v %v %v", out, removed, err)
	}
	if _, _, err := Squeeze([]int64{N, 1, 3}, []int64{2}); err == nil || !strings.Contains(err.Error(), "axis 2 of size 3") {
		t.Errorf("Squeeze of a size-3 axis: %v", err)
	}
	if _, _, err := Squeeze([]int64{N, 1}, []int64{0}); err == nil || !strings.Contains(err.Error(), "size N") {
		t.Errorf("Squeeze of the symbolic axis: %v", err)
	}
	out, inserted, err := Unsqueeze([]int64{N, 3}, []int64{-1, 1})
	if err != nil || !slices.Equal(out, []int64{N, 1, 3, 1}) || !slices.Equal(inserted, []int64{1, 3}) {
		t.Errorf("Unsqueeze: %v %v %v", out, inserted, err)
	}
	if _, _, err := Unsqueeze([]int64{3}, []int64{0, 0}); err == nil {
		t.Error("Unsqueeze with a repeated axis: no error")
	}
}

func TestWindow(t *testing.T) {
	cases := []struct {
		attrs            []*onnxpb.AttributeProto
		in, kernel, out  []int64
		ceil             bool
		padBegin, padEnd []int64
	}{
		{nil, []int64{7, 7}, []int64{3, 3}, []int64{5, 5}, false, []int64{0, 0}, []int64{0, 0}},
		{[]*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInts("strides", 2, 2)},
			[]int64{7, 8}, []int64{3, 3}, []int64{4, 4}, false, []int64{1, 1}, []int64{1, 1}},
		{[]*onnxpb.AttributeProto{onnx.AttrString("auto_pad", "SAME_UPPER"), onnx.AttrInts("strides", 2)},
			[]int64{8}, []int64{3}, []int64{4}, false, []int64{0}, []int64{1}},
		{[]*onnxpb.AttributeProto{onnx.AttrString("auto_pad", "SAME_LOWER"), onnx.AttrInts("strides", 2)},
			[]int64{8}, []int64{3}, []int64{4}, false, []int64{1}, []int64{0}},
		// ceil_mode: a last, partial window; unless it would start in the end pad.
		{[]*onnxpb.AttributeProto{onnx.AttrInts("strides", 2)}, []int64{6}, []int64{3}, []int64{3}, true, []int64{0}, []int64{0}},
		{[]*onnxpb.AttributeProto{onnx.AttrInts("strides", 2), onnx.AttrInts("pads", 0, 1)}, []int64{6}, []int64{2}, []int64{3}, true, []int64{0}, []int64{1}},
		{[]*onnxpb.AttributeProto{onnx.AttrInts("dilations", 2)}, []int64{7}, []int64{3}, []int64{3}, false, []int64{0}, []int64{0}},
	}
	for i, c := range cases {
		w, err := NewWindow(node("MaxPool", c.attrs...), c.in, c.kernel, c.ceil)
		if err != nil || !slices.Equal(w.Out, c.out) || !slices.Equal(w.PadBegin, c.padBegin) || !slices.Equal(w.PadEnd, c.padEnd) {
			t.Errorf("case %d: %+v, %v; want out %v pads %v %v", i, w, err, c.out, c.padBegin, c.padEnd)
		}
	}
	if _, err := NewWindow(node("MaxPool"), []int64{2}, []int64{3}, false); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("window larger than the input: %v", err)
	}
	out, _, err := Conv(node("Conv", onnx.AttrInt("group", 2)), []int64{N, 4, 5, 5}, []int64{6, 2, 3, 3})
	if err != nil || !slices.Equal(out, []int64{N, 6, 3, 3}) {
		t.Errorf("grouped Conv: %v, %v", out, err)
	}
	if _, _, err := Conv(node("Conv", onnx.AttrInt("group", 3)), []int64{N, 4, 5, 5}, []int64{6, 2, 3, 3}); err == nil {
		t.Error("Conv with a group that does not fit: no error")
	}
}

func TestFolds(t *testing.T) {
	shape := ints([]int64{4}, N, 3, 32, 32)
	g, err := FoldGather(shape, ints(nil, 0), 0)
	if err != nil || fmt.Sprint(g.Int64) != fmt.Sprint([]int64{N}) || len(g.Dims) != 0 {
		t.Errorf("Gather of the batch: %+v, %v", g, err)
	}
	c, err := FoldConcat([]*onnx.Tensor{ints([]int64{1}, N), ints([]int64{1}, -1)}, 0)
	if err != nil || fmt.Sprint(c.Int64) != fmt.Sprint([]int64{N, -1}) {
		t.Errorf("Concat: %+v, %v", c, err)
	}
	if _, err := FoldArith("Mul", ints(nil, N), ints(nil, 2)); err == nil {
		t.Error("arithmetic on the symbolic size: no error")
	}
	if _, err := FoldArith("Div", ints([]int64{2}, 4, 5), ints(nil, 0)); err == nil {
		t.Error("integer division by zero: no error")
	}
	if _, err := FoldArith("Add", floats(nil, 1), ints(nil, 1)); err == nil {
		t.Error("float + integer: no error")
	}
	sum, err := FoldArith("Sub", floats([]int64{2, 1}, 1, 2), floats([]int64{3}, 1, 2, 3))
	if err != nil || fmt.Sprint(sum.Dims, sum.Float32) != "[2 3] [0 -1 -2 1 0 -1]" {
		t.Errorf("broadcast Sub: %+v, %v", sum, err)
	}
	cast, err := FoldCast(floats([]int64{3}, -1.7, 0, 2.9), onnx.Int64)
	if err != nil || fmt.Sprint(cast.Int64) != "[-1 0 2]" {
		t.Errorf("Cast float -> int64: %+v, %v", cast, err)
	}
	if _, err := FoldCast(ints(nil, N), onnx.Float); err == nil {
		t.Error("Cast of the symbolic size to float: no error")
	}
	reg, err := Slice([]int64{2, 4}, []int64{-1}, []int64{-5}, []int64{1}, []int64{-2})
	if err != nil {
		t.Fatal(err)
	}
	sl := FoldSlice(floats([]int64{2, 4}, 0, 1, 2, 3, 4, 5, 6, 7), reg)
	if fmt.Sprint(sl.Dims, sl.Float32) != "[2 2] [3 1 7 5]" {
		t.Errorf("reverse Slice: %v %v", sl.Dims, sl.Float32)
	}
	tr := FoldTranspose(floats([]int64{2, 3}, 0, 1, 2, 3, 4, 5), []int{1, 0})
	if fmt.Sprint(tr.Dims, tr.Float32) != "[3 2] [0 3 1 4 2 5]" {
		t.Errorf("Transpose: %v %v", tr.Dims, tr.Float32)
	}
	pc, err := NewPadCopy([]int64{2}, []int64{1}, []int64{-1})
	if err != nil {
		t.Fatal(err)
	}
	if p := FoldPad(floats([]int64{2}, 5, 6), pc, 9); fmt.Sprint(p.Float32) != "[9 5]" {
		t.Errorf("Pad 1 / crop 1: %v", p.Float32)
	}
	cs, err := ConstantOfShape(node("ConstantOfShape"), ints([]int64{2}, 2, 2))
	if err != nil || fmt.Sprint(cs.Dims, cs.Float32) != "[2 2] [0 0 0 0]" {
		t.Errorf("ConstantOfShape: %+v, %v", cs, err)
	}
	sh := Shape(node("Shape", onnx.AttrInt("start", 1), onnx.AttrInt("end", -1)), 15, []int64{N, 3, 32, 32})
	if fmt.Sprint(sh.Int64) != "[3 32]" {
		t.Errorf("Shape(start 1, end -1): %v", sh.Int64)
	}
}

func TestMatMulGemmReduce(t *testing.T) {
	if out, err := MatMul([]int64{N, 5, 4}, []int64{4, 3}); err != nil || !slices.Equal(out, []int64{N, 5, 3}) {
		t.Errorf("MatMul: %v, %v", out, err)
	}
	if _, err := MatMul([]int64{2, 5, 4}, []int64{3, 4, 3}); err == nil {
		t.Error("MatMul with broadcast batch dims: no error")
	}
	out, err := Gemm(node("Gemm", onnx.AttrInt("transB", 1)), []int64{N, 4}, []int64{10, 4}, []int64{10})
	if err != nil || !slices.Equal(out, []int64{N, 10}) {
		t.Errorf("Gemm transB: %v, %v", out, err)
	}
	r, err := Reduce([]int64{N, 3, 4, 4}, []int64{-1, 2}, false, false)
	if err != nil || !slices.Equal(r.Out, []int64{N, 3}) || !slices.Equal(r.Axes, []int64{2, 3}) || !slices.Equal(r.Keep, []int64{N, 3, 1, 1}) {
		t.Errorf("Reduce: %+v, %v", r, err)
	}
	if r, _ := Reduce([]int64{2, 3}, nil, true, true); !r.Noop {
		t.Error("noop_with_empty_axes: not a no-op")
	}
	if a, coerced, err := SoftmaxAxis(node("Softmax"), 11, 2); a != 1 || !coerced || err != nil {
		t.Errorf("opset-11 Softmax axis: %d %v %v", a, coerced, err)
	}
}
