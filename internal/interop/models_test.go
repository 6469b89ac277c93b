package interop

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// (a) Standard ops only: Y = Relu(X·W + B) on a [2,3] input. The values are
// small multiples of 1/4, so every sum is exact in any order and ORT's
// MatMul+Add fusion cannot change the result.
func TestStandardOpsMatMulAddRelu(t *testing.T) {
	needBoth(t)
	w := []float32{1, -2, 0.5, 3, -1, 0.25, 2, -0.5, 0.75, 1, -1.5, 2}
	b := []float32{0.5, -1, 0.25, -3}
	g := &onnxpb.GraphProto{
		Name: proto.String("mlp"),
		Node: []*onnxpb.NodeProto{
			node("MatMul", []string{"X", "W"}, []string{"H"}),
			node("Add", []string{"H", "B"}, []string{"Z"}),
			node("Relu", []string{"Z"}, []string{"Y"}),
		},
		Initializer: []*onnxpb.TensorProto{floatInit("W", []int64{3, 4}, w), floatInit("B", []int64{4}, b)},
		Input:       []*onnxpb.ValueInfoProto{valueInfo("X", tFloat, 2, 3)},
		Output:      []*onnxpb.ValueInfoProto{valueInfo("Y", tFloat, 2, 4)},
	}
	path := writeModel(t, model(g, nil))
	checkOK(t, path)

	x := []float32{1, 2, -1, -0.5, 4, 0.25}
	want := make([]float32, 8)
	for i := 0; i < 2; i++ {
		for j := 0; j < 4; j++ {
			s := b[j]
			for k := 0; k < 3; k++ {
				s += x[i*3+k] * w[k*4+j]
			}
			want[i*4+j] = max(s, 0)
		}
	}
	res := run(t, path, map[string]Tensor{"X": {Shape: []int64{2, 3}, Float: x}}, "Y")
	wantFloat(t, "Y", res["Y"], []int64{2, 4}, want)

	// Without output names, every graph output comes back.
	all := run(t, path, map[string]Tensor{"X": {Shape: []int64{2, 3}, Float: x}})
	if len(all) != 1 {
		t.Fatalf("RunORT with no output names returned %d outputs, want 1", len(all))
	}
	wantFloat(t, "Y", all["Y"], []int64{2, 4}, want)

	in, out, err := ModelIO(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(in, ",") != "X" || strings.Join(out, ",") != "Y" {
		t.Fatalf("ModelIO = %v, %v; want [X], [Y] (initializers are not inputs)", in, out)
	}
}

// twiceFunction is bsnn.custom_op.snn::Twice(X) -> Y with body Add(X, X).
func twiceFunction() *onnxpb.FunctionProto {
	return function(snnDomain, "Twice", []string{"X"}, []string{"Y"}, nil,
		node("Add", []string{"X", "X"}, []string{"Y"}))
}

func twiceGraph(name string) *onnxpb.GraphProto {
	return &onnxpb.GraphProto{
		Name:   proto.String(name),
		Node:   []*onnxpb.NodeProto{customNode(snnDomain, "Twice", "twice0", []string{"X"}, []string{"Y"})},
		Input:  []*onnxpb.ValueInfoProto{valueInfo("X", tFloat, 2, 3)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("Y", tFloat, 2, 3)},
	}
}

// (b) A custom-domain op backed by a model-local FunctionProto.
func TestCustomOpWithFunction(t *testing.T) {
	needBoth(t)
	m := model(twiceGraph("twice"), []*onnxpb.FunctionProto{twiceFunction()}, snnDomain)
	if got := m.GetOpsetImport()[0].GetDomain(); got != "" {
		t.Fatalf("first opset_import is %q, want ai.onnx", got)
	}
	path := writeModel(t, m)
	checkOK(t, path)

	var r lcg = 1
	x := r.floats(6)
	want := make([]float32, 6)
	for i, v := range x {
		want[i] = v + v
	}
	res := run(t, path, map[string]Tensor{"X": {Shape: []int64{2, 3}, Float: x}}, "Y")
	wantFloat(t, "Y", res["Y"], []int64{2, 3}, want)
}

// accumulateFunction is bsnn.custom_op.snn::Accumulate(X) -> (Y, V_T): a Scan
// over axis 0 of a time-major X with the running sum V as its state, the
// shape of LIF's body. V_0 = zeros(X.shape[1:]).
func accumulateFunction() *onnxpb.FunctionProto {
	body := &onnxpb.GraphProto{
		Name: proto.String("accumulate_step"),
		Node: []*onnxpb.NodeProto{
			node("Add", []string{"v_in", "x_t"}, []string{"v_out"}),
			node("Identity", []string{"v_out"}, []string{"y_t"}),
		},
		Input: []*onnxpb.ValueInfoProto{valueInfo("v_in", tFloat, noShape), valueInfo("x_t", tFloat, noShape)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("v_out", tFloat, noShape),
			valueInfo("y_t", tFloat, noShape)},
	}
	return function(snnDomain, "Accumulate", []string{"X"}, []string{"Y", "V_T"}, nil,
		node("Shape", []string{"X"}, []string{"x_shape"}),
		node("Constant", nil, []string{"one"}, onnx.AttrTensor("value", int64Init("", []int64{1}, []int64{1}))),
		node("Constant", nil, []string{"big"}, onnx.AttrTensor("value", int64Init("", []int64{1}, []int64{1 << 62}))),
		node("Slice", []string{"x_shape", "one", "big"}, []string{"v_shape"}),
		node("ConstantOfShape", []string{"v_shape"}, []string{"v0"},
			onnx.AttrTensor("value", floatInit("", []int64{1}, []float32{0}))),
		node("Scan", []string{"v0", "X"}, []string{"V_T", "Y"},
			onnx.AttrGraph("body", body), onnx.AttrInt("num_scan_inputs", 1)),
	)
}

// (c) A custom op whose function body is a Scan with state; T is dynamic.
func TestCustomOpWithScanBody(t *testing.T) {
	needBoth(t)
	g := &onnxpb.GraphProto{
		Name:   proto.String("accumulate"),
		Node:   []*onnxpb.NodeProto{customNode(snnDomain, "Accumulate", "acc0", []string{"X"}, []string{"Y", "V_T"})},
		Input:  []*onnxpb.ValueInfoProto{valueInfo("X", tFloat, "T", 2, 3)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("Y", tFloat, "T", 2, 3), valueInfo("V_T", tFloat, 2, 3)},
	}
	path := writeModel(t, model(g, []*onnxpb.FunctionProto{accumulateFunction()}, snnDomain))
	checkOK(t, path)

	var r lcg = 7
	for _, steps := range []int64{4, 1, 9} {
		x := r.floats(int(steps) * 6)
		wantY := make([]float32, len(x))
		v := make([]float32, 6)
		for s := 0; s < int(steps); s++ {
			for i := range v {
				v[i] += x[s*6+i]
				wantY[s*6+i] = v[i]
			}
		}
		res := run(t, path, map[string]Tensor{"X": {Shape: []int64{steps, 2, 3}, Float: x}}, "Y", "V_T")
		wantFloat(t, "Y", res["Y"], []int64{steps, 2, 3}, wantY)
		wantFloat(t, "V_T", res["V_T"], []int64{2, 3}, v)
	}
}

// scaleFunction is bsnn.custom_op.snn::Scale<alpha: float>(X) -> Y = X*alpha,
// alpha reaching the body through ref_attr_name.
func scaleFunction() *onnxpb.FunctionProto {
	return function(snnDomain, "Scale", []string{"X"}, []string{"Y"}, []string{"alpha"},
		node("Constant", nil, []string{"a"}, onnx.AttrRef("value_float", "alpha", onnxpb.AttributeProto_FLOAT)),
		node("Mul", []string{"X", "a"}, []string{"Y"}),
	)
}

// (d) A function attribute reference, bound per calling node.
func TestCustomOpAttributeReference(t *testing.T) {
	needBoth(t)
	const a1, a2 = float32(0.3), float32(-2.5)
	g := &onnxpb.GraphProto{
		Name: proto.String("scale"),
		Node: []*onnxpb.NodeProto{
			customNode(snnDomain, "Scale", "scale0", []string{"X"}, []string{"H"}, onnx.AttrFloat("alpha", a1)),
			customNode(snnDomain, "Scale", "scale1", []string{"H"}, []string{"Y"}, onnx.AttrFloat("alpha", a2)),
		},
		Input:  []*onnxpb.ValueInfoProto{valueInfo("X", tFloat, 2, 3)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("H", tFloat, 2, 3), valueInfo("Y", tFloat, 2, 3)},
	}
	path := writeModel(t, model(g, []*onnxpb.FunctionProto{scaleFunction()}, snnDomain))
	checkOK(t, path)

	var r lcg = 3
	x := r.floats(6)
	wantH, wantY := make([]float32, 6), make([]float32, 6)
	for i, v := range x {
		wantH[i] = v * a1
		wantY[i] = wantH[i] * a2
	}
	res := run(t, path, map[string]Tensor{"X": {Shape: []int64{2, 3}, Float: x}}, "H", "Y")
	wantFloat(t, "H", res["H"], []int64{2, 3}, wantH)
	wantFloat(t, "Y", res["Y"], []int64{2, 3}, wantY)
}

// leakyFunction is bsnn.custom_op.snn::Leaky<decay: float>(X) -> (Y, V_T):
// V_t = V_{t-1}*decay + X_t, with decay an attribute reference materialised
// in the function scope and read from inside the Scan body, like LIF's tau.
func leakyFunction() *onnxpb.FunctionProto {
	body := &onnxpb.GraphProto{
		Name: proto.String("leaky_step"),
		Node: []*onnxpb.NodeProto{
			node("Mul", []string{"v_in", "k"}, []string{"kv"}), // k: outer (function) scope
			node("Add", []string{"kv", "x_t"}, []string{"v_out"}),
			node("Identity", []string{"v_out"}, []string{"y_t"}),
		},
		Input: []*onnxpb.ValueInfoProto{valueInfo("v_in", tFloat, noShape), valueInfo("x_t", tFloat, noShape)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("v_out", tFloat, noShape),
			valueInfo("y_t", tFloat, noShape)},
	}
	return function(snnDomain, "Leaky", []string{"X"}, []string{"Y", "V_T"}, []string{"decay"},
		node("Constant", nil, []string{"k"}, onnx.AttrRef("value_float", "decay", onnxpb.AttributeProto_FLOAT)),
		node("Shape", []string{"X"}, []string{"x_shape"}),
		node("Constant", nil, []string{"one"}, onnx.AttrTensor("value", int64Init("", []int64{1}, []int64{1}))),
		node("Constant", nil, []string{"big"}, onnx.AttrTensor("value", int64Init("", []int64{1}, []int64{1 << 62}))),
		node("Slice", []string{"x_shape", "one", "big"}, []string{"v_shape"}),
		node("ConstantOfShape", []string{"v_shape"}, []string{"v0"},
			onnx.AttrTensor("value", floatInit("", []int64{1}, []float32{0}))),
		node("Scan", []string{"v0", "X"}, []string{"V_T", "Y"},
			onnx.AttrGraph("body", body), onnx.AttrInt("num_scan_inputs", 1)),
	)
}

// (c)+(d): a Scan body reading an attribute-derived value from the function
// scope, with value_info written for the custom node's outputs.
func TestCustomOpScanWithAttributeFromScope(t *testing.T) {
	needBoth(t)
	const decay = float32(0.75)
	g := &onnxpb.GraphProto{
		Name: proto.String("leaky"),
		Node: []*onnxpb.NodeProto{
			customNode(snnDomain, "Leaky", "leaky0", []string{"X"}, []string{"S", "V"}, onnx.AttrFloat("decay", decay)),
			node("Relu", []string{"S"}, []string{"Y"}),
		},
		Input:     []*onnxpb.ValueInfoProto{valueInfo("X", tFloat, "T", "N", 3)},
		Output:    []*onnxpb.ValueInfoProto{valueInfo("Y", tFloat, "T", "N", 3), valueInfo("V", tFloat, "N", 3)},
		ValueInfo: []*onnxpb.ValueInfoProto{valueInfo("S", tFloat, "T", "N", 3)},
	}
	path := writeModel(t, model(g, []*onnxpb.FunctionProto{leakyFunction()}, snnDomain))
	checkOK(t, path)

	var r lcg = 11
	const steps, n = 5, 4
	x := r.floats(steps * n * 3)
	wantY := make([]float32, len(x))
	v := make([]float32, n*3)
	for s := 0; s < steps; s++ {
		for i := range v {
			v[i] = float32(v[i]*decay) + x[s*n*3+i] // explicit rounding: no FMA
			wantY[s*n*3+i] = max(v[i], 0)
		}
	}
	res := run(t, path, map[string]Tensor{"X": {Shape: []int64{steps, n, 3}, Float: x}}, "Y", "V")
	wantFloat(t, "Y", res["Y"], []int64{steps, n, 3}, wantY)
	wantFloat(t, "V", res["V"], []int64{n, 3}, v)
}

// int64 inputs and outputs next to float32 ones.
func TestInt64InputsAndOutputs(t *testing.T) {
	needBoth(t)
	g := &onnxpb.GraphProto{
		Name: proto.String("int64io"),
		Node: []*onnxpb.NodeProto{
			node("Gather", []string{"X", "I"}, []string{"G"}, onnx.AttrInt("axis", 0)),
			node("Add", []string{"I", "I"}, []string{"J"}),
			node("Shape", []string{"X"}, []string{"S"}),
		},
		Input: []*onnxpb.ValueInfoProto{valueInfo("X", tFloat, 3, 2), valueInfo("I", tInt64, "K")},
		Output: []*onnxpb.ValueInfoProto{valueInfo("G", tFloat, "K", 2), valueInfo("J", tInt64, "K"),
			valueInfo("S", tInt64, 2)},
	}
	path := writeModel(t, model(g, nil))
	checkOK(t, path)
	x := []float32{10, 11, 20, 21, 30, 31}
	res := run(t, path, map[string]Tensor{
		"X": {Shape: []int64{3, 2}, Float: x},
		"I": {Shape: []int64{3}, Int64: []int64{2, 0, -1}},
	}, "G", "J", "S")
	wantFloat(t, "G", res["G"], []int64{3, 2}, []float32{30, 31, 10, 11, 30, 31})
	wantInt64(t, "J", res["J"], []int64{3}, []int64{4, 0, -2})
	wantInt64(t, "S", res["S"], []int64{2}, []int64{3, 2})
}

// Scalar (rank-0) inputs and outputs: onnxruntime_go v1.27 cannot wrap a
// rank-0 output onnxruntime allocated, which RunORT works around.
func TestScalarInputsAndOutputs(t *testing.T) {
	needBoth(t)
	g := &onnxpb.GraphProto{
		Name: proto.String("scalars"),
		Node: []*onnxpb.NodeProto{
			node("Mul", []string{"X", "a"}, []string{"Y"}),
			node("ReduceSum", []string{"Y"}, []string{"S"}, onnx.AttrInt("keepdims", 0)),
			node("Size", []string{"X"}, []string{"N"}),
		},
		Input:  []*onnxpb.ValueInfoProto{valueInfo("X", tFloat, 2, 3), valueInfo("a", tFloat)},
		Output: []*onnxpb.ValueInfoProto{valueInfo("Y", tFloat, 2, 3), valueInfo("S", tFloat), valueInfo("N", tInt64)},
	}
	path := writeModel(t, model(g, nil))
	checkOK(t, path)
	res := run(t, path, map[string]Tensor{
		"X": {Shape: []int64{2, 3}, Float: []float32{1, 2, 3, 4, 5, 6}},
		"a": {Shape: []int64{}, Float: []float32{0.5}},
	})
	wantFloat(t, "Y", res["Y"], []int64{2, 3}, []float32{0.5, 1, 1.5, 2, 2.5, 3})
	wantFloat(t, "S", res["S"], []int64{}, []float32{10.5})
	wantInt64(t, "N", res["N"], []int64{}, []int64{6})
}

// A custom node without a function: the checker cannot tell (it accepts
// declared unknown domains), but onnxruntime must refuse it with an error.
func TestCustomOpWithoutFunctionFailsInORT(t *testing.T) {
	needBoth(t)
	path := writeModel(t, model(twiceGraph("nofunction"), nil, snnDomain))
	if err := CheckModel(path); err != nil {
		t.Logf("checker: %v", err)
	} else {
		t.Logf("checker accepts a custom node without a function (known onnx 1.12 behaviour)")
	}
	x := Tensor{Shape: []int64{2, 3}, Float: make([]float32, 6)}
	_, err := RunORT(path, map[string]Tensor{"X": x}, []string{"Y"})
	if err == nil {
		t.Fatal("RunORT ran a custom op that has no function")
	}
	if !strings.Contains(err.Error(), "Twice") || errors.Is(err, ErrUnavailable) {
		t.Fatalf("RunORT error = %v; want a load error naming Twice", err)
	}
	t.Logf("onnxruntime: %v", err)
}

// A custom domain missing from opset_import: both tools reject it.
func TestUndeclaredDomainRejected(t *testing.T) {
	needBoth(t)
	path := writeModel(t, model(twiceGraph("undeclared"), []*onnxpb.FunctionProto{twiceFunction()}))
	err := CheckModel(path)
	var ce *CheckError
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "opset import") {
		t.Fatalf("CheckModel = %v; want a *CheckError about the missing opset import", err)
	}
	x := Tensor{Shape: []int64{2, 3}, Float: make([]float32, 6)}
	if _, err := RunORT(path, map[string]Tensor{"X": x}, []string{"Y"}); err == nil {
		t.Fatal("RunORT accepted an undeclared domain")
	}
}

// Run-time and call errors come back as errors.
func TestRunORTErrors(t *testing.T) {
	NeedORT(t)
	path := writeModel(t, model(twiceGraph("errors"), []*onnxpb.FunctionProto{twiceFunction()}, snnDomain))
	good := Tensor{Shape: []int64{2, 3}, Float: make([]float32, 6)}
	cases := []struct {
		name string
		path string
		in   map[string]Tensor
		outs []string
	}{
		{"wrong shape", path, map[string]Tensor{"X": {Shape: []int64{3, 2}, Float: make([]float32, 6)}}, []string{"Y"}},
		{"wrong type", path, map[string]Tensor{"X": {Shape: []int64{2, 3}, Int64: make([]int64, 6)}}, []string{"Y"}},
		{"unknown input", path, map[string]Tensor{"Q": good}, []string{"Y"}},
		{"missing input", path, map[string]Tensor{}, []string{"Y"}},
		{"unknown output", path, map[string]Tensor{"X": good}, []string{"Z"}},
		{"no such file", path + ".missing", map[string]Tensor{"X": good}, []string{"Y"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := RunORT(c.path, c.in, c.outs)
			if err == nil {
				t.Fatal("RunORT succeeded")
			}
			t.Logf("%v", err)
		})
	}
}
