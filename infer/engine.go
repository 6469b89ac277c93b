package infer

import (
	"errors"
	"fmt"
	"github.com/bsnnctl/bsnnctl/bsnn"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Options configure an Engine.
type Options struct {
	// Threads is the number of goroutines a run uses (0: GOMAXPROCS).
	Threads int
}

// Engine runs a BSNN with its binary layers on packed spikes. It is safe
// for concurrent use; runs of one input shape are serialized (they share
// buffers), runs of different shapes are not.
type Engine struct {
	opts  Options
	g     *onnx.Graph
	input *onnx.ValueInfo
	// T is the number of time steps: the count of the directly encoded
	// input's repetition, or the time axis of an event input (0 when the
	// graph repeats nothing).
	T int
	// batchAxis is the input's axis of samples: 0 ([N, ...]), or 1 for
	// event input ([T, N, ...], bsnn.input_encoding "events").
	batchAxis int

	consts   map[string]*onnx.Tensor
	binary   map[string]*binWeight // BipolarQuant outputs by name
	fusions  map[*onnx.Node]*fusion
	absorbed map[*onnx.Node]bool
	packed   map[*onnx.Node]*bitkern.Weights

	// irVersion and opsets are the model's, for the float fallback's
	// one-node models.
	irVersion int64
	opsets    []*onnxpb.OperatorSetIdProto

	mu       sync.Mutex
	programs map[string]*program
	plan     []LayerPlan
}

// LayerPlan says how one node runs: every compute layer (Conv, MatMul,
// Gemm) and every node that runs on the float fallback has one.
type LayerPlan struct {
	Node string `json:"node"`
	Op   string `json:"op"`
	// Packed: the layer runs on packed spikes (AND-popcount).
	Packed bool `json:"packed"`
	// Fallback: the node runs on the float engine's kernels as a node of
	// its own, because the engine has no packed or dedicated float path
	// for it (Reason says why).
	Fallback bool `json:"fallback,omitempty"`
	// Fused lists the nodes computed with it in one pass (BatchNormalization,
	// Add, Reshape, LIF).
	Fused []string `json:"fused,omitempty"`
	// Reason says why the node runs as it does: what makes a layer
	// binary, why a layer with binary weights runs on float kernels, what
	// a float layer is ("float weights"), why a node needs the fallback.
	Reason string `json:"reason"`
}

// Runs names how the node runs: "packed", "float" (the engine's own float
// path) or "float fallback".
func (l LayerPlan) Runs() string {
	switch {
	case l.Packed:
		return "packed"
	case l.Fallback:
		return "float fallback"
	}
	return "float"
}

// Compile prepares model for the packed engine. Files of every profile
// bsnnctl writes are accepted; those other than portable are first
// rewritten to it (export.Export). Binary layers have their weights packed
// here, once.
func Compile(model *onnx.Model, opts Options) (*Engine, error) {
	info, err := export.Recognize(model)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	if info.Profile == bsnn.ProfilePlain && info.PlainForm == bsnn.PlainStep {
		return nil, ErrStepForm
	}
	if info.Profile != bsnn.ProfilePortable && info.Profile != bsnn.ProfileTrain {
		if model, err = export.Export(model, bsnn.ProfilePortable, export.Options{}); err != nil {
			return nil, fmt.Errorf("infer: canonicalizing the %s profile: %w", info.Profile, err)
		}
	}
	g, err := model.Graph()
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	e := &Engine{opts: opts, g: g, consts: map[string]*onnx.Tensor{},
		irVersion: model.Proto.GetIrVersion(), opsets: model.Proto.OpsetImport,
		binary: map[string]*binWeight{}, fusions: map[*onnx.Node]*fusion{}, absorbed: map[*onnx.Node]bool{},
		programs: map[string]*program{}}
	if len(g.Inputs) != 1 {
		return nil, &onnx.UnsupportedError{Items: []onnx.Unsupported{{OpType: "graph inputs",
			Reason: fmt.Sprintf("the graph has %d inputs; the packed engine runs models with one", len(g.Inputs))}}}
	}
	e.input = g.Inputs[0]
	if err := e.readEncoding(model); err != nil {
		return nil, err
	}
	if err := e.analyse(); err != nil {
		return nil, err
	}
	// Bind once with one sample: every unsupported node is reported now,
	// and the layer plan is known.
	shape, err := e.defaultShape()
	if err != nil {
		return nil, err
	}
	p, err := e.program(shape)
	if err != nil {
		return nil, err
	}
	e.plan = p.plan
	e.dropPackedLatents()
	return e, nil
}

// dropPackedLatents releases the float weights of the binary layers that
// run packed: once packed (1 bit a weight) they are not read again, as the
// layers run packed at every batch size. The engine then keeps a graph
// view without their initializers.
func (e *Engine) dropPackedLatents() {
	drop := map[string]bool{}
	for out, w := range e.binary {
		all := true
		for _, c := range e.g.Consumers(out) {
			all = all && e.packed[c] != nil
		}
		if !all || e.isOutput(out) {
			continue
		}
		w.values = nil
		drop[w.node.Inputs[0]] = true
		delete(e.consts, w.node.Inputs[0])
	}
	if len(drop) == 0 {
		return
	}
	// A graph view that shares everything (the nodes keep their identity)
	// but the initializers, of which the dropped ones are left out.
	old := e.g.Proto
	gp := &onnxpb.GraphProto{Name: old.Name, Node: old.Node, Input: old.Input, Output: old.Output, ValueInfo: old.ValueInfo}
	g := *e.g
	g.Proto, g.Initializers = gp, map[string]*onnxpb.TensorProto{}
	for _, t := range old.Initializer {
		if !drop[t.GetName()] {
			gp.Initializer = append(gp.Initializer, t)
			g.Initializers[t.GetName()] = t
		}
	}
	e.g = &g
}

// WeightBytes estimates the memory the engine keeps for the model's
// parameters: packed binary weights, the initializers it still reads
// (float layers, BatchNormalization, shapes) and their decoded copies.
func (e *Engine) WeightBytes() int {
	n := 0
	for _, w := range e.packed {
		n += w.SizeBytes()
	}
	for _, t := range e.g.Proto.Initializer {
		n += proto.Size(t)
	}
	for _, t := range e.consts {
		n += 4 * t.Len()
	}
	for _, w := range e.binary {
		n += 4 * len(w.values)
	}
	return n
}

// readEncoding reads how the model takes its input (bsnn.input_encoding):
// an event input [T, N, ...] has its samples on axis 1 and gives T.
func (e *Engine) readEncoding(model *onnx.Model) error {
	enc, err := bsnn.InputEncodingOf(model)
	if err != nil {
		return fmt.Errorf("infer: %w", err)
	}
	e.batchAxis = enc.BatchAxis()
	if enc != bsnn.EncodingEvents {
		return nil
	}
	if s := e.input.Shape; len(s) < 3 || !s[0].Known() || s[0].Value < 1 {
		return fmt.Errorf("infer: input %q has shape %s; an event-input model (%s %q) takes [T, N, ...] with a fixed T",
			e.input.Name, s, bsnn.MetaInputEncoding, enc)
	}
	e.T = int(e.input.Shape[0].Value)
	return nil
}

// defaultShape is the input shape for one sample, or for the fixed batch.
func (e *Engine) defaultShape() ([]int, error) {
	if a := e.batchAxis; len(e.input.Shape) > a && e.input.Shape[a].Known() {
		return e.InputShape(int(e.input.Shape[a].Value))
	}
	return e.InputShape(1)
}

// InputShape returns the shape of an input of batch samples: the graph
// input's shape with batch for a symbolic batch dimension (a fixed one
// must equal batch). The batch is axis 0, or axis 1 for an event input
// [T, N, ...].
func (e *Engine) InputShape(batch int) ([]int, error) {
	var s []int
	for i, d := range e.input.Shape {
		switch {
		case i == e.batchAxis && d.Known() && int(d.Value) != batch:
			return nil, fmt.Errorf("infer: input %q has a fixed batch of %d, not %d", e.input.Name, d.Value, batch)
		case d.Known():
			s = append(s, int(d.Value))
		case i == e.batchAxis:
			s = append(s, batch)
		default:
			return nil, fmt.Errorf("infer: input %q: dimension %d (%s) is not known", e.input.Name, i, d)
		}
	}
	return s, nil
}

// Plan returns how each compute layer runs (for `--explain`).
func (e *Engine) Plan() []LayerPlan { return slices.Clone(e.plan) }

// TimeSteps returns T.
func (e *Engine) TimeSteps() int { return e.T }

// InputName returns the name of the graph input.
func (e *Engine) InputName() string { return e.input.Name }

// An Output is one graph output of a run.
type Output struct {
	Name  string
	Shape []int
	Data  []float32
}

// Run runs the model on x (the graph input, float32 in shape) and returns
// the graph outputs.
func (e *Engine) Run(x []float32, shape []int) ([]Output, error) {
	if len(shape) != len(e.input.Shape) {
		return nil, fmt.Errorf("infer: input %q: shape %v, want rank %d", e.input.Name, shape, len(e.input.Shape))
	}
	for i, d := range e.input.Shape {
		if d.Known() && int64(shape[i]) != d.Value {
			return nil, fmt.Errorf("infer: input %q: shape %v does not match the graph's %s", e.input.Name, shape, e.input.Shape)
		}
	}
	if n := numel(shape); len(x) != n {
		return nil, fmt.Errorf("infer: input %q: %d values for shape %v (%d)", e.input.Name, len(x), shape, n)
	}
	p, err := e.program(shape)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return e.runLocked(p, x)
}

// runLocked runs program p on x (p.mu held).
func (e *Engine) runLocked(p *program, x []float32) ([]Output, error) {
	copy(p.in.f, x)
	for _, s := range p.steps {
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("infer: node %s: %w", s.node, err)
		}
	}
	outs := make([]Output, len(p.outs))
	for i, o := range p.outs {
		t := p.vals[o]
		data := make([]float32, numel(t.shape))
		materialize(t, data)
		outs[i] = Output{Name: o, Shape: slices.Clone(t.shape), Data: data}
	}
	return outs, nil
}

// program returns the bound program for an input shape, building it on
// first use.
func (e *Engine) program(shape []int) (*program, error) {
	key := shapeKey(shape)
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.programs[key]; ok {
		return p, nil
	}
	p, err := e.bind(shape)
	if err != nil {
		return nil, err
	}
	e.programs[key] = p
	return p, nil
}

func shapeKey(s []int) string {
	var b strings.Builder
	for _, d := range s {
		b.WriteString(strconv.Itoa(d))
		b.WriteByte(',')
	}
	return b.String()
}

// unsupported collects the nodes the engine cannot run.
type unsupported struct{ items []onnx.Unsupported }

func (u *unsupported) add(n *onnx.Node, format string, args ...any) {
	u.items = append(u.items, onnx.Unsupported{Node: n.Label(), OpType: n.OpType, Domain: n.Domain, Reason: fmt.Sprintf(format, args...)})
}

func (u *unsupported) err() error {
	if len(u.items) == 0 {
		return nil
	}
	return &onnx.UnsupportedError{Items: u.items}
}

var errNotConst = errors.New("not a constant")

// ErrStepForm is Compile's error for the plain profile's step form: that
// file computes one time step, its caller feeds every LIF's membrane back
// and averages the steps' outputs; the engine runs whole sequences.
var ErrStepForm = errors.New("infer: the plain profile's step form is one time step driven by its caller " +
	"(membranes in and out as graph inputs and outputs); the packed engine runs whole sequences: " +
	"export the model with --profile portable, or --plain-form unrolled, and run that")
