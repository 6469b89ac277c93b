//go:build amd64 && !purego

#include "textflag.h"

DATA iota16<>+0(SB)/4, $0
DATA iota16<>+4(SB)/4, $1
DATA iota16<>+8(SB)/4, $2
DATA iota16<>+12(SB)/4, $3
DATA iota16<>+16(SB)/4, $4
DATA iota16<>+20(SB)/4, $5
DATA iota16<>+24(SB)/4, $6
DATA iota16<>+28(SB)/4, $7
DATA iota16<>+32(SB)/4, $8
DATA iota16<>+36(SB)/4, $9
DATA iota16<>+40(SB)/4, $10
DATA iota16<>+44(SB)/4, $11
DATA iota16<>+48(SB)/4, $12
DATA iota16<>+52(SB)/4, $13
DATA iota16<>+56(SB)/4, $14
DATA iota16<>+60(SB)/4, $15
GLOBL iota16<>(SB), RODATA, $64

// func spikeIndexesAVX512(x *float32, w, h int, v float32, base, rowStep int32, out *int32) (count int, ok bool)
//
// For the h rows of w floats of x, writes (base + row*rowStep + i)*64 to out
// for every i with x[row*w+i] != 0, in order, and returns how many.
// Returns ok = false (count 0) as soon as a nonzero differs from v: the
// plane is not spikes of value v.
TEXT ·spikeIndexesAVX512(SB), NOSPLIT, $0-57
	MOVQ x+0(FP), SI
	MOVQ h+16(FP), R9
	VBROADCASTSS v+24(FP), Z1
	MOVL base+28(FP), AX
	VPBROADCASTD AX, Z5
	VPADDD iota16<>(SB), Z5, Z5
	MOVL rowStep+32(FP), AX
	VPBROADCASTD AX, Z6
	MOVQ out+40(FP), DI
	MOVQ DI, R11
	VPXORD Z0, Z0, Z0
	MOVL $16, AX
	VPBROADCASTD AX, Z3

sirow:
	TESTQ R9, R9
	JZ    sidone
	MOVQ w+8(FP), CX
	VMOVDQA32 Z5, Z2

siloop:
	CMPQ CX, $16
	JLT  sitail
	VMOVUPS (SI), Z4
	VCMPPS $4, Z0, Z4, K1
	VCMPPS $4, Z1, Z4, K2
	KANDW K1, K2, K3
	KORTESTW K3, K3
	JNZ  sibad
	VPSLLD $6, Z2, Z7
	VPCOMPRESSD Z7, K1, (DI)
	KMOVW K1, AX
	POPCNTL AX, AX
	LEAQ (DI)(AX*4), DI
	VPADDD Z3, Z2, Z2
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  siloop

sitail:
	TESTQ CX, CX
	JZ    sinext
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K4
	VMOVUPS.Z (SI), K4, Z4
	VCMPPS $4, Z0, Z4, K1
	VCMPPS $4, Z1, Z4, K2
	KANDW K1, K2, K3
	KORTESTW K3, K3
	JNZ  sibad
	VPSLLD $6, Z2, Z7
	VPCOMPRESSD Z7, K1, (DI)
	KMOVW K1, AX
	POPCNTL AX, AX
	LEAQ (DI)(AX*4), DI
	LEAQ (SI)(CX*4), SI

sinext:
	VPADDD Z6, Z5, Z5
	DECQ R9
	JMP  sirow

sidone:
	SUBQ R11, DI
	SHRQ $2, DI
	MOVQ DI, count+48(FP)
	MOVB $1, ok+56(FP)
	VZEROUPPER
	RET

sibad:
	MOVQ $0, count+48(FP)
	MOVB $0, ok+56(FP)
	VZEROUPPER
	RET

// The sparse tap sums, for NV = 1..4 chunks of 16 output channels (chunk
// k's rows at base register B_k: BX, DI, R12, R13): register Z4+k sums the
// even entries of chunk k, Z8+k the odd ones.

// ADDn(e, o) adds the grid rows of the entry whose byte offset is in AX to
// the accumulators of n chunks starting at e (even) or o (odd) registers.
#define ADD1(z0) \
	VADDPS (BX)(AX*1), z0, z0
#define ADD2(z0, z1) \
	ADD1(z0); \
	VADDPS (DI)(AX*1), z1, z1
#define ADD3(z0, z1, z2) \
	ADD2(z0, z1); \
	VADDPS (R12)(AX*1), z2, z2
#define ADD4(z0, z1, z2, z3) \
	ADD3(z0, z1, z2); \
	VADDPS (R13)(AX*1), z3, z3

// ENTRY(off, add) loads the list entry at off(SI)(R11*4) into AX and adds
// its rows.
#define ENTRY(off, add) \
	MOVLQSX off(SI)(R11*4), AX; \
	add

// TAP_LOOP(evens, odds, bases, sums, labels...) sums the list for every tap
// (CX taps, offsets at R9, accumulator rows at DX): four entries per
// iteration (the rows of the entries four ahead prefetched), then the last
// ones, then sum*v added to the tap's row.
#define TAP_LOOP(ADDE, ADDO, BASES, ZERO, SUM, tap, quad, rest, sum) \
tap: \
	MOVQ 8(R8), BX; \
	ADDQ (R9), BX; \
	BASES; \
	ZERO; \
	XORQ R11, R11; \
quad: \
	LEAQ 4(R11), AX; \
	CMPQ AX, R10; \
	JGT  rest; \
	MOVLQSX 64(SI)(R11*4), AX; \
	PREFETCHT0 (BX)(AX*1); \
	MOVLQSX 68(SI)(R11*4), AX; \
	PREFETCHT0 (BX)(AX*1); \
	MOVLQSX 72(SI)(R11*4), AX; \
	PREFETCHT0 (BX)(AX*1); \
	MOVLQSX 76(SI)(R11*4), AX; \
	PREFETCHT0 (BX)(AX*1); \
	ENTRY(0, ADDE); \
	ENTRY(4, ADDO); \
	ENTRY(8, ADDE); \
	ENTRY(12, ADDO); \
	ADDQ $4, R11; \
	JMP  quad; \
rest: \
	CMPQ R11, R10; \
	JGE  sum; \
	ENTRY(0, ADDE); \
	LEAQ 1(R11), AX; \
	CMPQ AX, R10; \
	JGE  sum; \
	ENTRY(4, ADDO); \
	LEAQ 2(R11), AX; \
	CMPQ AX, R10; \
	JGE  sum; \
	ENTRY(8, ADDE); \
sum: \
	SUM; \
	ADDQ 72(R8), DX; \
	ADDQ $8, R9; \
	DECQ CX; \
	JNZ  tap; \
	VZEROUPPER; \
	RET

// The base registers of chunks 2..4 (chunkStride bytes apart).
#define BASES1
#define BASES2 \
	MOVQ BX, DI; \
	ADDQ 48(R8), DI
#define BASES3 \
	BASES2; \
	MOVQ DI, R12; \
	ADDQ 48(R8), R12
#define BASES4 \
	BASES3; \
	MOVQ R12, R13; \
	ADDQ 48(R8), R13

// ZEROn clears the accumulators of n chunks; SUMn adds (even + odd) * v
// (Z12) to the taps' accumulator row at DX, chunk k at 64k bytes.
#define ZERO1 \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z8, Z8, Z8
#define ZERO2 \
	ZERO1; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z9, Z9, Z9
#define ZERO3 \
	ZERO2; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z10, Z10, Z10
#define ZERO4 \
	ZERO3; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z11, Z11, Z11
#define SUMCHUNK(e, o, off) \
	VADDPS o, e, e; \
	VMULPS Z12, e, e; \
	VADDPS off(DX), e, e; \
	VMOVUPS e, off(DX)
#define SUM1 \
	SUMCHUNK(Z4, Z8, 0)
#define SUM2 \
	SUM1; \
	SUMCHUNK(Z5, Z9, 64)
#define SUM3 \
	SUM2; \
	SUMCHUNK(Z6, Z10, 128)
#define SUM4 \
	SUM3; \
	SUMCHUNK(Z7, Z11, 192)

// func sparseTapsAVX512(a *sparseArgs)
//
// For one sample and one input channel: for every tap t, the sum over the
// list entries (byte offsets of grid rows) of the rows at entry + tapOffs[t]
// (mvec chunks of 16 floats, chunkStride bytes apart), summed as two
// interleaved halves (even and odd entries) added at the end, is multiplied
// by v and added to the tap's accumulator row (accStride bytes apart), with
// no FMA, as sparseTapsGo does.
TEXT ·sparseTapsAVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), R8
	MOVQ 16(R8), SI
	MOVQ 24(R8), R10
	VBROADCASTSS 32(R8), Z12
	MOVQ 56(R8), CX
	MOVQ 64(R8), R9
	MOVQ 0(R8), DX
	MOVQ 40(R8), AX
	CMPQ AX, $1
	JEQ  tap1
	CMPQ AX, $2
	JEQ  tap2
	CMPQ AX, $3
	JEQ  tap3
	JMP  tap4
	TAP_LOOP(ADD1(Z4), ADD1(Z8), BASES1, ZERO1, SUM1, tap1, quad1, rest1, sum1)
	TAP_LOOP(ADD2(Z4, Z5), ADD2(Z8, Z9), BASES2, ZERO2, SUM2, tap2, quad2, rest2, sum2)
	TAP_LOOP(ADD3(Z4, Z5, Z6), ADD3(Z8, Z9, Z10), BASES3, ZERO3, SUM3, tap3, quad3, rest3, sum3)
	TAP_LOOP(ADD4(Z4, Z5, Z6, Z7), ADD4(Z8, Z9, Z10, Z11), BASES4, ZERO4, SUM4, tap4, quad4, rest4, sum4)
