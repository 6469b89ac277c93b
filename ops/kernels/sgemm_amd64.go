//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// sgemmKernel6x16 is the AVX2/FMA micro-kernel in sgemm_amd64.s.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)

// asmKernel6x16 adapts sgemmKernel6x16 to the microKernel signature. The
// caller guarantees that a holds 6*k, b 16*k and c 5*ldc+16 floats.
func asmKernel6x16(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[6*k-1]
	_ = b[16*k-1]
	_ = c[5*ldc+15]
	sgemmKernel6x16(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// sgemmKernel16x16AVX512 is the AVX-512 micro-kernel in sgemm512_amd64.s.
//
//go:noescape
func sgemmKernel16x16AVX512(k int, a, b, c *float32, ldc int, alpha, beta float32)

// asmKernel16x16 adapts sgemmKernel16x16AVX512 to the microKernel
// signature. The caller guarantees that a holds 16*k, b 16*k and c
// 15*ldc+16 floats.
func asmKernel16x16(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[16*k-1]
	_ = b[16*k-1]
	_ = c[15*ldc+15]
	sgemmKernel16x16AVX512(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// avx2Kernel is the AVX2/FMA kernel; nil when the CPU lacks AVX2 or FMA.
var avx2Kernel = func() *microKernel {
	if !hasAVX2FMA() {
		return nil
	}
	return &microKernel{
		name: "avx2-fma-6x16",
		mr:   6, nr: 16,
		mc: 144, kc: 256, nc: 4080,
		fn:           asmKernel6x16,
		copyRows:     asmCopyRows16,
		gatherPanels: asmGatherPanels16,
		transpose16:  asmTranspose16,
	}
}()

// avx512Kernel computes 16x16 tiles on 16-lane registers, twice the FMA
// width of avx2Kernel; nil when the CPU or the OS lacks AVX-512F. Its B
// panels are avx2Kernel's (16 columns), so it shares their AVX2 packers; its
// 16 rows make an A panel of a 16-, 32- or 64-channel convolution's weights
// exact (6 rows waste an eighth of the tiles there).
var avx512Kernel = func() *microKernel {
	if avx2Kernel == nil || !cpu.X86.HasAVX512F {
		return nil
	}
	k := *avx2Kernel
	k.name, k.mr, k.fn = "avx512-16x16", 16, asmKernel16x16
	return &k
}()

// asmKernels lists the assembly kernels this CPU runs, the one used first.
var asmKernels = func() []*microKernel {
	var ks []*microKernel
	for _, k := range []*microKernel{avx512Kernel, avx2Kernel} {
		if k != nil {
			ks = append(ks, k)
		}
	}
	return ks
}()

// asmKernel is the kernel GEMMs use: the widest the CPU has, nil without
// AVX2 and FMA.
var asmKernel = func() *microKernel {
	if len(asmKernels) == 0 {
		return nil
	}
	return asmKernels[0]
}()
