package ops

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// passGradKernel is the gradient of an operand that its op passes through
// unchanged (an Add's operand of the output's shape): an aliasKernel, so
// the operand's gradient is the output's gradient, not a copy of it. It is
// used only for operands gradAliasable approves (see aliasKernel).
type passGradKernel struct{ shape []int }

func (k *passGradKernel) aliasesInput()   {}
func (k *passGradKernel) Name() string    { return fmt.Sprintf("PassGrad%v", k.shape) }
func (k *passGradKernel) OutShape() []int { return k.shape }
func (k *passGradKernel) Forward(out []float32, in ...[]float32) error {
	copy(out, in[0])
	return nil
}

// gradAliasable reports whether the gradient of value name may alias the
// gradient of the op consuming it. It may when no in-place gradient sum can
// reach it: the value, and every value it is a reshape view of, has exactly
// one consumer and is not a graph output (a value with several consumers
// gets its gradient contributions summed by Gorgonia's Add, which may write
// into its first operand's buffer, while another alias of that buffer,
// such as the other operand's gradient, is still to be read).
func gradAliasable(b *Builder, name string) bool {
	g := b.Graph
	for range 64 {
		if len(g.Consumers(name)) != 1 {
			return false
		}
		for _, o := range g.Outputs {
			if o.Name == name {
				return false
			}
		}
		p := g.Producer(name)
		if p == nil || !isReshapeOp(p) {
			return true
		}
		name = p.Inputs[0]
	}
	return false
}

// isReshapeOp reports whether n builds a view of its first input at run
// time (reshapeKernel).
func isReshapeOp(n *onnx.Node) bool {
	if n.Domain != "" {
		return false
	}
	switch n.OpType {
	case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
		return true
	}
	return false
}
