package nir

import (
	"fmt"
	"math"
	"slices"
)

// Version is the NIR version Encode writes to the file's "version" dataset
// when Graph.Version is empty: the release of NIR's Python package whose
// serialization (nir/serialization.py, nir/ir/*.py) this package follows.
const Version = "1.0.7"

// A Node is one NIR primitive: *Input, *Output, *Affine, *Linear, *Scale,
// *Conv1d, *Conv2d, *SumPool2d, *AvgPool2d, *Flatten, *Delay, *Threshold,
// *I, *IF, *LI, *LIF, *CubaLI, *CubaLIF or a nested *Graph.
type Node interface {
	// Type is the node's NIR type name, the "type" dataset of its group
	// ("LIF", "Conv2d", "NIRGraph", ...).
	Type() string
	// Meta returns the node's metadata (nil when it has none).
	Meta() Metadata
}

// An Edge connects the output of node From to the input of node To. A node
// with several incoming edges receives the sum of their signals.
type Edge struct{ From, To string }

// A Graph is a NIRGraph: named nodes, the edges between them and metadata.
// It is also a Node, so graphs nest.
type Graph struct {
	Nodes    map[string]Node
	Edges    []Edge
	Metadata Metadata
	// Version is the file's "version" dataset (the top-level graph of a
	// decoded file only). Encode writes nir.Version when it is empty.
	Version string
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{Nodes: map[string]Node{}} }

// Add adds node n under name, replacing any node of that name, and an edge
// from each of from to it.
func (g *Graph) Add(name string, n Node, from ...string) {
	if g.Nodes == nil {
		g.Nodes = map[string]Node{}
	}
	g.Nodes[name] = n
	for _, f := range from {
		g.Edges = append(g.Edges, Edge{From: f, To: name})
	}
}

// Names returns the node names in sorted order (the order of the file).
func (g *Graph) Names() []string {
	names := make([]string, 0, len(g.Nodes))
	for k := range g.Nodes {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Predecessors returns the nodes with an edge into name, in edge order.
func (g *Graph) Predecessors(name string) []string {
	var out []string
	for _, e := range g.Edges {
		if e.To == name {
			out = append(out, e.From)
		}
	}
	return out
}

// Successors returns the nodes name has an edge to, in edge order.
func (g *Graph) Successors(name string) []string {
	var out []string
	for _, e := range g.Edges {
		if e.From == name {
			out = append(out, e.To)
		}
	}
	return out
}

// A Tensor is a floating-point node parameter: its Shape (slowest-varying
// first; empty for a scalar) and Data, a []float32 or []float64 in
// row-major order. NIR's Python writes whatever numpy dtype the exporter
// used (PyTorch weights are float32, numpy defaults float64); Decode keeps
// it and converts integer arrays to float64.
type Tensor struct {
	Shape []int
	Data  any
}

// F32 returns a float32 tensor.
func F32(shape []int, v []float32) Tensor { return Tensor{Shape: shape, Data: v} }

// F64 returns a float64 tensor.
func F64(shape []int, v []float64) Tensor { return Tensor{Shape: shape, Data: v} }

// Full returns a float64 tensor of the given shape with every element v,
// the form NIR gives neuron parameters (np.full(shape, v)).
func Full(shape []int, v float64) Tensor {
	d := make([]float64, numel(shape))
	for i := range d {
		d[i] = v
	}
	return F64(shape, d)
}

// Len returns the number of elements.
func (t Tensor) Len() int {
	switch d := t.Data.(type) {
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	}
	return 0
}

// IsFloat32 reports whether the data is float32.
func (t Tensor) IsFloat32() bool { _, ok := t.Data.([]float32); return ok }

// At returns element i as float64.
func (t Tensor) At(i int) float64 {
	switch d := t.Data.(type) {
	case []float32:
		return float64(d[i])
	case []float64:
		return d[i]
	}
	return math.NaN()
}

// Float64s returns the elements as float64 (a copy).
func (t Tensor) Float64s() []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.At(i)
	}
	return out
}

// Float32s returns the elements rounded to float32 (a copy).
func (t Tensor) Float32s() []float32 {
	out := make([]float32, t.Len())
	for i := range out {
		out[i] = float32(t.At(i))
	}
	return out
}

// Uniform returns the value every element has, and whether they all have it
// (false for an empty tensor). NaN is never uniform.
func (t Tensor) Uniform() (float64, bool) {
	n := t.Len()
	if n == 0 {
		return 0, false
	}
	v := t.At(0)
	for i := 1; i < n; i++ {
		if t.At(i) != v {
			return 0, false
		}
	}
	return v, !math.IsNaN(v)
}

// valid reports whether Data is a float slice whose length fits Shape.
func (t Tensor) valid() error {
	switch t.Data.(type) {
	case []float32, []float64:
	default:
		return fmt.Errorf("data is %T, want []float32 or []float64", t.Data)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", t.Shape)
		}
	}
	if n := numel(t.Shape); n != t.Len() {
		return fmt.Errorf("shape %v holds %d elements, data has %d", t.Shape, n, t.Len())
	}
	return nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// The primitives. Field names follow nir/ir/*.py; each node's Metadata is
// its "metadata" group (arbitrary, never needed to run the graph).

// Input marks where data enters the graph; Shape excludes the batch (and
// time) axes.
type Input struct {
	Shape    []int64
	Metadata Metadata
}

// Output marks a graph output; Shape excludes the batch (and time) axes.
type Output struct {
	Shape    []int64
	Metadata Metadata
}

// Affine is y = W·x + b with Weight [out, in] and Bias [out].
type Affine struct {
	Weight, Bias Tensor
	Metadata     Metadata
}

// Linear is y = W·x with Weight [out, in].
type Linear struct {
	Weight   Tensor
	Metadata Metadata
}

// Scale is y = s ⊙ x, elementwise, with s shaped like x.
type Scale struct {
	Scale    Tensor
	Metadata Metadata
}

// Conv1d is a 1-D convolution (PyTorch's Conv1d) with Weight
// [C_out, C_in/groups, K] and Bias [C_out]. InputShape is the input length
// [L], or nil when the file does not give it. PaddingMode is "same" or
// "valid" when the padding was given as a string, else "" and Padding holds
// the zero padding on each side.
type Conv1d struct {
	InputShape                []int64
	Weight                    Tensor
	Stride, Padding, Dilation int64
	PaddingMode               string
	Groups                    int64
	Bias                      Tensor
	Metadata                  Metadata
}

// Conv2d is a 2-D convolution (PyTorch's Conv2d) with Weight
// [C_out, C_in/groups, kH, kW] and Bias [C_out]. InputShape is [H, W], or
// nil when the file does not give it. Stride, Padding and Dilation are
// (height, width); PaddingMode as for Conv1d.
type Conv2d struct {
	InputShape                []int64
	Weight                    Tensor
	Stride, Padding, Dilation [2]int64
	PaddingMode               string
	Groups                    int64
	Bias                      Tensor
	Metadata                  Metadata
}

// SumPool2d sums each window: kernel, stride and zero padding as
// (height, width).
type SumPool2d struct {
	KernelSize, Stride, Padding [2]int64
	Metadata                    Metadata
}

// AvgPool2d averages each window (padding counted, as PyTorch's default).
type AvgPool2d struct {
	KernelSize, Stride, Padding [2]int64
	Metadata                    Metadata
}

// Flatten merges the axes StartDim..EndDim (inclusive, negative from the
// end) of its input, whose shape (without the batch axis) is InputType, or
// nil when the file does not give it.
type Flatten struct {
	InputType        []int64
	StartDim, EndDim int64
	Metadata         Metadata
}

// Delay is y(t) = x(t - delay).
type Delay struct {
	Delay    Tensor
	Metadata Metadata
}

// Threshold is z = 1 if x > threshold else 0 (the Heaviside step).
type Threshold struct {
	Threshold Tensor
	Metadata  Metadata
}

// I is the integrator dv/dt = R·I.
type I struct {
	R        Tensor
	Metadata Metadata
}

// IF is the integrate-and-fire neuron: dv/dt = R·I; it fires when
// v > v_threshold and then sets v = v_reset.
type IF struct {
	R, VThreshold, VReset Tensor
	Metadata              Metadata
}

// LI is the leaky integrator τ·dv/dt = (v_leak - v) + R·I.
type LI struct {
	Tau, R, VLeak Tensor
	Metadata      Metadata
}

// LIF is the leaky integrate-and-fire neuron: τ·dv/dt = (v_leak - v) + R·I;
// it fires when v > v_threshold and then sets v = v_reset.
type LIF struct {
	Tau, R, VLeak, VThreshold, VReset Tensor
	Metadata                          Metadata
}

// CubaLI is the current-based leaky integrator: τ_syn·dI/dt = -I + w_in·S
// feeding τ_mem·dv/dt = (v_leak - v) + R·I.
type CubaLI struct {
	TauSyn, TauMem, R, VLeak, WIn Tensor
	Metadata                      Metadata
}

// CubaLIF is CubaLI with LIF's threshold and reset.
type CubaLIF struct {
	TauSyn, TauMem, R, VLeak, VThreshold, VReset, WIn Tensor
	Metadata                                          Metadata
}

func (*Input) Type() string     { return "Input" }
func (*Output) Type() string    { return "Output" }
func (*Affine) Type() string    { return "Affine" }
func (*Linear) Type() string    { return "Linear" }
func (*Scale) Type() string     { return "Scale" }
func (*Conv1d) Type() string    { return "Conv1d" }
func (*Conv2d) Type() string    { return "Conv2d" }
func (*SumPool2d) Type() string { return "SumPool2d" }
func (*AvgPool2d) Type() string { return "AvgPool2d" }
func (*Flatten) Type() string   { return "Flatten" }
func (*Delay) Type() string     { return "Delay" }
func (*Threshold) Type() string { return "Threshold" }
func (*I) Type() string         { return "I" }
func (*IF) Type() string        { return "IF" }
func (*LI) Type() string        { return "LI" }
func (*LIF) Type() string       { return "LIF" }
func (*CubaLI) Type() string    { return "CubaLI" }
func (*CubaLIF) Type() string   { return "CubaLIF" }
func (*Graph) Type() string     { return "NIRGraph" }

func (n *Input) Meta() Metadata     { return n.Metadata }
func (n *Output) Meta() Metadata    { return n.Metadata }
func (n *Affine) Meta() Metadata    { return n.Metadata }
func (n *Linear) Meta() Metadata    { return n.Metadata }
func (n *Scale) Meta() Metadata     { return n.Metadata }
func (n *Conv1d) Meta() Metadata    { return n.Metadata }
func (n *Conv2d) Meta() Metadata    { return n.Metadata }
func (n *SumPool2d) Meta() Metadata { return n.Metadata }
func (n *AvgPool2d) Meta() Metadata { return n.Metadata }
func (n *Flatten) Meta() Metadata   { return n.Metadata }
func (n *Delay) Meta() Metadata     { return n.Metadata }
func (n *Threshold) Meta() Metadata { return n.Metadata }
func (n *I) Meta() Metadata         { return n.Metadata }
func (n *IF) Meta() Metadata        { return n.Metadata }
func (n *LI) Meta() Metadata        { return n.Metadata }
func (n *LIF) Meta() Metadata       { return n.Metadata }
func (n *CubaLI) Meta() Metadata    { return n.Metadata }
func (n *CubaLIF) Meta() Metadata   { return n.Metadata }
func (g *Graph) Meta() Metadata     { return g.Metadata }
