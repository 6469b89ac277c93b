//go:build amd64 && !purego

package kernels

// The sparse weight gradient's loops in conv_sparse_amd64.s (AVX-512).

//go:noescape
func spikeIndexesAVX512(x *float32, w, h int, v float32, base, rowStep int32, out *int32) (count int, ok bool)

//go:noescape
func sparseTapsAVX512(a *sparseArgs)

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

// sparseTaps runs sparseTapsAVX512 for t (see tapSums). The listed
// positions are the caller's (they index its grids by construction); the
// accumulator rows and the offsets are checked here.
func sparseTaps(t *tapSums) {
	taps := len(t.tapOffs)
	if len(t.list) == 0 || taps == 0 {
		return
	}
	_ = t.acc[(taps-1)*t.accStride+16*t.mvec-1]
	sparseTapsAVX512(&sparseArgs{acc: &t.acc[0], grid: &t.grid[0], list: &t.list[0], count: len(t.list), v: t.v,
		mvec: t.mvec, chunkStride: 4 * t.chunkStride, taps: taps, tapOffs: &t.tapOffs[0], accStride: 4 * t.accStride})
}
