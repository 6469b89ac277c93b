//go:build amd64 && !purego

package bitkern

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

// dotTileAVX512 and dotTileAVX2 are in kernels_amd64.s; they implement
// tileKernel.fn (see there) for 4 and 2 rows.
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

func avx512Tile(kw, rows int, a []uint64, lda, ldk, sw int, b []uint64, pcs, dst []int32, ldd int) {
	checkTile(kw, rows, a, lda, ldk, sw, b, pcs, dst, ldd)
	dotTileAVX512(kw, rows, &a[0], lda, ldk, sw, &b[0], &pcs[0], &dst[0], ldd)
}

func avx2Tile(kw, rows int, a []uint64, lda, ldk, sw int, b []uint64, pcs, dst []int32, ldd int) {
	checkTile(kw, rows, a, lda, ldk, sw, b, pcs, dst, ldd)
	dotTileAVX2(kw, rows, &a[0], lda, ldk, sw, &b[0], &pcs[0], &dst[0], ldd, &nibbleLUT)
}

// checkTile panics unless the slices hold what a kernel call reads and
// writes, and kw is a positive multiple of sw.
func checkTile(kw, rows int, a []uint64, lda, ldk, sw int, b []uint64, pcs, dst []int32, ldd int) {
	if sw < 1 || kw%sw != 0 {
		panic(fmt.Sprintf("bitkern: tile of %d words in runs of %d", kw, sw))
	}
	_ = a[(rows-1)*lda+(kw/sw-1)*ldk+sw-1]
	_ = b[kw*blockM-1]
	_ = pcs[rows-1]
	_ = dst[(rows-1)*ldd+blockM-1]
}

var (
	avx512Kernel = &tileKernel{name: "avx512", rows: 4, fn: avx512Tile, epi: epiAVX512, affine: affineAsmAVX512,
		spans3: spans3VecAVX512, addInt32: addInt32VecAVX512}
	avx2Kernel = &tileKernel{name: "avx2", rows: 2, fn: avx2Tile, epi: epiAVX2, affine: affineAsmAVX2}
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
