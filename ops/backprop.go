package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/ops/kernels"
)

// backprop adds to the graph the gradient of the scalar loss with respect
// to each node of wrt (leaves) and returns the gradient nodes, in wrt's
// order. It is reverse-mode symbolic differentiation as gorgonia.Grad does
// it (the same visiting order, so the same gradient terms in the same
// order), with one difference: a value read by several consumers gets the
// sum of its gradient terms from a gradSumKernel, which the executor plans
// like any kernel, where gorgonia.ReduceAdd would add Gorgonia Add nodes
// that allocate their result on every run.
func backprop(g *G.ExprGraph, loss *G.Node, wrt []*G.Node) (grads []*G.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gradient construction failed: %v", r)
		}
	}()
	sorted, err := G.Sort(g) // consumers before producers
	if err != nil {
		return nil, err
	}
	active := affects(sorted, g, loss)
	affected := affectedBy(sorted, g, wrt)
	for n := range active {
		if !affected[n] {
			delete(active, n)
		}
	}
	for _, w := range wrt {
		if !active[w] {
			return nil, fmt.Errorf("no gradient reaches %s through differentiable ops", w.Name())
		}
	}
	one := g.AddNode(G.NewConstant(float32(1), G.WithName("dloss")))
	terms := map[*G.Node][]*G.Node{loss: {one}}
	for _, n := range sorted {
		if !active[n] {
			continue
		}
		gn, err := sumGradients(terms[n])
		if err != nil {
			return nil, fmt.Errorf("gradient of %s: %w", n.Name(), err)
		}
		terms[n] = []*G.Node{gn}
		if n.Op() == nil {
			continue // a leaf: its gradient is complete
		}
		op, ok := n.Op().(G.SDOp)
		if !ok {
			return nil, fmt.Errorf("op %v has no symbolic gradient", n.Op())
		}
		in := children(g, n)
		dx, err := op.SymDiff(in, n, gn)
		if err != nil {
			return nil, err
		}
		for i, d := range op.DiffWRT(len(in)) {
			if d {
				terms[in[i]] = append(terms[in[i]], dx[i])
			}
		}
	}
	for _, w := range wrt {
		grads = append(grads, terms[w][0])
	}
	return grads, nil
}

// affects returns the nodes whose values reach root through differentiable
// inputs (sorted: consumers first).
func affects(sorted []*G.Node, g *G.ExprGraph, root *G.Node) map[*G.Node]bool {
	set := map[*G.Node]bool{root: true}
	for _, n := range sorted {
		if !set[n] || n.Op() == nil {
			continue
		}
		in := children(g, n)
		for i, d := range diffWRT(n, len(in)) {
			if d {
				set[in[i]] = true
			}
		}
	}
	return set
}

// affectedBy returns the nodes that depend on a node of wrt through
// differentiable inputs.
func affectedBy(sorted []*G.Node, g *G.ExprGraph, wrt []*G.Node) map[*G.Node]bool {
	set := map[*G.Node]bool{}
	for _, w := range wrt {
		set[w] = true
	}
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		if n.Op() == nil {
			continue
		}
		in := children(g, n)
		for j, d := range diffWRT(n, len(in)) {
			if d && set[in[j]] {
				set[n] = true
				break
			}
		}
	}
	return set
}

// diffWRT is which inputs of n's op are differentiable (none for an op
// without a symbolic gradient).
func diffWRT(n *G.Node, arity int) []bool {
	if op, ok := n.Op().(G.SDOp); ok {
		return op.DiffWRT(arity)
	}
	return nil
}

// sumGradients returns the sum of a value's gradient terms, left to right.
func sumGradients(terms []*G.Node) (*G.Node, error) {
	switch len(terms) {
	case 0:
		return nil, fmt.Errorf("no gradient flows into it")
	case 1:
		return terms[0], nil
	}
	shape := terms[0].Shape()
	for _, t := range terms[1:] {
		if !t.Shape().Eq(shape) {
			// Terms of different shapes (only Gorgonia's own ops make
			// them): Gorgonia adds them with broadcasting.
			return G.ReduceAdd(terms)
		}
	}
	return Apply(&gradSumKernel{shape: shape.Clone(), n: len(terms)}, terms...)
}

// gradSumKernel adds the gradient terms of a value read by several
// consumers: ((g0 + g1) + g2) + ..., in float32 as gorgonia's Add does. Each
// element's sum is the same however the work is split, so the parts run
// on all threads.
type gradSumKernel struct {
	shape []int
	n     int

	out    []float32 // the call's arguments, for runPart
	in     [][]float32
	runner partRunner
}

func (k *gradSumKernel) Name() string { return fmt.Sprintf("GradSum%d%v", k.n, k.shape) }

func (k *gradSumKernel) OutShape() []int {
	if len(k.shape) == 0 {
		return nil
	}
	return k.shape
}

func (k *gradSumKernel) Forward(out []float32, in ...[]float32) error {
	k.out, k.in = out, in
	k.runner.run(k, partsFor(len(out), len(out)*len(in)))
	k.out, k.in = nil, nil
	return nil
}

// runPart sums the part's share of the elements, in runs of whole cache
// lines.
func (k *gradSumKernel) runPart(part, parts int) {
	per := (len(k.out)/parts + 15) &^ 15
	lo, hi := min(len(k.out), part*per), min(len(k.out), (part+1)*per)
	out := k.out[lo:hi]
	kernels.Add(out, k.in[0][lo:hi], k.in[1][lo:hi])
	for _, c := range k.in[2:] {
		kernels.Add(out, out, c[lo:hi])
	}
}
