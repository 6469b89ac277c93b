//go:build amd64 && !purego

#include "textflag.h"

// func packSpikesAVX512(x *float32, C, HW int, gate float32, dst *uint64) bool
//
// PackSpikes for C <= 64 (one word per pixel): 8 pixels at a time, a ZMM of
// 8 words gets, for every channel c, bit c merged in where the channel's
// value is nonzero (VPORQ under the comparison's mask). Returns false as
// soon as a nonzero value is not gate.
TEXT ·packSpikesAVX512(SB), NOSPLIT, $0-41
	MOVQ x+0(FP), SI
	MOVQ C+8(FP), R8
	MOVQ HW+16(FP), R9
	VBROADCASTSS gate+24(FP), Z1
	MOVQ dst+32(FP), DI
	VPXORD Z0, Z0, Z0
	MOVQ R9, R10
	SHLQ $2, R10           // plane stride in bytes
	XORQ R11, R11          // pixel

pkpix:
	CMPQ R11, R9
	JGE  pkok
	MOVQ R9, AX
	SUBQ R11, AX
	MOVL $0xff, DX
	CMPQ AX, $8
	JGE  pkfull
	MOVL $1, DX
	MOVQ AX, CX
	SHLL CX, DX
	DECL DX
pkfull:
	KMOVB DX, K4            // valid pixels
	VPXORQ Z2, Z2, Z2       // the 8 words
	LEAQ (SI)(R11*4), BX    // channel 0, this pixel
	XORQ CX, CX             // channel
	MOVQ $1, R12            // its bit

pkch:
	VMOVUPS.Z (BX), K4, Y3
	VCMPPS $4, Y0, Y3, K4, K1     // nonzero
	VCMPPS $4, Y1, Y3, K1, K2     // nonzero and not gate
	KORTESTB K2, K2
	JNZ  pkbad
	VPBROADCASTQ R12, Z4
	VPORQ Z4, Z2, K1, Z2
	ADDQ R10, BX
	SHLQ $1, R12
	INCQ CX
	CMPQ CX, R8
	JLT  pkch

	VMOVDQU64 Z2, K4, (DI)(R11*8)
	ADDQ $8, R11
	JMP  pkpix

pkok:
	MOVB $1, ret+40(FP)
	VZEROUPPER
	RET

pkbad:
	MOVB $0, ret+40(FP)
	VZEROUPPER
	RET

// func cvtScaleRows16AVX512(dst *float32, ld int, src *int32, gate float32, scale *float32)
//
// dst[m*ld+p] = float32(src[16m+p]) * gate * scale[m] for m, p < 16 (the
// product with the gate rounded first): 16 rows of 16 sums, transposed
// beforehand, converted and scaled into 16 rows of the output.
TEXT ·cvtScaleRows16AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ld+8(FP), DX
	SHLQ $2, DX
	MOVQ src+16(FP), SI
	VBROADCASTSS gate+24(FP), Z1
	MOVQ scale+32(FP), AX
	MOVQ $16, CX
cvloop:
	VCVTDQ2PS (SI), Z0
	VMULPS Z1, Z0, Z0
	VBROADCASTSS (AX), Z2
	VMULPS Z2, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ DX, DI
	ADDQ $64, SI
	ADDQ $4, AX
	DECQ CX
	JNZ  cvloop
	VZEROUPPER
	RET
