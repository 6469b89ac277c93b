package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/ops/kernels"
)

// weightedSumKernel computes the scalar sum(x * w) for a fixed w. Gradient
// checks use it as a loss: its gradient with respect to x is w, so any
// upstream gradient can be injected.
type weightedSumKernel struct {
	shape []int
	w     []float32
}

func (k *weightedSumKernel) Name() string    { return fmt.Sprintf("WeightedSum%v", k.shape) }
func (k *weightedSumKernel) OutShape() []int { return nil }
func (k *weightedSumKernel) Forward(out []float32, in ...[]float32) error {
	// The vector kernel: the benches use this as their loss, over the
	// whole activation (a scalar loop was 5 % of bench conv's step).
	_, dot := kernels.SumDot64(in[0], k.w)
	out[0] = float32(dot)
	return nil
}
func (k *weightedSumKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *weightedSumKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&scaledConstKernel{shape: k.shape, w: k.w}, grad)
	return G.Nodes{g}, err
}

// scaledConstKernel returns g * w for a scalar input g.
type scaledConstKernel struct {
	shape []int
	w     []float32
}

func (k *scaledConstKernel) Name() string    { return fmt.Sprintf("ScaledConst%v", k.shape) }
func (k *scaledConstKernel) OutShape() []int { return k.shape }
func (k *scaledConstKernel) Forward(out []float32, in ...[]float32) error {
	kernels.Scale(out, k.w, in[0][0])
	return nil
}

// WeightedSum returns the scalar node sum(v * w); w must have v's size.
func (b *Builder) WeightedSum(v *Value, w []float32) (*G.Node, error) {
	if len(w) != v.Len() {
		return nil, fmt.Errorf("weights have %d values, tensor has %d", len(w), v.Len())
	}
	return Apply(&weightedSumKernel{shape: v.Shape, w: w}, b.Node(v))
}
