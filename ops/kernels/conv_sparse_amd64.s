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
	// Compress in registers and store all 16 (slow on AMD to memory); the
	// lanes past the count land where the next entries go, within the
	// plane's room (the count so far is at most the elements read so far).
	VPCOMPRESSD Z7, K1, Z8
	VMOVDQU32 Z8, (DI)
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

// The window sums: register Z(9k + 3ii + jj) sums tap (ii, jj) of chunk k.
// Row ii of chunk 0 is read from base register BX, DX, DI; of chunk 1 from
// R8, R9, R10; column jj at displacement -64*jj.
#define ROW(b, z0, z1, z2) \
	VADDPS (b)(AX*1), z0, z0; \
	VADDPS -64(b)(AX*1), z1, z1; \
	VADDPS -128(b)(AX*1), z2, z2
#define CHUNK0 \
	ROW(BX, Z0, Z1, Z2); \
	ROW(DX, Z3, Z4, Z5); \
	ROW(DI, Z6, Z7, Z8)
#define CHUNK1 \
	ROW(R8, Z9, Z10, Z11); \
	ROW(R9, Z12, Z13, Z14); \
	ROW(R10, Z15, Z16, Z17)

// RUNS(load, entry, store, labels...): for every run (R13 to R11, 48 bytes
// each), load its sums from its acc (R14), add entry (the rows of the
// entry whose offset is in AX) for every entry of its list, store them.
#define RUNS(LOAD, ENTRY, STORE, run, next, done) \
run: \
	CMPQ R13, R11; \
	JGE  done; \
	MOVQ 0(R13), SI; \
	MOVQ 8(R13), CX; \
	MOVQ 24(R13), R14; \
	ADDQ $48, R13; \
	LOAD; \
next: \
	MOVLQSX (SI), AX; \
	ENTRY; \
	ADDQ $4, SI; \
	DECQ CX; \
	JNZ  next; \
	STORE; \
	JMP  run

// STORE9 and LOAD9(off, z...) move nine registers to and from consecutive
// rows of 16 floats at off(R14).
#define STORE9(off, z0, z1, z2, z3, z4, z5, z6, z7, z8) \
	VMOVUPS z0, (off+0)(R14); \
	VMOVUPS z1, (off+64)(R14); \
	VMOVUPS z2, (off+128)(R14); \
	VMOVUPS z3, (off+192)(R14); \
	VMOVUPS z4, (off+256)(R14); \
	VMOVUPS z5, (off+320)(R14); \
	VMOVUPS z6, (off+384)(R14); \
	VMOVUPS z7, (off+448)(R14); \
	VMOVUPS z8, (off+512)(R14)
#define LOAD9(off, z0, z1, z2, z3, z4, z5, z6, z7, z8) \
	VMOVUPS (off+0)(R14), z0; \
	VMOVUPS (off+64)(R14), z1; \
	VMOVUPS (off+128)(R14), z2; \
	VMOVUPS (off+192)(R14), z3; \
	VMOVUPS (off+256)(R14), z4; \
	VMOVUPS (off+320)(R14), z5; \
	VMOVUPS (off+384)(R14), z6; \
	VMOVUPS (off+448)(R14), z7; \
	VMOVUPS (off+512)(R14), z8

#define LOAD1 LOAD9(0, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8)
#define STORE1 STORE9(0, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8)
#define LOAD2 \
	LOAD1; \
	LOAD9(576, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17)
#define STORE2 \
	STORE1; \
	STORE9(576, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17)
#define CHUNKS2 \
	CHUNK0; \
	CHUNK1

// func sparseTapsAVX512(a *windowArgs)
//
// For a 3x3 window of taps and mvec (1 or 2) chunks: for every run, every
// tap's sum over the list's entries, in order, of the 16 floats at grid +
// entry + off - ii*rowBytes - 64*jj + k*chunkBytes, added to the run's
// acc[9k + 3ii + jj] (rows of 16 floats), as sparseTapsGo does. Every run
// has at least one entry.
TEXT ·sparseTapsAVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), R12
	MOVQ 8(R12), R13
	MOVQ 16(R12), R11
	IMUL3Q $48, R11, R11
	ADDQ R13, R11
	MOVQ 0(R12), BX
	ADDQ 24(R12), BX
	MOVQ 32(R12), AX
	MOVQ BX, DX
	SUBQ AX, DX
	MOVQ DX, DI
	SUBQ AX, DI
	MOVQ BX, R8
	ADDQ 40(R12), R8
	MOVQ R8, R9
	SUBQ AX, R9
	MOVQ R9, R10
	SUBQ AX, R10
	CMPQ 48(R12), $1
	JNE  two
	RUNS(LOAD1, CHUNK0, STORE1, run1, next1, done1)

two:
	RUNS(LOAD2, CHUNKS2, STORE2, run2, next2, done2)

done1:
done2:
	VZEROUPPER
	RET
