package ops

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
)

// A BSNN with direct encoding feeds its first layer the image repeated T
// times along the batch axis (Unsqueeze -> Expand([T, 1, ...]) -> Reshape,
// as bsnnctl writes it, or a Concat of T copies; docs/spec/bsnn-onnx.md), so
// the first convolution computes the same images T times. buildConv recognises the
// pattern (repeatedInput) and convolves the N images once, then repeats the
// result T times (repeatKernel). The gradients follow from linearity: the
// weight, bias and input gradients of T copies are those of one copy
// applied to the gradient summed over the copies (repeatSumKernel), which
// also saves T-1 of the T weight-gradient products.

// repeatKernel writes its input T times, one copy after the other.
type repeatKernel struct {
	T     int
	shape []int // the output's: the input's with the first axis T times larger
}

func (k *repeatKernel) Name() string    { return fmt.Sprintf("Repeat(T=%d)%v", k.T, k.shape) }
func (k *repeatKernel) OutShape() []int { return k.shape }
func (k *repeatKernel) Forward(out []float32, in ...[]float32) error {
	blk := len(out) / k.T
	for t := 0; t < k.T; t++ {
		copy(out[t*blk:(t+1)*blk], in[0][:blk])
	}
	return nil
}
func (k *repeatKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *repeatKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&repeatSumKernel{f: k}, grad)
	return G.Nodes{g}, err
}

// repeatSumKernel sums its input's T copies (the gradient of repeatKernel),
// in copy order.
type repeatSumKernel struct{ f *repeatKernel }

func (k *repeatSumKernel) Name() string { return "d" + k.f.Name() }
func (k *repeatSumKernel) OutShape() []int {
	s := append([]int(nil), k.f.shape...)
	s[0] /= k.f.T
	return s
}
func (k *repeatSumKernel) Forward(out []float32, in ...[]float32) error {
	blk := len(out)
	copy(out, in[0][:blk])
	for t := 1; t < k.f.T; t++ {
		kernels.Add(out, out, in[0][t*blk:(t+1)*blk])
	}
	return nil
}

// repeatedInput reports whether runtime value name is the input of a
// direct encoding, T >= 2 copies of one value along axis 0, and returns
// that value.
func repeatedInput(b *Builder, name string) (*Value, int, bool) {
	p := b.Graph.Producer(name)
	if p == nil || p.Domain != "" {
		return nil, 0, false
	}
	switch p.OpType {
	case "Concat":
		return concatenatedInput(b, p)
	case "Reshape":
		return expandedInput(b, p)
	}
	return nil, 0, false
}

// concatenatedInput: a Concat along axis 0 of T copies of one value.
func concatenatedInput(b *Builder, p *onnx.Node) (*Value, int, bool) {
	if len(p.Inputs) < 2 || p.Int("axis", 0) != 0 {
		return nil, 0, false
	}
	for _, in := range p.Inputs[1:] {
		if in != p.Inputs[0] {
			return nil, 0, false
		}
	}
	src := b.Value(p.Inputs[0])
	if src == nil || src.Node == nil || len(src.Shape) == 0 {
		return nil, 0, false
	}
	return src, len(p.Inputs), true
}

// expandedInput: Reshape(Expand(Unsqueeze(x) to [1, N, ...], to [T, N, ...]))
// to [T*N, ...]; the shapes alone tell, whatever the ops' attributes.
func expandedInput(b *Builder, reshape *onnx.Node) (*Value, int, bool) {
	g := b.Graph
	expand := g.Producer(reshape.Inputs[0])
	if expand == nil || expand.Domain != "" || expand.OpType != "Expand" {
		return nil, 0, false
	}
	unsq := g.Producer(expand.Inputs[0])
	if unsq == nil || unsq.Domain != "" || unsq.OpType != "Unsqueeze" {
		return nil, 0, false
	}
	src, one, tn, out := b.Value(unsq.Inputs[0]), b.Value(unsq.Outputs[0]), b.Value(expand.Outputs[0]), b.Value(reshape.Outputs[0])
	if src == nil || src.Node == nil || one == nil || tn == nil || out == nil || len(src.Shape) == 0 ||
		!slices.Equal(one.Shape, append([]int{1}, src.Shape...)) || len(tn.Shape) != len(one.Shape) ||
		!slices.Equal(tn.Shape[1:], src.Shape) || tn.Shape[0] < 2 {
		return nil, 0, false
	}
	T := tn.Shape[0]
	if !slices.Equal(out.Shape, append([]int{T * src.Shape[0]}, src.Shape[1:]...)) {
		return nil, 0, false
	}
	return src, T, true
}
