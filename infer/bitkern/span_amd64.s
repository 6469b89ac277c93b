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

// func addInt32AVX512(dst, src *int32, blocks int)
//
// dst[i] += src[i] for i < 16*blocks, 64 at a time while it can.
TEXT ·addInt32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	CMPQ CX, $4
	JLT  add1

add4:
	VMOVDQU32 (DI), Z0
	VMOVDQU32 64(DI), Z1
	VMOVDQU32 128(DI), Z2
	VMOVDQU32 192(DI), Z3
	VPADDD (SI), Z0, Z0
	VPADDD 64(SI), Z1, Z1
	VPADDD 128(SI), Z2, Z2
	VPADDD 192(SI), Z3, Z3
	VMOVDQU32 Z0, (DI)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  add4

add1:
	TESTQ CX, CX
	JZ   done
	VMOVDQU32 (DI), Z0
	VPADDD (SI), Z0, Z0
	VMOVDQU32 Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	DECQ CX
	JMP  add1

done:
	VZEROUPPER
	RET
