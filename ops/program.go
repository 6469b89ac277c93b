package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// A Program is a compiled graph ready to run: forward only, or forward and
// backward when it was compiled with a loss. After Run, the graph outputs,
// the gradients and the loss hold their values until the next Run; the
// memory of every other value is reused within a run (see Arena) and holds
// nothing meaningful afterwards.
type Program struct {
	B          *Builder
	Loss       *G.Node
	Grads      map[*Param]*G.Node // gradient node of each parameter (training)
	inputGrads map[string]*G.Node

	steps      []step
	slots      map[*G.Node]*slot
	arena      *Arena
	arenaLen   int  // float32 values of the arena this program needs
	gen        int  // the arena generation the slots are bound to
	bound      bool // the slots have memory (from the first run on)
	flat       []float32
	flatGrads  map[*Param][]float32
	gradCopies []gradCopy
}

// Compile finishes the builder. With a loss (a scalar node) it adds the
// gradient of the loss with respect to every parameter it depends on,
// after checking that every op on the way has a gradient. It then orders
// the ops and plans the program's memory in Options.Arena (a new arena if
// none was given).
func (b *Builder) Compile(loss *G.Node) (*Program, error) {
	p := &Program{B: b, Loss: loss, Grads: map[*Param]*G.Node{}, inputGrads: map[string]*G.Node{}, arena: b.Opts.Arena}
	if p.arena == nil {
		p.arena = NewArena()
	}
	keep := map[*G.Node]bool{}
	var flat []*Param
	if loss != nil {
		if !loss.IsScalar() {
			return nil, fmt.Errorf("loss must be a scalar, got shape %v", loss.Shape())
		}
		var wrt []*G.Node
		var ps []*Param
		reach := reachable(b.G, loss)
		for _, prm := range b.Params {
			if reach[prm.Node] {
				wrt = append(wrt, prm.Node)
				ps = append(ps, prm)
			}
		}
		var gin []*Value
		if b.Opts.InputGrads {
			for _, in := range b.Inputs {
				if reach[in.Node] {
					wrt = append(wrt, in.Node)
					gin = append(gin, in)
				}
			}
		}
		if err := checkDifferentiable(b.G, loss, wrt); err != nil {
			return nil, err
		}
		if len(wrt) > 0 {
			grads, err := backprop(b.G, loss, wrt)
			if err != nil {
				return nil, err
			}
			for i, prm := range ps {
				p.Grads[prm] = grads[i]
				keep[grads[i]] = true
			}
			for i, in := range gin {
				p.inputGrads[in.Name] = grads[len(ps)+i]
				keep[grads[len(ps)+i]] = true
			}
			flat = ps
		}
		keep[loss] = true
	}
	if b.G.Nodes().Len() == 0 {
		// Everything was computed at compile time (a graph of constants):
		// there is nothing to run.
		return p, nil
	}
	for _, o := range b.Outputs {
		if o.Node != nil {
			keep[o.Node] = true
		}
	}
	if err := p.build(keep, flat); err != nil {
		return nil, fmt.Errorf("planning the program: %w", err)
	}
	return p, nil
}

// reachable returns the nodes loss depends on.
func reachable(g *G.ExprGraph, root *G.Node) map[*G.Node]bool {
	seen := map[*G.Node]bool{}
	var walk func(n *G.Node)
	walk = func(n *G.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, c := range children(g, n) {
			walk(c)
		}
	}
	walk(root)
	return seen
}

// checkDifferentiable walks from the loss to the parameters and reports
// every op on a path between them that has no gradient.
func checkDifferentiable(g *G.ExprGraph, loss *G.Node, wrt []*G.Node) error {
	// Nodes that depend on a parameter.
	target := map[*G.Node]bool{}
	for _, w := range wrt {
		target[w] = true
	}
	memo := map[*G.Node]bool{}
	var dependsOnParam func(n *G.Node) bool
	dependsOnParam = func(n *G.Node) bool {
		if v, ok := memo[n]; ok {
			return v
		}
		memo[n] = target[n]
		for _, c := range children(g, n) {
			if dependsOnParam(c) {
				memo[n] = true
			}
		}
		return memo[n]
	}
	var bad []string
	seen := map[*G.Node]bool{}
	var walk func(n *G.Node)
	walk = func(n *G.Node) {
		if seen[n] || !dependsOnParam(n) {
			return
		}
		seen[n] = true
		if op := n.Op(); op != nil {
			if _, ok := op.(G.SDOp); !ok {
				if _, ok := op.(G.ADOp); !ok {
					bad = append(bad, fmt.Sprintf("%v", op))
				}
			}
		}
		for _, c := range children(g, n) {
			walk(c)
		}
	}
	walk(loss)
	if len(bad) > 0 {
		return fmt.Errorf("no gradient for ops between the loss and the parameters: %v", bad)
	}
	return nil
}

// SetInput copies data into the named graph input.
func (p *Program) SetInput(name string, data []float32) error {
	for _, in := range p.B.Inputs {
		if in.Name == name {
			dst := in.Node.Value().Data().([]float32)
			if len(data) != len(dst) {
				return fmt.Errorf("input %q needs %d values (shape %v), got %d", name, len(dst), in.Shape, len(data))
			}
			copy(dst, data)
			return nil
		}
	}
	return fmt.Errorf("no graph input %q", name)
}

// Run executes the program once.
func (p *Program) Run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("run failed: %v", r)
		}
	}()
	if len(p.steps) == 0 {
		return nil
	}
	return p.exec()
}

// Close releases the program's own memory (its arena goes when no program
// uses it any more). The program must not be run afterwards.
func (p *Program) Close() error {
	p.steps, p.slots, p.flat, p.flatGrads, p.gradCopies = nil, nil, nil, nil, nil
	return nil
}

// ArenaLen returns how many float32 values of its arena the program uses
// for its intermediate values (the arena is allocated at the first run).
func (p *Program) ArenaLen() int { return p.arenaLen }

// ValueData returns the current data of a value (after Run), whether it is a
// runtime node or a constant.
func ValueData(v *Value) []float32 {
	if v.Node == nil || v.Node.Value() == nil {
		if v.Const != nil {
			return v.Const.Floats()
		}
		return nil
	}
	d, err := floats(v.Node.Value())
	if err != nil {
		return nil
	}
	return d
}

// Output returns output i as a tensor (a copy).
func (p *Program) Output(i int) *onnx.Tensor {
	v := p.B.Outputs[i]
	d := append([]float32(nil), ValueData(v)...)
	dims := make([]int64, len(v.Shape))
	for j, s := range v.Shape {
		dims[j] = int64(s)
	}
	return &onnx.Tensor{Name: v.Name, Type: onnx.Float, Dims: dims, Float32: d}
}

// Grad returns the gradient of the loss with respect to a parameter after
// Run (shared memory: a slice of FlatGrads; nil if the loss does not depend
// on it).
func (p *Program) Grad(prm *Param) []float32 {
	if g, ok := p.flatGrads[prm]; ok {
		return g
	}
	n, ok := p.Grads[prm]
	if !ok || n.Value() == nil {
		return nil
	}
	d, _ := floats(n.Value())
	return d
}

// FlatGrads returns the gradients of every parameter in Grads after Run,
// one after the other in the order of Builder.Params, in one buffer that
// the program writes them to (Grad returns slices of it): the buffer a
// data-parallel trainer all-reduces. nil for a program without a loss.
func (p *Program) FlatGrads() []float32 { return p.flat }

// LossValue returns the loss after Run.
func (p *Program) LossValue() float32 {
	d, _ := floats(p.Loss.Value())
	if len(d) == 0 {
		return 0
	}
	return d[0]
}

// children returns the input nodes of n.
func children(g *G.ExprGraph, n *G.Node) []*G.Node {
	var out []*G.Node
	it := g.From(n.ID())
	for it.Next() {
		out = append(out, it.Node().(*G.Node))
	}
	return out
}

// InputGrad returns the gradient of the loss with respect to a graph input
// (compiled with Options.InputGrads) after Run.
func (p *Program) InputGrad(name string) []float32 {
	n, ok := p.inputGrads[name]
	if !ok || n.Value() == nil {
		return nil
	}
	d, _ := floats(n.Value())
	return d
}
