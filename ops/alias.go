package ops

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// passGradKernel is the gradient of an operand that its op passes through
// unchanged (an Add's operand of the output's shape): a Viewer, so the
// operand's gradient is the output's gradient's memory, not a copy of it.
type passGradKernel struct{ shape []int }

func (k *passGradKernel) View()           {}
func (k *passGradKernel) Name() string    { return fmt.Sprintf("PassGrad%v", k.shape) }
func (k *passGradKernel) OutShape() []int { return k.shape }
func (k *passGradKernel) Forward(out []float32, in ...[]float32) error {
	copy(out, in[0])
	return nil
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
