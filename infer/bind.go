package infer

import (
	"errors"
	"fmt"
	"github.com/bsnnctl/bsnnctl/bsnn"
	"slices"
	"sync"

	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// A program is the model bound to one input shape: runtime tensors with
// their buffers, and the steps that compute them in order.
type program struct {
	mu    sync.Mutex
	in    *tensor
	vals  map[string]*tensor
	steps []step
	outs  []string
	plan  []LayerPlan
	// gateTaps are the AGMM taps of gates the float fallback runs, by
	// output name (for Probes.Gates).
	gateTaps map[string]*ops.AGMMTap
}

type step struct {
	node string
	run  func() error
}

// binder builds a program.
type binder struct {
	e      *Engine
	p      *program
	u      unsupported
	failed map[string]bool // values not computed because of an unsupported node
	// consts are the values the float fallback computed at compile time
	// for this input shape (Shape, Constant, shape arithmetic).
	consts map[string]*onnx.Tensor
	// unfused holds why a binary layer's fusion could not run.
	unfused map[*onnx.Node]string
}

// bind builds the program of an input shape, or reports every node it
// cannot run.
func (e *Engine) bind(shape []int) (*program, error) {
	p := &program{vals: map[string]*tensor{}, gateTaps: map[string]*ops.AGMMTap{}}
	b := &binder{e: e, p: p, failed: map[string]bool{}, consts: map[string]*onnx.Tensor{}, unfused: map[*onnx.Node]string{}}
	p.in = &tensor{kind: kindFloat, shape: slices.Clone(shape), f: make([]float32, numel(shape))}
	p.vals[e.input.Name] = p.in
	for _, n := range e.g.Nodes {
		switch {
		case e.absorbed[n]:
		case e.fusions[n] != nil:
			b.guard(n, func() error { return b.fusionOrNodes(e.fusions[n]) })
		default:
			b.guard(n, func() error { return b.node(n) })
		}
	}
	for _, o := range e.g.Outputs {
		if _, ok := p.vals[o.Name]; !ok && !b.failed[o.Name] {
			b.u.items = append(b.u.items, onnx.Unsupported{OpType: "graph output", Reason: fmt.Sprintf("%q is not computed", o.Name)})
		}
		p.outs = append(p.outs, o.Name)
	}
	if err := b.u.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// errSkip marks a node whose inputs failed earlier (already reported).
var errSkip = fmt.Errorf("skipped")

// guard runs a node's binder, recording its error as unsupported and its
// outputs as failed.
func (b *binder) guard(n *onnx.Node, f func() error) {
	for _, in := range n.Inputs {
		if b.failed[in] {
			b.fail(n)
			return
		}
	}
	if err := f(); err != nil {
		if err != errSkip {
			b.u.add(n, "%v", err)
		}
		b.fail(n)
	}
}

func (b *binder) fail(n *onnx.Node) {
	for _, o := range n.Outputs {
		b.failed[o] = true
	}
	if f := b.e.fusions[n]; f != nil {
		for _, m := range []*onnx.Node{f.layer, f.bn, f.add, f.reshape, f.lif} {
			if m != nil {
				for _, o := range m.Outputs {
					b.failed[o] = true
				}
			}
		}
	}
}

// val returns the runtime tensor of a value: a computed one, or a
// constant as float.
func (b *binder) val(name string) (*tensor, error) {
	if t, ok := b.p.vals[name]; ok {
		return t, nil
	}
	f, shape, err := b.constFloats(name)
	if err != nil {
		return nil, err
	}
	t := &tensor{kind: kindFloat, shape: shape, f: f}
	b.p.vals[name] = t
	return t, nil
}

// constant returns a constant value: one the float fallback computed for
// this input shape, or one of the engine's (errNotConst if it is neither).
func (b *binder) constant(name string) (*onnx.Tensor, error) {
	if t, ok := b.consts[name]; ok {
		return t, nil
	}
	return b.e.constant(name)
}

// constFloats returns a constant's values as float32 with its shape.
func (b *binder) constFloats(name string) ([]float32, []int, error) {
	if t, ok := b.consts[name]; ok {
		return t.Floats(), t.Shape(), nil
	}
	return b.e.constFloats(name)
}

// constTensor returns a constant as a tensor, binary weights included
// (errNotConst for a value computed at run time).
func (b *binder) constTensor(name string) (*onnx.Tensor, error) {
	if w, ok := b.e.binary[name]; ok {
		if w.values == nil {
			return nil, fmt.Errorf("the binary weight was released after packing")
		}
		dims := make([]int64, len(w.dims))
		for i, d := range w.dims {
			dims[i] = int64(d)
		}
		return &onnx.Tensor{Type: onnx.Float, Dims: dims, Float32: w.values}, nil
	}
	return b.constant(name)
}

// A mark is the length of the program's steps and plan, to undo what a
// dedicated path added before it gave up.
type mark struct{ steps, plan int }

func (b *binder) mark() mark { return mark{len(b.p.steps), len(b.p.plan)} }

func (b *binder) rollback(m mark) {
	b.p.steps = b.p.steps[:m.steps]
	b.p.plan = b.p.plan[:m.plan]
}

func (b *binder) set(name string, t *tensor) { b.p.vals[name] = t }

func (b *binder) add(n *onnx.Node, run func() error) {
	b.p.steps = append(b.p.steps, step{node: n.Label(), run: run})
}

func (b *binder) layer(lp LayerPlan) { b.p.plan = append(b.p.plan, lp) }

func (b *binder) threads() int { return b.e.opts.Threads }

// materialize writes the values of t in NCHW float32 order (its ONNX
// shape) to dst.
func materialize(t *tensor, dst []float32) {
	switch t.kind {
	case kindFloat:
		copy(dst, t.f)
	case kindRepeat:
		for r := range t.reps {
			copy(dst[r*len(t.f):], t.f)
		}
	case kindSpikes:
		spikesNCHW(t, dst)
	case kindNHWC:
		nhwcToNCHW(t.geo, t.f, dst)
	}
}

// asFloat returns t as a float tensor, adding a conversion step when it is
// stored otherwise.
func (b *binder) asFloat(n *onnx.Node, t *tensor) *tensor {
	if t.kind == kindFloat {
		return t
	}
	f := &tensor{kind: kindFloat, shape: t.shape, f: make([]float32, numel(t.shape))}
	b.add(n, func() error { materialize(t, f.f); return nil })
	return f
}

// node binds one node that is not part of a fusion: on the engine's
// dedicated path for it, else on the float fallback.
func (b *binder) node(n *onnx.Node) error {
	m := b.mark()
	err := b.dedicated(n)
	if err == nil || err == errSkip {
		return err
	}
	b.rollback(m)
	return b.fallback(n, err.Error())
}

// dedicated binds a node on the engine's own path for it: packed, or a
// float path that keeps packed or repeated storage.
func (b *binder) dedicated(n *onnx.Node) error {
	if n.Domain == bsnn.DomainQONNX && n.OpType == "BipolarQuant" {
		if _, ok := b.e.binary[n.Outputs[0]]; ok {
			return nil // a constant weight
		}
		return fmt.Errorf("BipolarQuant of a value computed at run time")
	}
	if n.Domain == bsnn.DomainSNN {
		switch n.OpType {
		case "LIF":
			return b.lif(n)
		case "AGMMGate":
			return b.gate(n)
		}
		return errNoPath
	}
	if n.Domain != "" {
		return errNoPath
	}
	switch n.OpType {
	case "Concat":
		return b.concat(n)
	case "Unsqueeze":
		return b.unsqueeze(n)
	case "Expand":
		return b.expand(n)
	case "Conv":
		return b.conv(n)
	case "BatchNormalization":
		return b.batchNorm(n)
	case "Reshape", "Flatten":
		return b.reshape(n)
	case "MaxPool":
		return b.maxPool(n)
	case "GlobalAveragePool":
		return b.globalAveragePool(n)
	case "Gemm", "MatMul":
		return b.gemm(n)
	case "ReduceMean":
		return b.reduceMean(n)
	case "Add":
		return b.addOp(n)
	case "Identity", "Dropout":
		if len(n.Outputs) > 1 && n.Outputs[1] != "" {
			return fmt.Errorf("the mask output is not supported")
		}
		t, err := b.val(n.Inputs[0])
		if err != nil {
			return err
		}
		b.set(n.Outputs[0], t)
		return nil
	}
	return errNoPath
}

// errNoPath: the engine has no dedicated path for the op.
var errNoPath = errors.New("no packed or dedicated float path for this op")

// batchNormAffine returns the inference-mode affine of a
// BatchNormalization node with constant parameters.
func (e *Engine) batchNormAffine(n *onnx.Node) (bitkern.Affine, error) {
	if len(n.Inputs) != 5 {
		return bitkern.Affine{}, fmt.Errorf("%d inputs, want 5", len(n.Inputs))
	}
	if n.Int("training_mode", 0) != 0 {
		return bitkern.Affine{}, fmt.Errorf("training_mode is set")
	}
	var p [4][]float32
	for i := range p {
		v, _, err := e.constFloats(n.Inputs[i+1])
		if err != nil {
			return bitkern.Affine{}, fmt.Errorf("parameters must be constants: %w", err)
		}
		p[i] = v
	}
	return bitkern.BatchNorm(p[0], p[1], p[2], p[3], n.Float("epsilon", 1e-5))
}

func (e *Engine) bnAffineErr(n *onnx.Node) error {
	_, err := e.batchNormAffine(n)
	return err
}
