package interop

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Small builders for hand-made test models (onnxpb is proto2: every scalar
// field is a pointer).

const snnDomain = "bsnn.custom_op.snn"

var (
	tFloat = onnxpb.TensorProto_FLOAT
	tInt64 = onnxpb.TensorProto_INT64
)

// valueInfo builds a tensor ValueInfoProto. Each dim is an int (dim_value) or
// a string (dim_param); dims == nil declares a scalar (empty shape), and the
// single dim noShape leaves the shape out entirely.
func valueInfo(name string, elem onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ValueInfoProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem))}
	if !(len(dims) == 1 && dims[0] == noShape) {
		tt.Shape = &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{}}
		for _, d := range dims {
			switch d := d.(type) {
			case int:
				tt.Shape.Dim = append(tt.Shape.Dim, &onnxpb.TensorShapeProto_Dimension{
					Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
			case string:
				tt.Shape.Dim = append(tt.Shape.Dim, &onnxpb.TensorShapeProto_Dimension{
					Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
			default:
				panic("valueInfo: dim must be int or string")
			}
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}},
	}
}

type noShapeT struct{}

var noShape = noShapeT{}

func floatInit(name string, dims []int64, data []float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(tFloat)), FloatData: data}
}

func int64Init(name string, dims []int64, data []int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(tInt64)), Int64Data: data}
}

func node(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: out, Attribute: attrs}
}

func customNode(domain, op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := node(op, in, out, attrs...)
	n.Domain = proto.String(domain)
	n.Name = proto.String(name)
	return n
}

func opset(domain string, v int64) *onnxpb.OperatorSetIdProto {
	return &onnxpb.OperatorSetIdProto{Domain: proto.String(domain), Version: proto.Int64(v)}
}

// model wraps a graph with the project's header: IR 8, ai.onnx 17 first, then
// the given custom domains at version 1.
func model(g *onnxpb.GraphProto, fns []*onnxpb.FunctionProto, customDomains ...string) *onnxpb.ModelProto {
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(8),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{opset("", 17)},
		ProducerName:    proto.String("bsnnctl"),
		ProducerVersion: proto.String("interop-test"),
		Graph:           g,
		Functions:       fns,
	}
	for _, d := range customDomains {
		m.OpsetImport = append(m.OpsetImport, opset(d, 1))
	}
	return m
}

func function(domain, name string, in, out, attrs []string, nodes ...*onnxpb.NodeProto) *onnxpb.FunctionProto {
	return &onnxpb.FunctionProto{
		Domain:      proto.String(domain),
		Name:        proto.String(name),
		Input:       in,
		Output:      out,
		Attribute:   attrs,
		Node:        nodes,
		OpsetImport: []*onnxpb.OperatorSetIdProto{opset("", 17)},
	}
}

func writeModel(t *testing.T, m *onnxpb.ModelProto) string {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	p := filepath.Join(t.TempDir(), m.GetGraph().GetName()+".onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// needBoth asks for both tools: every model test checks and runs.
func needBoth(t *testing.T) {
	t.Helper()
	NeedPythonONNX(t)
	NeedORT(t)
}

func checkOK(t *testing.T, path string) {
	t.Helper()
	if err := CheckModel(path); err != nil {
		t.Fatalf("CheckModel: %v", err)
	}
}

func run(t *testing.T, path string, in map[string]Tensor, outs ...string) map[string]Tensor {
	t.Helper()
	res, err := RunORT(path, in, outs)
	if err != nil {
		t.Fatalf("RunORT: %v", err)
	}
	return res
}

// wantFloat compares shape and every float32 bit pattern exactly.
func wantFloat(t *testing.T, name string, got Tensor, shape []int64, want []float32) {
	t.Helper()
	if got.Int64 != nil || !equalShape(got.Shape, shape) || len(got.Float) != len(want) {
		t.Fatalf("%s: got shape %v (float %d, int64 %d values), want float32 %v",
			name, got.Shape, len(got.Float), len(got.Int64), shape)
	}
	for i := range want {
		if math.Float32bits(got.Float[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v (%#08x), want %v (%#08x)", name, i,
				got.Float[i], math.Float32bits(got.Float[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func wantInt64(t *testing.T, name string, got Tensor, shape []int64, want []int64) {
	t.Helper()
	if got.Float != nil || !equalShape(got.Shape, shape) || len(got.Int64) != len(want) {
		t.Fatalf("%s: got shape %v (float %d, int64 %d values), want int64 %v",
			name, got.Shape, len(got.Float), len(got.Int64), shape)
	}
	for i := range want {
		if got.Int64[i] != want[i] {
			t.Fatalf("%s[%d] = %d, want %d", name, i, got.Int64[i], want[i])
		}
	}
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lcg gives reproducible float32 test data in [-4, 4) with full mantissas.
type lcg uint64

func (s *lcg) next() float32 {
	*s = *s*6364136223846793005 + 1442695040888963407
	u := float32(*s>>40) / (1 << 24) // 24 random bits in [0, 1)
	return (u - 0.5) * 8
}

func (s *lcg) floats(n int) []float32 {
	r := make([]float32, n)
	for i := range r {
		r[i] = s.next()
	}
	return r
}
