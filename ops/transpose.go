package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Transpose: a permutation of the axes, folded at compile time on
// constants, a kernel with gradient (the inverse permutation) at run time.

// transposeKernel permutes the axes of its input.
type transposeKernel struct {
	in, perm, out []int
	plan          *static.CopyPlan
}

func newTransposeKernel(in, perm []int) *transposeKernel {
	return &transposeKernel{in: in, perm: perm, out: ints(static.Transpose(dims64(in), perm)), plan: static.TransposePlan(in, perm)}
}

func (k *transposeKernel) Name() string    { return fmt.Sprintf("Transpose%v%v", k.perm, k.in) }
func (k *transposeKernel) OutShape() []int { return k.out }
func (k *transposeKernel) Forward(out []float32, in ...[]float32) error {
	static.CopyStrided(k.plan, out, in[0])
	return nil
}
func (k *transposeKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *transposeKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	inv := make([]int, len(k.perm))
	for i, a := range k.perm {
		inv[a] = i
	}
	g, err := Apply(newTransposeKernel(k.out, inv), grad)
	return G.Nodes{g}, err
}

func buildTranspose(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x := in[0]
	perm, err := static.Perm(n, len(x.Shape))
	if err != nil {
		return nil, err
	}
	if x.Node == nil {
		return []*Value{ConstValue(static.FoldTranspose(x.Const, perm))}, nil
	}
	identity := true
	for i, a := range perm {
		identity = identity && i == a
	}
	if identity {
		return []*Value{{Shape: x.Shape, Node: x.Node}}, nil
	}
	v, err := b.Apply(newTransposeKernel(x.Shape, perm), x)
	return []*Value{v}, err
}

func init() {
	Register(&Spec{OpType: "Transpose", Since: 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "perm", Type: AttrInts, Doc: "default: reversed axes"}},
		Build: buildTranspose, Doc: "permute axes"})
}
