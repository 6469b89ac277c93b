package crosscheck

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
)

// onnx-go runs the model one piece at a time: consecutive nodes in
// topological order, each piece a model of its own that reads the graph
// input or tensors onnx-go computed in the pieces before, and writes the
// tensors later pieces or the graph outputs need. onnx-go keeps every
// node's value until a run ends (a ResNet-50 at batch 1 holds about 2.5
// times its weights in activations) and decodes a copy of the weights;
// piece by piece, it holds those of one piece beside the model. Every
// value still comes from onnx-go itself. The graph is cut wherever it can
// be (see canCut): a piece costs onnx-go little beyond its nodes.

// A refGraph is the model as onnx-go runs it, cut into pieces.
type refGraph struct {
	m     *onnx.Model
	nodes []*onnxpb.NodeProto // the live nodes, in topological order
	// static holds the values of Reshape shape inputs computed from shapes
	// (Shape -> Gather -> Unsqueeze -> Concat, as PyTorch exports
	// x.view(x.size(0), -1)), which the builder knows: onnx-go has no
	// Shape op.
	static map[string]*onnxpb.TensorProto
	inits  map[string]*onnxpb.TensorProto
	shapes map[string][]int64 // concrete shapes of the runtime tensors
	pieces []piece
}

// A piece is nodes[first:end] with the runtime tensors it reads and those
// it writes for later pieces or the graph outputs.
type piece struct {
	first, end      int
	inputs, outputs []string
}

// newRefGraph prepares m (which b compiled) for onnx-go.
func newRefGraph(m *onnx.Model, b *ops.Builder) (*refGraph, error) {
	g := b.Graph
	r := &refGraph{m: m, static: map[string]*onnxpb.TensorProto{}, inits: g.Initializers, shapes: map[string][]int64{}}
	for _, n := range g.Nodes {
		np := n.Proto
		if shape := n.Input(1); n.OpType == "Reshape" && n.Domain == "" && shape != "" && r.inits[shape] == nil {
			if v := b.Value(shape); v != nil && v.Const != nil {
				name := shape + "_static"
				ints := v.Const.Ints()
				r.static[name] = onnx.Int64Tensor(name, []int64{int64(len(ints))}, ints)
				np = proto.Clone(np).(*onnxpb.NodeProto)
				np.Input[1] = name
			}
		}
		r.nodes = append(r.nodes, np)
	}
	var outs []string
	for _, o := range g.Outputs {
		outs = append(outs, o.Name)
	}
	r.nodes = liveNodes(r.nodes, outs)
	for _, in := range g.Inputs {
		r.shapes[in.Name] = shape64(b.Value(in.Name).Shape)
	}
	for _, n := range r.nodes {
		for _, o := range n.Output {
			if v := b.Value(o); o != "" && v != nil && v.Const == nil && v.Node != nil {
				r.shapes[o] = shape64(v.Shape)
			}
		}
	}
	r.cut(outs)
	return r, nil
}

func shape64(s []int) []int64 {
	d := make([]int64, len(s))
	for i, v := range s {
		d[i] = int64(v)
	}
	return d
}

// cut splits the nodes into pieces wherever canCut allows it.
func (r *refGraph) cut(outputs []string) {
	last := map[string]int{} // the last node reading a tensor
	for i, n := range r.nodes {
		for _, in := range n.Input {
			last[in] = i
		}
	}
	for _, o := range outputs {
		last[o] = len(r.nodes)
	}
	live := map[string]bool{}
	for name := range r.shapes {
		if _, ok := last[name]; ok && r.isGraphInput(name) {
			live[name] = true
		}
	}
	start := 0
	own := map[string]bool{} // tensors the piece computes, true once it reads them too
	for i, n := range r.nodes {
		for _, in := range n.Input {
			if _, ok := own[in]; ok {
				own[in] = true
			}
			if last[in] == i {
				delete(live, in)
			}
		}
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			own[o] = false
			if last[o] > i {
				live[o] = true
			}
		}
		if i+1 < len(r.nodes) && r.canCut(live, own) {
			r.pieces = append(r.pieces, piece{first: start, end: i + 1})
			start = i + 1
			clear(own)
		}
	}
	r.pieces = append(r.pieces, piece{first: start, end: len(r.nodes)})
	for k := range r.pieces {
		r.connect(&r.pieces[k], last)
	}
}

func (r *refGraph) isGraphInput(name string) bool {
	for _, in := range r.m.Proto.Graph.Input {
		if in.GetName() == name && r.inits[name] == nil {
			return true
		}
	}
	return false
}

// canCut reports whether the piece can end here: every tensor computed
// before and read after is a runtime tensor (a cut inside a chain of shape
// computations would pass on an integer constant), and none that the piece
// computes is also read within it: Gorgonia (onnx-go) reuses the memory of
// a value once its last reader in the graph ran, so only values no node of
// the piece reads can be read back as outputs.
func (r *refGraph) canCut(live, own map[string]bool) bool {
	for name := range live {
		if _, ok := r.shapes[name]; !ok || own[name] {
			return false
		}
	}
	return true
}

// connect lists a piece's inputs (runtime tensors it reads that it does
// not compute) and outputs (tensors it computes that a later node or the
// graph outputs read), in order of first appearance.
func (r *refGraph) connect(p *piece, last map[string]int) {
	own := map[string]bool{}
	for _, n := range r.nodes[p.first:p.end] {
		for _, in := range n.Input {
			if in != "" && !own[in] && r.inits[in] == nil && r.static[in] == nil && !slices.Contains(p.inputs, in) {
				p.inputs = append(p.inputs, in)
			}
		}
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			own[o] = true
			if last[o] >= p.end {
				p.outputs = append(p.outputs, o)
			}
		}
	}
}

// model serializes piece k for onnx-go: the model's header, the
// piece's nodes, its weights with float32 values in float_data (onnx-go's
// decoder keeps float_data as the tensor's values, where it copies
// raw_data value by value into a growing slice; the bytes are the same,
// packed little-endian float32), and its inputs and outputs with the
// concrete shapes of our run.
func (r *refGraph) model(k int) ([]byte, error) {
	p := r.pieces[k]
	c := &onnxpb.ModelProto{}
	copyFieldsExcept(c, r.m.Proto, 7) // graph
	c = proto.Clone(c).(*onnxpb.ModelProto)
	g := &onnxpb.GraphProto{Name: r.m.Proto.Graph.Name, Node: r.nodes[p.first:p.end]}
	c.Graph = g
	seen := map[string]bool{}
	for _, n := range g.Node {
		for _, in := range n.Input {
			if seen[in] {
				continue
			}
			seen[in] = true
			switch t := r.inits[in]; {
			case t != nil:
				g.Initializer = append(g.Initializer, floatData(r.m, t))
			case r.static[in] != nil:
				g.Initializer = append(g.Initializer, r.static[in])
			}
		}
	}
	for _, name := range p.inputs {
		g.Input = append(g.Input, r.valueInfo(name))
	}
	for _, name := range p.outputs {
		g.Output = append(g.Output, r.valueInfo(name))
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(c)
}

// valueInfo declares a piece's input or output: float, of the rank of our
// run's tensor, its sizes left open (onnx-go allocates a tensor of every
// declared input and output shape before the run replaces it).
func (r *refGraph) valueInfo(name string) *onnxpb.ValueInfoProto {
	open := make(onnx.Shape, len(r.shapes[name]))
	for i := range open {
		open[i].Value = -1
	}
	return onnx.ValueInfoProto(name, onnx.Float, open)
}

// copyFieldsExcept sets dst's fields to src's (sharing their values) but
// the field numbered skip, and its unknown fields.
func copyFieldsExcept(dst, src proto.Message, skip protoreflect.FieldNumber) {
	s, d := src.ProtoReflect(), dst.ProtoReflect()
	s.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Number() != skip {
			d.Set(fd, v)
		}
		return true
	})
	d.SetUnknown(s.GetUnknown())
}

// floatData returns a float32 initializer with its values in float_data,
// sharing t's values where onnx.TensorFromProto does (external data is
// read); anything else is returned as it is.
func floatData(m *onnx.Model, t *onnxpb.TensorProto) *onnxpb.TensorProto {
	if onnx.DataType(t.GetDataType()) != onnx.Float || t.Segment != nil {
		return t
	}
	v, err := m.TensorValue(t)
	if err != nil || len(v.Float32) == 0 {
		return t
	}
	return &onnxpb.TensorProto{Name: t.Name, Dims: t.Dims, DataType: t.DataType, FloatData: v.Float32}
}

// liveNodes drops the nodes none of whose outputs is read by a later node
// or is a graph output.
func liveNodes(nodes []*onnxpb.NodeProto, outputs []string) []*onnxpb.NodeProto {
	used := map[string]bool{}
	for _, o := range outputs {
		used[o] = true
	}
	kept := make([]*onnxpb.NodeProto, 0, len(nodes))
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if !slices.ContainsFunc(n.Output, func(o string) bool { return used[o] }) {
			continue
		}
		kept = append(kept, n)
		for _, in := range n.Input {
			used[in] = true
		}
	}
	slices.Reverse(kept)
	return kept
}

// run runs the pieces in order in onnx-go on our input, and returns the
// graph outputs; it stops between two pieces once ctx is done.
func (r *refGraph) run(ctx context.Context, input *onnx.Tensor, inputName string, outputs []string) ([][]float32, error) {
	vals := map[string]*onnx.Tensor{inputName: input}
	lastPiece := map[string]int{}
	for k, p := range r.pieces {
		for _, in := range p.inputs {
			lastPiece[in] = k
		}
	}
	for k, p := range r.pieces {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := r.model(k)
		if err != nil {
			return nil, err
		}
		in := make([]*onnx.Tensor, len(p.inputs))
		for i, name := range p.inputs {
			if in[i] = vals[name]; in[i] == nil {
				return nil, fmt.Errorf("internal error: piece %d reads %q, which no piece computed", k, name)
			}
		}
		out, err := runOnnxGo(data, in)
		if err != nil {
			return nil, err
		}
		if len(out) != len(p.outputs) {
			return nil, fmt.Errorf("nodes %q..%q: %d outputs, want %d", r.nodes[p.first].GetName(), r.nodes[p.end-1].GetName(), len(out), len(p.outputs))
		}
		for i, name := range p.outputs {
			vals[name] = out[i]
		}
		for _, name := range p.inputs {
			if lastPiece[name] == k && !slices.Contains(outputs, name) {
				delete(vals, name)
			}
		}
	}
	ref := make([][]float32, len(outputs))
	for i, name := range outputs {
		if vals[name] == nil {
			return nil, fmt.Errorf("internal error: no piece computed the graph output %q", name)
		}
		ref[i] = vals[name].Float32
	}
	return ref, nil
}
