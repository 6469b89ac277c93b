//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 transforms of Winograd F(4x4, 3x3), 16 lanes at a time (16 tiles
// or 16 channels): the 1-D transforms of winograd_transforms.go on ZMM
// registers, applied to the columns, then the rows, of a tile. Z29..Z31 hold
// broadcast constants.

// B^T d of Z0..Z5 into Z6..Z11 (Z30 = 4, Z31 = 5; Z12..Z15 clobbered).
#define IN1D \
	VMOVAPS      Z4, Z6;        \
	VFMADD231PS  Z30, Z0, Z6;   \
	VFNMADD231PS Z31, Z2, Z6;   \
	VMOVAPS      Z4, Z12;       \
	VFNMADD231PS Z30, Z2, Z12;  \
	VMOVAPS      Z3, Z13;       \
	VFNMADD231PS Z30, Z1, Z13;  \
	VADDPS       Z13, Z12, Z7;  \
	VSUBPS       Z13, Z12, Z8;  \
	VSUBPS       Z2, Z4, Z14;   \
	VSUBPS       Z1, Z3, Z15;   \
	VADDPS       Z15, Z15, Z15; \
	VADDPS       Z15, Z14, Z9;  \
	VSUBPS       Z15, Z14, Z10; \
	VMOVAPS      Z5, Z11;       \
	VFMADD231PS  Z30, Z1, Z11;  \
	VFNMADD231PS Z31, Z3, Z11

// A^T m of Z0..Z5 into Z6..Z9 (Z29 = 2, Z30 = 4, Z31 = 8; Z12..Z15
// clobbered).
#define OUT1D \
	VADDPS      Z2, Z1, Z12;  \
	VSUBPS      Z2, Z1, Z13;  \
	VADDPS      Z4, Z3, Z14;  \
	VSUBPS      Z4, Z3, Z15;  \
	VADDPS      Z12, Z0, Z6;  \
	VADDPS      Z14, Z6, Z6;  \
	VMOVAPS     Z13, Z7;      \
	VFMADD231PS Z29, Z15, Z7; \
	VMOVAPS     Z12, Z8;      \
	VFMADD231PS Z30, Z14, Z8; \
	VADDPS      Z13, Z5, Z9;  \
	VFMADD231PS Z31, Z15, Z9

// A e of Z0..Z3 into Z6..Z11 (Z29 = 2, Z30 = 4, Z31 = 8; Z12..Z15
// clobbered).
#define GRAD1D \
	VMOVAPS     Z0, Z6;       \
	VADDPS      Z2, Z0, Z12;  \
	VADDPS      Z3, Z1, Z13;  \
	VADDPS      Z13, Z12, Z7; \
	VSUBPS      Z13, Z12, Z8; \
	VMOVAPS     Z0, Z14;      \
	VFMADD231PS Z30, Z2, Z14; \
	VMULPS      Z31, Z3, Z15; \
	VFMADD231PS Z29, Z1, Z15; \
	VADDPS      Z15, Z14, Z9; \
	VSUBPS      Z15, Z14, Z10; \
	VMOVAPS     Z3, Z11

// Broadcasts 2, 4 and 8 into Z29, Z30, Z31 (AX clobbered).
#define CONSTS248 \
	MOVL         $0x40000000, AX; \
	VPBROADCASTD AX, Z29;         \
	MOVL         $0x40800000, AX; \
	VPBROADCASTD AX, Z30;         \
	MOVL         $0x41000000, AX; \
	VPBROADCASTD AX, Z31

// Stores Z6..Z11 at (base) + k*step for k < 6 (step a register of bytes;
// t1, t2 clobbered).
#define STORE6(base, step, t1, t2) \
	VMOVUPS Z6, (base);              \
	VMOVUPS Z7, (base)(step*1);      \
	LEAQ    (base)(step*2), t1;      \
	VMOVUPS Z8, (t1);                \
	VMOVUPS Z9, (t1)(step*1);        \
	LEAQ    (t1)(step*2), t2;        \
	VMOVUPS Z10, (t2);               \
	VMOVUPS Z11, (t2)(step*1)

// func winoInput16(src, dst *float32, stride int)
//
// src holds a 6x6 tile of 16 lanes, element (r, j) at src[(6r+j)*16:][:16];
// dst[(6i+j)*stride:][:16] is set to element (i, j) of B^T d B. src is
// overwritten (the column pass runs in place).
TEXT ·winoInput16(SB), NOSPLIT, $0-24
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ stride+16(FP), DX
	SHLQ $2, DX
	MOVL $0x40800000, AX // 4.0
	VPBROADCASTD AX, Z30
	MOVL $0x40A00000, AX // 5.0
	VPBROADCASTD AX, Z31
	LEAQ (DX)(DX*2), R12
	SHLQ $1, R12         // 6*stride bytes: one output row

	// Columns, in place.
	MOVQ SI, R8
	MOVQ $6, CX
incol:
	VMOVUPS 0(R8), Z0
	VMOVUPS 384(R8), Z1
	VMOVUPS 768(R8), Z2
	VMOVUPS 1152(R8), Z3
	VMOVUPS 1536(R8), Z4
	VMOVUPS 1920(R8), Z5
	IN1D
	VMOVUPS Z6, 0(R8)
	VMOVUPS Z7, 384(R8)
	VMOVUPS Z8, 768(R8)
	VMOVUPS Z9, 1152(R8)
	VMOVUPS Z10, 1536(R8)
	VMOVUPS Z11, 1920(R8)
	ADDQ $64, R8
	DECQ CX
	JNZ  incol

	// Rows, into dst.
	MOVQ SI, R8
	MOVQ DI, R9
	MOVQ $6, CX
inrow:
	VMOVUPS 0(R8), Z0
	VMOVUPS 64(R8), Z1
	VMOVUPS 128(R8), Z2
	VMOVUPS 192(R8), Z3
	VMOVUPS 256(R8), Z4
	VMOVUPS 320(R8), Z5
	IN1D
	STORE6(R9, DX, R10, R11)
	ADDQ $384, R8
	ADDQ R12, R9
	DECQ CX
	JNZ  inrow
	VZEROUPPER
	RET

// func winoOutput16(src *float32, stride int, dst, tmp *float32, bias float32)
//
// src[(6r+j)*stride:][:16] holds element (r, j) of a 6x6 Winograd-domain
// tile of 16 lanes; dst[(4i+j)*16:][:16] is set to element (i, j) of
// A^T m A + bias. tmp is 24*16 floats of scratch.
TEXT ·winoOutput16(SB), NOSPLIT, $0-36
	MOVQ src+0(FP), SI
	MOVQ stride+8(FP), DX
	SHLQ $2, DX
	MOVQ dst+16(FP), DI
	MOVQ tmp+24(FP), BX
	VBROADCASTSS bias+32(FP), Z28
	CONSTS248
	LEAQ (DX)(DX*2), R12
	SHLQ $1, R12         // 6*stride bytes: one input row

	// Rows: tmp[(4r+j)*16] = (m A)[r][j].
	MOVQ SI, R9
	MOVQ BX, R8
	MOVQ $6, CX
outrow:
	VMOVUPS (R9), Z0
	VMOVUPS (R9)(DX*1), Z1
	LEAQ    (R9)(DX*2), R10
	VMOVUPS (R10), Z2
	VMOVUPS (R10)(DX*1), Z3
	LEAQ    (R10)(DX*2), R11
	VMOVUPS (R11), Z4
	VMOVUPS (R11)(DX*1), Z5
	OUT1D
	VMOVUPS Z6, 0(R8)
	VMOVUPS Z7, 64(R8)
	VMOVUPS Z8, 128(R8)
	VMOVUPS Z9, 192(R8)
	ADDQ R12, R9
	ADDQ $256, R8
	DECQ CX
	JNZ  outrow

	// Columns: dst[(4i+j)*16] = (A^T tmp)[i][j] + bias.
	MOVQ BX, R8
	MOVQ DI, R9
	MOVQ $4, CX
outcol:
	VMOVUPS 0(R8), Z0
	VMOVUPS 256(R8), Z1
	VMOVUPS 512(R8), Z2
	VMOVUPS 768(R8), Z3
	VMOVUPS 1024(R8), Z4
	VMOVUPS 1280(R8), Z5
	OUT1D
	VADDPS  Z28, Z6, Z6
	VADDPS  Z28, Z7, Z7
	VADDPS  Z28, Z8, Z8
	VADDPS  Z28, Z9, Z9
	VMOVUPS Z6, 0(R9)
	VMOVUPS Z7, 256(R9)
	VMOVUPS Z8, 512(R9)
	VMOVUPS Z9, 768(R9)
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ  outcol
	VZEROUPPER
	RET

// func winoGrad16(src, dst *float32, stride int, tmp *float32)
//
// src[(4i+j)*16:][:16] holds element (i, j) of a 4x4 output-gradient tile
// e of 16 lanes; dst[(6r+j)*stride:][:16] is set to element (r, j) of
// A e A^T. tmp is 24*16 floats of scratch.
TEXT ·winoGrad16(SB), NOSPLIT, $0-32
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ stride+16(FP), DX
	SHLQ $2, DX
	MOVQ tmp+24(FP), BX
	CONSTS248
	LEAQ (DX)(DX*2), R12
	SHLQ $1, R12         // 6*stride bytes: one output row

	// Rows: tmp[(6i+r)*16] = (e A^T)[i][r].
	MOVQ SI, R8
	MOVQ BX, R9
	MOVQ $4, CX
gradrow:
	VMOVUPS 0(R8), Z0
	VMOVUPS 64(R8), Z1
	VMOVUPS 128(R8), Z2
	VMOVUPS 192(R8), Z3
	GRAD1D
	VMOVUPS Z6, 0(R9)
	VMOVUPS Z7, 64(R9)
	VMOVUPS Z8, 128(R9)
	VMOVUPS Z9, 192(R9)
	VMOVUPS Z10, 256(R9)
	VMOVUPS Z11, 320(R9)
	ADDQ $256, R8
	ADDQ $384, R9
	DECQ CX
	JNZ  gradrow

	// Columns: dst[(6q+r)*stride] = (A tmp)[q][r].
	MOVQ BX, R8
	MOVQ DI, R9
	MOVQ $6, CX
gcol:
	VMOVUPS 0(R8), Z0
	VMOVUPS 384(R8), Z1
	VMOVUPS 768(R8), Z2
	VMOVUPS 1152(R8), Z3
	GRAD1D
	STORE6(R9, R12, R10, R11)
	ADDQ $64, R8
	ADDQ DX, R9
	DECQ CX
	JNZ  gcol
	VZEROUPPER
	RET

// Transposes the 4x4 blocks of 128-bit lane k of a, b, c, d into those of
// w, x, y, z: element i of lane k of w is element 4k of the i-th input, of
// x element 4k+1, of y 4k+2, of z 4k+3 (t0..t3 clobbered). It undoes
// itself.
#define TPOSE4(a, b, c, d, t0, t1, t2, t3, w, x, y, z) \
	VUNPCKLPS b, a, t0;        \
	VUNPCKHPS b, a, t1;        \
	VUNPCKLPS d, c, t2;        \
	VUNPCKHPS d, c, t3;        \
	VSHUFPS   $0x44, t2, t0, w; \
	VSHUFPS   $0xEE, t2, t0, x; \
	VSHUFPS   $0x44, t3, t1, y; \
	VSHUFPS   $0xEE, t3, t1, z

// Indices of VPERMT2PS picking 128-bit lanes 0 and 2 (winoTposeLo) or 1
// and 3 (winoTposeHi) of two registers, interleaved.
DATA winoTposeLo<>+0(SB)/4, $0
DATA winoTposeLo<>+4(SB)/4, $1
DATA winoTposeLo<>+8(SB)/4, $2
DATA winoTposeLo<>+12(SB)/4, $3
DATA winoTposeLo<>+16(SB)/4, $16
DATA winoTposeLo<>+20(SB)/4, $17
DATA winoTposeLo<>+24(SB)/4, $18
DATA winoTposeLo<>+28(SB)/4, $19
DATA winoTposeLo<>+32(SB)/4, $8
DATA winoTposeLo<>+36(SB)/4, $9
DATA winoTposeLo<>+40(SB)/4, $10
DATA winoTposeLo<>+44(SB)/4, $11
DATA winoTposeLo<>+48(SB)/4, $24
DATA winoTposeLo<>+52(SB)/4, $25
DATA winoTposeLo<>+56(SB)/4, $26
DATA winoTposeLo<>+60(SB)/4, $27
GLOBL winoTposeLo<>(SB), RODATA|NOPTR, $64

DATA winoTposeHi<>+0(SB)/4, $4
DATA winoTposeHi<>+4(SB)/4, $5
DATA winoTposeHi<>+8(SB)/4, $6
DATA winoTposeHi<>+12(SB)/4, $7
DATA winoTposeHi<>+16(SB)/4, $20
DATA winoTposeHi<>+20(SB)/4, $21
DATA winoTposeHi<>+24(SB)/4, $22
DATA winoTposeHi<>+28(SB)/4, $23
DATA winoTposeHi<>+32(SB)/4, $12
DATA winoTposeHi<>+36(SB)/4, $13
DATA winoTposeHi<>+40(SB)/4, $14
DATA winoTposeHi<>+44(SB)/4, $15
DATA winoTposeHi<>+48(SB)/4, $28
DATA winoTposeHi<>+52(SB)/4, $29
DATA winoTposeHi<>+56(SB)/4, $30
DATA winoTposeHi<>+60(SB)/4, $31
GLOBL winoTposeHi<>(SB), RODATA|NOPTR, $64

// Loads row (SI) of lane l into Y(dst): the columns of mask (R9) at
// 2l, zeros elsewhere; prefetches it ahead (R15) bytes on (R8, R10
// clobbered).
#define LANEROW(l, dst) \
	MOVQ       (32*(l))(BX), R8; \
	KMOVW      (2*(l))(R9), K1;  \
	LEAQ       (SI)(R8*4), R10; \
	VMOVUPS.Z  (R10), K1, dst;  \
	PREFETCHT0 (R10)(R15*1)

// Loads row r of lanes l and l+8 into the low and high halves of Z(dst)
// (Y(tmp) clobbered).
#define LANEPAIR(l, dst, ydst, tmp) \
	LANEROW(l, ydst);       \
	LANEROW(l+8, tmp);      \
	VINSERTF64X4 $1, tmp, dst, dst

// func winoGatherT16(src *float32, lanes *winoLane, masks *uint16, ld int, dst *float32, ahead int)
//
// Gathers 16 6x6 tiles transposed: element (r, j) of tile l (lanes[l]) goes
// to dst[(6r+j)*16+l], read from src[off + r*ld + j] when bit j of
// masks[16r+l] is set, zero otherwise (so off may point outside the
// image). This is winoGather16 and transpose16 in one, in registers: row r
// of the 16 tiles is loaded as 8 registers of two tiles each (tile l low,
// l+8 high) and transposed as two 8x8 blocks at once. Every row read is
// prefetched ahead floats further on (the next call's rows: the same tiles
// of the next channel), since the rows of a tile lie in different pages of
// a channel's plane, where the hardware prefetchers do not look.
TEXT ·winoGatherT16(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ lanes+8(FP), BX
	MOVQ masks+16(FP), R9
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ dst+32(FP), DI
	MOVQ ahead+40(FP), R15
	SHLQ $2, R15
	VMOVUPS winoTposeLo<>(SB), Z30
	VMOVUPS winoTposeHi<>(SB), Z31
	MOVQ $6, CX

gtrow:
	LANEPAIR(0, Z0, Y0, Y8)
	LANEPAIR(1, Z1, Y1, Y9)
	LANEPAIR(2, Z2, Y2, Y10)
	LANEPAIR(3, Z3, Y3, Y11)
	LANEPAIR(4, Z4, Y4, Y12)
	LANEPAIR(5, Z5, Y5, Y13)
	LANEPAIR(6, Z6, Y6, Y14)
	LANEPAIR(7, Z7, Y7, Y15)

	// Within each 128-bit lane: Z16+j holds column j (rows 0-3) and column
	// j+4 (next lane), Z20+j the same of rows 4-7.
	TPOSE4(Z0, Z1, Z2, Z3, Z8, Z9, Z10, Z11, Z16, Z17, Z18, Z19)
	TPOSE4(Z4, Z5, Z6, Z7, Z12, Z13, Z14, Z15, Z20, Z21, Z22, Z23)

	// Column j of the 16 tiles: lanes 0 and 2 (j < 4) or 1 and 3 (j >= 4)
	// of Z16+j%4 and Z20+j%4, interleaved.
	VMOVAPS   Z16, Z24
	VPERMT2PS Z20, Z30, Z24
	VMOVAPS   Z17, Z25
	VPERMT2PS Z21, Z30, Z25
	VMOVAPS   Z18, Z26
	VPERMT2PS Z22, Z30, Z26
	VMOVAPS   Z19, Z27
	VPERMT2PS Z23, Z30, Z27
	VMOVAPS   Z16, Z28
	VPERMT2PS Z20, Z31, Z28
	VMOVAPS   Z17, Z29
	VPERMT2PS Z21, Z31, Z29
	VMOVUPS   Z24, 0(DI)
	VMOVUPS   Z25, 64(DI)
	VMOVUPS   Z26, 128(DI)
	VMOVUPS   Z27, 192(DI)
	VMOVUPS   Z28, 256(DI)
	VMOVUPS   Z29, 320(DI)

	ADDQ DX, SI
	ADDQ $32, R9
	ADDQ $384, DI
	DECQ CX
	JNZ  gtrow
	VZEROUPPER
	RET

// Broadcasts the divisors of FILT1D and FGRAD1D, 4, 6, 24 and 12, into
// Z27..Z30 (AX clobbered).
#define FILTCONSTS \
	MOVL         $0x40800000, AX; \
	VPBROADCASTD AX, Z27;         \
	MOVL         $0x40C00000, AX; \
	VPBROADCASTD AX, Z28;         \
	MOVL         $0x41C00000, AX; \
	VPBROADCASTD AX, Z29;         \
	MOVL         $0x41400000, AX; \
	VPBROADCASTD AX, Z30

// G g of Z0..Z2 into Z6..Z11 with float32 divisions in the order of
// winoFilter1D, so that the results are the Go code's bit for bit (Z27 = 4,
// Z28 = 6, Z29 = 24, Z30 = 12, Z31 = the sign bit; Z12..Z15 clobbered).
#define FILT1D \
	VADDPS Z2, Z0, Z12;   \
	VDIVPS Z27, Z0, Z6;   \
	VADDPS Z1, Z12, Z13;  \
	VDIVPS Z28, Z13, Z13; \
	VPXORD Z31, Z13, Z7;  \
	VSUBPS Z1, Z12, Z14;  \
	VDIVPS Z28, Z14, Z14; \
	VPXORD Z31, Z14, Z8;  \
	VDIVPS Z29, Z0, Z12;  \
	VDIVPS Z30, Z1, Z13;  \
	VDIVPS Z28, Z2, Z14;  \
	VADDPS Z13, Z12, Z15; \
	VADDPS Z14, Z15, Z9;  \
	VSUBPS Z13, Z12, Z15; \
	VADDPS Z14, Z15, Z10; \
	VMOVAPS Z2, Z11

// func winoFilter16(src, dst *float32, stride int, tmp *float32)
//
// src[(3r+j)*16:][:16] holds element (r, j) of a 3x3 kernel of 16 lanes;
// dst[(6i+j)*stride:][:16] is set to element (i, j) of G g G^T. tmp is
// 18*16 floats of scratch.
TEXT ·winoFilter16(SB), NOSPLIT, $0-32
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ stride+16(FP), DX
	SHLQ $2, DX
	MOVQ tmp+24(FP), BX
	FILTCONSTS
	MOVL $0x80000000, AX
	VPBROADCASTD AX, Z31
	LEAQ (DX)(DX*2), R12
	SHLQ $1, R12         // 6*stride bytes: one output row

	// Columns: tmp[(3i+j)*16] = (G g)[i][j].
	MOVQ SI, R8
	MOVQ BX, R9
	MOVQ $3, CX
fcol:
	VMOVUPS 0(R8), Z0
	VMOVUPS 192(R8), Z1
	VMOVUPS 384(R8), Z2
	FILT1D
	VMOVUPS Z6, 0(R9)
	VMOVUPS Z7, 192(R9)
	VMOVUPS Z8, 384(R9)
	VMOVUPS Z9, 576(R9)
	VMOVUPS Z10, 768(R9)
	VMOVUPS Z11, 960(R9)
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ  fcol

	// Rows: dst[(6i+j)*stride] = (tmp G^T)[i][j].
	MOVQ BX, R8
	MOVQ DI, R9
	MOVQ $6, CX
frow:
	VMOVUPS 0(R8), Z0
	VMOVUPS 64(R8), Z1
	VMOVUPS 128(R8), Z2
	FILT1D
	STORE6(R9, DX, R10, R11)
	ADDQ $192, R8
	ADDQ R12, R9
	DECQ CX
	JNZ  frow
	VZEROUPPER
	RET

// G^T u of Z0..Z5 into Z6..Z8 with float32 divisions in the order of
// winoFilterGrad1D (Z27 = 4, Z28 = 6, Z29 = 24, Z30 = 12; Z12..Z17
// clobbered).
#define FGRAD1D \
	VADDPS Z2, Z1, Z12;   \
	VSUBPS Z1, Z2, Z13;   \
	VADDPS Z4, Z3, Z14;   \
	VSUBPS Z4, Z3, Z15;   \
	VDIVPS Z27, Z0, Z16;  \
	VDIVPS Z28, Z12, Z17; \
	VSUBPS Z17, Z16, Z16; \
	VDIVPS Z29, Z14, Z6;  \
	VADDPS Z6, Z16, Z6;   \
	VDIVPS Z28, Z13, Z13; \
	VDIVPS Z30, Z15, Z15; \
	VADDPS Z15, Z13, Z7;  \
	VDIVPS Z28, Z14, Z14; \
	VSUBPS Z17, Z14, Z8;  \
	VADDPS Z5, Z8, Z8

// func winoFilterGrad16(src, dst, tmp *float32)
//
// src[(6i+j)*16:][:16] holds element (i, j) of a 6x6 Winograd-domain
// kernel gradient u of 16 lanes; dst[(3r+j)*16:][:16] is set to element
// (r, j) of G^T u G. tmp is 18*16 floats of scratch.
TEXT ·winoFilterGrad16(SB), NOSPLIT, $0-24
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ tmp+16(FP), BX
	FILTCONSTS

	// Columns: tmp[(6r+j)*16] = (G^T u)[r][j].
	MOVQ SI, R8
	MOVQ BX, R9
	MOVQ $6, CX
fgcol:
	VMOVUPS 0(R8), Z0
	VMOVUPS 384(R8), Z1
	VMOVUPS 768(R8), Z2
	VMOVUPS 1152(R8), Z3
	VMOVUPS 1536(R8), Z4
	VMOVUPS 1920(R8), Z5
	FGRAD1D
	VMOVUPS Z6, 0(R9)
	VMOVUPS Z7, 384(R9)
	VMOVUPS Z8, 768(R9)
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ  fgcol

	// Rows: dst[(3r+j)*16] = (tmp G)[r][j].
	MOVQ BX, R8
	MOVQ DI, R9
	MOVQ $3, CX
fgrow:
	VMOVUPS 0(R8), Z0
	VMOVUPS 64(R8), Z1
	VMOVUPS 128(R8), Z2
	VMOVUPS 192(R8), Z3
	VMOVUPS 256(R8), Z4
	VMOVUPS 320(R8), Z5
	FGRAD1D
	VMOVUPS Z6, 0(R9)
	VMOVUPS Z7, 64(R9)
	VMOVUPS Z8, 128(R9)
	ADDQ $384, R8
	ADDQ $192, R9
	DECQ CX
	JNZ  fgrow
	VZEROUPPER
	RET

// Stores 128-bit lane k of Z(t), row r of tile l, at the columns of mask
// (R9) at 2l of dst (DI) + lanes[l].off floats; prefetches it ahead (R15)
// bytes on (R8, R10 clobbered).
#define TILEROW(l, t, k) \
	MOVQ          (32*(l))(BX), R8; \
	KMOVW         (2*(l))(R9), K1;  \
	LEAQ          (DI)(R8*4), R10;  \
	VEXTRACTF32X4 $k, t, K1, (R10); \
	PREFETCHT0    (R10)(R15*1)

// func winoScatterT16(dst *float32, lanes *winoLane, masks *uint16, ld int, src *float32, ahead int)
//
// Writes 16 4x4 tiles from lanes: element (r, j) of tile l, at
// src[(4r+j)*16+l], goes to dst[off + r*ld + j] when bit j of
// masks[16r+l] is set. This is transpose16 and a scatter in one, in
// registers: the 4 elements of row r of every tile are transposed into 4
// registers of 4 tiles' rows each, stored 128 bits at a time.
TEXT ·winoScatterT16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ lanes+8(FP), BX
	MOVQ masks+16(FP), R9
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ src+32(FP), SI
	MOVQ ahead+40(FP), R15
	SHLQ $2, R15
	MOVQ $4, CX

strow:
	VMOVUPS   0(SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVUPS   128(SI), Z2
	VMOVUPS   192(SI), Z3
	// Z8..Z11: tiles 0, 4, 8, 12; 1, 5, 9, 13; 2, 6, 10, 14; 3, 7, 11, 15.
	TPOSE4(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11)
	TILEROW(0, Z8, 0)
	TILEROW(1, Z9, 0)
	TILEROW(2, Z10, 0)
	TILEROW(3, Z11, 0)
	TILEROW(4, Z8, 1)
	TILEROW(5, Z9, 1)
	TILEROW(6, Z10, 1)
	TILEROW(7, Z11, 1)
	TILEROW(8, Z8, 2)
	TILEROW(9, Z9, 2)
	TILEROW(10, Z10, 2)
	TILEROW(11, Z11, 2)
	TILEROW(12, Z8, 3)
	TILEROW(13, Z9, 3)
	TILEROW(14, Z10, 3)
	TILEROW(15, Z11, 3)
	ADDQ $256, SI
	ADDQ DX, DI
	ADDQ $32, R9
	DECQ CX
	JNZ  strow
	VZEROUPPER
	RET

// Loads row (SI) of lane l into 128-bit lane k of Z(t): the columns of mask
// (R9) at 2l, zeros elsewhere; prefetches it ahead (R15) bytes on (R8, R10,
// X12 clobbered).
#define TILELOAD(l, t, k) \
	MOVQ         (32*(l))(BX), R8; \
	KMOVW        (2*(l))(R9), K1;  \
	LEAQ         (SI)(R8*4), R10;  \
	VMOVUPS.Z    (R10), K1, X12;   \
	VINSERTF32X4 $k, X12, t, t;    \
	PREFETCHT0   (R10)(R15*1)

// func winoGatherT4x16(src *float32, lanes *winoLane, masks *uint16, ld int, dst *float32, ahead int)
//
// Gathers 16 4x4 tiles transposed: element (r, j) of tile l goes to
// dst[(4r+j)*16+l], read from src[off + r*ld + j] when bit j of
// masks[16r+l] is set, zero otherwise: winoScatterT16 run backwards (the
// 4x4 transposes within 128-bit lanes undo themselves).
TEXT ·winoGatherT4x16(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ lanes+8(FP), BX
	MOVQ masks+16(FP), R9
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ dst+32(FP), DI
	MOVQ ahead+40(FP), R15
	SHLQ $2, R15
	MOVQ $4, CX

g4row:
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	TILELOAD(0, Z8, 0)
	TILELOAD(1, Z9, 0)
	TILELOAD(2, Z10, 0)
	TILELOAD(3, Z11, 0)
	TILELOAD(4, Z8, 1)
	TILELOAD(5, Z9, 1)
	TILELOAD(6, Z10, 1)
	TILELOAD(7, Z11, 1)
	TILELOAD(8, Z8, 2)
	TILELOAD(9, Z9, 2)
	TILELOAD(10, Z10, 2)
	TILELOAD(11, Z11, 2)
	TILELOAD(12, Z8, 3)
	TILELOAD(13, Z9, 3)
	TILELOAD(14, Z10, 3)
	TILELOAD(15, Z11, 3)
	TPOSE4(Z8, Z9, Z10, Z11, Z4, Z5, Z6, Z7, Z0, Z1, Z2, Z3)
	VMOVUPS   Z0, 0(DI)
	VMOVUPS   Z1, 64(DI)
	VMOVUPS   Z2, 128(DI)
	VMOVUPS   Z3, 192(DI)
	ADDQ $256, DI
	ADDQ DX, SI
	ADDQ $32, R9
	DECQ CX
	JNZ  g4row
	VZEROUPPER
	RET
