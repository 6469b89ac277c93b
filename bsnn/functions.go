package bsnn

import (
	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Model-local FunctionProto bodies of the custom ops (spec §2): they use
// standard ai.onnx opset-TargetOpset ops only, so stock onnxruntime runs a
// file that holds them with no plugin. The float32 operations and their
// order are exactly those of ops/spiking (see its package doc), so spikes
// are bit-identical between the engine and onnxruntime.

func fnode(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return onnx.NewNode("", op, "", in, out, attrs...)
}

// constF makes a scalar float Constant node.
func constF(out string, v float32) *onnxpb.NodeProto {
	return fnode("Constant", nil, []string{out}, onnx.AttrTensor("value", onnx.FloatTensor("", nil, []float32{v})))
}

// constI makes an int64 vector Constant node.
func constI(out string, v ...int64) *onnxpb.NodeProto {
	return fnode("Constant", nil, []string{out}, onnx.AttrTensor("value", onnx.Int64Tensor("", []int64{int64(len(v))}, v)))
}

func function(domain, name string, attrs []Attr, in, out []string, nodes []*onnxpb.NodeProto, doc string) *onnxpb.FunctionProto {
	var names []string
	for _, a := range attrs {
		names = append(names, a.Name)
	}
	return &onnxpb.FunctionProto{
		Name: proto.String(name), Domain: proto.String(domain), Input: in, Output: out, Attribute: names, Node: nodes,
		DocString:   proto.String(doc),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(TargetOpset)}},
	}
}

// bipolarQuantFunction: Y = Where(X >= 0, 1, -1) * scale.
func bipolarQuantFunction() *onnxpb.FunctionProto {
	return function(DomainQONNX, "BipolarQuant", nil, []string{"X", "scale"}, []string{"Y"},
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
	ref := func(out, kind, attr string, t onnxpb.AttributeProto_AttributeType) *onnxpb.NodeProto {
		return fnode("Constant", nil, []string{out}, onnx.AttrRef(kind, attr, t))
	}
	return []*onnxpb.NodeProto{
		ref("tau", "value_float", "tau", onnxpb.AttributeProto_FLOAT),
		ref("v_th", "value_float", "v_threshold", onnxpb.AttributeProto_FLOAT),
		ref("v_reset", "value_float", "v_reset", onnxpb.AttributeProto_FLOAT),
		ref("decay_input_i", "value_int", "decay_input", onnxpb.AttributeProto_INT),
		ref("soft_reset_i", "value_int", "soft_reset", onnxpb.AttributeProto_INT),
		constF("one", 1),
		fnode("Div", []string{"one", "tau"}, []string{"k"}),
		fnode("Cast", []string{"decay_input_i"}, []string{"decay_input"}, onnx.AttrInt("to", int64(onnx.Bool))),
		fnode("Where", []string{"decay_input", "k", "one"}, []string{"a"}),
		fnode("Cast", []string{"soft_reset_i"}, []string{"soft_reset"}, onnx.AttrInt("to", int64(onnx.Bool))),
	}
}

// lifStepNodes computes one step from V (membrane before) and X, in the
// float32 order of ops/spiking, producing S and Vn.
func lifStepNodes(v, x, s, vn string) []*onnxpb.NodeProto {
	return []*onnxpb.NodeProto{
		fnode("Sub", []string{v, "v_reset"}, []string{"d"}),
		fnode("Mul", []string{"d", "k"}, []string{"l"}),
		fnode("Sub", []string{v, "l"}, []string{"h0"}),
		fnode("Mul", []string{"a", x}, []string{"ax"}),
		fnode("Add", []string{"h0", "ax"}, []string{"H"}),
		fnode("GreaterOrEqual", []string{"H", "v_th"}, []string{"fire"}),
		fnode("Cast", []string{"fire"}, []string{s}, onnx.AttrInt("to", int64(onnx.Float))),
		// hard reset: V = H - S*(H - v_reset); soft reset: V = H - S*v_th
		fnode("Sub", []string{"H", "v_reset"}, []string{"r"}),
		fnode("Mul", []string{s, "r"}, []string{"ph"}),
		fnode("Sub", []string{"H", "ph"}, []string{"vh"}),
		fnode("Mul", []string{s, "v_th"}, []string{"ps"}),
		fnode("Sub", []string{"H", "ps"}, []string{"vs"}),
		fnode("Where", []string{"soft_reset", "vs", "vh"}, []string{vn}),
	}
}

// lifFunction: LIF(X[T,N,...]) -> (S, V_T) as a Scan over axis 0 with the
// membrane as state, starting at v_reset.
func lifFunction() *onnxpb.FunctionProto {
	untyped := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.Float))}}}}
	}
	body := &onnxpb.GraphProto{
		Name:   proto.String("lif_step"),
		Node:   lifStepNodes("v_prev", "x_t", "s_t", "v_next"),
		Input:  []*onnxpb.ValueInfoProto{untyped("v_prev"), untyped("x_t")},
		Output: []*onnxpb.ValueInfoProto{untyped("v_next"), untyped("s_t")},
	}
	nodes := append(lifConstants(),
		// V_0 = v_reset, shaped like X[0].
		fnode("Shape", []string{"X"}, []string{"step_shape"}, onnx.AttrInt("start", 1)),
		fnode("ConstantOfShape", []string{"step_shape"}, []string{"zeros"}),
		fnode("Add", []string{"zeros", "v_reset"}, []string{"v0"}),
		fnode("Scan", []string{"v0", "X"}, []string{"V_T", "S"}, onnx.AttrGraph("body", body), onnx.AttrInt("num_scan_inputs", 1)),
	)
	return function(DomainSNN, "LIF", lifAttrs, []string{"X"}, []string{"S", "V_T"}, nodes,
		"multi-step LIF on time-major X [T, N, ...]: H = V - (V - v_reset)/tau + a*X, S = H >= v_threshold, hard or soft reset")
}

// lifStepFunction: LIFStep(X_t, V) -> (S_t, V_next).
func lifStepFunction() *onnxpb.FunctionProto {
	nodes := append(lifConstants(), lifStepNodes("V", "X_t", "S_t", "V_next")...)
	return function(DomainSNN, "LIFStep", lifAttrs, []string{"X_t", "V"}, []string{"S_t", "V_next"}, nodes,
		"one LIF step from an explicit membrane state")
}

// agmmGateFunction: m = mean over non-(T,N) axes, g = alpha[t]*sigmoid(m),
// Y = g*X in mode "forward", Y = X in mode "grad_only".
func agmmGateFunction() *onnxpb.FunctionProto {
	// The mode attribute is a string; opset 17 cannot compare strings, so
	// ai.onnx.ml's LabelEncoder maps it to 1 (forward) or 0 (grad_only).
	encode := onnx.NewNode("", "LabelEncoder", "ai.onnx.ml", []string{"mode"}, []string{"gated_i"},
		onnx.AttrStrings("keys_strings", "forward", "grad_only"), onnx.AttrInts("values_int64s", 1, 0), onnx.AttrInt("default_int64", 1))
	nodes := []*onnxpb.NodeProto{
		constI("tn_rest", 0, 0, -1),
		fnode("Reshape", []string{"X", "tn_rest"}, []string{"X3"}),
		fnode("ReduceMean", []string{"X3"}, []string{"m"}, onnx.AttrInts("axes", 2), onnx.AttrInt("keepdims", 1)),
		fnode("Sigmoid", []string{"m"}, []string{"sig"}),
		constI("alpha_axes", 1, 2),
		fnode("Unsqueeze", []string{"alpha", "alpha_axes"}, []string{"alpha3"}),
		fnode("Mul", []string{"alpha3", "sig"}, []string{"g"}),
		fnode("Constant", nil, []string{"mode"}, onnx.AttrRef("value_string", "mode", onnxpb.AttributeProto_STRING)),
		encode,
		fnode("Cast", []string{"gated_i"}, []string{"gated"}, onnx.AttrInt("to", int64(onnx.Bool))),
		constF("one", 1),
		fnode("Where", []string{"gated", "g", "one"}, []string{"gate"}),
		fnode("Mul", []string{"X3", "gate"}, []string{"Y3"}),
		fnode("Shape", []string{"X"}, []string{"x_shape"}),
		fnode("Reshape", []string{"Y3", "x_shape"}, []string{"Y"}),
	}
	f := function(DomainSNN, "AGMMGate", agmmGateAttrs, []string{"X", "alpha"}, []string{"Y"}, nodes,
		"AGMM gate on time-major X [T, N, ...]: Y = alpha[t]*sigmoid(mean(X[t,n]))*X[t,n] (mode forward) or X (grad_only)")
	f.OpsetImport = append(f.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("ai.onnx.ml"), Version: proto.Int64(2)})
	return f
}
