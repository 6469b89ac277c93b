package cli

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/infer"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// A runExecutor runs one chunk of run's inputs in an engine and returns
// the graph outputs in order.
type runExecutor interface {
	name() string
	run(inputs []*runInput, ch [2]int) ([]*onnx.Tensor, error)
	// plan is the packed engine's plan (nil for the float engine).
	plan() []infer.LayerPlan
	close()
}

// executor picks the engine (--engine) for model m.
func (c *RunCmd) executor(g *Globals, m *onnx.Model) (runExecutor, error) {
	e, err := packedEngine(g, c.Engine, m, c.Model, 0)
	if err != nil {
		return nil, err
	}
	if e != nil {
		return &packedRun{c: c, e: e}, nil
	}
	return &floatRun{c: c, g: g, m: m, programs: map[int]*ops.Program{}}, nil
}

// floatRun runs chunks in the float engine, one program per chunk size.
type floatRun struct {
	c        *RunCmd
	g        *Globals
	m        *onnx.Model
	programs map[int]*ops.Program
}

func (f *floatRun) name() string            { return engineFloat }
func (f *floatRun) plan() []infer.LayerPlan { return nil }

func (f *floatRun) run(inputs []*runInput, ch [2]int) ([]*onnx.Tensor, error) {
	n := ch[1] - ch[0]
	p, ok := f.programs[n]
	if !ok {
		var err error
		if p, err = f.c.compile(f.g, f.m, inputs, ch); err != nil {
			return nil, err
		}
		f.programs[n] = p
	}
	for _, in := range inputs {
		data, _ := slice(in, ch, f.c.Batch > 0)
		if err := p.SetInput(in.info.Name, data); err != nil {
			return nil, fmt.Errorf("%s: %w", f.c.Model, err)
		}
	}
	if err := p.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.c.Model, err)
	}
	res := make([]*onnx.Tensor, len(p.B.Outputs))
	for i := range res {
		res[i] = p.Output(i)
	}
	return res, nil
}

func (f *floatRun) close() {
	for _, p := range f.programs {
		p.Close()
	}
}

// packedRun runs chunks in the packed engine (it binds each input shape
// once, on first use).
type packedRun struct {
	c *RunCmd
	e *infer.Engine
}

func (p *packedRun) name() string            { return enginePacked }
func (p *packedRun) plan() []infer.LayerPlan { return p.e.Plan() }
func (p *packedRun) close()                  {}

func (p *packedRun) run(inputs []*runInput, ch [2]int) ([]*onnx.Tensor, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%s: the packed engine runs models with one input, this one has %d", p.c.Model, len(inputs))
	}
	data, shape := slice(inputs[0], ch, p.c.Batch > 0)
	if err := checkShape(inputs[0], shape, p.c.Batch > 0); err != nil {
		return nil, err
	}
	outs, err := p.e.Run(data, shape)
	if err != nil {
		return nil, fileErr(p.c.Model, err)
	}
	res := make([]*onnx.Tensor, len(outs))
	for i, o := range outs {
		dims := make([]int64, len(o.Shape))
		for j, d := range o.Shape {
			dims[j] = int64(d)
		}
		res[i] = &onnx.Tensor{Name: o.Name, Type: onnx.Float, Dims: dims, Float32: o.Data}
	}
	return res, nil
}
