package nir

import (
	"fmt"
	"slices"
	"strings"
)

// Check validates g and the graphs nested in it: node names HDF5 can store,
// every edge between existing nodes, and each node's parameters — float
// arrays whose shapes fit together the way NIR's constructors assert
// (nir/ir/*.py: a LIF's five parameters share one shape, a Conv2d's weight
// is [C_out, C_in/groups, kH, kW] with a [C_out] bias, ...). It returns a
// *FormatError naming the node and field. Encode checks before writing and
// Decode after reading.
func (g *Graph) Check() error { return g.check("") }

func (g *Graph) check(prefix string) error {
	for _, name := range g.Names() {
		path := joinPath(prefix, name)
		if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
			return nodeErr(path, "", "node names must be non-empty, not . or .., and without /")
		}
		if err := checkNode(path, g.Nodes[name]); err != nil {
			return err
		}
	}
	for i, e := range g.Edges {
		for _, end := range []string{e.From, e.To} {
			if _, ok := g.Nodes[end]; !ok {
				return nodeErr(prefix, fmt.Sprintf("edges[%d]", i), "edge (%q, %q) names %q, which is not a node of the graph", e.From, e.To, end)
			}
		}
	}
	return nil
}

// param pairs a tensor with its NIR field name for checking.
type param struct {
	field string
	t     Tensor
}

func checkNode(path string, n Node) error {
	switch n := n.(type) {
	case nil:
		return nodeErr(path, "", "is nil")
	case *Graph:
		if n == nil {
			return nodeErr(path, "", "is nil")
		}
		return n.check(path)
	case *Input:
		return checkDims(path, "shape", n.Shape, 0)
	case *Output:
		return checkDims(path, "shape", n.Shape, 0)
	case *Affine:
		if err := checkWeight(path, n.Weight, 2, -1); err != nil {
			return err
		}
		w := n.Weight.Shape
		return checkShape(path, param{"bias", n.Bias}, w[:len(w)-1])
	case *Linear:
		return checkWeight(path, n.Weight, 2, -1)
	case *Scale:
		return checkTensors(path, param{"scale", n.Scale})
	case *Conv1d:
		if err := checkConv(path, n.Weight, n.Bias, n.Groups, n.PaddingMode, 3); err != nil {
			return err
		}
		if n.InputShape != nil && len(n.InputShape) != 1 {
			return nodeErr(path, "input_shape", "has %d values, want 1", len(n.InputShape))
		}
		if err := checkDims(path, "input_shape", n.InputShape, 1); err != nil {
			return err
		}
		return checkWindow(path, []int64{n.Weight.shapeAt(2)}, []int64{n.Stride}, []int64{n.Padding}, []int64{n.Dilation})
	case *Conv2d:
		if err := checkConv(path, n.Weight, n.Bias, n.Groups, n.PaddingMode, 4); err != nil {
			return err
		}
		if n.InputShape != nil && len(n.InputShape) != 2 {
			return nodeErr(path, "input_shape", "has %d values, want 2", len(n.InputShape))
		}
		if err := checkDims(path, "input_shape", n.InputShape, 1); err != nil {
			return err
		}
		k := []int64{n.Weight.shapeAt(2), n.Weight.shapeAt(3)}
		return checkWindow(path, k, n.Stride[:], n.Padding[:], n.Dilation[:])
	case *SumPool2d:
		return checkWindow(path, n.KernelSize[:], n.Stride[:], n.Padding[:], []int64{1, 1})
	case *AvgPool2d:
		return checkWindow(path, n.KernelSize[:], n.Stride[:], n.Padding[:], []int64{1, 1})
	case *Flatten:
		if err := checkDims(path, "input_type", n.InputType, 0); err != nil {
			return err
		}
		if n.InputType != nil {
			if _, err := FlattenShape(n.InputType, n.StartDim, n.EndDim); err != nil {
				return nodeErr(path, "", "%v", err)
			}
		}
		return nil
	case *Delay:
		return checkTensors(path, param{"delay", n.Delay})
	case *Threshold:
		return checkTensors(path, param{"threshold", n.Threshold})
	case *I:
		return checkTensors(path, param{"r", n.R})
	case *IF:
		return checkTensors(path, param{"r", n.R}, param{"v_threshold", n.VThreshold}, param{"v_reset", n.VReset})
	case *LI:
		return checkTensors(path, param{"tau", n.Tau}, param{"r", n.R}, param{"v_leak", n.VLeak})
	case *LIF:
		return checkTensors(path, param{"tau", n.Tau}, param{"r", n.R}, param{"v_leak", n.VLeak},
			param{"v_threshold", n.VThreshold}, param{"v_reset", n.VReset})
	case *CubaLI:
		return checkTensors(path, param{"tau_syn", n.TauSyn}, param{"tau_mem", n.TauMem}, param{"r", n.R},
			param{"v_leak", n.VLeak}, param{"w_in", n.WIn})
	case *CubaLIF:
		return checkTensors(path, param{"tau_syn", n.TauSyn}, param{"tau_mem", n.TauMem}, param{"r", n.R},
			param{"v_leak", n.VLeak}, param{"v_threshold", n.VThreshold}, param{"v_reset", n.VReset}, param{"w_in", n.WIn})
	}
	return nodeErr(path, "", "unknown node implementation %T", n)
}

// checkTensors checks that every parameter is a valid tensor and that all
// share the first one's shape (a neuron's parameters are per neuron).
func checkTensors(path string, ps ...param) error {
	for _, p := range ps {
		if err := p.t.valid(); err != nil {
			return nodeErr(path, p.field, "%v", err)
		}
	}
	for _, p := range ps[1:] {
		if !slices.Equal(p.t.Shape, ps[0].t.Shape) {
			return nodeErr(path, p.field, "has shape %v, but %s has %v; all must match", p.t.Shape, ps[0].field, ps[0].t.Shape)
		}
	}
	return nil
}

// checkShape checks one tensor against the shape it must have.
func checkShape(path string, p param, want []int) error {
	if err := p.t.valid(); err != nil {
		return nodeErr(path, p.field, "%v", err)
	}
	if !slices.Equal(p.t.Shape, want) {
		return nodeErr(path, p.field, "has shape %v, want %v", p.t.Shape, want)
	}
	return nil
}

// checkWeight checks a weight tensor's rank: between minRank and maxRank,
// or at least minRank when maxRank < 0.
func checkWeight(path string, w Tensor, minRank, maxRank int) error {
	if err := w.valid(); err != nil {
		return nodeErr(path, "weight", "%v", err)
	}
	r := len(w.Shape)
	if r < minRank || (maxRank >= 0 && r > maxRank) {
		if maxRank == minRank {
			return nodeErr(path, "weight", "has shape %v, want rank %d", w.Shape, minRank)
		}
		return nodeErr(path, "weight", "has shape %v, want rank %d or more", w.Shape, minRank)
	}
	return nil
}

func checkConv(path string, w, b Tensor, groups int64, mode string, rank int) error {
	if err := checkWeight(path, w, rank, rank); err != nil {
		return err
	}
	cout := w.Shape[0]
	if err := checkShape(path, param{"bias", b}, []int{cout}); err != nil {
		return err
	}
	if groups < 1 || int64(cout)%groups != 0 {
		return nodeErr(path, "groups", "is %d; it must be at least 1 and divide the %d output channels", groups, cout)
	}
	switch mode {
	case "", "same", "valid":
	default:
		return nodeErr(path, "padding", "is %q; a string padding must be 'same' or 'valid'", mode)
	}
	for _, d := range w.Shape {
		if d == 0 {
			return nodeErr(path, "weight", "has an empty dimension: %v", w.Shape)
		}
	}
	return nil
}

// checkWindow checks kernel sizes and strides ≥ 1, paddings ≥ 0 and
// dilations ≥ 1.
func checkWindow(path string, kernel, stride, pad, dil []int64) error {
	for i := range kernel {
		switch {
		case kernel[i] < 1:
			return nodeErr(path, "kernel_size", "is %v; sizes must be at least 1", kernel)
		case stride[i] < 1:
			return nodeErr(path, "stride", "is %v; strides must be at least 1", stride)
		case pad[i] < 0:
			return nodeErr(path, "padding", "is %v; paddings must not be negative", pad)
		case dil[i] < 1:
			return nodeErr(path, "dilation", "is %v; dilations must be at least 1", dil)
		}
	}
	return nil
}

// checkDims checks a shape given as integers: every dimension at least min.
func checkDims(path, field string, dims []int64, min int64) error {
	for _, d := range dims {
		if d < min {
			return nodeErr(path, field, "is %v; dimensions must be at least %d", dims, min)
		}
	}
	return nil
}

// shapeAt returns dimension i as int64 (0 when the rank is smaller).
func (t Tensor) shapeAt(i int) int64 {
	if i >= len(t.Shape) {
		return 0
	}
	return int64(t.Shape[i])
}
