package infer

import (
	"fmt"
	"github.com/bsnnctl/bsnnctl/bsnn"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// binWeight is the output of a BipolarQuant node whose inputs are
// initializers: the weight of a binary layer.
type binWeight struct {
	node   *onnx.Node
	dims   []int
	values []float32 // sign(latent)*scale, sign(0) = +1
	unit   bool      // every scale is 1: values are ±1
}

// A fusion is a binary layer and the nodes computed with it in one pass:
//
//	Conv|MatMul -> BatchNormalization [-> Add(residual)] [-> Reshape] -> LIF
//
// emitted at the LIF, whose output (packed spikes) is all that is stored;
// or, when affine is set, Conv|MatMul -> BatchNormalization emitted at the
// BatchNormalization, whose output is stored channels last (a shortcut
// that another fusion adds as its residual).
type fusion struct {
	layer, bn, add, reshape, lif *onnx.Node
	residual                     string
	affine                       bool
}

// emitAt is the node at which the fusion runs.
func (f *fusion) emitAt() *onnx.Node {
	if f.affine {
		return f.bn
	}
	return f.lif
}

// nodes lists the fused nodes after the layer, for the layer plan.
func (f *fusion) nodes() []string {
	var s []string
	for _, n := range []*onnx.Node{f.bn, f.add, f.reshape, f.lif} {
		if n != nil {
			s = append(s, n.Label())
		}
	}
	return s
}

// analyse finds the constants, the binary weights and the fusions.
func (e *Engine) analyse() error {
	var u unsupported
	for _, n := range e.g.Nodes {
		if n.Domain == bsnn.DomainQONNX && n.OpType == "BipolarQuant" {
			w, err := e.bipolar(n)
			if err != nil {
				u.add(n, "%v", err)
				continue
			}
			if w != nil {
				e.binary[n.Outputs[0]] = w
			}
		}
	}
	if err := u.err(); err != nil {
		return err
	}
	claimed := map[*onnx.Node]bool{} // LIFs that a fusion ends at
	for _, n := range e.g.Nodes {
		if !e.isBinaryLayer(n) {
			continue
		}
		f := e.matchFusion(n)
		if f == nil {
			continue
		}
		if !f.affine && claimed[f.lif] {
			// Both operands of the Add are binary layers (a projection
			// shortcut): the first one found carries the Add and the LIF,
			// this one only its BatchNormalization, added as the residual.
			f = &fusion{layer: f.layer, bn: f.bn, affine: true}
		}
		if !f.affine {
			claimed[f.lif] = true
		}
		e.fusions[f.emitAt()] = f
		for _, m := range []*onnx.Node{f.layer, f.bn, f.add, f.reshape} {
			if m != nil && m != f.emitAt() {
				e.absorbed[m] = true
			}
		}
	}
	// An affine fusion whose output another fusion adds as its residual
	// is fine; any other consumer reads it channels last through the
	// generic conversion.
	return nil
}

// constant returns the initializer name as a tensor, or errNotConst.
func (e *Engine) constant(name string) (*onnx.Tensor, error) {
	if t, ok := e.consts[name]; ok {
		return t, nil
	}
	p, ok := e.g.Initializers[name]
	if !ok {
		return nil, errNotConst
	}
	t, err := onnx.TensorFromProto(p)
	if err != nil {
		return nil, err
	}
	e.consts[name] = t
	return t, nil
}

// constFloats returns a constant's values as float32 with its shape.
func (e *Engine) constFloats(name string) ([]float32, []int, error) {
	if w, ok := e.binary[name]; ok {
		if w.values == nil {
			return nil, nil, fmt.Errorf("input %q: the binary weight was released after packing", name)
		}
		return w.values, w.dims, nil
	}
	t, err := e.constant(name)
	if err != nil {
		return nil, nil, fmt.Errorf("input %q: %w", name, err)
	}
	return t.Floats(), t.Shape(), nil
}

// bipolar folds a BipolarQuant of initializers (nil, nil when an input is
// computed at run time).
func (e *Engine) bipolar(n *onnx.Node) (*binWeight, error) {
	if len(n.Inputs) != 2 {
		return nil, fmt.Errorf("%d inputs, want 2", len(n.Inputs))
	}
	lat, err := e.constant(n.Inputs[0])
	if err == errNotConst {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sc, err := e.constant(n.Inputs[1])
	if err == errNotConst {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	x, s, dims := lat.Floats(), sc.Floats(), lat.Shape()
	// scale is a scalar or has one value per output channel (axis 0).
	per := 0
	switch {
	case len(s) == 1:
	case len(dims) > 0 && len(s) == dims[0]:
		per = len(x) / dims[0]
	default:
		return nil, fmt.Errorf("scale has %d values for a weight of shape %v", len(s), dims)
	}
	w := &binWeight{node: n, dims: dims, values: make([]float32, len(x)), unit: true}
	for i, v := range x {
		k := float32(-1)
		if v >= 0 {
			k = 1
		}
		f := s[0]
		if per > 0 {
			f = s[i/per]
		}
		w.values[i] = k * f
	}
	for _, f := range s {
		w.unit = w.unit && f == 1
	}
	return w, nil
}

// isBinaryLayer reports whether n is a Conv (one group, no bias) or
// MatMul whose weight is a binary weight of unit scale.
func (e *Engine) isBinaryLayer(n *onnx.Node) bool {
	_, ok := e.binary[n.Input(1)]
	return ok && e.whyNotBinary(n) == ""
}

// whyNotBinary says why a node reading a binary weight as its second
// input is not a layer the packed kernels compute ("" when it is).
func (e *Engine) whyNotBinary(n *onnx.Node) string {
	switch {
	case n.Domain != "" || n.OpType != "Conv" && n.OpType != "MatMul":
		return fmt.Sprintf("%s is not a Conv or MatMul", n.QualifiedOp())
	case n.OpType == "Conv" && len(n.Inputs) > 2 && n.Inputs[2] != "":
		return "the Conv has a bias"
	case n.OpType == "Conv" && n.Int("group", 1) != 1:
		return fmt.Sprintf("the Conv has %d groups (the packed kernels sum over all input channels)", n.Int("group", 1))
	case !e.binary[n.Input(1)].unit:
		return "the weight scale is not 1 (the weights are not ±1)"
	}
	return ""
}

// only returns the single consumer of value v, or nil when v has several
// consumers or is a graph output.
func (e *Engine) only(v string) *onnx.Node {
	for _, o := range e.g.Outputs {
		if o.Name == v {
			return nil
		}
	}
	c := e.g.Consumers(v)
	if len(c) != 1 {
		return nil
	}
	return c[0]
}

// matchFusion returns the fusion that starts at the binary layer n, or nil.
func (e *Engine) matchFusion(n *onnx.Node) *fusion {
	bn := e.only(n.Outputs[0])
	if bn == nil || bn.Domain != "" || bn.OpType != "BatchNormalization" || bn.Input(0) != n.Outputs[0] ||
		len(bn.Outputs) > 1 && bn.Outputs[1] != "" || e.bnAffineErr(bn) != nil {
		return nil
	}
	f := &fusion{layer: n, bn: bn}
	next := e.only(bn.Outputs[0])
	if next != nil && next.Domain == "" && next.OpType == "Add" && len(next.Inputs) == 2 {
		f.add = next
		f.residual = next.Inputs[0]
		if f.residual == bn.Outputs[0] {
			f.residual = next.Inputs[1]
		}
		next = e.only(next.Outputs[0])
	}
	if next != nil && next.Domain == "" && next.OpType == "Reshape" {
		f.reshape = next
		next = e.only(next.Outputs[0])
	}
	if next != nil && next.Domain == bsnn.DomainSNN && next.OpType == "LIF" &&
		(len(next.Outputs) < 2 || next.Outputs[1] == "" || len(e.g.Consumers(next.Outputs[1])) == 0 && !e.isOutput(next.Outputs[1])) {
		f.lif = next
		return f
	}
	return &fusion{layer: n, bn: bn, affine: true}
}

func (e *Engine) isOutput(v string) bool {
	for _, o := range e.g.Outputs {
		if o.Name == v {
			return true
		}
	}
	return false
}
