//go:build amd64 && !purego

#include "textflag.h"

// One k step of the direct convolution tile: the 16 input pixels at the
// step's offset (offs entry, in floats, from the tile origin BX) times the
// 16 packed weights of the step, broadcast by each FMA.
#define DSTEP(zb, aoff, ooff) \
	MOVLQSX ooff(R9), R10; \
	VMOVUPS (BX)(R10*4), zb; \
	VFMADD231PS.BCST aoff+0(SI), zb, Z0; \
	VFMADD231PS.BCST aoff+4(SI), zb, Z1; \
	VFMADD231PS.BCST aoff+8(SI), zb, Z2; \
	VFMADD231PS.BCST aoff+12(SI), zb, Z3; \
	VFMADD231PS.BCST aoff+16(SI), zb, Z4; \
	VFMADD231PS.BCST aoff+20(SI), zb, Z5; \
	VFMADD231PS.BCST aoff+24(SI), zb, Z6; \
	VFMADD231PS.BCST aoff+28(SI), zb, Z7; \
	VFMADD231PS.BCST aoff+32(SI), zb, Z8; \
	VFMADD231PS.BCST aoff+36(SI), zb, Z9; \
	VFMADD231PS.BCST aoff+40(SI), zb, Z10; \
	VFMADD231PS.BCST aoff+44(SI), zb, Z11; \
	VFMADD231PS.BCST aoff+48(SI), zb, Z12; \
	VFMADD231PS.BCST aoff+52(SI), zb, Z13; \
	VFMADD231PS.BCST aoff+56(SI), zb, Z14; \
	VFMADD231PS.BCST aoff+60(SI), zb, Z15

// func convTileAVX512(k int, a *float32, x *float32, offs *int32, c *float32, ldc, rows int, mask uint16, accumulate bool)
//
// The direct-convolution micro-kernel: a tile of up to 16 output channels
// (rows of C, stride ldc floats) by 16 consecutive output pixels (lanes;
// mask selects the valid ones), C = sum over k of A[k] (16 packed weights,
// zero for missing channels) times the 16 floats at x + offs[k], plus C
// when accumulate. x points at the tile's first input pixel in a padded
// copy of the image, so the loads need no bounds: they are the im2col
// columns of the 16 pixels, read in place instead of packed. k >= 1; rows
// in [1, 16]; only the valid lanes of C are read or written.
TEXT ·convTileAVX512(SB), NOSPLIT, $0-59
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ x+16(FP), BX
	MOVQ offs+24(FP), R9
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

	MOVQ CX, R11
	SHRQ $1, R11
	JZ   dtail

dloop:
	DSTEP(Z16, 0, 0)
	DSTEP(Z17, 64, 4)
	ADDQ $128, SI
	ADDQ $8, R9
	DECQ R11
	JNZ  dloop

dtail:
	ANDQ $1, CX
	JZ   dstore
	DSTEP(Z16, 0, 0)

dstore:
	MOVWLZX mask+56(FP), AX
	KMOVW   AX, K1
	MOVQ    rows+48(FP), CX
	MOVBLZX accumulate+58(FP), AX
	TESTL   AX, AX
	JNZ     dacc

	VMOVUPS Z0, K1, (DX)
	CMPQ CX, $1
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z1, K1, (DX)
	CMPQ CX, $2
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z2, K1, (DX)
	CMPQ CX, $3
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z3, K1, (DX)
	CMPQ CX, $4
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z4, K1, (DX)
	CMPQ CX, $5
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z5, K1, (DX)
	CMPQ CX, $6
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z6, K1, (DX)
	CMPQ CX, $7
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z7, K1, (DX)
	CMPQ CX, $8
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z8, K1, (DX)
	CMPQ CX, $9
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z9, K1, (DX)
	CMPQ CX, $10
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z10, K1, (DX)
	CMPQ CX, $11
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z11, K1, (DX)
	CMPQ CX, $12
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z12, K1, (DX)
	CMPQ CX, $13
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z13, K1, (DX)
	CMPQ CX, $14
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z14, K1, (DX)
	CMPQ CX, $15
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS Z15, K1, (DX)
	JMP ddone

dacc:
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z0, Z0
	VMOVUPS Z0, K1, (DX)
	CMPQ CX, $1
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z1, Z1
	VMOVUPS Z1, K1, (DX)
	CMPQ CX, $2
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z2, Z2
	VMOVUPS Z2, K1, (DX)
	CMPQ CX, $3
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z3, Z3
	VMOVUPS Z3, K1, (DX)
	CMPQ CX, $4
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z4, Z4
	VMOVUPS Z4, K1, (DX)
	CMPQ CX, $5
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z5, Z5
	VMOVUPS Z5, K1, (DX)
	CMPQ CX, $6
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z6, Z6
	VMOVUPS Z6, K1, (DX)
	CMPQ CX, $7
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z7, Z7
	VMOVUPS Z7, K1, (DX)
	CMPQ CX, $8
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z8, Z8
	VMOVUPS Z8, K1, (DX)
	CMPQ CX, $9
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z9, Z9
	VMOVUPS Z9, K1, (DX)
	CMPQ CX, $10
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z10, Z10
	VMOVUPS Z10, K1, (DX)
	CMPQ CX, $11
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z11, Z11
	VMOVUPS Z11, K1, (DX)
	CMPQ CX, $12
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z12, Z12
	VMOVUPS Z12, K1, (DX)
	CMPQ CX, $13
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z13, Z13
	VMOVUPS Z13, K1, (DX)
	CMPQ CX, $14
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z14, Z14
	VMOVUPS Z14, K1, (DX)
	CMPQ CX, $15
	JEQ  ddone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z18
	VADDPS Z18, Z15, Z15
	VMOVUPS Z15, K1, (DX)

ddone:
	VZEROUPPER
	RET
