//go:build amd64 && !purego

#include "textflag.h"

// func packRows16(dst, src *float32, ld, rows int)
//
// dst[r*16 : r*16+16] = src[r*ld : r*ld+16] for r < rows (ld in floats).
TEXT ·packRows16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	MOVQ rows+24(FP), CX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R8 // 3*ld bytes
	MOVQ CX, R9
	SHRQ $2, R9
	JZ   rows1

rows4:
	PREFETCHT0 (SI)(DX*8)
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (SI)(DX*1), Y2
	VMOVUPS 32(SI)(DX*1), Y3
	VMOVUPS (SI)(DX*2), Y4
	VMOVUPS 32(SI)(DX*2), Y5
	VMOVUPS (SI)(R8*1), Y6
	VMOVUPS 32(SI)(R8*1), Y7
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	LEAQ (SI)(DX*4), SI
	ADDQ $256, DI
	DECQ R9
	JNZ  rows4

rows1:
	ANDQ $3, CX
	JZ   done

row1:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ DX, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  row1

done:
	VZEROUPPER
	RET

// MASK sets out to the lanes whose input row hv + hs (hs in Y9) and column
// wv + ws (ws in Y10) lie inside the image (h in Y7, w in Y8, -1 in Y6).
// Clobbers Y14, Y15.
#define MASK(hv, wv, out) \
	VPADDD   hv, Y9, Y14; \
	VPADDD   wv, Y10, Y15; \
	VPCMPGTD Y6, Y14, out; \
	VPCMPGTD Y14, Y7, Y14; \
	VPAND    Y14, out, out; \
	VPCMPGTD Y6, Y15, Y14; \
	VPAND    Y14, out, out; \
	VPCMPGTD Y15, Y8, Y15; \
	VPAND    Y15, out, out

// LOAD_HALF stores at off(DI) the 8 floats src[R10 + j] of the lanes in
// mask, 0 in the others.
#define LOAD_HALF(mask, off) \
	VMASKMOVPS (SI)(R10*4), mask, Y14; \
	VMOVUPS    Y14, off(DI)

// GATHER_HALF stores at off(DI) the 8 floats src[flat + is] (flat lanes in
// flat, is in Y11) of the lanes in mask, 0 in the others.
#define GATHER_HALF(flat, mask, off) \
	VPADDD     flat, Y11, Y9; \
	VMOVDQU    mask, Y15; \
	VPXOR      Y14, Y14, Y14; \
	VGATHERDPS Y15, (SI)(Y9*4), Y14; \
	VMOVUPS    Y14, off(DI)

// func gatherPanels16(dst, src *float32, panels, rows int, lanes *int32, contig *uint8, rowOffs *int32, h, w int)
//
// Packs panels panels of rows rows of 16 floats each. Panel p has the lane
// offsets L = lanes[48p : 48p+48] and writes dst[16*rows*p:]. For row r and
// lane j, with ih = L[j] + rowOffs[3r], iw = L[16+j] + rowOffs[3r+1]:
// dst[16*(rows*p + r) + j] = src[L[32+j] + rowOffs[3r+2]] when
// 0 <= ih < h and 0 <= iw < w, else 0. Elements outside the image are never
// read. Bit 0 (bit 1) of contig[p] says that lanes 0-7 (8-15) have
// consecutive flat offsets (L[32+j] = L[32] + j, or L[40] + j - 8), which
// masked loads then read instead of gathers. The lane masks are computed
// again only when a row's (ih, iw) offsets differ from the previous row's.
TEXT ·gatherPanels16(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ panels+16(FP), R8
	MOVQ lanes+32(FP), AX
	MOVQ contig+40(FP), DX
	VPCMPEQD Y6, Y6, Y6 // -1
	MOVQ h+56(FP), R13
	VMOVD R13, X7
	VPBROADCASTD X7, Y7
	MOVQ w+64(FP), R13
	VMOVD R13, X8
	VPBROADCASTD X8, Y8
	TESTQ R8, R8
	JZ    done
	MOVQ rows+24(FP), CX
	TESTQ CX, CX
	JZ    done

panel:
	VMOVDQU 0(AX), Y0   // row offsets of lanes 0-7
	VMOVDQU 32(AX), Y1  // lanes 8-15
	VMOVDQU 64(AX), Y2  // column offsets
	VMOVDQU 96(AX), Y3
	VMOVDQU 128(AX), Y4 // flat offsets
	VMOVDQU 160(AX), Y5
	MOVLQSX 128(AX), R11 // flat offset of lane 0
	MOVLQSX 160(AX), R12 // flat offset of lane 8
	MOVBQZX (DX), R9
	MOVQ rowOffs+48(FP), BX
	MOVQ rows+24(FP), CX
	JMP  masks

row:
	MOVQ 0(BX), R14
	CMPQ R14, -12(BX)
	JEQ  load

masks:
	VPBROADCASTD 0(BX), Y9
	VPBROADCASTD 4(BX), Y10
	MASK(Y0, Y2, Y12)
	MASK(Y1, Y3, Y13)

load:
	MOVLQSX 8(BX), R13
	TESTQ $1, R9
	JZ    gather0
	LEAQ  (R13)(R11*1), R10
	LOAD_HALF(Y12, 0)
	JMP   half1

gather0:
	VPBROADCASTD 8(BX), Y11
	GATHER_HALF(Y4, Y12, 0)

half1:
	TESTQ $2, R9
	JZ    gather1
	LEAQ  (R13)(R12*1), R10
	LOAD_HALF(Y13, 32)
	JMP   next

gather1:
	VPBROADCASTD 8(BX), Y11
	GATHER_HALF(Y5, Y13, 32)

next:
	ADDQ $12, BX
	ADDQ $64, DI
	DECQ CX
	JNZ  row
	ADDQ $192, AX
	INCQ DX
	DECQ R8
	JNZ  panel

done:
	VZEROUPPER
	RET

// TRANSPOSE8 transposes the 8x8 block whose rows start at src, src+DX,
// ..., src+7*DX (src = srcoff(SI) for the first four rows, srcoff(R8) for
// the last four, R8 = SI + 4*DX, R9 = 3*DX) into dstoff(DI) (row stride 64
// bytes).
#define TRANSPOSE8(srcoff, dstoff) \
	VMOVUPS srcoff(SI), Y0; \
	VMOVUPS srcoff(SI)(DX*1), Y1; \
	VMOVUPS srcoff(SI)(DX*2), Y2; \
	VMOVUPS srcoff(SI)(R9*1), Y3; \
	VMOVUPS srcoff(R8), Y4; \
	VMOVUPS srcoff(R8)(DX*1), Y5; \
	VMOVUPS srcoff(R8)(DX*2), Y6; \
	VMOVUPS srcoff(R8)(R9*1), Y7; \
	VUNPCKLPS Y1, Y0, Y8; \
	VUNPCKHPS Y1, Y0, Y9; \
	VUNPCKLPS Y3, Y2, Y10; \
	VUNPCKHPS Y3, Y2, Y11; \
	VUNPCKLPS Y5, Y4, Y12; \
	VUNPCKHPS Y5, Y4, Y13; \
	VUNPCKLPS Y7, Y6, Y14; \
	VUNPCKHPS Y7, Y6, Y15; \
	VSHUFPS $0x44, Y10, Y8, Y0; \
	VSHUFPS $0xEE, Y10, Y8, Y1; \
	VSHUFPS $0x44, Y11, Y9, Y2; \
	VSHUFPS $0xEE, Y11, Y9, Y3; \
	VSHUFPS $0x44, Y14, Y12, Y4; \
	VSHUFPS $0xEE, Y14, Y12, Y5; \
	VSHUFPS $0x44, Y15, Y13, Y6; \
	VSHUFPS $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15; \
	VMOVUPS Y8, dstoff(DI); \
	VMOVUPS Y9, dstoff+64(DI); \
	VMOVUPS Y10, dstoff+128(DI); \
	VMOVUPS Y11, dstoff+192(DI); \
	VMOVUPS Y12, dstoff+256(DI); \
	VMOVUPS Y13, dstoff+320(DI); \
	VMOVUPS Y14, dstoff+384(DI); \
	VMOVUPS Y15, dstoff+448(DI)

// func transpose16(dst, src *float32, ld, blockStride, blocks int)
//
// Transposes blocks 16x16 blocks: block b has rows src[b*blockStride +
// i*ld:][:16] for i < 16 and goes to dst[256b:] as dst[256b + 16j + i] =
// src[b*blockStride + i*ld + j]. ld and blockStride are in floats.
TEXT ·transpose16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R9
	MOVQ blockStride+24(FP), R10
	SHLQ $2, R10
	MOVQ blocks+32(FP), CX
	TESTQ CX, CX
	JZ    tdone

block:
	LEAQ (SI)(DX*4), R8
	TRANSPOSE8(0, 0)
	TRANSPOSE8(32, 512)
	LEAQ (R8)(DX*4), SI
	LEAQ (SI)(DX*4), R8
	TRANSPOSE8(0, 32)
	TRANSPOSE8(32, 544)
	// Back to the block's first row, then on to the next block.
	MOVQ DX, R11
	SHLQ $3, R11
	SUBQ R11, SI
	ADDQ R10, SI
	ADDQ $1024, DI
	DECQ CX
	JNZ  block

tdone:
	VZEROUPPER
	RET
