//go:build amd64 && !purego

#include "textflag.h"

// The LIF rows of lif_amd64.go: 8 neurons per YMM register, every
// operation the one IEEE float32 operation of the package documentation,
// in the same order (no FMA), so the results are bit-identical to the Go
// loops. n is a multiple of 8. c points at a lifVec:
//
//	0 k   4 a   8 vth   12 vr   16 soft (int32)   20 alpha   24 inv (1/alpha^2)
//	28 decay (1-k)   32 one   36 half   40 abs mask (0x7fffffff)
//
// Registers of the forward rows: SI inputs, DI membranes, DX spikes or H,
// CX n, AX index, R9 soft, Y8 k, Y9 a, Y10 vth, Y11 vr, Y12 one, and for
// the mapped rows Y6 and Y7 the affine factors, BX the residual.

// LOAD_CONSTS loads the constants of the forward rows from the lifVec at
// R8.
#define LOAD_CONSTS \
	VBROADCASTSS 0(R8), Y8; \
	VBROADCASTSS 4(R8), Y9; \
	VBROADCASTSS 8(R8), Y10; \
	VBROADCASTSS 12(R8), Y11; \
	VBROADCASTSS 32(R8), Y12; \
	MOVL 16(R8), R9

// Inputs X of the step into Y2: as they are, mapped (x*a + b), or mapped
// plus the residual.
#define INPUT_PLAIN \
	VMOVUPS (SI)(AX*4), Y2
#define INPUT_AFFINE \
	VMULPS (SI)(AX*4), Y6, Y2; \
	VADDPS Y7, Y2, Y2
#define INPUT_AFFINE_RES \
	INPUT_AFFINE; \
	VADDPS (BX)(AX*4), Y2, Y2

// CHARGE computes H into Y1 from the membranes at DI (into Y0) and X in
// Y2: d = V - vr; l = d*k; h0 = V - l; ax = a*X; H = h0 + ax.
#define CHARGE \
	VMOVUPS (DI)(AX*4), Y0; \
	VSUBPS  Y11, Y0, Y1; \
	VMULPS  Y8, Y1, Y1; \
	VSUBPS  Y1, Y0, Y1; \
	VMULPS  Y2, Y9, Y2; \
	VADDPS  Y2, Y1, Y1

// FIRE_RESET takes H in Y1: spikes mask Y3 (H >= vth, GE_OQ: false on NaN),
// S in Y4, and the membrane after the reset back to DI: hard V = H -
// S*(H - vr), soft (R9 != 0) V = H - S*vth.
#define FIRE_RESET(soft, done) \
	VCMPPS  $0x1D, Y10, Y1, Y3; \
	VANDPS  Y12, Y3, Y4; \
	TESTL   R9, R9; \
	JNZ     soft; \
	VSUBPS  Y11, Y1, Y5; \
	VMULPS  Y5, Y4, Y5; \
	JMP     done; \
soft: \
	VMULPS  Y10, Y4, Y5; \
done: \
	VSUBPS  Y5, Y1, Y0; \
	VMOVUPS Y0, (DI)(AX*4)

// FIRE_LOOP(input, prefix) is the loop of a fire row: spikes to DX, their
// count added to R10.
#define FIRE_LOOP(input, loop, soft, reset, done) \
loop: \
	CMPQ AX, CX; \
	JGE  done; \
	input; \
	CHARGE; \
	FIRE_RESET(soft, reset); \
	VMOVUPS Y4, (DX)(AX*4); \
	VMOVMSKPS Y3, R11; \
	POPCNTL R11, R11; \
	ADDQ    R11, R10; \
	ADDQ    $8, AX; \
	JMP     loop

// CHARGE_LOOP is the loop of a charge row: H to DX.
#define CHARGE_LOOP(input, loop, soft, reset, done) \
loop: \
	CMPQ AX, CX; \
	JGE  done; \
	input; \
	CHARGE; \
	VMOVUPS Y1, (DX)(AX*4); \
	FIRE_RESET(soft, reset); \
	ADDQ    $8, AX; \
	JMP     loop

// func lifFireRowAVX2(x, v, s *float32, n int, c *lifVec) int
// One step for n neurons: H from v and x, spikes into s, the membrane after
// the reset back into v. Returns the number of spikes.
TEXT ·lifFireRowAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ s+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	LOAD_CONSTS
	XORQ AX, AX
	XORQ R10, R10
	FIRE_LOOP(INPUT_PLAIN, floop, fsoft, freset, fdone)
fdone:
	MOVQ R10, ret+40(FP)
	VZEROUPPER
	RET

// func lifFireRowAffineAVX2(x, v, s *float32, n int, c *lifVec, a, b float32) int
// lifFireRowAVX2 on the inputs x*a + b (the product rounded first): the
// BatchNormalization that feeds the neurons, applied on the fly.
TEXT ·lifFireRowAffineAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ s+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VBROADCASTSS a+40(FP), Y6
	VBROADCASTSS b+44(FP), Y7
	LOAD_CONSTS
	XORQ AX, AX
	XORQ R10, R10
	FIRE_LOOP(INPUT_AFFINE, afloop, afsoft, afreset, afdone)
afdone:
	MOVQ R10, ret+48(FP)
	VZEROUPPER
	RET

// func lifFireRowAffineResAVX2(x, v, s *float32, n int, c *lifVec, a, b float32, r *float32) int
// lifFireRowAffineAVX2 on the inputs (x*a + b) + r: a BatchNormalization
// and a residual Add, applied on the fly.
TEXT ·lifFireRowAffineResAVX2(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ s+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VBROADCASTSS a+40(FP), Y6
	VBROADCASTSS b+44(FP), Y7
	MOVQ r+48(FP), BX
	LOAD_CONSTS
	XORQ AX, AX
	XORQ R10, R10
	FIRE_LOOP(INPUT_AFFINE_RES, arloop, arsoft, arreset, ardone)
ardone:
	MOVQ R10, ret+56(FP)
	VZEROUPPER
	RET

// func lifChargeRowAVX2(x, v, h *float32, n int, c *lifVec)
// The forward step of the backward pass: H into h, the membrane after the
// reset back into v.
TEXT ·lifChargeRowAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ h+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	LOAD_CONSTS
	XORQ AX, AX
	CHARGE_LOOP(INPUT_PLAIN, cloop, csoft, creset, cdone)
cdone:
	VZEROUPPER
	RET

// func lifChargeRowAffineAVX2(x, v, h *float32, n int, c *lifVec, a, b float32)
// lifChargeRowAVX2 on the inputs x*a + b.
TEXT ·lifChargeRowAffineAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ h+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VBROADCASTSS a+40(FP), Y6
	VBROADCASTSS b+44(FP), Y7
	LOAD_CONSTS
	XORQ AX, AX
	CHARGE_LOOP(INPUT_AFFINE, acloop, acsoft, acreset, acdone)
acdone:
	VZEROUPPER
	RET

// func lifChargeRowAffineResAVX2(x, v, h *float32, n int, c *lifVec, a, b float32, r *float32)
// lifChargeRowAVX2 on the inputs (x*a + b) + r.
TEXT ·lifChargeRowAffineResAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ h+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VBROADCASTSS a+40(FP), Y6
	VBROADCASTSS b+44(FP), Y7
	MOVQ r+48(FP), BX
	LOAD_CONSTS
	XORQ AX, AX
	CHARGE_LOOP(INPUT_AFFINE_RES, crloop, crsoft, crreset, crdone)
crdone:
	VZEROUPPER
	RET

// func lifBackRowTriangleAVX2(h, gs, gv *float32, n int, c *lifVec)
// One reverse step for the triangle surrogate and the hard reset without
// detach: on entry h holds H_t and gv dL/dV_t; on return h holds dL/dX_t
// and gv dL/dV_{t-1} (lifConsts.backRow's default case).
TEXT ·lifBackRowTriangleAVX2(SB), NOSPLIT, $0-40
	MOVQ h+0(FP), DI
	MOVQ gs+8(FP), SI
	MOVQ gv+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VBROADCASTSS 4(R8), Y9
	VBROADCASTSS 8(R8), Y10
	VBROADCASTSS 12(R8), Y11
	VBROADCASTSS 20(R8), Y13
	VBROADCASTSS 24(R8), Y14
	VBROADCASTSS 28(R8), Y8
	VBROADCASTSS 32(R8), Y12
	VBROADCASTSS 36(R8), Y15
	VBROADCASTSS 40(R8), Y7
	XORQ AX, AX

bloop:
	CMPQ AX, CX
	JGE  bdone
	VMOVUPS (DI)(AX*4), Y0       // H
	VSUBPS  Y10, Y0, Y1          // u = H - vth
	VANDPS  Y7, Y1, Y1           // |u|
	VSUBPS  Y1, Y13, Y1          // d = alpha - |u|
	VANDPS  Y7, Y1, Y2           // |d|
	VADDPS  Y2, Y1, Y1           // d + |d|
	VMULPS  Y15, Y1, Y1          // (d + |d|)*0.5
	VMULPS  Y1, Y14, Y1          // sg = inv*(...)
	VCMPPS  $0x1D, Y10, Y0, Y2
	VANDPS  Y12, Y2, Y2          // S
	VSUBPS  Y2, Y12, Y2          // 1 - S
	VSUBPS  Y11, Y0, Y3          // H - vr
	VMULPS  Y1, Y3, Y3           // (H - vr)*sg
	VSUBPS  Y3, Y2, Y2           // dV/dH = (1 - S) - (H - vr)*sg
	VMULPS  (SI)(AX*4), Y1, Y4   // gs*sg
	VMOVUPS (DX)(AX*4), Y5
	VMULPS  Y2, Y5, Y5           // gv*dV/dH
	VADDPS  Y5, Y4, Y4           // gH
	VMULPS  Y4, Y9, Y5           // gx = a*gH
	VMOVUPS Y5, (DI)(AX*4)
	VMULPS  Y4, Y8, Y6           // gv = (1-k)*gH
	VMOVUPS Y6, (DX)(AX*4)
	ADDQ    $8, AX
	JMP     bloop

bdone:
	VZEROUPPER
	RET
