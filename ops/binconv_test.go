package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// binaryConvModel is BipolarQuant(latent, scale) -> Conv(x, ·) with the
// given attributes, or with binarize false the same convolution of the
// binarized weights given as an initializer (the float path).
func binaryConvModel(shape, wshape []int, latent []float32, scale float32, binarize bool, attrs []*onnxpb.AttributeProto) *onnx.Model {
	s := proto.String
	g := &onnxpb.GraphProto{Name: s("binconv"),
		Input:  []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("x", onnx.Float, refShape(shape))},
		Output: []*onnxpb.ValueInfoProto{{Name: s("y")}}}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: proto.Int64(17)}}}
	if binarize {
		g.Initializer = append(g.Initializer, onnx.FloatTensor("latent", dims64(wshape), latent), onnx.FloatTensor("scale", nil, []float32{scale}))
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: s("BipolarQuant"), Domain: s(bsnn.DomainQONNX), Name: s("bq"),
			Input: []string{"latent", "scale"}, Output: []string{"w"}})
		spec, _ := Lookup(bsnn.DomainQONNX, "BipolarQuant", 1)
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: s(bsnn.DomainQONNX), Version: proto.Int64(1)})
		m.Functions = []*onnxpb.FunctionProto{spec.Function()}
	} else {
		w := make([]float32, len(latent))
		for i, v := range latent {
			w[i] = scale
			if v < 0 {
				w[i] = -scale
			}
		}
		g.Initializer = append(g.Initializer, onnx.FloatTensor("w", dims64(wshape), w))
	}
	g.Node = append(g.Node, &onnxpb.NodeProto{OpType: s("Conv"), Name: s("conv"), Input: []string{"x", "w"}, Output: []string{"y"}, Attribute: attrs})
	return &onnx.Model{Proto: m}
}

// TestBinaryConvForward: a convolution of BipolarQuant weights on gated
// spikes runs on packed bits and agrees with the float convolution of the
// same weights; an image that is not gated spikes takes the float path.
func TestBinaryConvForward(t *testing.T) {
	for _, c := range []struct {
		shape, wshape []int
		attrs         []*onnxpb.AttributeProto
	}{
		{[]int{6, 16, 12, 12}, []int{16, 16, 3, 3}, []*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 1, 1, 1)}},
		{[]int{4, 5, 9, 11}, []int{7, 5, 3, 3}, []*onnxpb.AttributeProto{onnx.AttrInts("pads", 1, 0, 2, 1), onnx.AttrInts("strides", 2, 1)}},
		{[]int{3, 70, 4, 4}, []int{33, 70, 1, 1}, nil},
	} {
		t.Run(fmt.Sprint(c.shape, c.wshape), func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, uint64(c.shape[1])))
			latent := randF32(r, static.Prod(c.wshape))
			x := make([]float32, static.Prod(c.shape))
			per := static.Prod(c.shape[1:])
			for i := range x {
				if r.IntN(4) == 0 {
					x[i] = float32(0.25 + 0.1*float64(i/per)) // the image's gate
				}
			}
			x[len(x)-1] = 9 // the last image is not gated spikes
			run := func(binarize bool) ([]float32, bool) {
				b, p := compileRun(t, binaryConvModel(c.shape, c.wshape, latent, 0.5, binarize, c.attrs), Options{}, nil, map[string][]float32{"x": x})
				packed := false
				for _, n := range b.G.AllNodes() {
					if k, ok := KernelOf(n).(*convKernel); ok {
						packed = k.bin != nil
					}
				}
				return p.Output(0).Float32, packed
			}
			got, packed := run(true)
			want, float := run(false)
			if !packed || float {
				t.Fatalf("packed path: %v and %v, want true and false", packed, float)
			}
			if e := relErr64(got, toF64s(want)); e > 1e-6 {
				t.Errorf("relative error %g", e)
			}
		})
	}
}
