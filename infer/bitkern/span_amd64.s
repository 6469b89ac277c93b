//go:build amd64 && !purego

#include "textflag.h"

// func spans3AVX512(src *uint64, blocks int, c uint64, dst *uint64, cnt *int32)
//
// blocks*8 one-word spans of a 3-tap kernel row: dst[i] = src[i] |
// src[i+1]<<c | src[i+2]<<2c and cnt[i] = its popcount, 8 spans per
// iteration (three overlapping loads, two shifts, VPOPCNTQ, VPMOVQD).
TEXT ·spans3AVX512(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ c+16(FP), AX
	MOVQ AX, X6
	ADDQ AX, AX
	MOVQ AX, X7
	MOVQ dst+24(FP), DI
	MOVQ cnt+32(FP), DX

loop:
	VMOVDQU64 (SI), Z0
	VMOVDQU64 8(SI), Z1
	VMOVDQU64 16(SI), Z2
	VPSLLQ X6, Z1, Z1
	VPSLLQ X7, Z2, Z2
	VPORQ Z1, Z0, Z0
	VPORQ Z2, Z0, Z0
	VMOVDQU64 Z0, (DI)
	VPOPCNTQ Z0, Z3
	VPMOVQD Z3, Y3
	VMOVDQU Y3, (DX)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $32, DX
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET
