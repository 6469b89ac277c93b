package ops

import (
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Model-local FunctionProto bodies of the BSNN custom ops (spec §2): they
// use standard ai.onnx opset-17 ops only, so stock onnxruntime runs a file
// that holds them with no plugin. The float32 operations and their order
// are exactly those of ops/spiking (see its package doc), so spikes are
// bit-identical between our engine and onnxruntime.

// FunctionOpset is the ai.onnx version function bodies import.
const FunctionOpset = 17

func sp(s string) *string { return &s }
func ip(i int64) *int64   { return &i }

func fnode(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: sp(op), Input: in, Output: out, Attribute: attrs}
}

func attrF(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: sp(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: &v}
}

func attrI(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: sp(name), Type: onnxpb.AttributeProto_INT.Enum(), I: &v}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: sp(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrT(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: sp(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

func attrG(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: sp(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

// attrRef references an attribute of the calling node.
func attrRef(name, ref string, t onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: sp(name), RefAttrName: sp(ref), Type: t.Enum()}
}

// constF makes a scalar float Constant node.
func constF(out string, v float32) *onnxpb.NodeProto {
	return fnode("Constant", nil, []string{out}, attrT("value", onnx.FloatTensor("", nil, []float32{v})))
}

// constI makes an int64 vector Constant node.
func constI(out string, v ...int64) *onnxpb.NodeProto {
	return fnode("Constant", nil, []string{out}, attrT("value", onnx.Int64Tensor("", []int64{int64(len(v))}, v)))
}

func function(domain, name string, in, out, attrs []string, nodes []*onnxpb.NodeProto, doc string) *onnxpb.FunctionProto {
	return &onnxpb.FunctionProto{
		Name: sp(name), Domain: sp(domain), Input: in, Output: out, Attribute: attrs, Node: nodes,
		DocString:   sp(doc),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: sp(""), Version: ip(FunctionOpset)}},
	}
}

// bipolarQuantFunction: Y = Where(X >= 0, 1, -1) * scale.
func bipolarQuantFunction() *onnxpb.FunctionProto {
	return function(onnx.DomainQONNX, "BipolarQuant", []string{"X", "scale"}, []string{"Y"}, nil,
		[]*onnxpb.NodeProto{
			constF("zero", 0), constF("one", 1), constF("minus_one", -1),
			fnode("GreaterOrEqual", []string{"X", "zero"}, []string{"nonneg"}),
			fnode("Where", []string{"nonneg", "one", "minus_one"}, []string{"sign"}),
			fnode("Mul", []string{"sign", "scale"}, []string{"Y"}),
		}, "sign binarization, sign(0)=+1: Y = where(X >= 0, +1, -1) * scale")
}

// lifConstants are the nodes computing the step constants from the
// calling node's attributes: k = 1/tau, a = decay_input ? k : 1, the
// threshold, the reset value and the reset-mode flag.
func lifConstants() []*onnxpb.NodeProto {
	return []*onnxpb.NodeProto{
		fnode("Constant", nil, []string{"tau"}, attrRef("value_float", "tau", onnxpb.AttributeProto_FLOAT)),
		fnode("Constant", nil, []string{"v_th"}, attrRef("value_float", "v_threshold", onnxpb.AttributeProto_FLOAT)),
		fnode("Constant", nil, []string{"v_reset"}, attrRef("value_float", "v_reset", onnxpb.AttributeProto_FLOAT)),
		fnode("Constant", nil, []string{"decay_input_i"}, attrRef("value_int", "decay_input", onnxpb.AttributeProto_INT)),
		fnode("Constant", nil, []string{"soft_reset_i"}, attrRef("value_int", "soft_reset", onnxpb.AttributeProto_INT)),
		constF("one", 1),
		fnode("Div", []string{"one", "tau"}, []string{"k"}),
		fnode("Cast", []string{"decay_input_i"}, []string{"decay_input"}, attrI("to", int64(onnx.Bool))),
		fnode("Where", []string{"decay_input", "k", "one"}, []string{"a"}),
		fnode("Cast", []string{"soft_reset_i"}, []string{"soft_reset"}, attrI("to", int64(onnx.Bool))),
	}
}

// lifStepNodes computes one step from V (membrane before) and X, in the
// float32 order of ops/spiking, producing S and Vn.
func lifStepNodes(v, x, s, vn, prefix string) []*onnxpb.NodeProto {
	p := func(n string) string { return prefix + n }
	return []*onnxpb.NodeProto{
		fnode("Sub", []string{v, "v_reset"}, []string{p("d")}),
		fnode("Mul", []string{p("d"), "k"}, []string{p("l")}),
		fnode("Sub", []string{v, p("l")}, []string{p("h0")}),
		fnode("Mul", []string{"a", x}, []string{p("ax")}),
		fnode("Add", []string{p("h0"), p("ax")}, []string{p("H")}),
		fnode("GreaterOrEqual", []string{p("H"), "v_th"}, []string{p("fire")}),
		fnode("Cast", []string{p("fire")}, []string{s}, attrI("to", int64(onnx.Float))),
		// hard reset: V = H - S*(H - v_reset); soft reset: V = H - S*v_th
		fnode("Sub", []string{p("H"), "v_reset"}, []string{p("r")}),
		fnode("Mul", []string{s, p("r")}, []string{p("ph")}),
		fnode("Sub", []string{p("H"), p("ph")}, []string{p("vh")}),
		fnode("Mul", []string{s, "v_th"}, []string{p("ps")}),
		fnode("Sub", []string{p("H"), p("ps")}, []string{p("vs")}),
		fnode("Where", []string{"soft_reset", p("vs"), p("vh")}, []string{vn}),
	}
}

var lifAttrNames = []string{"tau", "v_threshold", "v_reset", "decay_input", "soft_reset", "surrogate", "surrogate_alpha", "detach_reset"}

// lifFunction: LIF(X[T,N,...]) -> (S, V_T) as a Scan over axis 0 with the
// membrane as state, starting at v_reset.
func lifFunction() *onnxpb.FunctionProto {
	untyped := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: sp(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: ip32(int32(onnx.Float))}}}}
	}
	body := &onnxpb.GraphProto{
		Name:   sp("lif_step"),
		Node:   lifStepNodes("v_prev", "x_t", "s_t", "v_next", ""),
		Input:  []*onnxpb.ValueInfoProto{untyped("v_prev"), untyped("x_t")},
		Output: []*onnxpb.ValueInfoProto{untyped("v_next"), untyped("s_t")},
	}
	nodes := lifConstants()
	nodes = append(nodes,
		// V_0 = v_reset, shaped like X[0].
		fnode("Shape", []string{"X"}, []string{"step_shape"}, attrI("start", 1)),
		fnode("ConstantOfShape", []string{"step_shape"}, []string{"zeros"}),
		fnode("Add", []string{"zeros", "v_reset"}, []string{"v0"}),
		fnode("Scan", []string{"v0", "X"}, []string{"V_T", "S"}, attrG("body", body), attrI("num_scan_inputs", 1)),
	)
	return function(onnx.DomainSNN, "LIF", []string{"X"}, []string{"S", "V_T"}, lifAttrNames, nodes,
		"multi-step LIF on time-major X [T, N, ...]: H = V - (V - v_reset)/tau + a*X, S = H >= v_threshold, hard or soft reset")
}

func ip32(i int32) *int32 { return &i }

// lifStepFunction: LIFStep(X_t, V) -> (S_t, V_next).
func lifStepFunction() *onnxpb.FunctionProto {
	nodes := append(lifConstants(), lifStepNodes("V", "X_t", "S_t", "V_next", "")...)
	return function(onnx.DomainSNN, "LIFStep", []string{"X_t", "V"}, []string{"S_t", "V_next"}, lifAttrNames, nodes,
		"one LIF step from an explicit membrane state")
}

// agmmGateFunction: m = mean over non-(T,N) axes, g = alpha[t]*sigmoid(m),
// Y = g*X in mode "forward", Y = X in mode "grad_only".
func agmmGateFunction() *onnxpb.FunctionProto {
	// The mode attribute is a string; opset 17 cannot compare strings, so
	// ai.onnx.ml's LabelEncoder maps it to 1 (forward) or 0 (grad_only).
	strRef := attrRef("value_string", "mode", onnxpb.AttributeProto_STRING)
	encode := fnode("LabelEncoder", []string{"mode"}, []string{"gated_i"},
		&onnxpb.AttributeProto{Name: sp("keys_strings"), Type: onnxpb.AttributeProto_STRINGS.Enum(), Strings: [][]byte{[]byte("forward"), []byte("grad_only")}},
		&onnxpb.AttributeProto{Name: sp("values_int64s"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 0}},
		attrI("default_int64", 1))
	encode.Domain = sp("ai.onnx.ml")
	nodes := []*onnxpb.NodeProto{
		constI("tn_rest", 0, 0, -1),
		fnode("Reshape", []string{"X", "tn_rest"}, []string{"X3"}),
		fnode("ReduceMean", []string{"X3"}, []string{"m"}, attrInts("axes", 2), attrI("keepdims", 1)),
		fnode("Sigmoid", []string{"m"}, []string{"sig"}),
		constI("alpha_axes", 1, 2),
		fnode("Unsqueeze", []string{"alpha", "alpha_axes"}, []string{"alpha3"}),
		fnode("Mul", []string{"alpha3", "sig"}, []string{"g"}),
		fnode("Constant", nil, []string{"mode"}, strRef),
		encode,
		fnode("Cast", []string{"gated_i"}, []string{"gated"}, attrI("to", int64(onnx.Bool))),
		constF("one", 1),
		fnode("Where", []string{"gated", "g", "one"}, []string{"gate"}),
		fnode("Mul", []string{"X3", "gate"}, []string{"Y3"}),
		fnode("Shape", []string{"X"}, []string{"x_shape"}),
		fnode("Reshape", []string{"Y3", "x_shape"}, []string{"Y"}),
	}
	f := function(onnx.DomainSNN, "AGMMGate", []string{"X", "alpha"}, []string{"Y"}, []string{"mode", "detach_stat"}, nodes,
		"AGMM gate on time-major X [T, N, ...]: Y = alpha[t]*sigmoid(mean(X[t,n]))*X[t,n] (mode forward) or X (grad_only)")
	f.OpsetImport = append(f.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: sp("ai.onnx.ml"), Version: ip(2)})
	return f
}
