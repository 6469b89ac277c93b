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

// func spikeIndexesAVX512(x *float32, w int, v float32, base int32, out *int32) (count int, ok bool)
//
// For the w floats of x, writes base+i to out for every i with x[i] != 0,
// in order, and returns how many. Returns ok = false (count 0) as soon as a
// nonzero differs from v: the row is not a spike row of value v.
TEXT ·spikeIndexesAVX512(SB), NOSPLIT, $0-41
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), CX
	VBROADCASTSS v+16(FP), Z1
	MOVL base+20(FP), AX
	VPBROADCASTD AX, Z2
	VPADDD iota16<>(SB), Z2, Z2
	MOVQ out+24(FP), DI
	MOVQ DI, R11
	VPXORD Z0, Z0, Z0
	MOVL $16, AX
	VPBROADCASTD AX, Z3

siloop:
	CMPQ CX, $16
	JLT  sitail
	VMOVUPS (SI), Z4
	VCMPPS $4, Z0, Z4, K1
	VCMPPS $4, Z1, Z4, K2
	KANDW K1, K2, K3
	KORTESTW K3, K3
	JNZ  sibad
	VPCOMPRESSD Z2, K1, (DI)
	KMOVW K1, AX
	POPCNTL AX, AX
	LEAQ (DI)(AX*4), DI
	VPADDD Z3, Z2, Z2
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  siloop

sitail:
	TESTQ CX, CX
	JZ    sidone
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
	VPCOMPRESSD Z2, K1, (DI)
	KMOVW K1, AX
	POPCNTL AX, AX
	LEAQ (DI)(AX*4), DI

sidone:
	SUBQ R11, DI
	SHRQ $2, DI
	MOVQ DI, count+32(FP)
	MOVB $1, ok+40(FP)
	VZEROUPPER
	RET

sibad:
	MOVQ $0, count+32(FP)
	MOVB $0, ok+40(FP)
	VZEROUPPER
	RET


// ADD_ENTRY(off, a0, a1, a2, a3, done) adds the grid rows of the list
// entry at off(SI)(R11*4), shifted by the tap (R13 bytes), to a0..a3 (as
// many as there are chunks, DI), then jumps to done.
#define ADD_ENTRY(off, a0, a1, a2, a3, done) \
	MOVLQSX off(SI)(R11*4), AX; \
	SHLQ $6, AX; \
	ADDQ R13, AX; \
	VADDPS (BX)(AX*1), a0, a0; \
	CMPQ DI, $1; \
	JEQ  done; \
	ADDQ R12, AX; \
	VADDPS (BX)(AX*1), a1, a1; \
	CMPQ DI, $2; \
	JEQ  done; \
	ADDQ R12, AX; \
	VADDPS (BX)(AX*1), a2, a2; \
	CMPQ DI, $3; \
	JEQ  done; \
	ADDQ R12, AX; \
	VADDPS (BX)(AX*1), a3, a3

// func sparseTapsAVX512(a *sparseArgs)
//
// For one sample and one input channel: for every tap t, the sum over the
// list entries pos of the grid rows at pos + tapOffs[t] (mvec chunks of 16
// floats, chunkStride bytes apart), summed as two interleaved halves (even
// and odd entries) added at the end, is multiplied by v and added to the
// tap's accumulator row acc[t] (accStride bytes apart), with no FMA, as
// sparseTapsGo does.
TEXT ·sparseTapsAVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), R8
	MOVQ 8(R8), BX
	MOVQ 16(R8), SI
	MOVQ 24(R8), R10
	VBROADCASTSS 32(R8), Z12
	MOVQ 40(R8), DI
	MOVQ 48(R8), R12
	MOVQ 56(R8), CX
	MOVQ 64(R8), R9
	MOVQ 0(R8), DX

sttap:
	MOVQ (R9), R13
	SHLQ $6, R13
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	XORQ R11, R11

stpair:
	LEAQ 1(R11), AX
	CMPQ AX, R10
	JGE  stlast
	ADD_ENTRY(0, Z4, Z5, Z6, Z7, stodd)
stodd:
	ADD_ENTRY(4, Z8, Z9, Z10, Z11, stnext)
stnext:
	ADDQ $2, R11
	JMP  stpair

stlast:
	CMPQ R11, R10
	JGE  stsum
	ADD_ENTRY(0, Z4, Z5, Z6, Z7, stsum)

stsum:
	VADDPS Z8, Z4, Z4
	VMULPS Z12, Z4, Z4
	VADDPS (DX), Z4, Z4
	VMOVUPS Z4, (DX)
	CMPQ DI, $1
	JEQ  stadv
	VADDPS Z9, Z5, Z5
	VMULPS Z12, Z5, Z5
	VADDPS 64(DX), Z5, Z5
	VMOVUPS Z5, 64(DX)
	CMPQ DI, $2
	JEQ  stadv
	VADDPS Z10, Z6, Z6
	VMULPS Z12, Z6, Z6
	VADDPS 128(DX), Z6, Z6
	VMOVUPS Z6, 128(DX)
	CMPQ DI, $3
	JEQ  stadv
	VADDPS Z11, Z7, Z7
	VMULPS Z12, Z7, Z7
	VADDPS 192(DX), Z7, Z7
	VMOVUPS Z7, 192(DX)

stadv:
	ADDQ 72(R8), DX
	ADDQ $8, R9
	DECQ CX
	JNZ  sttap
	VZEROUPPER
	RET
