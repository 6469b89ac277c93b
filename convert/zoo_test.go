package convert

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// zooIR is the IR version an exporter writes with each opset.
var zooIR = map[int]int64{7: 3, 9: 4, 10: 5, 11: 6, 13: 7, 15: 8, 17: 8, 18: 8, 19: 9, 21: 10}

// zooModel builds, at a given opset, a small network that uses every op of
// the converter's runtime list in the form that opset writes: Sub/Div input
// normalisation, Conv, BN (spatial before 9, training_mode 14+), Clip
// (attributes before 11, inputs after), Pad (attribute pads before 11,
// inputs after, axes input from 18), AveragePool (dilations from 19),
// MaxPool (ceil_mode from 10), two binary branches and Concat, Transpose,
// ReduceMean (axes input from 18), Squeeze/Unsqueeze (axes input from 13),
// Flatten, a Reshape that hard-codes the static batch 2, Dropout (ratio
// input from 12), MatMul + Add bias, Identity, a hidden Gemm with an
// [in, out] weight, alpha and beta, the last Gemm (transB), Softmax.
func zooModel(t *testing.T, opset int) *onnx.Model {
	rng := rand.New(rand.NewPCG(uint64(opset), 9))
	var nodes []*onnxpb.NodeProto
	var inits []*onnxpb.TensorProto
	s := proto.String
	cnt := 0
	node := func(op string, in []string, attrs ...*onnxpb.AttributeProto) string {
		cnt++
		out := fmt.Sprintf("t%d", cnt)
		nodes = append(nodes, &onnxpb.NodeProto{Name: s(fmt.Sprintf("/%s_%d", op, cnt)), OpType: s(op), Input: in, Output: []string{out}, Attribute: attrs})
		return out
	}
	randT := func(name string, scale float64, dims ...int64) string {
		v := make([]float32, numel(dims))
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
		}
		inits = append(inits, onnx.FloatTensor(name, dims, v))
		return name
	}
	posT := func(name string, dims ...int64) string {
		v := make([]float32, numel(dims))
		for i := range v {
			v[i] = float32(0.5 + rng.Float64())
		}
		inits = append(inits, onnx.FloatTensor(name, dims, v))
		return name
	}
	intsT := func(name string, v ...int64) string {
		inits = append(inits, onnx.Int64Tensor(name, []int64{int64(len(v))}, v))
		return name
	}
	scalar := func(name string, v float32) string {
		inits = append(inits, onnx.FloatTensor(name, nil, []float32{v}))
		return name
	}
	x := node("Sub", []string{"input", randT("mean", 0.1, 1, 3, 1, 1)})
	x = node("Div", []string{x, posT("std", 1, 3, 1, 1)})
	x = node("Conv", []string{x, randT("conv1.weight", 0.3, 4, 3, 3, 3), randT("conv1.bias", 0.1, 4)},
		onnx.AttrInts("kernel_shape", 3, 3), onnx.AttrInts("pads", 1, 1, 1, 1))
	bnAttrs := []*onnxpb.AttributeProto{onnx.AttrFloat("epsilon", 1e-5), onnx.AttrFloat("momentum", 0.9)}
	if opset < 9 {
		bnAttrs = append(bnAttrs, onnx.AttrInt("spatial", 1))
	}
	if opset >= 14 {
		bnAttrs = append(bnAttrs, onnx.AttrInt("training_mode", 0))
	}
	x = node("BatchNormalization", []string{x, posT("bn1.weight", 4), randT("bn1.bias", 0.1, 4), randT("bn1.running_mean", 0.1, 4), posT("bn1.running_var", 4)}, bnAttrs...)
	if opset < 11 {
		x = node("Clip", []string{x}, onnx.AttrFloat("min", 0), onnx.AttrFloat("max", 6))
	} else {
		x = node("Clip", []string{x, scalar("clip.min", 0), scalar("clip.max", 6)})
	}
	switch {
	case opset < 11:
		x = node("Pad", []string{x}, onnx.AttrInts("pads", 0, 0, 1, 1, 0, 0, 1, 1), onnx.AttrString("mode", "constant"), onnx.AttrFloat("value", 0.5))
	case opset < 18:
		x = node("Pad", []string{x, intsT("pad.pads", 0, 0, 1, 1, 0, 0, 1, 1), scalar("pad.value", 0.5)}, onnx.AttrString("mode", "constant"))
	default:
		x = node("Pad", []string{x, intsT("pad.pads", 1, 1, 1, 1), scalar("pad.value", 0.5), intsT("pad.axes", 2, 3)}, onnx.AttrString("mode", "constant"))
	}
	apAttrs := []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 2, 2), onnx.AttrInts("strides", 2, 2), onnx.AttrInt("count_include_pad", 0)}
	if opset >= 19 {
		apAttrs = append(apAttrs, onnx.AttrInts("dilations", 1, 1))
	}
	x = node("AveragePool", []string{x}, apAttrs...) // [2,4,5,5]
	a := node("Conv", []string{x, randT("branch_a.weight", 0.5, 6, 4, 1, 1)}, onnx.AttrInts("kernel_shape", 1, 1))
	a = node("Relu", []string{a})
	mpAttrs := []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 3, 3), onnx.AttrInts("pads", 1, 1, 1, 1)}
	if opset >= 10 {
		mpAttrs = append(mpAttrs, onnx.AttrInt("ceil_mode", 1))
	}
	b := node("MaxPool", []string{x}, mpAttrs...)
	b = node("Conv", []string{b, randT("branch_b.weight", 0.3, 2, 4, 3, 3), randT("branch_b.bias", 0.1, 2)},
		onnx.AttrInts("kernel_shape", 3, 3), onnx.AttrInts("pads", 1, 1, 1, 1))
	b = node("Relu", []string{b})
	x = node("Concat", []string{a, b}, onnx.AttrInt("axis", 1)) // [2,8,5,5]
	x = node("Transpose", []string{x}, onnx.AttrInts("perm", 0, 2, 3, 1))
	x = node("Transpose", []string{x}, onnx.AttrInts("perm", 0, 3, 1, 2))
	if opset < 18 {
		x = node("ReduceMean", []string{x}, onnx.AttrInts("axes", 2, 3))
	} else {
		x = node("ReduceMean", []string{x, intsT("rm.axes", 2, 3)})
	}
	if opset < 13 {
		x = node("Squeeze", []string{x}, onnx.AttrInts("axes", 2, 3))
		x = node("Unsqueeze", []string{x}, onnx.AttrInts("axes", -1))
	} else {
		x = node("Squeeze", []string{x, intsT("sq.axes", 2, 3)})
		x = node("Unsqueeze", []string{x, intsT("usq.axes", -1)})
	}
	x = node("Flatten", []string{x}, onnx.AttrInt("axis", 1))
	x = node("Reshape", []string{x, intsT("rs.shape", 2, 8)}) // static batch hard-coded
	if opset < 12 {
		x = node("Dropout", []string{x}, onnx.AttrFloat("ratio", 0.3))
	} else {
		x = node("Dropout", []string{x, scalar("do.ratio", 0.3)})
	}
	x = node("MatMul", []string{x, randT("fc1.weight", 0.4, 8, 5)})
	x = node("Add", []string{x, randT("fc1.bias", 0.1, 5)})
	x = node("Relu", []string{x})
	x = node("Identity", []string{x})
	x = node("Gemm", []string{x, randT("fc_h.weight", 0.4, 5, 5), randT("fc_h.bias", 0.1, 1, 5)},
		onnx.AttrFloat("alpha", 0.5), onnx.AttrFloat("beta", 2)) // [in, out] weight, alpha and beta
	x = node("Relu", []string{x})
	x = node("Gemm", []string{x, randT("fc2.weight", 0.4, 3, 5), randT("fc2.bias", 0.1, 3)}, onnx.AttrInt("transB", 1))
	x = node("Softmax", []string{x}, onnx.AttrInt("axis", 1))
	nodes[len(nodes)-1].Output = []string{"output"}

	g := &onnxpb.GraphProto{Name: s("zoo"), Node: nodes, Initializer: inits,
		Input:  []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("input", onnx.Float, onnx.Shape{{Value: 2}, {Value: 3}, {Value: 8}, {Value: 8}})},
		Output: []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("output", onnx.Float, onnx.Shape{{Value: 2}, {Value: 3}})}}
	if zooIR[opset] < 4 {
		for _, in := range inits {
			g.Input = append(g.Input, onnx.ValueInfoProto(in.GetName(), onnx.DataType(in.GetDataType()), dimsShape(in.Dims)))
		}
	}
	m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(zooIR[opset]), ProducerName: s("zoo-test"), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: proto.Int64(int64(opset))}}}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func dimsShape(d []int64) onnx.Shape {
	s := make(onnx.Shape, len(d))
	for i, v := range d {
		s[i] = onnx.Dim{Value: v}
	}
	return s
}

// TestOpsetForms converts the zoo at opsets 7..21: every node is written in
// its opset-17 form (the Python checker accepts the file at opset 17), the
// layer roles are right, and onnxruntime gives the source's output (all
// float, Relu kept) at batch 2 and 4.
func TestOpsetForms(t *testing.T) {
	for _, opset := range []int{7, 9, 10, 11, 13, 15, 17, 18, 19, 21} {
		t.Run(fmt.Sprint("opset", opset), func(t *testing.T) {
			src := zooModel(t, opset)
			res := mustConvert(t, src, DefaultOptions())
			checkStructure(t, src, res, DefaultOptions())
			var bin []string
			for _, l := range res.Report.Layers {
				if l.Binary {
					bin = append(bin, l.Layer)
				}
			}
			if fmt.Sprint(bin) != "[branch_a branch_b fc1 fc_h]" {
				t.Errorf("binary layers %v, want branch_a, branch_b, fc1, fc_h", bin)
			}
			g, _ := res.Model.Graph()
			want := map[string]int{"Squeeze": 2, "Unsqueeze": 2, "Clip": 0, "Pad": 2, "ReduceMean": 1, "Softmax": 1, "Reshape": 2}
			for _, n := range g.Nodes {
				switch n.OpType {
				case "Squeeze", "Unsqueeze", "Pad", "Reshape":
					if len(n.Inputs) < want[n.OpType] || n.Has("axes") || n.Has("pads") || n.Has("value") {
						t.Errorf("%s %s not in opset-17 form: inputs %v attrs %v", n.OpType, n.Name, n.Inputs, n.Proto.Attribute)
					}
				case "ReduceMean":
					if len(n.Inputs) != 1 || !n.Has("axes") {
						t.Errorf("ReduceMean %s not in opset-17 form", n.Name)
					}
				case "BatchNormalization":
					if n.Has("spatial") || n.Has("training_mode") {
						t.Errorf("BatchNormalization %s keeps old attributes", n.Name)
					}
				case "AveragePool":
					if n.Has("dilations") {
						t.Errorf("AveragePool %s keeps dilations", n.Name)
					}
				case "Softmax":
					if n.Int("axis", -1) != 1 {
						t.Errorf("Softmax axis %d", n.Int("axis", -1))
					}
				}
			}
			if interop.PythonONNXAvailable() == nil || interop.Required() {
				interop.NeedPythonONNX(t)
				path := t.TempDir() + "/zoo.onnx"
				if err := onnx.EncodeFile(path, res.Model); err != nil {
					t.Fatal(err)
				}
				if err := interop.CheckModel(path); err != nil {
					t.Errorf("checker: %v", err)
				}
			}
			if interop.InitORT() != nil && !interop.Required() {
				return
			}
			interop.NeedORT(t)
			in := &onnx.Tensor{Type: onnx.Float, Dims: []int64{2, 3, 8, 8}, Float32: make([]float32, 2*3*64)}
			rng := rand.New(rand.NewPCG(7, uint64(opset)))
			for i := range in.Float32 {
				in.Float32[i] = float32(rng.NormFloat64())
			}
			ref := runORT(t, src, "input", in)
			for _, T := range []int{1, 3} {
				exact := mustConvert(t, src, allFloat(T))
				got := runORT(t, exact.Model, "input", in)
				if e := relErr(got.Float, ref.Float); e > 1e-5 {
					t.Errorf("T=%d: converted vs source rel err %.3g", T, e)
				}
				got2 := runORT(t, exact.Model, "input", doubled(in))
				if e := relErr(got2.Float, append(append([]float32{}, ref.Float...), ref.Float...)); e > 1e-5 {
					t.Errorf("T=%d at batch 4: rel err %.3g", T, e)
				}
			}
			// Binary layers with sign-structured weights are exact too
			// (Gemm alpha/beta, [in, out] Gemm, MatMul + Add bias).
			ss := signStructured(t, src)
			refB := runORT(t, ss, "input", in)
			gotB := runORT(t, mustConvert(t, ss, Options{TimeSteps: 1, ReLUAsReLU: true}).Model, "input", in)
			if e := relErr(gotB.Float, refB.Float); e > 1e-4 {
				t.Errorf("binary, sign-structured: rel err %.3g", e)
			}
			got := runORT(t, res.Model, "input", in)
			if len(got.Float) != 6 {
				t.Errorf("BSNN output %v", got.Shape)
			}
		})
	}
}
