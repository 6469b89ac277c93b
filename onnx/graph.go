package onnx

import (
	"container/heap"
	"fmt"
	"strconv"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// A Dim is one dimension of a shape: a known size (Value >= 0), a symbolic
// size (Param != ""), or unknown (Value < 0 and Param == "").
type Dim struct {
	Value int64
	Param string
}

// String returns the size, the symbol, or "?".
func (d Dim) String() string {
	switch {
	case d.Param != "":
		return d.Param
	case d.Value >= 0:
		return strconv.FormatInt(d.Value, 10)
	}
	return "?"
}

// Known reports whether the dimension has a fixed size.
func (d Dim) Known() bool { return d.Param == "" && d.Value >= 0 }

// A Shape is a list of dimensions.
type Shape []Dim

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// JSON returns the shape as a list of ints (known), strings (symbolic) and
// nulls (unknown), the form `inspect --json` prints (and onnx's Python API).
func (s Shape) JSON() []any {
	out := make([]any, len(s))
	for i, d := range s {
		switch {
		case d.Known():
			out[i] = d.Value
		case d.Param != "":
			out[i] = d.Param
		default:
			out[i] = nil
		}
	}
	return out
}

// A ValueInfo is a typed value of the graph: a graph input or output, or an
// intermediate tensor with declared type.
type ValueInfo struct {
	Name     string
	Type     DataType
	Shape    Shape
	HasShape bool // false when the type carries no shape (rank unknown)
}

func valueInfoFrom(v *onnxpb.ValueInfoProto) *ValueInfo {
	vi := &ValueInfo{Name: v.GetName()}
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return vi
	}
	vi.Type = DataType(tt.GetElemType())
	if tt.Shape != nil {
		vi.HasShape = true
		for _, d := range tt.Shape.Dim {
			switch x := d.Value.(type) {
			case *onnxpb.TensorShapeProto_Dimension_DimValue:
				vi.Shape = append(vi.Shape, Dim{Value: x.DimValue})
			case *onnxpb.TensorShapeProto_Dimension_DimParam:
				vi.Shape = append(vi.Shape, Dim{Value: -1, Param: x.DimParam})
			default:
				vi.Shape = append(vi.Shape, Dim{Value: -1})
			}
		}
	}
	return vi
}

// ValueInfoProto builds a tensor ValueInfoProto; a dim < 0 with an empty
// param is written as an unknown dimension.
func ValueInfoProto(name string, t DataType, shape Shape) *onnxpb.ValueInfoProto {
	ts := &onnxpb.TensorShapeProto{}
	for _, d := range shape {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch {
		case d.Param != "":
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
		case d.Value >= 0:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Value}
		}
		ts.Dim = append(ts.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: ptr(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: ptr(int32(t)), Shape: ts,
		}}},
	}
}

// A Node is one node of a graph.
type Node struct {
	Proto   *onnxpb.NodeProto
	Index   int // position in GraphProto.node
	Name    string
	OpType  string
	Domain  string // "" for ai.onnx
	Inputs  []string
	Outputs []string
}

// Label returns the node's name, or op type and index when it has none.
func (n *Node) Label() string {
	if n.Name != "" {
		return n.Name
	}
	return fmt.Sprintf("%s#%d", n.OpType, n.Index)
}

// QualifiedOp returns the op type, prefixed by "domain::" for custom domains.
func (n *Node) QualifiedOp() string {
	if n.Domain == "" {
		return n.OpType
	}
	return n.Domain + "::" + n.OpType
}

// Attr returns the named attribute or nil.
func (n *Node) Attr(name string) *onnxpb.AttributeProto {
	for _, a := range n.Proto.Attribute {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// Has reports whether the node carries the attribute.
func (n *Node) Has(name string) bool { return n.Attr(name) != nil }

// Int returns an INT attribute, or def when absent.
func (n *Node) Int(name string, def int64) int64 {
	if a := n.Attr(name); a != nil {
		return a.GetI()
	}
	return def
}

// Float returns a FLOAT attribute, or def when absent.
func (n *Node) Float(name string, def float32) float32 {
	if a := n.Attr(name); a != nil {
		return a.GetF()
	}
	return def
}

// String returns a STRING attribute, or def when absent.
func (n *Node) String(name string, def string) string {
	if a := n.Attr(name); a != nil {
		return string(a.GetS())
	}
	return def
}

// Ints returns an INTS attribute, or def when absent.
func (n *Node) Ints(name string, def []int64) []int64 {
	if a := n.Attr(name); a != nil {
		return a.GetInts()
	}
	return def
}

// Floats returns a FLOATS attribute, or def when absent.
func (n *Node) Floats(name string, def []float32) []float32 {
	if a := n.Attr(name); a != nil {
		return a.GetFloats()
	}
	return def
}

// TensorAttr returns a TENSOR attribute converted to a Tensor, or nil.
func (n *Node) TensorAttr(name string) (*Tensor, error) {
	a := n.Attr(name)
	if a == nil || a.T == nil {
		return nil, nil
	}
	return TensorFromProto(a.T)
}

// Input returns input i, or "" when absent (optional inputs).
func (n *Node) Input(i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// A Graph is a typed view of a GraphProto.
type Graph struct {
	Proto *onnxpb.GraphProto
	// Nodes in topological order (stable: ties keep file order).
	Nodes []*Node
	// Inputs are the graph inputs that are not initializers.
	Inputs  []*ValueInfo
	Outputs []*ValueInfo
	// Initializers by name.
	Initializers map[string]*onnxpb.TensorProto
	// ValueInfo holds every declared type: inputs, outputs, value_info.
	ValueInfo map[string]*ValueInfo

	producer  map[string]*Node
	consumers map[string][]*Node
}

// NewGraph builds the typed view of g. It fails with a *FormatError if the
// graph has a cycle, a value produced twice, or a node input that nothing
// produces (see Validate for the full check).
func NewGraph(g *onnxpb.GraphProto) (*Graph, error) {
	return newGraph(g, nil)
}

func newGraph(g *onnxpb.GraphProto, outer map[string]bool) (*Graph, error) {
	gr := &Graph{
		Proto:        g,
		Initializers: map[string]*onnxpb.TensorProto{},
		ValueInfo:    map[string]*ValueInfo{},
		producer:     map[string]*Node{},
		consumers:    map[string][]*Node{},
	}
	avail := map[string]bool{}
	for k := range outer {
		avail[k] = true
	}
	for _, t := range g.Initializer {
		gr.Initializers[t.GetName()] = t
		avail[t.GetName()] = true
	}
	for _, st := range g.SparseInitializer {
		if st.Values != nil {
			avail[st.Values.GetName()] = true
		}
	}
	for _, v := range g.Input {
		vi := valueInfoFrom(v)
		gr.ValueInfo[vi.Name] = vi
		avail[vi.Name] = true
		if _, isInit := gr.Initializers[vi.Name]; !isInit {
			gr.Inputs = append(gr.Inputs, vi)
		}
	}
	for _, v := range g.ValueInfo {
		vi := valueInfoFrom(v)
		gr.ValueInfo[vi.Name] = vi
	}
	for _, v := range g.Output {
		vi := valueInfoFrom(v)
		gr.ValueInfo[vi.Name] = vi
		gr.Outputs = append(gr.Outputs, vi)
	}
	nodes := make([]*Node, len(g.Node))
	for i, np := range g.Node {
		n := &Node{Proto: np, Index: i, Name: np.GetName(), OpType: np.GetOpType(), Domain: np.GetDomain(),
			Inputs: np.Input, Outputs: np.Output}
		if n.Domain == "ai.onnx" {
			n.Domain = ""
		}
		nodes[i] = n
		for _, o := range np.Output {
			if o == "" {
				continue
			}
			if prev, dup := gr.producer[o]; dup {
				return nil, formatErrorf("node "+strconv.Quote(n.Label()), "output %q is also produced by node %q", o, prev.Label())
			}
			if avail[o] && !outer[o] {
				return nil, formatErrorf("node "+strconv.Quote(n.Label()), "output %q shadows a graph input or initializer", o)
			}
			gr.producer[o] = n
		}
	}
	// Kahn's algorithm, taking ready nodes in file order.
	indeg := make([]int, len(nodes))
	for i, n := range nodes {
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if _, ok := gr.producer[in]; ok {
				indeg[i]++
			} else if !avail[in] {
				return nil, formatErrorf("node "+strconv.Quote(n.Label()), "input %q is not a graph input, initializer or node output", in)
			}
			// Each consumer is listed once, even when it reads the value twice.
			if cs := gr.consumers[in]; len(cs) == 0 || cs[len(cs)-1] != n {
				gr.consumers[in] = append(cs, n)
			}
		}
	}
	// Ready nodes leave in file order (a min-heap on the index), so a graph
	// already in topological order keeps its order.
	ready := &intHeap{}
	for i := range nodes {
		if indeg[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]*Node, 0, len(nodes))
	for ready.Len() > 0 {
		n := nodes[heap.Pop(ready).(int)]
		order = append(order, n)
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			for _, c := range gr.consumers[o] {
				for _, in := range c.Inputs {
					if in == o {
						indeg[c.Index]--
						if indeg[c.Index] == 0 {
							heap.Push(ready, c.Index)
						}
					}
				}
			}
		}
	}
	if len(order) < len(nodes) {
		for i, n := range nodes {
			if indeg[i] > 0 {
				return nil, formatErrorf("node "+strconv.Quote(n.Label()), "graph has a cycle through this node")
			}
		}
	}
	gr.Nodes = order
	for _, o := range gr.Outputs {
		if _, ok := gr.producer[o.Name]; !ok && !avail[o.Name] {
			return nil, formatErrorf("graph output "+strconv.Quote(o.Name), "nothing produces it")
		}
	}
	return gr, nil
}

// Producer returns the node that produces value, or nil for graph inputs and
// initializers.
func (g *Graph) Producer(value string) *Node { return g.producer[value] }

// Consumers returns the nodes reading value, in file order.
func (g *Graph) Consumers(value string) []*Node { return g.consumers[value] }

// IsInitializer reports whether name is an initializer.
func (g *Graph) IsInitializer(name string) bool {
	_, ok := g.Initializers[name]
	return ok
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
