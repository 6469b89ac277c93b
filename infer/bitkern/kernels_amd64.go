//go:build amd64 && !purego

package bitkern

import "golang.org/x/sys/cpu"

// dotTileAVX512 and dotTileAVX2 are in kernels_amd64.s; they implement
// tileKernel.raw (see there) for 4 and 2 rows.
//
//go:noescape
func dotTileAVX512(kw, rows int, a *uint64, lda, ldk, sw int, b *uint64, pcs, dst *int32, ldd int)

//go:noescape
func dotTileAVX2(kw, rows int, a *uint64, lda, ldk, sw int, b *uint64, pcs, dst *int32, ldd int, lut *[64]byte)

// nibbleLUT is the VPSHUFB table of the AVX2 kernel: the popcount of each
// nibble (twice, one per 128-bit lane), then the 0x0f byte mask.
var nibbleLUT = [64]byte{
	0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
	0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
}

func avx2Raw(kw, rows int, a *uint64, lda, ldk, sw int, b *uint64, pcs, dst *int32, ldd int) {
	dotTileAVX2(kw, rows, a, lda, ldk, sw, b, pcs, dst, ldd, &nibbleLUT)
}

var (
	avx512Kernel = &tileKernel{name: "avx512", rows: 4, raw: dotTileAVX512, epi: epiAVX512, affine: affineAsmAVX512,
		spans3: spans3VecAVX512, spans3x2: spans3x2VecAVX512, addInt32: addInt32VecAVX512}
	avx2Kernel = &tileKernel{name: "avx2", rows: 2, raw: avx2Raw, epi: epiAVX2, affine: affineAsmAVX2}
)

// asmKernels lists the assembly kernels this CPU runs, fastest first (nil
// for one it lacks). VPOPCNTQ needs AVX512F and AVX512_VPOPCNTDQ; the
// conversion to int32 uses VPMOVQD (AVX512F). cpu.X86 also checks that the
// operating system saves the ZMM/YMM state.
var asmKernels = []*tileKernel{
	ifCPU(cpu.X86.HasAVX512F && cpu.X86.HasAVX512VPOPCNTDQ, avx512Kernel),
	ifCPU(cpu.X86.HasAVX2, avx2Kernel),
}

func ifCPU(ok bool, k *tileKernel) *tileKernel {
	if ok {
		return k
	}
	return nil
}
