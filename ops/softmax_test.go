package ops

import (
	"math"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// refSoftmax normalizes x viewed as [outer, n, inner] over n.
func refSoftmax(x []float64, outer, n, inner int, log bool) []float64 {
	y := make([]float64, len(x))
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			mx := math.Inf(-1)
			for j := 0; j < n; j++ {
				mx = math.Max(mx, x[(o*n+j)*inner+i])
			}
			var s float64
			for j := 0; j < n; j++ {
				s += math.Exp(x[(o*n+j)*inner+i] - mx)
			}
			for j := 0; j < n; j++ {
				p := (o*n+j)*inner + i
				if log {
					y[p] = x[p] - mx - math.Log(s)
				} else {
					y[p] = math.Exp(x[p]-mx) / s
				}
			}
		}
	}
	return y
}

func TestSoftmax(t *testing.T) {
	shape := []int{2, 3, 4}
	type tc struct {
		name                string
		opset               int
		axis                *int64
		outer, axisN, inner int
	}
	ax := func(v int64) *int64 { return &v }
	cases := []tc{
		// opset < 13: coerced to 2-D at axis (default 1).
		{name: "op11_default", opset: 11, outer: 2, axisN: 12, inner: 1},
		{name: "op11_axis2", opset: 11, axis: ax(2), outer: 6, axisN: 4, inner: 1},
		{name: "op11_axis0", opset: 11, axis: ax(0), outer: 1, axisN: 24, inner: 1},
		{name: "op11_axis-2", opset: 11, axis: ax(-2), outer: 2, axisN: 12, inner: 1},
		// opset >= 13: one axis (default -1).
		{name: "op13_default", opset: 13, outer: 6, axisN: 4, inner: 1},
		{name: "op13_axis1", opset: 13, axis: ax(1), outer: 2, axisN: 3, inner: 4},
		{name: "op13_axis0", opset: 13, axis: ax(0), outer: 1, axisN: 2, inner: 12},
	}
	for _, op := range []string{"Softmax", "LogSoftmax"} {
		for _, c := range cases {
			t.Run(op+"_"+c.name, func(t *testing.T) {
				var attrs []*onnxpb.AttributeProto
				if c.axis != nil {
					attrs = append(attrs, onnx.AttrInt("axis", *c.axis))
				}
				x := make([]float32, static.Prod(shape))
				for i := range x {
					x[i] = float32(i%7)*0.6 - 1.5
				}
				runRefCase(t, refCase{name: c.name, op: op, opset: c.opset, attrs: attrs, outShape: shape,
					ins: []refIn{{name: "x", shape: shape, f: x}},
					ref: func(x [][]float64) []float64 { return refSoftmax(x[0], c.outer, c.axisN, c.inner, op == "LogSoftmax") }})
			})
		}
	}
}

// TestSoftmaxLargeInputs checks the max subtraction: no overflow for large
// logits.
func TestSoftmaxLargeInputs(t *testing.T) {
	x := []float32{1000, 1001, 999, -1000}
	runRefCase(t, refCase{name: "large", op: "LogSoftmax", opset: 13, outShape: []int{1, 4},
		ins: []refIn{{name: "x", shape: []int{1, 4}, f: x}},
		ref: func(x [][]float64) []float64 { return refSoftmax(x[0], 1, 4, 1, true) }})
	runRefCase(t, refCase{name: "large", op: "Softmax", opset: 13, outShape: []int{1, 4},
		ins: []refIn{{name: "x", shape: []int{1, 4}, f: x}},
		ref: func(x [][]float64) []float64 { return refSoftmax(x[0], 1, 4, 1, false) }})
}

func TestSoftmaxRejects(t *testing.T) {
	x := []refIn{{name: "x", shape: []int{2, 3}}}
	buildErr(t, "Softmax", 13, []*onnxpb.AttributeProto{onnx.AttrInt("axis", 2)}, x, "axis 2 out of range")
	buildErr(t, "LogSoftmax", 11, []*onnxpb.AttributeProto{onnx.AttrInt("axis", 3)}, x, "axis 3 out of range")
}
