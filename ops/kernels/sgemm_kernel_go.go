package kernels

// goKernel is the portable micro-kernel: a 2x4 register tile in plain Go.
// The Go compiler neither vectorises nor fuses multiply-adds, so a scalar
// tile small enough for its 15 float registers is fastest (about 5 GFLOP/s
// on the reference EPYC, twice a 4x4 tile, which spills). It is the only
// kernel in purego or non-amd64 builds and the fallback on CPUs without
// AVX2/FMA.
var goKernel = &microKernel{
	name: "go-2x4",
	mr:   2, nr: 4,
	mc: 128, kc: 256, nc: 2048,
	fn: goKernel2x4,
}

// goKernel2x4 computes C[0:2, 0:4] = alpha*A*B + beta*C for a packed 2 x k A
// panel (2 floats per k step) and a packed k x 4 B panel (4 floats per k
// step). C is not read when beta is zero.
func goKernel2x4(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	a = a[:2*k]
	b = b[:4*k]
	for p := 0; p < k; p++ {
		ap := (*[2]float32)(a[2*p : 2*p+2])
		bp := (*[4]float32)(b[4*p : 4*p+4])
		a0, a1 := ap[0], ap[1]
		// One B element at a time keeps fewer values live.
		b0 := bp[0]
		c00 += a0 * b0
		c10 += a1 * b0
		b1 := bp[1]
		c01 += a0 * b1
		c11 += a1 * b1
		b2 := bp[2]
		c02 += a0 * b2
		c12 += a1 * b2
		b3 := bp[3]
		c03 += a0 * b3
		c13 += a1 * b3
	}
	r0 := (*[4]float32)(c[0:4])
	r1 := (*[4]float32)(c[ldc : ldc+4])
	if beta == 0 {
		*r0 = [4]float32{alpha * c00, alpha * c01, alpha * c02, alpha * c03}
		*r1 = [4]float32{alpha * c10, alpha * c11, alpha * c12, alpha * c13}
		return
	}
	*r0 = [4]float32{beta*r0[0] + alpha*c00, beta*r0[1] + alpha*c01, beta*r0[2] + alpha*c02, beta*r0[3] + alpha*c03}
	*r1 = [4]float32{beta*r1[0] + alpha*c10, beta*r1[1] + alpha*c11, beta*r1[2] + alpha*c12, beta*r1[3] + alpha*c13}
}
