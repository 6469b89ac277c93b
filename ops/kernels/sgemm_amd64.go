//go:build amd64 && !purego

package kernels

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

// asmKernel is the AVX2/FMA kernel; nil when the CPU lacks AVX2 or FMA.
var asmKernel = func() *microKernel {
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
