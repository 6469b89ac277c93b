package ops

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// A Value is an ONNX tensor during graph construction. Shapes are always
// static (the graph is compiled for concrete input shapes). A value is known
// at compile time (Const set: initializers, Constant nodes, shape
// arithmetic), computed at run time (Node set), or both (a float
// initializer that became a parameter).
type Value struct {
	Name  string
	Shape []int
	Node  *G.Node
	Const *onnx.Tensor
}

// Len returns the number of elements.
func (v *Value) Len() int { return static.Prod(v.Shape) }

// Options control how a model is compiled.
type Options struct {
	// InputShapes gives concrete shapes for graph inputs; symbolic or
	// unknown dimensions of inputs not listed take Batch on axis 0.
	InputShapes map[string][]int
	// Batch replaces symbolic or unknown leading dimensions (default 1).
	Batch int
	// Training selects training-mode semantics: BatchNormalization uses
	// batch statistics and updates its running statistics.
	Training bool
	// Frozen names float initializers that must stay constants (not
	// parameters, no gradient). All other float initializers read by a
	// runtime op become parameters.
	Frozen map[string]bool
	// STE selects BipolarQuant's straight-through estimator: "clipped"
	// (default, dY/dX = 1[|X| <= 1]) or "identity".
	STE string
	// InputGrads also differentiates the loss with respect to the graph
	// inputs (Program.InputGrad).
	InputGrads bool
	// Arena holds the intermediate values of the compiled program; programs
	// that never run at the same time can share one (nil: a new arena).
	Arena *Arena
	// NoMemoryReuse gives every intermediate value memory of its own
	// instead of sharing memory between values whose lifetimes do not
	// overlap. It costs memory and exists for checking: a program must
	// compute the same bits either way.
	NoMemoryReuse bool
	// BatchStatsReducer, in training mode, makes BatchNormalization compute
	// its batch statistics over the samples of every replica of a
	// data-parallel run rather than over this program's batch alone
	// (synchronized batch normalization; see BatchStatsReducer). nil: this
	// program's batch.
	BatchStatsReducer BatchStatsReducer
}

// A Param is a float initializer that became a trainable Gorgonia node.
type Param struct {
	Name  string
	Node  *G.Node
	Value *tensor.Dense // the node's value; updating its data in place updates the model
	Shape []int
}

// Data returns the parameter's values, shared with the graph.
func (p *Param) Data() []float32 { return p.Value.Data().([]float32) }

// A State is a tensor a kernel updates as a side effect in training mode
// (BatchNormalization running statistics). Data is shared with the kernel.
type State struct {
	Name string
	Data []float32
}

// A Builder turns an ONNX graph into a Gorgonia expression graph.
type Builder struct {
	G     *G.ExprGraph
	Model *onnx.Model
	Graph *onnx.Graph
	Opts  Options

	// Inputs are the graph's runtime inputs, Outputs its outputs, in order.
	Inputs  []*Value
	Outputs []*Value
	Params  []*Param
	States  []*State

	// Taps of the BSNN ops, for training metrics (bsnn.go).
	Binary []*BinaryTap
	LIF    []*LIFTap
	AGMM   []*AGMMTap

	values map[string]*Value
	params map[string]*Param
	// Extra holds per-build data that op builders share (for example
	// metrics taps of the BSNN ops), keyed by the builder that owns it.
	Extra map[string]any
	// Node currently being built, for error messages.
	current *onnx.Node
}

// NewBuilder validates m against the registry (reporting every unsupported
// node at once) and builds its forward graph.
func NewBuilder(m *onnx.Model, opts Options) (*Builder, error) {
	if err := CheckModel(m); err != nil {
		return nil, err
	}
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	if opts.Batch <= 0 {
		opts.Batch = 1
	}
	b := &Builder{
		G: G.NewGraph(), Model: m, Graph: g, Opts: opts,
		values: map[string]*Value{}, params: map[string]*Param{}, Extra: map[string]any{},
	}
	for name, tp := range g.Initializers {
		t, err := m.TensorValue(tp)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", name, err)
		}
		b.values[name] = &Value{Name: name, Shape: t.Shape(), Const: t}
	}
	for _, in := range g.Inputs {
		shape, err := b.inputShape(in)
		if err != nil {
			return nil, err
		}
		if in.Type != onnx.Float {
			return nil, &onnx.UnsupportedError{Items: []onnx.Unsupported{{OpType: "graph input of type " + in.Type.String(), Reason: in.Name}}}
		}
		if static.Prod(shape) == 0 {
			return nil, fmt.Errorf("input %q has shape %v: zero-sized tensors are not supported", in.Name, shape)
		}
		ns := nodeShape(shape)
		node := G.NewTensor(b.G, tensor.Float32, len(ns), G.WithShape(ns...), G.WithName(in.Name),
			G.WithValue(tensor.New(tensor.WithShape(ns...), tensor.Of(tensor.Float32))))
		v := &Value{Name: in.Name, Shape: shape, Node: node}
		b.values[in.Name] = v
		b.Inputs = append(b.Inputs, v)
	}
	for _, n := range g.Nodes {
		if err := b.buildNode(n); err != nil {
			return nil, err
		}
	}
	for _, o := range g.Outputs {
		v, ok := b.values[o.Name]
		if !ok {
			return nil, fmt.Errorf("graph output %q was not computed", o.Name)
		}
		b.Outputs = append(b.Outputs, v)
	}
	return b, nil
}

func (b *Builder) inputShape(in *onnx.ValueInfo) ([]int, error) {
	if s, ok := b.Opts.InputShapes[in.Name]; ok {
		if in.HasShape && len(s) != len(in.Shape) {
			return nil, fmt.Errorf("input %q has rank %d, got shape %v", in.Name, len(in.Shape), s)
		}
		for i, d := range in.Shape {
			if d.Known() && int(d.Value) != s[i] {
				return nil, fmt.Errorf("input %q dimension %d is %d, got %d", in.Name, i, d.Value, s[i])
			}
		}
		return append([]int(nil), s...), nil
	}
	if !in.HasShape {
		return nil, fmt.Errorf("input %q has no declared shape: give one", in.Name)
	}
	shape := make([]int, len(in.Shape))
	for i, d := range in.Shape {
		switch {
		case d.Known():
			shape[i] = int(d.Value)
		case i == 0:
			shape[i] = b.Opts.Batch
		default:
			return nil, fmt.Errorf("input %q dimension %d (%s) is not fixed: give the input's shape", in.Name, i, d)
		}
	}
	return shape, nil
}

func (b *Builder) buildNode(n *onnx.Node) (err error) {
	opset := b.Model.Opset(n.Domain)
	spec, err := Lookup(n.Domain, n.OpType, opset)
	if err != nil {
		return b.nodeErr(n, err)
	}
	in := make([]*Value, len(n.Inputs))
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		v, ok := b.values[name]
		if !ok {
			return b.nodeErr(n, fmt.Errorf("input %q is not available", name))
		}
		in[i] = v
	}
	b.current = n
	defer func() {
		b.current = nil
		if r := recover(); r != nil {
			// Gorgonia's graph construction panics on some misuse; turn it
			// into an error naming the node.
			err = b.nodeErr(n, fmt.Errorf("internal error: %v", r))
		}
	}()
	out, err := spec.Build(b, n, in)
	if err != nil {
		return b.nodeErr(n, err)
	}
	if len(out) > len(n.Outputs) {
		return b.nodeErr(n, fmt.Errorf("builder returned %d outputs for %d", len(out), len(n.Outputs)))
	}
	for i, name := range n.Outputs {
		if name == "" || i >= len(out) || out[i] == nil {
			continue
		}
		out[i].Name = name
		b.values[name] = out[i]
	}
	return nil
}

// A NodeError names the node whose construction failed.
type NodeError struct {
	Node   string
	OpType string
	Err    error
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("node %q (%s): %v", e.Node, e.OpType, e.Err)
}

func (e *NodeError) Unwrap() error { return e.Err }

func (b *Builder) nodeErr(n *onnx.Node, err error) error {
	var ne *NodeError
	if errors.As(err, &ne) {
		return err
	}
	return &NodeError{Node: n.Label(), OpType: n.QualifiedOp(), Err: err}
}

// Value returns the value of an ONNX tensor name built so far.
func (b *Builder) Value(name string) *Value { return b.values[name] }

// SetValue binds name to v (for builders that add values outside the ONNX
// graph, such as a loss).
func (b *Builder) SetValue(name string, v *Value) {
	v.Name = name
	b.values[name] = v
}

// Node returns the runtime node of v. A float initializer becomes a
// trainable parameter, with values of its own, the first time a runtime op
// reads it; a frozen one becomes a leaf that reads the model's values in
// place (kernels never write their inputs, and a Gorgonia constant would
// hash its every value), so a forward-only program copies no weight. Any
// other constant becomes a Gorgonia constant.
func (b *Builder) Node(v *Value) *G.Node {
	if v.Node != nil {
		return v.Node
	}
	data := v.Const.Floats()
	ns := nodeShape(v.Shape)
	_, isInit := b.Graph.Initializers[v.Name]
	if isInit && v.Const.Type == onnx.Float {
		frozen := b.Opts.Frozen[v.Name]
		if !frozen {
			data = append([]float32(nil), data...)
		}
		t := tensor.New(tensor.WithShape(ns...), tensor.WithBacking(data))
		node := G.NewTensor(b.G, tensor.Float32, len(ns), G.WithShape(ns...), G.WithName(v.Name), G.WithValue(t))
		v.Node = node
		if !frozen {
			p := &Param{Name: v.Name, Node: node, Value: t, Shape: v.Shape}
			b.Params = append(b.Params, p)
			b.params[v.Name] = p
		}
		return node
	}
	t := tensor.New(tensor.WithShape(ns...), tensor.WithBacking(append([]float32(nil), data...)))
	v.Node = G.NewConstant(t, G.WithName("const:"+v.Name))
	return v.Node
}

// nodeShape is the Gorgonia shape of a value: ONNX scalars (rank 0) are
// held as one-element vectors, so every runtime value is a tensor whose data
// is a []float32 (kernels see flat slices either way).
func nodeShape(s []int) []int {
	if len(s) == 0 {
		return []int{1}
	}
	return s
}

// Param returns the parameter made from the named initializer, or nil.
func (b *Builder) Param(name string) *Param { return b.params[name] }

// AddState records a tensor that a kernel updates in training mode.
func (b *Builder) AddState(name string, data []float32) {
	b.States = append(b.States, &State{Name: name, Data: data})
}

// Apply applies a kernel to values, returning the runtime value.
func (b *Builder) Apply(k Kernel, in ...*Value) (*Value, error) {
	if s := k.OutShape(); len(s) > 0 && static.Prod(s) == 0 {
		return nil, fmt.Errorf("%s: zero-sized tensor of shape %v is not supported", k.Name(), s)
	}
	nodes := make([]*G.Node, len(in))
	for i, v := range in {
		nodes[i] = b.Node(v)
	}
	n, err := Apply(k, nodes...)
	if err != nil {
		return nil, err
	}
	return &Value{Shape: append([]int(nil), k.OutShape()...), Node: n}, nil
}

// ConstValue makes a compile-time value.
func ConstValue(t *onnx.Tensor) *Value {
	return &Value{Shape: t.Shape(), Const: t}
}

// Opset returns the version of the domain of the node being built.
func (b *Builder) Opset(n *onnx.Node) int { return b.Model.Opset(n.Domain) }

// WriteBack copies the current parameter and state values into the model's
// initializers (replacing their data, keeping names and order).
func (b *Builder) WriteBack(m *onnx.Model) error {
	vals := map[string][]float32{}
	for _, p := range b.Params {
		vals[p.Name] = p.Data()
	}
	for _, s := range b.States {
		vals[s.Name] = s.Data
	}
	for i, tp := range m.Proto.Graph.Initializer {
		d, ok := vals[tp.GetName()]
		if !ok {
			continue
		}
		if onnx.DataType(tp.GetDataType()) != onnx.Float {
			return fmt.Errorf("initializer %q is %s, not float", tp.GetName(), onnx.DataType(tp.GetDataType()))
		}
		nt := onnx.FloatTensor(tp.GetName(), tp.Dims, d)
		nt.DocString = tp.DocString
		m.Proto.Graph.Initializer[i] = nt
	}
	return nil
}

// staticInputs describes a node's inputs for ops/static: name, shape and
// the value when it is known at compile time.
func staticInputs(n *onnx.Node, in []*Value) []static.Input {
	out := make([]static.Input, len(in))
	for i, v := range in {
		if v == nil {
			continue
		}
		out[i] = static.Input{Name: n.Input(i), Shape: static.Dims(v.Shape), Const: v.Const}
	}
	return out
}

// needs returns an error naming an input that must be a compile-time
// constant but is not.
func needConst(v *Value, what string) (*onnx.Tensor, error) {
	if v == nil || v.Const == nil {
		return nil, fmt.Errorf("%s must be a constant (an initializer or computed from shapes)", what)
	}
	return v.Const, nil
}
