package onnx

import (
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Attribute and node constructors. Every package that writes graphs (the
// converter, the exporter, the function bodies of the custom ops, tests)
// builds its AttributeProtos and NodeProtos here; reading them goes through
// Node (NodeOf wraps a bare NodeProto).

// AttrInt returns an INT attribute.
func AttrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INT.Enum(), I: ptr(v)}
}

// AttrFloat returns a FLOAT attribute.
func AttrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: ptr(v)}
}

// AttrString returns a STRING attribute.
func AttrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// AttrInts returns an INTS attribute holding a copy of v.
func AttrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: append([]int64{}, v...)}
}

// AttrFloats returns a FLOATS attribute holding a copy of v.
func AttrFloats(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: append([]float32{}, v...)}
}

// AttrStrings returns a STRINGS attribute.
func AttrStrings(name string, v ...string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

// AttrTensor returns a TENSOR attribute.
func AttrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

// AttrGraph returns a GRAPH attribute.
func AttrGraph(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

// AttrRef returns an attribute of a function body's node that takes the
// value of the calling node's attribute ref (FunctionProto semantics).
func AttrRef(name, ref string, t onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), RefAttrName: ptr(ref), Type: t.Enum()}
}

// NewNode returns a NodeProto. An empty name or domain is left unset (a
// function body's nodes have no names; "" is ai.onnx).
func NewNode(name, op, domain string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := &onnxpb.NodeProto{OpType: ptr(op), Input: in, Output: out, Attribute: attrs}
	if name != "" {
		n.Name = ptr(name)
	}
	if domain != "" {
		n.Domain = ptr(domain)
	}
	return n
}

// NodeOf returns the typed view of a bare NodeProto (Index 0), to read its
// attributes with Node's accessors.
func NodeOf(p *onnxpb.NodeProto) *Node {
	n := &Node{Proto: p, Name: p.GetName(), OpType: p.GetOpType(), Domain: p.GetDomain(), Inputs: p.Input, Outputs: p.Output}
	if n.Domain == "ai.onnx" {
		n.Domain = ""
	}
	return n
}
