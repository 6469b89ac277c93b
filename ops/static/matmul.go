package static

import (
	"fmt"
	"slices"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Matrix products: MatMul and Gemm.

// MatMul infers MatMul's output for operands a [..., m, k] and b [..., k,
// n]: the batch dimensions of a (b either 2-D or with equal batch
// dimensions), then m, n. 1-D operands and batch broadcasting are not
// supported.
func MatMul(a, b []int64) ([]int64, error) {
	if len(a) < 2 || len(b) < 2 {
		return nil, fmt.Errorf("MatMul with a 1-D or scalar operand is not supported (shapes %s, %s)", FormatShape(a), FormatShape(b))
	}
	if a[len(a)-1] != b[len(b)-2] {
		return nil, fmt.Errorf("MatMul shapes %s and %s do not match", FormatShape(a), FormatShape(b))
	}
	if len(b) > 2 && !slices.Equal(a[:len(a)-2], b[:len(b)-2]) {
		return nil, fmt.Errorf("MatMul batch broadcasting %s x %s is not supported", FormatShape(a), FormatShape(b))
	}
	return append(slices.Clone(a[:len(a)-1]), b[len(b)-1]), nil
}

// Gemm infers Gemm's output [m, n] for A and B (transposed by transA and
// transB) and checks that C broadcasts to it; c is nil when absent.
func Gemm(n *onnx.Node, a, b, c []int64) ([]int64, error) {
	if len(a) != 2 || len(b) != 2 {
		return nil, fmt.Errorf("Gemm needs 2-D inputs, got %s and %s", FormatShape(a), FormatShape(b))
	}
	m, k := a[0], a[1]
	if n.Int("transA", 0) != 0 {
		m, k = k, m
	}
	kb, nb := b[0], b[1]
	if n.Int("transB", 0) != 0 {
		kb, nb = nb, kb
	}
	if kb != k {
		return nil, fmt.Errorf("Gemm shapes %s and %s do not match", FormatShape(a), FormatShape(b))
	}
	out := []int64{m, nb}
	if c != nil {
		if _, err := Broadcast(out, c); err != nil {
			return nil, fmt.Errorf("Gemm C: %w", err)
		}
	}
	return out, nil
}
