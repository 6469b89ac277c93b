package ops

// A flopCounter is a kernel that knows its dense floating-point work per
// run: the convolution and matrix-product kernels, forward and gradient.
type flopCounter interface {
	// Flops counts a multiply-add as 2.
	Flops() float64
}

// Flops returns the dense floating-point work of one Run of p: the sum over
// every Conv, Gemm and MatMul kernel of the compiled graph, the forward
// ones and the gradient ones that training added (a multiply-add counts
// 2). Elementwise, normalization and spiking kernels are not counted: they
// are bound by memory, not by the FMA units.
func Flops(p *Program) float64 {
	var f float64
	for _, n := range p.B.G.AllNodes() {
		if c, ok := KernelOf(n).(flopCounter); ok {
			f += c.Flops()
		}
	}
	return f
}
