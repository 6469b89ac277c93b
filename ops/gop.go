package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A Kernel is one computation of the engine with static shapes: the
// executor compiles an ONNX graph for concrete input shapes, so every
// kernel knows the shapes of its inputs and output when it is made.
// Forward reads float32 inputs and must overwrite every element of out.
//
// Kernels become Gorgonia ops through Apply; a kernel that also implements
// Differentiable gets a symbolic gradient, so gorgonia.Grad can pass
// through it.
type Kernel interface {
	// Name describes the kernel with its parameters (for debugging and
	// hashing).
	Name() string
	// OutShape is the output's shape (nil or empty for a scalar).
	OutShape() []int
	// Forward computes out from the inputs.
	Forward(out []float32, in ...[]float32) error
}

// Differentiable is a Kernel with a gradient. Grad returns one node per
// input (nil for inputs it does not differentiate, as reported by DiffWRT)
// given the inputs, the kernel's output node and the gradient flowing into
// the output.
type Differentiable interface {
	Kernel
	DiffWRT(arity int) []bool
	Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error)
}

var opIDs atomic.Uint64

// gop adapts a Kernel to gorgonia.Op, so kernels can form a Gorgonia graph
// and take part in differentiation. Programs do not run gops through
// Gorgonia: the executor (exec.go) calls the kernels with memory it planned.
// Do, for a caller that runs the graph in a Gorgonia VM, computes into a
// buffer the gop allocates on first use and reuses.
type gop struct {
	k      Kernel
	id     uint64
	inDims []int
	shape  tensor.Shape
	buf    *tensor.Dense
}

// sdgop is a gop whose kernel is differentiable: it implements
// gorgonia.SDOp. It is a separate type because gorgonia decides
// differentiability by type assertion.
type sdgop struct{ *gop }

// Apply adds kernel k to the graph with the given input nodes.
func Apply(k Kernel, in ...*G.Node) (*G.Node, error) {
	o := &gop{k: k, id: opIDs.Add(1)}
	for _, n := range in {
		o.inDims = append(o.inDims, n.Shape().Dims())
	}
	o.shape = tensor.Shape(append([]int(nil), k.OutShape()...))
	if len(o.shape) == 0 {
		o.shape = tensor.ScalarShape()
	}
	var op G.Op = o
	if _, ok := k.(Differentiable); ok {
		op = sdgop{o}
	}
	n, err := G.ApplyOp(op, in...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	return n, nil
}

func tensorType(dims int) hm.Type {
	if dims == 0 {
		return G.Float32
	}
	return G.TensorType{Dims: dims, Of: G.Float32}
}

func (o *gop) Arity() int { return len(o.inDims) }

func (o *gop) Type() hm.Type {
	ts := make([]hm.Type, 0, len(o.inDims)+1)
	for _, d := range o.inDims {
		ts = append(ts, tensorType(d))
	}
	ts = append(ts, tensorType(o.shape.Dims()))
	return hm.NewFnType(ts...)
}

func (o *gop) InferShape(...G.DimSizer) (tensor.Shape, error) { return o.shape.Clone(), nil }

// floats returns the float32 data of a gorgonia value.
func floats(v G.Value) ([]float32, error) {
	switch x := v.(type) {
	case *tensor.Dense:
		d, ok := x.Data().([]float32)
		if !ok {
			if f, ok := x.Data().(float32); ok { // scalar Dense
				return []float32{f}, nil
			}
			return nil, fmt.Errorf("expected float32 data, got %T", x.Data())
		}
		return d, nil
	case *G.F32:
		return []float32{float32(*x)}, nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

func (o *gop) Do(vals ...G.Value) (G.Value, error) {
	in := make([][]float32, len(vals))
	for i, v := range vals {
		d, err := floats(v)
		if err != nil {
			return nil, fmt.Errorf("%s input %d: %w", o.k.Name(), i, err)
		}
		in[i] = d
	}
	if o.shape.IsScalar() {
		out := []float32{0}
		if err := o.k.Forward(out, in...); err != nil {
			return nil, err
		}
		return G.NewF32(out[0]), nil
	}
	if o.buf == nil {
		o.buf = tensor.New(tensor.WithShape(o.shape.Clone()...), tensor.Of(tensor.Float32))
	}
	if err := o.k.Forward(o.buf.Data().([]float32), in...); err != nil {
		return nil, err
	}
	return o.buf, nil
}

func (o *gop) ReturnsPtr() bool      { return false }
func (o *gop) CallsExtern() bool     { return false }
func (o *gop) OverwritesInput() int  { return -1 }
func (o *gop) String() string        { return o.k.Name() }
func (o *gop) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", o.k.Name(), o.id) }
func (o *gop) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o sdgop) DiffWRT(arity int) []bool { return o.k.(Differentiable).DiffWRT(arity) }

func (o sdgop) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	gs, err := o.k.(Differentiable).Grad(in, out, grad)
	if err != nil {
		return nil, fmt.Errorf("gradient of %s: %w", o.k.Name(), err)
	}
	return gs, nil
}

// Kernel returns the kernel behind a node made by Apply, or nil.
func KernelOf(n *G.Node) Kernel {
	switch o := n.Op().(type) {
	case *gop:
		return o.k
	case sdgop:
		return o.k
	}
	return nil
}

// allTrue returns a DiffWRT answer differentiating every input.
func allTrue(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}
