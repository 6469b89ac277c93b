package onnx

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

var update = flag.Bool("update", false, "rewrite the testdata/invalid-*.onnx fixtures")

// tinyModel returns a valid model: Y = Relu(X·W + B), X [N,3] with a
// symbolic batch.
func tinyModel() *onnxpb.ModelProto {
	f := func(s string) *string { return &s }
	return &onnxpb.ModelProto{
		IrVersion:    ptr(int64(8)),
		ProducerName: f("bsnnctl-test"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: f(""), Version: ptr(int64(17))}},
		Graph: &onnxpb.GraphProto{
			Name: f("tiny"),
			Node: []*onnxpb.NodeProto{
				{Name: f("mm"), OpType: f("MatMul"), Input: []string{"X", "W"}, Output: []string{"XW"}},
				{Name: f("add"), OpType: f("Add"), Input: []string{"XW", "B"}, Output: []string{"Z"}},
				{Name: f("relu"), OpType: f("Relu"), Input: []string{"Z"}, Output: []string{"Y"}},
			},
			Initializer: []*onnxpb.TensorProto{
				FloatTensor("W", []int64{3, 2}, []float32{1, -1, 0.5, 2, -3, 0}),
				FloatTensor("B", []int64{2}, []float32{0.25, -0.5}),
			},
			Input:  []*onnxpb.ValueInfoProto{ValueInfoProto("X", Float, Shape{{Value: -1, Param: "N"}, {Value: 3}})},
			Output: []*onnxpb.ValueInfoProto{ValueInfoProto("Y", Float, Shape{{Value: -1, Param: "N"}, {Value: 2}})},
		},
	}
}

func mustMarshal(t testing.TB, m *onnxpb.ModelProto) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// invalidCases are the malformed files in testdata, made by -update from
// the tiny model; want is a fragment the error must contain.
var invalidCases = []struct {
	file string
	make func() []byte
	want string
}{
	{"invalid-empty.onnx", func() []byte { return nil }, "empty input"},
	{"invalid-not-protobuf.onnx", func() []byte { return []byte("this is not an ONNX file\n") }, "not an ONNX protobuf"},
	{"invalid-truncated.onnx", func() []byte { b := mustMarshal(nil, tinyModel()); return b[:len(b)-7] }, "not an ONNX protobuf"},
	{"invalid-no-ir-version.onnx", func() []byte { m := tinyModel(); m.IrVersion = nil; return mustMarshal(nil, m) }, "ir_version is missing"},
	{"invalid-no-graph.onnx", func() []byte { m := tinyModel(); m.Graph = nil; return mustMarshal(nil, m) }, "has no graph"},
	{"invalid-raw-size.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Initializer[0].RawData = m.Graph.Initializer[0].RawData[:8]
		return mustMarshal(nil, m)
	}, `"W": raw_data has 8 bytes`},
	{"invalid-declared-huge.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Initializer[1].Dims = []int64{1 << 40}
		return mustMarshal(nil, m)
	}, `"B": raw_data has 8 bytes, dims [1099511627776]`},
	{"invalid-negative-dim.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Initializer[1].Dims = []int64{-2}
		return mustMarshal(nil, m)
	}, "negative dimension"},
	{"invalid-overflow-dims.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Initializer[1].Dims = []int64{1 << 40, 1 << 40}
		return mustMarshal(nil, m)
	}, "overflow"},
	{"invalid-float-data-count.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Initializer[1].RawData = nil
		m.Graph.Initializer[1].FloatData = []float32{1, 2, 3}
		return mustMarshal(nil, m)
	}, `"B": has 3 values, dims [2] need 2`},
	{"invalid-missing-input.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Node[1].Input[1] = "nowhere"
		return mustMarshal(nil, m)
	}, `node "add": input "nowhere" is not a graph input`},
	{"invalid-cycle.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Node[0].Input[0] = "Y"
		return mustMarshal(nil, m)
	}, "cycle"},
	{"invalid-duplicate-output.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Node[1].Output[0] = "XW"
		m.Graph.Node[2].Input[0] = "XW"
		return mustMarshal(nil, m)
	}, `output "XW" is also produced`},
	{"invalid-unproduced-output.onnx", func() []byte {
		m := tinyModel()
		m.Graph.Output[0].Name = ptr("ghost")
		return mustMarshal(nil, m)
	}, `graph output "ghost": nothing produces it`},
	{"invalid-duplicate-opset.onnx", func() []byte {
		m := tinyModel()
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: ptr("ai.onnx"), Version: ptr(int64(13))})
		return mustMarshal(nil, m)
	}, "imported twice"},
	{"invalid-external-absolute.onnx", func() []byte {
		m := tinyModel()
		externalize(m.Graph.Initializer[0], "/etc/passwd")
		return mustMarshal(nil, m)
	}, "is absolute"},
	{"invalid-external-escape.onnx", func() []byte {
		m := tinyModel()
		externalize(m.Graph.Initializer[0], "../../secret.bin")
		return mustMarshal(nil, m)
	}, "leaves the model's folder"},
	{"invalid-external-missing.onnx", func() []byte {
		m := tinyModel()
		externalize(m.Graph.Initializer[0], "weights.bin")
		return mustMarshal(nil, m)
	}, "external data"},
	{"invalid-function-body.onnx", func() []byte {
		m := tinyModel()
		m.Functions = []*onnxpb.FunctionProto{{Name: ptr("F"), Domain: ptr("x.y"), Input: []string{"A"}, Output: []string{"B"},
			Node: []*onnxpb.NodeProto{{OpType: ptr("Relu"), Input: []string{"Q"}, Output: []string{"B"}}}}}
		return mustMarshal(nil, m)
	}, "function x.y::F"},
}

func externalize(t *onnxpb.TensorProto, loc string) {
	n := int64(len(t.RawData))
	t.RawData = nil
	t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	t.ExternalData = []*onnxpb.StringStringEntryProto{
		{Key: ptr("location"), Value: ptr(loc)},
		{Key: ptr("offset"), Value: ptr("0")},
		{Key: ptr("length"), Value: ptr(strconv.FormatInt(n, 10))},
	}
}

func TestInvalidFixtures(t *testing.T) {
	for _, c := range invalidCases {
		path := filepath.Join("testdata", c.file)
		if *update {
			if err := os.WriteFile(path, c.make(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(c.file, func(t *testing.T) {
			_, err := DecodeFile(path)
			if err == nil {
				t.Fatalf("DecodeFile succeeded, want error containing %q", c.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			// Decoding from a stream gives the same kind of error, except
			// for a missing external file, which only a file path can find.
			if strings.Contains(c.file, "external-missing") {
				return
			}
			b, _ := os.ReadFile(path)
			if _, err := Decode(bytes.NewReader(b)); err == nil || !errors.As(err, &fe) {
				t.Fatalf("Decode: %v", err)
			}
		})
	}
}

func TestTinyRoundTrip(t *testing.T) {
	b := mustMarshal(t, tinyModel())
	m, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Encode(&out, m); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), b) {
		t.Fatal("re-encoded bytes differ")
	}
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Inputs[0].Shape.String(); got != "[N,3]" {
		t.Fatalf("input shape %s", got)
	}
	w, err := m.Initializer("W")
	if err != nil {
		t.Fatal(err)
	}
	if w.Float32[1] != -1 || w.Len() != 6 {
		t.Fatalf("W = %v", w.Float32)
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel()
	raw := append([]byte(nil), m.Graph.Initializer[0].RawData...)
	externalize(m.Graph.Initializer[0], "weights.bin")
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(path, mustMarshal(t, m), 0o644); err != nil {
		t.Fatal(err)
	}
	dm, err := DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := dm.Initializer("W")
	if err != nil {
		t.Fatal(err)
	}
	if w.Float32[3] != 2 {
		t.Fatalf("W = %v", w.Float32)
	}
	// The proto keeps the reference, not the data.
	if dm.Proto.Graph.Initializer[0].GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
		t.Fatal("external reference was replaced")
	}
	// A short external file is malformed.
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), raw[:5], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFile(path); err == nil || !strings.Contains(err.Error(), "has 5 bytes") {
		t.Fatalf("short external file: %v", err)
	}
}

func TestCheckSupportListsAll(t *testing.T) {
	m := &Model{Proto: tinyModel()}
	err := m.CheckSupport(func(n *Node, opset int) string {
		if n.OpType == "Relu" {
			return ""
		}
		return "not implemented"
	})
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v", err)
	}
	if len(ue.Items) != 2 || ue.Items[0].Node != "mm" || ue.Items[1].OpType != "Add" {
		t.Fatalf("items %+v", ue.Items)
	}
	want := `onnx: 2 unsupported ops or features: node "mm" (MatMul, opset 17): not implemented; node "add" (Add, opset 17): not implemented`
	if err.Error() != want {
		t.Fatalf("got  %s\nwant %s", err, want)
	}
}

func TestHalf(t *testing.T) {
	for _, f := range []float32{0, 1, -2, 0.5, 65504, 6.1035156e-05, 5.9604645e-08, -0.333251953125} {
		if got := halfToFloat(floatToHalf(f)); got != f {
			t.Errorf("half round trip %v -> %v", f, got)
		}
	}
}

func TestTensorTypes(t *testing.T) {
	cases := []*Tensor{
		{Type: Float, Dims: []int64{2}, Float32: []float32{1.5, -2}},
		{Type: Double, Dims: []int64{1}, Float64: []float64{3.25}},
		{Type: Int64, Dims: []int64{2}, Int64: []int64{-7, 1 << 40}},
		{Type: Int32, Dims: []int64{2}, Int64: []int64{-7, 9}},
		{Type: Int8, Dims: []int64{2}, Int64: []int64{-128, 127}},
		{Type: Uint8, Dims: []int64{2}, Int64: []int64{0, 255}},
		{Type: Bool, Dims: []int64{3}, Bool: []bool{true, false, true}},
		{Type: Float16, Dims: []int64{2}, Float32: []float32{0.5, -3}},
	}
	for _, c := range cases {
		got, err := TensorFromProto(c.Proto())
		if err != nil {
			t.Fatalf("%s: %v", c.Type, err)
		}
		if got.Type != c.Type || len(got.Floats()) != c.Len() {
			t.Fatalf("%s: got %+v", c.Type, got)
		}
		for i, v := range c.Floats() {
			if got.Floats()[i] != v {
				t.Fatalf("%s: element %d = %v want %v", c.Type, i, got.Floats()[i], v)
			}
		}
	}
}
