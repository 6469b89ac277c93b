package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"
	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// fusionModel is BatchNormalization -> [Add residual] -> Reshape [T, N, ...]
// -> LIF in training mode, the pattern fuseIntoLIF fuses; with exposeBN the
// BatchNormalization's output is also a graph output, which forbids the
// fusion and gives the reference.
func fusionModel(T, N, C, H, W int, residual, exposeBN bool, r *rand.Rand) *onnx.Model {
	s := proto.String
	shape := []int{T * N, C, H, W}
	vec := func(name string, lo, hi float64) *onnxpb.TensorProto {
		d := make([]float32, C)
		for i := range d {
			d[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return onnx.FloatTensor(name, []int64{int64(C)}, d)
	}
	g := &onnxpb.GraphProto{Name: s("fusion"),
		Input: []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("z", onnx.Float, refShape(shape))},
		Initializer: []*onnxpb.TensorProto{vec("scale", 0.5, 1.5), vec("bias", 0.2, 0.8), vec("mean", -0.1, 0.1), vec("var", 0.9, 1.1),
			onnx.Int64Tensor("tn", []int64{5}, []int64{int64(T), int64(N), int64(C), int64(H), int64(W)})},
		Node: []*onnxpb.NodeProto{{OpType: s("BatchNormalization"), Name: s("bn"), Input: []string{"z", "scale", "bias", "mean", "var"}, Output: []string{"b"}}},
	}
	lifIn := "b"
	if residual {
		g.Input = append(g.Input, onnx.ValueInfoProto("res", onnx.Float, refShape(shape)))
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: s("Add"), Name: s("add"), Input: []string{"b", "res"}, Output: []string{"a"}})
		lifIn = "a"
	}
	lif := &onnxpb.NodeProto{OpType: s("LIF"), Domain: s(bsnn.DomainSNN), Name: s("lif"), Input: []string{"tn.out"}, Output: []string{"spikes"}}
	lif.Attribute = bsnn.LIFAttributes(spiking.DefaultLIF())
	g.Node = append(g.Node, &onnxpb.NodeProto{OpType: s("Reshape"), Name: s("to_tn"), Input: []string{lifIn, "tn"}, Output: []string{"tn.out"}}, lif)
	g.Output = []*onnxpb.ValueInfoProto{{Name: s("spikes")}}
	if exposeBN {
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: s("b")})
	}
	spec, _ := Lookup(bsnn.DomainSNN, "LIF", 1)
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: proto.Int64(17)}, {Domain: s(bsnn.DomainSNN), Version: proto.Int64(1)}},
		Functions:   []*onnxpb.FunctionProto{spec.Function()}}}
}

// TestBNFusedIntoLIF: the fused BatchNormalization -> (Add) -> LIF gives
// the same spikes, firing rates and gradients (of the BN parameters and of
// the inputs), bit for bit, as the unfused graph, with and without the
// LIF's row sums (S = 64 divides the LIF chunk, S = 25 does not).
func TestBNFusedIntoLIF(t *testing.T) {
	for _, residual := range []bool{false, true} {
		for _, hw := range []int{8, 5} {
			t.Run(fmt.Sprintf("residual=%v/S=%d", residual, hw*hw), func(t *testing.T) {
				const T, N, C = 3, 4, 5
				n := T * N * C * hw * hw
				r := rand.New(rand.NewPCG(9, uint64(hw)))
				z, res, dy := randF32(r, n), randF32(r, n), randF32(r, n)
				type result struct {
					spikes, dz, dres, dscale, dbias []float32
					fused                           bool
				}
				run := func(expose bool) result {
					m := fusionModel(T, N, C, hw, hw, residual, expose, rand.New(rand.NewPCG(1, 2)))
					inputs := map[string][]float32{"z": z}
					if residual {
						inputs["res"] = res
					}
					b, p := compileRun(t, m, Options{Training: true, InputGrads: true}, dy, inputs)
					defer p.Close()
					var out result
					for _, nd := range b.G.AllNodes() {
						if k, ok := KernelOf(nd).(*lifKernel); ok {
							out.fused = k.fused != nil
						}
					}
					out.spikes = p.Output(0).Float32
					out.dz = append([]float32(nil), p.InputGrad("z")...)
					out.dres = append([]float32(nil), p.InputGrad("res")...)
					out.dscale = append([]float32(nil), p.Grad(b.Param("scale"))...)
					out.dbias = append([]float32(nil), p.Grad(b.Param("bias"))...)
					return out
				}
				fused, ref := run(false), run(true)
				if !fused.fused || ref.fused {
					t.Fatalf("fused: %v and %v, want true and false", fused.fused, ref.fused)
				}
				for _, c := range []struct {
					name     string
					got, ref []float32
				}{{"spikes", fused.spikes, ref.spikes}, {"dz", fused.dz, ref.dz}, {"dres", fused.dres, ref.dres},
					{"dscale", fused.dscale, ref.dscale}, {"dbias", fused.dbias, ref.dbias}} {
					if len(c.got) != len(c.ref) {
						t.Fatalf("%s: %d values, reference %d", c.name, len(c.got), len(c.ref))
					}
					for i := range c.got {
						if math.Float32bits(c.got[i]) != math.Float32bits(c.ref[i]) {
							t.Fatalf("%s[%d] = %v, unfused %v", c.name, i, c.got[i], c.ref[i])
						}
					}
				}
			})
		}
	}
}

// compileRun compiles m, with w (not nil) under the loss sum(output 0 * w),
// sets the inputs and runs it once. The program is closed when the test ends.
func compileRun(t *testing.T, m *onnx.Model, opts Options, w []float32, inputs map[string][]float32) (*Builder, *Program) {
	t.Helper()
	b, err := NewBuilder(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	var loss *G.Node
	if w != nil {
		if loss, err = b.WeightedSum(b.Outputs[0], w); err != nil {
			t.Fatal(err)
		}
	}
	p, err := b.Compile(loss)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for name, v := range inputs {
		if err := p.SetInput(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	return b, p
}
