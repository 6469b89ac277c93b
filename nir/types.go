package nir

import (
	"fmt"
	"slices"
)

// A NodeType is the shape of a node's input and output, without batch or
// time axes (NIR's input_type and output_type).
type NodeType struct {
	In, Out []int64
}

// InferTypes computes every node's input and output shape, as NIR's
// NIRGraph.infer_types does: from the shapes the nodes declare (Input and
// Output shapes, weight and neuron parameter shapes, a Conv2d's
// input_shape, a Flatten's input_type) and, for the others (pooling, a
// Conv2d or Flatten without them), from the node that feeds them. It then
// checks that every edge joins equal shapes. Unlike NIR's Python, a grouped
// convolution's input has weight.shape[1]·groups channels.
//
// A *FormatError names the node whose shape does not fit or cannot be
// inferred. Nested graphs are typed by their Input and Output nodes.
func (g *Graph) InferTypes() (map[string]NodeType, error) {
	return g.inferTypes("")
}

func (g *Graph) inferTypes(prefix string) (map[string]NodeType, error) {
	types := map[string]NodeType{}
	names := g.Names()
	for _, name := range names {
		t, err := declaredType(joinPath(prefix, name), g.Nodes[name])
		if err != nil {
			return nil, err
		}
		types[name] = t
	}
	// Propagate along edges until nothing changes: a node without a declared
	// input shape takes its first typed predecessor's output.
	for changed := true; changed; {
		changed = false
		for _, e := range g.Edges {
			from, to := types[e.From], types[e.To]
			if from.Out == nil || to.In != nil {
				continue
			}
			out, err := outputShape(joinPath(prefix, e.To), g.Nodes[e.To], from.Out)
			if err != nil {
				return nil, err
			}
			types[e.To] = NodeType{In: slices.Clone(from.Out), Out: out}
			changed = true
		}
	}
	for _, name := range names {
		if t := types[name]; t.In == nil || t.Out == nil {
			return nil, nodeErr(joinPath(prefix, name), "", "cannot infer its shape: no Input node with a known shape reaches it and it declares none")
		}
	}
	for _, e := range g.Edges {
		out, in := types[e.From].Out, types[e.To].In
		if !slices.Equal(out, in) {
			return nil, nodeErr(joinPath(prefix, e.To), "", "its input has shape %v, but node %q feeds it shape %v", in, e.From, out)
		}
	}
	return types, nil
}

// declaredType is what a node says about its shapes by itself; In or Out is
// nil when it depends on the input.
func declaredType(path string, n Node) (NodeType, error) {
	same := func(s []int) (NodeType, error) {
		d := ints64(s)
		return NodeType{In: d, Out: slices.Clone(d)}, nil
	}
	switch n := n.(type) {
	case *Input:
		return NodeType{In: slices.Clone(n.Shape), Out: slices.Clone(n.Shape)}, nil
	case *Output:
		return NodeType{In: slices.Clone(n.Shape), Out: slices.Clone(n.Shape)}, nil
	case *Affine:
		return matrixType(n.Weight.Shape), nil
	case *Linear:
		return matrixType(n.Weight.Shape), nil
	case *Scale:
		return same(n.Scale.Shape)
	case *Delay:
		return same(n.Delay.Shape)
	case *Threshold:
		return same(n.Threshold.Shape)
	case *I:
		return same(n.R.Shape)
	case *IF:
		return same(n.R.Shape)
	case *LI:
		return same(n.R.Shape)
	case *LIF:
		return same(n.R.Shape)
	case *CubaLI:
		return same(n.R.Shape)
	case *CubaLIF:
		return same(n.R.Shape)
	case *Conv1d:
		if n.InputShape == nil {
			return NodeType{}, nil
		}
		in := []int64{n.Weight.shapeAt(1) * n.Groups, n.InputShape[0]}
		out, err := outputShape(path, n, in)
		return NodeType{In: in, Out: out}, err
	case *Conv2d:
		if n.InputShape == nil {
			return NodeType{}, nil
		}
		in := []int64{n.Weight.shapeAt(1) * n.Groups, n.InputShape[0], n.InputShape[1]}
		out, err := outputShape(path, n, in)
		return NodeType{In: in, Out: out}, err
	case *Flatten:
		if n.InputType == nil {
			return NodeType{}, nil
		}
		out, err := outputShape(path, n, n.InputType)
		return NodeType{In: slices.Clone(n.InputType), Out: out}, err
	case *SumPool2d, *AvgPool2d:
		return NodeType{}, nil
	case *Graph:
		return graphType(path, n)
	}
	return NodeType{}, nodeErr(path, "", "unknown node implementation %T", n)
}

func matrixType(w []int) NodeType {
	lead := ints64(w[:len(w)-2])
	return NodeType{In: append(slices.Clone(lead), int64(w[len(w)-1])), Out: append(lead, int64(w[len(w)-2]))}
}

// graphType types a nested graph by its one Input and one Output node.
func graphType(path string, g *Graph) (NodeType, error) {
	types, err := g.inferTypes(path)
	if err != nil {
		return NodeType{}, err
	}
	var t NodeType
	var ins, outs int
	for name, n := range g.Nodes {
		switch n.(type) {
		case *Input:
			ins++
			t.In = types[name].In
		case *Output:
			outs++
			t.Out = types[name].Out
		}
	}
	if ins != 1 || outs != 1 {
		return NodeType{}, nodeErr(path, "", "a nested graph needs one Input and one Output node to be typed, it has %d and %d", ins, outs)
	}
	return t, nil
}

// outputShape computes the output shape of n for input shape in, checking
// that the input fits the node.
func outputShape(path string, n Node, in []int64) ([]int64, error) {
	switch n := n.(type) {
	case *Conv1d:
		return convShape(path, n.Weight, n.Groups, in, []int64{n.Stride}, []int64{n.Padding}, []int64{n.Dilation}, n.PaddingMode)
	case *Conv2d:
		return convShape(path, n.Weight, n.Groups, in, n.Stride[:], n.Padding[:], n.Dilation[:], n.PaddingMode)
	case *SumPool2d:
		return poolShape(path, in, n.KernelSize, n.Stride, n.Padding)
	case *AvgPool2d:
		return poolShape(path, in, n.KernelSize, n.Stride, n.Padding)
	case *Flatten:
		out, err := FlattenShape(in, n.StartDim, n.EndDim)
		if err != nil {
			return nil, nodeErr(path, "", "%v", err)
		}
		return out, nil
	}
	t, err := declaredType(path, n)
	if err != nil {
		return nil, err
	}
	if t.In != nil && !slices.Equal(t.In, in) {
		return nil, nodeErr(path, "", "takes shape %v, but is fed shape %v", t.In, in)
	}
	if t.Out == nil {
		return slices.Clone(in), nil
	}
	return t.Out, nil
}

func convShape(path string, w Tensor, groups int64, in, stride, pad, dil []int64, mode string) ([]int64, error) {
	nd := len(w.Shape) - 2
	if len(in) != nd+1 {
		return nil, nodeErr(path, "", "takes [channels, %d spatial dimensions], but is fed shape %v", nd, in)
	}
	if cin := w.shapeAt(1) * groups; in[0] != cin {
		return nil, nodeErr(path, "", "takes %d input channels (weight %v, groups %d), but is fed shape %v", cin, w.Shape, groups, in)
	}
	out := []int64{int64(w.Shape[0])}
	for i := 0; i < nd; i++ {
		k := int64(w.Shape[2+i])
		o, err := windowOut(in[1+i], k, stride[i], pad[i], dil[i], mode)
		if err != nil {
			return nil, nodeErr(path, "", "input %v: %v", in, err)
		}
		out = append(out, o)
	}
	return out, nil
}

func poolShape(path string, in []int64, k, s, p [2]int64) ([]int64, error) {
	if len(in) != 3 {
		return nil, nodeErr(path, "", "takes [channels, height, width], but is fed shape %v", in)
	}
	out := []int64{in[0]}
	for i := 0; i < 2; i++ {
		o, err := windowOut(in[1+i], k[i], s[i], p[i], 1, "")
		if err != nil {
			return nil, nodeErr(path, "", "input %v: %v", in, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// windowOut is PyTorch's output length of a convolution or pooling window:
// floor((n + 2p - d(k-1) - 1)/s + 1); "same" keeps n, "valid" pads nothing.
func windowOut(n, k, s, p, d int64, mode string) (int64, error) {
	switch mode {
	case "same":
		return n, nil
	case "valid":
		p = 0
	}
	span := d*(k-1) + 1
	if n+2*p < span {
		return 0, fmt.Errorf("a window of %d (kernel %d, dilation %d) does not fit %d values padded by %d", span, k, d, n, p)
	}
	return (n+2*p-span)/s + 1, nil
}

// FlattenShape is the shape Flatten(start, end) gives an input of shape in:
// the axes start..end (inclusive; negative values count from the end) are
// merged into one, as numpy's reshape and NIR's calc_flatten_output do.
func FlattenShape(in []int64, start, end int64) ([]int64, error) {
	r := int64(len(in))
	s, e := start, end
	if s < 0 {
		s += r
	}
	if e < 0 {
		e += r
	}
	if s < 0 || e >= r || s > e {
		return nil, fmt.Errorf("cannot flatten axes %d..%d of a rank-%d input %v", start, end, r, in)
	}
	p := int64(1)
	for _, d := range in[s : e+1] {
		p *= d
	}
	out := append(slices.Clone(in[:s]), p)
	return append(out, in[e+1:]...), nil
}

func ints64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

// OutputShape returns the output shape node n gives an input of shape in
// (without batch or time axes), or a *FormatError when in does not fit n.
func OutputShape(n Node, in []int64) ([]int64, error) {
	return outputShape("", n, in)
}
