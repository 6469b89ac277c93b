package infer

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/onnx"
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
	model *onnx.Model
	g     *onnx.Graph
	input *onnx.ValueInfo
	// T is the number of time steps: the count of the directly encoded
	// input's repetition (0 when the graph repeats nothing).
	T int

	consts   map[string]*onnx.Tensor
	binary   map[string]*binWeight // BipolarQuant outputs by name
	fusions  map[*onnx.Node]*fusion
	absorbed map[*onnx.Node]bool
	packed   map[*onnx.Node]*bitkern.Weights

	mu       sync.Mutex
	programs map[string]*program
	plan     []LayerPlan
}

// LayerPlan says how one compute layer (Conv, MatMul, Gemm) runs.
type LayerPlan struct {
	Node string `json:"node"`
	Op   string `json:"op"`
	// Packed: the layer runs on packed spikes (AND-popcount).
	Packed bool `json:"packed"`
	// Fused lists the nodes computed with it in one pass (BatchNormalization,
	// Add, Reshape, LIF).
	Fused []string `json:"fused,omitempty"`
	// Reason says why a layer with binary weights runs on float kernels,
	// or what a float layer is ("float weights").
	Reason string `json:"reason"`
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
	if info.Profile != export.ProfilePortable && info.Profile != export.ProfileTrain {
		if model, err = export.Export(model, export.ProfilePortable, export.Options{}); err != nil {
			return nil, fmt.Errorf("infer: canonicalizing the %s profile: %w", info.Profile, err)
		}
	}
	g, err := model.Graph()
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	e := &Engine{opts: opts, model: model, g: g, consts: map[string]*onnx.Tensor{},
		binary: map[string]*binWeight{}, fusions: map[*onnx.Node]*fusion{}, absorbed: map[*onnx.Node]bool{},
		programs: map[string]*program{}}
	if len(g.Inputs) != 1 {
		return nil, &onnx.UnsupportedError{Items: []onnx.Unsupported{{OpType: "graph inputs",
			Reason: fmt.Sprintf("the graph has %d inputs; the packed engine runs models with one", len(g.Inputs))}}}
	}
	e.input = g.Inputs[0]
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
	return e, nil
}

// defaultShape is the input shape with every symbolic dimension set to 1.
func (e *Engine) defaultShape() ([]int, error) {
	var s []int
	for i, d := range e.input.Shape {
		switch {
		case d.Known():
			s = append(s, int(d.Value))
		case i == 0:
			s = append(s, 1)
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
