package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// refReduce sums (or averages) x of shape in over the axes flagged in red,
// giving the keepdims layout.
func refReduce(x []float64, in []int, red []bool, mean bool) []float64 {
	keep := make([]int, len(in))
	cnt := 1
	for i, d := range in {
		keep[i] = d
		if red[i] {
			keep[i] = 1
			cnt *= d
		}
	}
	y := make([]float64, static.Prod(keep))
	kst := static.RowStrides(keep)
	idx := make([]int, len(in))
	for o, v := range x {
		rem := o
		for i := len(in) - 1; i >= 0; i-- {
			idx[i] = rem % in[i]
			rem /= in[i]
		}
		off := 0
		for i := range in {
			if !red[i] {
				off += idx[i] * kst[i]
			}
		}
		y[off] += v
	}
	if mean {
		for i := range y {
			y[i] /= float64(cnt)
		}
	}
	return y
}

func TestReduce(t *testing.T) {
	in := []int{2, 3, 4}
	type tc struct {
		name     string
		axes     []int64 // nil: attribute/input absent
		keepdims int64   // -1: attribute absent (default 1)
		noop     bool
		red      []bool
		out      []int
	}
	cases := []tc{
		{name: "axis1_keep", axes: []int64{1}, keepdims: 1, red: []bool{false, true, false}, out: []int{2, 1, 4}},
		{name: "axis1_drop", axes: []int64{1}, keepdims: 0, red: []bool{false, true, false}, out: []int{2, 4}},
		{name: "spatial_neg", axes: []int64{-1, -2}, keepdims: -1, red: []bool{false, true, true}, out: []int{2, 1, 1}},
		{name: "axis0_drop", axes: []int64{0}, keepdims: 0, red: []bool{true, false, false}, out: []int{3, 4}},
		{name: "outer_inner", axes: []int64{0, 2}, keepdims: 1, red: []bool{true, false, true}, out: []int{1, 3, 1}},
		{name: "all_default", keepdims: -1, red: []bool{true, true, true}, out: []int{1, 1, 1}},
		{name: "all_scalar", keepdims: 0, red: []bool{true, true, true}, out: []int{}},
		{name: "noop", keepdims: 1, noop: true, red: []bool{false, false, false}, out: []int{2, 3, 4}},
	}
	for _, op := range []struct {
		name       string
		mean       bool
		inputSince int
	}{{"ReduceSum", false, 13}, {"ReduceMean", true, 18}} {
		for _, opset := range []int{op.inputSince - 1, op.inputSince} {
			for _, c := range cases {
				if c.noop && opset < op.inputSince {
					continue // noop_with_empty_axes exists only in the input form
				}
				t.Run(fmt.Sprintf("%s_op%d_%s", op.name, opset, c.name), func(t *testing.T) {
					var attrs []*onnxpb.AttributeProto
					ins := []refIn{{name: "x", shape: in}}
					if c.keepdims >= 0 {
						attrs = append(attrs, onnx.AttrInt("keepdims", c.keepdims))
					}
					if c.noop {
						attrs = append(attrs, onnx.AttrInt("noop_with_empty_axes", 1))
					}
					if c.axes != nil {
						if opset < op.inputSince {
							attrs = append(attrs, onnx.AttrInts("axes", c.axes...))
						} else {
							ins = append(ins, refIn{name: "axes", shape: []int{len(c.axes)}, ints: c.axes})
						}
					}
					runRefCase(t, refCase{name: c.name, op: op.name, opset: opset, attrs: attrs, ins: ins, outShape: c.out,
						ref: func(x [][]float64) []float64 { return refReduce(x[0], in, c.red, op.mean) }})
				})
			}
		}
	}
}

func TestReduceFoldsConstants(t *testing.T) {
	b := &Builder{Model: refModel("ReduceSum", 11, nil, nil, 1, 1)}
	node := &onnx.Node{OpType: "ReduceSum", Proto: &onnxpb.NodeProto{Attribute: []*onnxpb.AttributeProto{onnx.AttrInts("axes", 0), onnx.AttrInt("keepdims", 0)}}}
	x := ConstValue(&onnx.Tensor{Type: onnx.Int64, Dims: []int64{2, 2}, Int64: []int64{1, 2, 30, 40}})
	out, err := buildReduce(false, 13)(b, node, []*Value{x})
	if err != nil {
		t.Fatal(err)
	}
	if c := out[0].Const; c == nil || c.Type != onnx.Int64 || fmt.Sprint(c.Int64) != "[31 42]" {
		t.Errorf("folded %+v, want int64 [31 42]", c)
	}
}

// refVariadic combines broadcast inputs: comb 0 sum, 1 max, 2 min.
func refVariadic(xs [][]float64, shapes [][]int, out []int, comb int) []float64 {
	y := make([]float64, static.Prod(out))
	idx := make([]int, len(out))
	for o := range y {
		rem := o
		for i := len(out) - 1; i >= 0; i-- {
			idx[i] = rem % out[i]
			rem /= out[i]
		}
		for k, s := range shapes {
			ps := padShape(s, len(out))
			st := static.RowStrides(ps)
			off := 0
			for i := range out {
				if ps[i] != 1 {
					off += idx[i] * st[i]
				}
			}
			v := xs[k][off]
			switch {
			case k == 0:
				y[o] = v
			case comb == 0:
				y[o] += v
			case comb == 1:
				y[o] = math.Max(y[o], v)
			default:
				y[o] = math.Min(y[o], v)
			}
		}
	}
	return y
}

func TestVariadic(t *testing.T) {
	cases := []struct {
		shapes [][]int
		out    []int
	}{
		{[][]int{{2, 3}, {2, 3}}, []int{2, 3}},
		{[][]int{{2, 3, 4}, {3, 1}, {4}}, []int{2, 3, 4}},
		{[][]int{{1, 3}, {2, 1}}, []int{2, 3}},
		{[][]int{{2, 3}}, []int{2, 3}},
	}
	for comb, op := range []string{"Sum", "Max", "Min"} {
		for _, c := range cases {
			t.Run(fmt.Sprint(op, c.shapes), func(t *testing.T) {
				var ins []refIn
				for i, s := range c.shapes {
					ins = append(ins, refIn{name: fmt.Sprintf("x%d", i), shape: s})
				}
				runRefCase(t, refCase{name: fmt.Sprint(op, c.shapes), op: op, opset: 13, ins: ins, outShape: c.out,
					ref: func(x [][]float64) []float64 { return refVariadic(x, c.shapes, c.out, comb) }})
			})
		}
	}
}

// TestMaxTies checks that tied inputs share the gradient evenly, like
// PyTorch's maximum.
func TestMaxTies(t *testing.T) {
	a, b := []float32{1, 2, 3}, []float32{1, 5, 0}
	m := refModel("Max", 13, nil, []refIn{{name: "a", shape: []int{3}}, {name: "b", shape: []int{3}}}, 1, 1)
	bld, err := NewBuilder(m, Options{InputGrads: true})
	if err != nil {
		t.Fatal(err)
	}
	loss, _ := bld.WeightedSum(bld.Outputs[0], []float32{1, 1, 1})
	p, err := bld.Compile(loss)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetInput("a", a)
	p.SetInput("b", b)
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if ga, gb := fmt.Sprint(p.InputGrad("a")), fmt.Sprint(p.InputGrad("b")); ga != "[0.5 0 1]" || gb != "[0.5 1 0]" {
		t.Errorf("gradients %s, %s; want [0.5 0 1], [0.5 1 0]", ga, gb)
	}
}

func TestReduceRejects(t *testing.T) {
	x := refIn{name: "x", shape: []int{2, 3}}
	buildErr(t, "ReduceMean", 13, []*onnxpb.AttributeProto{onnx.AttrInts("axes", 2)}, []refIn{x}, "axis 2 out of range")
	buildErr(t, "ReduceSum", 13, nil, []refIn{x, {name: "a", shape: []int{1}}}, "axes must be a constant")
	checkUnsupported(t, "ReduceSum", 13, []*onnxpb.AttributeProto{onnx.AttrInts("axes", 0)}, []refIn{x}, 1, `attribute "axes" not supported`)
	checkUnsupported(t, "ReduceMean", 13, []*onnxpb.AttributeProto{onnx.AttrInt("noop_with_empty_axes", 1)}, []refIn{x}, 1, `attribute "noop_with_empty_axes" not supported`)
	buildErr(t, "Sum", 13, nil, []refIn{x, {name: "y", shape: []int{4}}}, "do not broadcast")
	buildErr(t, "Max", 7, nil, []refIn{x, {name: "y", shape: []int{3}}}, "needs equal shapes")
}
