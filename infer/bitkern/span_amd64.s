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

// func spans3x2AVX512(src *uint64, blocks int, c uint64, dst *uint64, cnt *int32)
//
// blocks*8 two-word spans of a 3-tap kernel row of c <= 32 bits a tap:
// span i is src[i] | src[i+1]<<c | src[i+2]<<2c as 128 bits, so its low
// word is src[i] | src[i+1]<<c | src[i+2]<<2c and its high word
// src[i+1]>>(64-c) | src[i+2]>>(64-2c) (shifts of 64 give 0); the words go
// to dst[2i], dst[2i+1] (interleaved by VPERMT2Q) and the popcount to
// cnt[i].
TEXT ·spans3x2AVX512(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ c+16(FP), AX
	MOVQ AX, X6             // c
	MOVQ $64, BX
	SUBQ AX, BX
	MOVQ BX, X8             // 64-c
	ADDQ AX, AX
	MOVQ AX, X7             // 2c
	MOVQ $64, BX
	SUBQ AX, BX
	MOVQ BX, X9             // 64-2c
	MOVQ dst+24(FP), DI
	MOVQ cnt+32(FP), DX
	VMOVDQU64 interleaveLo<>(SB), Z10
	VMOVDQU64 interleaveHi<>(SB), Z11

loop2:
	VMOVDQU64 (SI), Z0
	VMOVDQU64 8(SI), Z1
	VMOVDQU64 16(SI), Z2
	VPSLLQ X6, Z1, Z3
	VPSLLQ X7, Z2, Z4
	VPORQ Z3, Z0, Z0
	VPORQ Z4, Z0, Z0        // low words
	VPSRLQ X8, Z1, Z1
	VPSRLQ X9, Z2, Z2
	VPORQ Z2, Z1, Z1        // high words
	VPOPCNTQ Z0, Z3
	VPOPCNTQ Z1, Z4
	VPADDQ Z4, Z3, Z3
	VPMOVQD Z3, Y3
	VMOVDQU Y3, (DX)
	VMOVDQA64 Z0, Z4
	VPERMT2Q Z1, Z10, Z4
	VPERMT2Q Z1, Z11, Z0
	VMOVDQU64 Z4, (DI)
	VMOVDQU64 Z0, 64(DI)
	ADDQ $64, SI
	ADDQ $128, DI
	ADDQ $32, DX
	DECQ CX
	JNZ  loop2
	VZEROUPPER
	RET

// Indices of VPERMT2Q (8-15: the second table) that interleave the low
// words (first table) with the high words of spans 0-3 and 4-7.
DATA interleaveLo<>+0(SB)/8, $0
DATA interleaveLo<>+8(SB)/8, $8
DATA interleaveLo<>+16(SB)/8, $1
DATA interleaveLo<>+24(SB)/8, $9
DATA interleaveLo<>+32(SB)/8, $2
DATA interleaveLo<>+40(SB)/8, $10
DATA interleaveLo<>+48(SB)/8, $3
DATA interleaveLo<>+56(SB)/8, $11
GLOBL interleaveLo<>(SB), RODATA|NOPTR, $64
DATA interleaveHi<>+0(SB)/8, $4
DATA interleaveHi<>+8(SB)/8, $12
DATA interleaveHi<>+16(SB)/8, $5
DATA interleaveHi<>+24(SB)/8, $13
DATA interleaveHi<>+32(SB)/8, $6
DATA interleaveHi<>+40(SB)/8, $14
DATA interleaveHi<>+48(SB)/8, $7
DATA interleaveHi<>+56(SB)/8, $15
GLOBL interleaveHi<>(SB), RODATA|NOPTR, $64
