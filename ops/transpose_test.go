package ops

import (
	"fmt"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// refTranspose permutes x of shape in by perm, index by index.
func refTranspose(x []float64, in, perm []int) []float64 {
	out := make([]int, len(perm))
	for i, a := range perm {
		out[i] = in[a]
	}
	inSt := static.RowStrides(in)
	y := make([]float64, len(x))
	idx := make([]int, len(out))
	for o := range y {
		rem := o
		for i := len(out) - 1; i >= 0; i-- {
			idx[i] = rem % out[i]
			rem /= out[i]
		}
		off := 0
		for i, a := range perm {
			off += idx[i] * inSt[a]
		}
		y[o] = x[off]
	}
	return y
}

func TestTranspose(t *testing.T) {
	cases := []struct {
		in   []int
		perm []int // nil: default (reverse)
	}{
		{[]int{3, 4}, nil},
		{[]int{2, 3, 4}, []int{0, 2, 1}},
		{[]int{2, 3, 4}, []int{2, 0, 1}},
		{[]int{2, 3, 4, 5}, []int{0, 2, 3, 1}}, // NCHW -> NHWC
		{[]int{2, 3, 4, 5}, []int{0, 3, 1, 2}}, // NHWC -> NCHW
		{[]int{2, 1, 4, 1}, []int{3, 2, 1, 0}},
		{[]int{4, 2, 3}, []int{1, 0, 2}}, // [T, N, ...] -> [N, T, ...]
		{[]int{2, 3, 4}, []int{0, 1, 2}}, // identity
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.in, c.perm), func(t *testing.T) {
			perm := c.perm
			var attrs []*onnxpb.AttributeProto
			if perm == nil {
				perm = make([]int, len(c.in))
				for i := range perm {
					perm[i] = len(c.in) - 1 - i
				}
			} else {
				p64 := make([]int64, len(perm))
				for i, v := range perm {
					p64[i] = int64(v)
				}
				attrs = append(attrs, onnx.AttrInts("perm", p64...))
			}
			out := make([]int, len(perm))
			for i, a := range perm {
				out[i] = c.in[a]
			}
			runRefCase(t, refCase{name: fmt.Sprint(c.in), op: "Transpose", opset: 13, attrs: attrs, outShape: out,
				ins: []refIn{{name: "x", shape: c.in}},
				ref: func(x [][]float64) []float64 { return refTranspose(x[0], c.in, perm) }})
		})
	}
}

// TestTransposeFoldsConstants checks compile-time transposition of float
// and int64 constants.
func TestTransposeFoldsConstants(t *testing.T) {
	node := &onnx.Node{OpType: "Transpose", Proto: &onnxpb.NodeProto{Attribute: []*onnxpb.AttributeProto{onnx.AttrInts("perm", 1, 0)}}}
	b := &Builder{Model: refModel("Transpose", 13, nil, nil, 1, 1)}
	for _, in := range []*onnx.Tensor{
		{Type: onnx.Int64, Dims: []int64{2, 3}, Int64: []int64{1, 2, 3, 4, 5, 6}},
		{Type: onnx.Float, Dims: []int64{2, 3}, Float32: []float32{1, 2, 3, 4, 5, 6}},
	} {
		out, err := buildTranspose(b, node, []*Value{ConstValue(in)})
		if err != nil {
			t.Fatal(err)
		}
		c := out[0].Const
		if c == nil || !slices.Equal(c.Shape(), []int{3, 2}) || c.Type != in.Type {
			t.Fatalf("folded %+v", c)
		}
		want := []int64{1, 4, 2, 5, 3, 6}
		for i, v := range c.Ints() {
			if v != want[i] {
				t.Errorf("%s: folded %v, want %v", in.Type, c.Ints(), want)
				break
			}
		}
	}
}

func TestTransposeRejects(t *testing.T) {
	x := []refIn{{name: "x", shape: []int{2, 3}}}
	buildErr(t, "Transpose", 13, []*onnxpb.AttributeProto{onnx.AttrInts("perm", 0)}, x, "perm [0] for a rank-2 input")
	buildErr(t, "Transpose", 13, []*onnxpb.AttributeProto{onnx.AttrInts("perm", 0, 0)}, x, "not a permutation")
}
