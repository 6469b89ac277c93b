//go:build !amd64 || purego

package kernels

// No sparse weight gradient in this build: ConvBackwardFilter always runs
// the GEMM (the Go loops of conv_sparse.go serve the tests).

func sparseOK(kr *microKernel) bool { return false }

func spikeIndexes(x []float32, w int, v float32, base, rowStep int32, out []int32) (int, bool) {
	return spikeIndexesGo(x, w, v, base, rowStep, out)
}

func sparseTaps(w *sparseWindow) { sparseTapsGo(w) }
