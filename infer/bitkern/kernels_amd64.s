//go:build amd64 && !purego

#include "textflag.h"

// func dotTileAVX512(kw, rows int, a *uint64, lda, ldk, sw int, b *uint64, pcs, dst *int32, ldd int)
//
// rows (a multiple of 4) patches, 4 at a time, by 16 channels; for each 4:
// 4 patches (word k of patch r at a[r*lda + (k/sw)*ldk + k%sw]: runs of sw
// contiguous words, ldk apart) by 16 channels (the packed panel b: kw rows
// of 16 words). For every k: two 512-bit loads of the panel row (channels
// 0-7 and 8-15), one broadcast per patch word, and per (row, half) VPANDQ +
// VPOPCNTQ + VPADDQ into a qword accumulator (Z0-Z7: row r in Z(2r),
// Z(2r+1)). The patch pointers step a word, and at the end of a run (AX
// counts its words down) jump to the next. At the end the counts are
// narrowed to int32 (VPMOVQD), doubled, and pcs[r] subtracted: dst =
// 2*count - pcs.
TEXT ·dotTileAVX512(SB), NOSPLIT, $0-80
	MOVQ a+16(FP), R14
	MOVQ lda+24(FP), R9
	SHLQ $3, R9             // row stride of a in bytes
	MOVQ ldk+32(FP), R13
	SUBQ sw+40(FP), R13
	SHLQ $3, R13            // from a run's end to the next run, in bytes
	MOVQ pcs+56(FP), BX
	MOVQ dst+64(FP), DX
	MOVQ ldd+72(FP), R8
	SHLQ $2, R8             // ldd in bytes
	MOVQ rows+8(FP), R15
	SHRQ $2, R15            // tiles of 4 rows

tile512:
	MOVQ kw+0(FP), CX
	MOVQ b+48(FP), DI
	MOVQ sw+40(FP), AX
	MOVQ R14, SI            // row 0
	LEAQ (SI)(R9*1), R10    // row 1
	LEAQ (R10)(R9*1), R11   // row 2
	LEAQ (R11)(R9*1), R12   // row 3

	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7

#define PRODQ(s, w, acc, t) \
	VPANDQ w, s, t; \
	VPOPCNTQ t, t; \
	VPADDQ t, acc, acc

loop512:
	VMOVDQU64 (DI), Z16
	VMOVDQU64 64(DI), Z17
	VPBROADCASTQ (SI), Z8
	VPBROADCASTQ (R10), Z9
	VPBROADCASTQ (R11), Z10
	VPBROADCASTQ (R12), Z11
	PRODQ(Z8, Z16, Z0, Z20)
	PRODQ(Z8, Z17, Z1, Z21)
	PRODQ(Z9, Z16, Z2, Z22)
	PRODQ(Z9, Z17, Z3, Z23)
	PRODQ(Z10, Z16, Z4, Z24)
	PRODQ(Z10, Z17, Z5, Z25)
	PRODQ(Z11, Z16, Z6, Z26)
	PRODQ(Z11, Z17, Z7, Z27)
	ADDQ $128, DI
	ADDQ $8, SI
	ADDQ $8, R10
	ADDQ $8, R11
	ADDQ $8, R12
	DECQ AX
	JNZ  samerun512
	ADDQ R13, SI
	ADDQ R13, R10
	ADDQ R13, R11
	ADDQ R13, R12
	MOVQ sw+40(FP), AX
samerun512:
	DECQ CX
	JNZ  loop512

#define STORE512(lo, hi, ylo, yhi, poff) \
	VPMOVQD lo, ylo; \
	VPMOVQD hi, yhi; \
	VPBROADCASTD poff(BX), Y8; \
	VPSLLD $1, ylo, ylo; \
	VPSLLD $1, yhi, yhi; \
	VPSUBD Y8, ylo, ylo; \
	VPSUBD Y8, yhi, yhi; \
	VMOVDQU ylo, (DX); \
	VMOVDQU yhi, 32(DX); \
	ADDQ R8, DX

	STORE512(Z0, Z1, Y0, Y1, 0)
	STORE512(Z2, Z3, Y2, Y3, 4)
	STORE512(Z4, Z5, Y4, Y5, 8)
	STORE512(Z6, Z7, Y6, Y7, 12)
	LEAQ (R14)(R9*4), R14   // next 4 patches
	ADDQ $16, BX
	DECQ R15
	JNZ  tile512
	VZEROUPPER
	RET

// func dotTileAVX2(kw, rows int, a *uint64, lda, ldk, sw int, b *uint64, pcs, dst *int32, ldd int, lut *[64]byte)
//
// rows (a multiple of 2) patches, 2 at a time, by 16 channels; for each 2:
// 2 patches (runs of words as in dotTileAVX512) by 16 channels with the
// nibble-table popcount (Muła, Kurz, Lemire, "Faster population counts
// using AVX2 instructions", 2018): per
// (row, 4-channel quarter) and k, t = s AND w; the low and high nibbles of
// every byte of t index a 16-entry table of bit counts (VPSHUFB), and both
// counts are added to a byte accumulator (Y0-Y7: row r, quarter q in
// Y(4r+q)): 8 instructions per 256 bits. A byte accumulator gains at most 8
// per k, so k runs in chunks of at most 31, after which the bytes are
// summed per qword (VPSADBW against zero: one qword per channel); with more
// than one chunk the qword sums are accumulated on the stack. At the end
// the qword sums of two quarters are interleaved into 8 int32 (VPSLLQ,
// VPOR), put in channel order (VPERMD), doubled, and pcs[r] subtracted.
TEXT ·dotTileAVX2(SB), NOSPLIT, $256-88
	MOVQ a+16(FP), R14
	MOVQ lda+24(FP), R9
	SHLQ $3, R9
	MOVQ ldk+32(FP), R13
	SUBQ sw+40(FP), R13
	SHLQ $3, R13            // from a run's end to the next run, in bytes
	MOVQ pcs+56(FP), BX
	MOVQ dst+64(FP), DX
	MOVQ ldd+72(FP), R8
	SHLQ $2, R8
	MOVQ lut+80(FP), AX
	VMOVDQU (AX), Y14       // nibble counts
	VMOVDQU 32(AX), Y15     // 0x0f in every byte
	MOVQ rows+8(FP), R15
	SHRQ $1, R15            // tiles of 2 rows

tile256:
	MOVQ kw+0(FP), CX
	MOVQ b+48(FP), DI
	MOVQ sw+40(FP), AX      // words left in the run
	MOVQ R14, SI            // row 0
	LEAQ (SI)(R9*1), R10    // row 1
	XORQ R12, R12           // chunks done

chunk:
	MOVQ CX, R11
	CMPQ R11, $31
	JLE  chunkset
	MOVQ $31, R11
chunkset:
	SUBQ R11, CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7

#define PRODN(s, woff, acc) \
	VPAND woff(DI), s, Y10; \
	VPSRLW $4, Y10, Y11; \
	VPAND Y15, Y10, Y10; \
	VPAND Y15, Y11, Y11; \
	VPSHUFB Y10, Y14, Y10; \
	VPSHUFB Y11, Y14, Y11; \
	VPADDB Y10, acc, acc; \
	VPADDB Y11, acc, acc

loop256:
	VPBROADCASTQ (SI), Y8
	VPBROADCASTQ (R10), Y9
	PRODN(Y8, 0, Y0)
	PRODN(Y8, 32, Y1)
	PRODN(Y8, 64, Y2)
	PRODN(Y8, 96, Y3)
	PRODN(Y9, 0, Y4)
	PRODN(Y9, 32, Y5)
	PRODN(Y9, 64, Y6)
	PRODN(Y9, 96, Y7)
	ADDQ $8, SI
	ADDQ $8, R10
	DECQ AX
	JNZ  samerun256
	ADDQ R13, SI
	ADDQ R13, R10
	MOVQ sw+40(FP), AX
samerun256:
	ADDQ $128, DI
	DECQ R11
	JNZ  loop256

	VPXOR Y12, Y12, Y12
	VPSADBW Y12, Y0, Y0
	VPSADBW Y12, Y1, Y1
	VPSADBW Y12, Y2, Y2
	VPSADBW Y12, Y3, Y3
	VPSADBW Y12, Y4, Y4
	VPSADBW Y12, Y5, Y5
	VPSADBW Y12, Y6, Y6
	VPSADBW Y12, Y7, Y7
	TESTQ R12, R12
	JZ   first
	VPADDQ 0(SP), Y0, Y0
	VPADDQ 32(SP), Y1, Y1
	VPADDQ 64(SP), Y2, Y2
	VPADDQ 96(SP), Y3, Y3
	VPADDQ 128(SP), Y4, Y4
	VPADDQ 160(SP), Y5, Y5
	VPADDQ 192(SP), Y6, Y6
	VPADDQ 224(SP), Y7, Y7
first:
	TESTQ CX, CX
	JZ   output
	VMOVDQU Y0, 0(SP)
	VMOVDQU Y1, 32(SP)
	VMOVDQU Y2, 64(SP)
	VMOVDQU Y3, 96(SP)
	VMOVDQU Y4, 128(SP)
	VMOVDQU Y5, 160(SP)
	VMOVDQU Y6, 192(SP)
	VMOVDQU Y7, 224(SP)
	INCQ R12
	JMP  chunk

	// Per row: lo = [c0 _ c1 _ | c2 _ c3 _], hi = [c4 _ c5 _ | c6 _ c7 _]
	// (dwords of two quarters' qword sums); lo | hi<<32 is
	// [c0 c4 c1 c5 | c2 c6 c3 c7], which VPERMD by permAVX2 puts in order.
#define OUT8(lo, hi, boff) \
	VPSLLQ $32, hi, hi; \
	VPOR hi, lo, lo; \
	VPERMD lo, Y13, lo; \
	VPSLLD $1, lo, lo; \
	VPSUBD Y9, lo, lo; \
	VMOVDQU lo, boff(DX)

output:
	LEAQ permAVX2<>(SB), AX
	VMOVDQU (AX), Y13
	VPBROADCASTD 0(BX), Y9
	OUT8(Y0, Y1, 0)
	OUT8(Y2, Y3, 32)
	ADDQ R8, DX
	VPBROADCASTD 4(BX), Y9
	OUT8(Y4, Y5, 0)
	OUT8(Y6, Y7, 32)
	ADDQ R8, DX
	LEAQ (R14)(R9*2), R14   // next 2 patches
	ADDQ $8, BX
	DECQ R15
	JNZ  tile256
	VZEROUPPER
	RET

DATA permAVX2<>+0(SB)/4, $0
DATA permAVX2<>+4(SB)/4, $2
DATA permAVX2<>+8(SB)/4, $4
DATA permAVX2<>+12(SB)/4, $6
DATA permAVX2<>+16(SB)/4, $1
DATA permAVX2<>+20(SB)/4, $3
DATA permAVX2<>+24(SB)/4, $5
DATA permAVX2<>+28(SB)/4, $7
GLOBL permAVX2<>(SB), RODATA|NOPTR, $32
