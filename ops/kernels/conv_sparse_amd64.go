//go:build amd64 && !purego

package kernels

// The sparse weight gradient's loops in conv_sparse_amd64.s (AVX-512).

//go:noescape
func spikeIndexesAVX512(x *float32, w, h int, v float32, base, rowStep int32, out *int32) (count int, ok bool)

// windowArgs is the argument block of sparseTapsAVX512 (the assembly reads
// its fields by offset: keep their order and sizes).
type windowArgs struct {
	grid       *float32
	runs       *sparseRun
	nruns      int
	off        int
	rowBytes   int
	chunkBytes int
	mvec       int
}

//go:noescape
func sparseTapsAVX512(a *windowArgs)

// sparseOK reports whether ConvBackwardFilter may take the sparse path with
// kernel kr: with the AVX-512 kernel only, whose CPUs have the assembly
// loops.
func sparseOK(kr *microKernel) bool { return kr == avx512Kernel && avx512Kernel != nil && !forceIm2col }

// spikeIndexes is spikeIndexesAVX512 on slices: x holds rows of w floats
// (out needs len(x) room).
func spikeIndexes(x []float32, w int, v float32, base, rowStep int32, out []int32) (int, bool) {
	if len(x) == 0 {
		return 0, true
	}
	_ = out[len(x)-1]
	return spikeIndexesAVX512(&x[0], w, len(x)/w, v, base, rowStep, &out[0])
}

// sparseTaps runs sparseTapsAVX512 for w (see sparseWindow). The listed
// offsets are the caller's (they index its grids by construction).
func sparseTaps(w *sparseWindow) {
	for _, r := range w.runs {
		_ = r.acc[w.mvec*9*16-1]
		if len(r.list) == 0 {
			panic("kernels: sparseTaps: an empty run")
		}
	}
	sparseTapsAVX512(&windowArgs{grid: &w.grid[0], runs: &w.runs[0], nruns: len(w.runs),
		off: w.off, rowBytes: w.rowBytes, chunkBytes: w.chunkBytes, mvec: w.mvec})
}
