//go:build amd64 && !purego

#include "textflag.h"

// The AVX2 loops of vecops.go; see there for the summation orders.

// func sum64AVX2(x *float32, n int) float64
// n is a positive multiple of 16.
TEXT ·sum64AVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $4, CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
s64loop:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	ADDQ $64, SI
	DECQ CX
	JNZ  s64loop
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VUNPCKHPD X0, X0, X1
	VADDSD X1, X0, X0
	VMOVSD X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumDot64AVX2(x, y *float32, n int) (sum, dot float64)
// n is a positive multiple of 16.
TEXT ·sumDot64AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
sdloop:
	VCVTPS2PD (SI), Y8
	VCVTPS2PD 16(SI), Y9
	VCVTPS2PD 32(SI), Y10
	VCVTPS2PD 48(SI), Y11
	VADDPD Y8, Y0, Y0
	VADDPD Y9, Y1, Y1
	VADDPD Y10, Y2, Y2
	VADDPD Y11, Y3, Y3
	VCVTPS2PD (DI), Y12
	VCVTPS2PD 16(DI), Y13
	VCVTPS2PD 32(DI), Y14
	VCVTPS2PD 48(DI), Y15
	VMULPD Y12, Y8, Y8
	VMULPD Y13, Y9, Y9
	VMULPD Y14, Y10, Y10
	VMULPD Y15, Y11, Y11
	VADDPD Y8, Y4, Y4
	VADDPD Y9, Y5, Y5
	VADDPD Y10, Y6, Y6
	VADDPD Y11, Y7, Y7
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  sdloop
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VUNPCKHPD X0, X0, X1
	VADDSD X1, X0, X0
	VMOVSD X0, sum+24(FP)
	VADDPD Y5, Y4, Y4
	VADDPD Y7, Y6, Y6
	VADDPD Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPD X5, X4, X4
	VUNPCKHPD X4, X4, X5
	VADDSD X5, X4, X4
	VMOVSD X4, dot+32(FP)
	VZEROUPPER
	RET

// COMBINE32(a0, a1, a2, a3, x0, x1) folds four 8-lane accumulators into
// the low float of x0 (combine32's order); a0..a3 are YMM, x0 and x1 the
// XMM halves of a0 and a scratch register.
#define COMBINE32(a0, a1, a2, a3, x0, x1) \
	VADDPS a1, a0, a0; \
	VADDPS a3, a2, a2; \
	VADDPS a2, a0, a0; \
	VEXTRACTF128 $1, a0, x1; \
	VADDPS x1, x0, x0; \
	VMOVHLPS x0, x0, x1; \
	VADDPS x1, x0, x0; \
	VMOVSHDUP x0, x1; \
	VADDSS x1, x0, x0

// func sumShiftedAVX2(x *float32, n int, k float32) (float32, float32)
// n is a positive multiple of 32.
TEXT ·sumShiftedAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $5, CX
	VBROADCASTSS k+16(FP), Y15
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
ssloop:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VMOVUPS 64(SI), Y10
	VMOVUPS 96(SI), Y11
	VSUBPS Y15, Y8, Y8
	VSUBPS Y15, Y9, Y9
	VSUBPS Y15, Y10, Y10
	VSUBPS Y15, Y11, Y11
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y1, Y1
	VADDPS Y10, Y2, Y2
	VADDPS Y11, Y3, Y3
	VMULPS Y8, Y8, Y8
	VMULPS Y9, Y9, Y9
	VMULPS Y10, Y10, Y10
	VMULPS Y11, Y11, Y11
	VADDPS Y8, Y4, Y4
	VADDPS Y9, Y5, Y5
	VADDPS Y10, Y6, Y6
	VADDPS Y11, Y7, Y7
	ADDQ $128, SI
	DECQ CX
	JNZ  ssloop
	COMBINE32(Y0, Y1, Y2, Y3, X0, X8)
	VMOVSS X0, ret+24(FP)
	COMBINE32(Y4, Y5, Y6, Y7, X4, X8)
	VMOVSS X4, ret1+28(FP)
	VZEROUPPER
	RET

// func sumDyDxAVX2(dy, x *float32, n int, m float32) (float32, float32)
// n is a positive multiple of 32.
TEXT ·sumDyDxAVX2(SB), NOSPLIT, $0-40
	MOVQ dy+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
	VBROADCASTSS m+24(FP), Y15
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
dxloop:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VMOVUPS 64(SI), Y10
	VMOVUPS 96(SI), Y11
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y1, Y1
	VADDPS Y10, Y2, Y2
	VADDPS Y11, Y3, Y3
	VMOVUPS (DI), Y12
	VSUBPS Y15, Y12, Y12
	VMULPS Y12, Y8, Y8
	VMOVUPS 32(DI), Y13
	VSUBPS Y15, Y13, Y13
	VMULPS Y13, Y9, Y9
	VMOVUPS 64(DI), Y12
	VSUBPS Y15, Y12, Y12
	VMULPS Y12, Y10, Y10
	VMOVUPS 96(DI), Y13
	VSUBPS Y15, Y13, Y13
	VMULPS Y13, Y11, Y11
	VADDPS Y8, Y4, Y4
	VADDPS Y9, Y5, Y5
	VADDPS Y10, Y6, Y6
	VADDPS Y11, Y7, Y7
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  dxloop
	COMBINE32(Y0, Y1, Y2, Y3, X0, X8)
	VMOVSS X0, ret+32(FP)
	COMBINE32(Y4, Y5, Y6, Y7, X4, X8)
	VMOVSS X4, ret1+36(FP)
	VZEROUPPER
	RET

// func scaleAVX2(dst, x *float32, n int, a float32)
// n is a positive multiple of 8.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y15
	XORQ AX, AX
scloop:
	VMULPS (SI)(AX*4), Y15, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT  scloop
	VZEROUPPER
	RET

// func scaleAddAVX2(dst, x *float32, n int, a, b float32)
// n is a positive multiple of 8.
TEXT ·scaleAddAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VBROADCASTSS b+28(FP), Y15
	XORQ AX, AX
saloop:
	VMULPS (SI)(AX*4), Y14, Y0
	VADDPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT  saloop
	VZEROUPPER
	RET

// func affine2AVX2(dst, gr, x *float32, n int, k, p, q float32)
// n is a positive multiple of 8.
TEXT ·affine2AVX2(SB), NOSPLIT, $0-44
	MOVQ dst+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS k+32(FP), Y13
	VBROADCASTSS p+36(FP), Y14
	VBROADCASTSS q+40(FP), Y15
	XORQ AX, AX
afloop:
	VMULPS (SI)(AX*4), Y13, Y0
	VMULPS (DX)(AX*4), Y14, Y1
	VADDPS Y1, Y0, Y0
	VADDPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT  afloop
	VZEROUPPER
	RET

// func addAVX2(dst, a, b *float32, n int)
// n is a positive multiple of 8.
TEXT ·addAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	XORQ AX, AX
adloop:
	VMOVUPS (SI)(AX*4), Y0
	VADDPS (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT  adloop
	VZEROUPPER
	RET

// func reluAVX2(dst, x *float32, n int)
// max(0, x) returns x when x is NaN (the second operand), and adding +0
// turns -0 into +0, as Go's max(x, 0) does. n is a positive multiple of 8.
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VXORPS Y15, Y15, Y15
	XORQ AX, AX
reloop:
	VMAXPS (SI)(AX*4), Y15, Y0
	VADDPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT  reloop
	VZEROUPPER
	RET

// func reluGradAVX2(dst, x, dy *float32, n int)
// dy where x's bits are a positive int32, else 0. n is a positive multiple
// of 8.
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	VPXOR Y15, Y15, Y15
	XORQ AX, AX
rgloop:
	VMOVUPS (SI)(AX*4), Y0
	VPCMPGTD Y15, Y0, Y0
	VPAND (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT  rgloop
	VZEROUPPER
	RET

// func countNonzeroAVX2(x *float32, n int) int
// n is a positive multiple of 8. NEQ_UQ: NaN counts as nonzero, -0 equals 0.
TEXT ·countNonzeroAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y15, Y15, Y15
	XORQ AX, AX
	XORQ DX, DX
czloop:
	VCMPPS $4, (SI)(AX*4), Y15, Y0
	VMOVMSKPS Y0, R8
	POPCNTL R8, R8
	ADDQ R8, DX
	ADDQ $8, AX
	CMPQ AX, CX
	JLT  czloop
	MOVQ DX, ret+16(FP)
	VZEROUPPER
	RET
