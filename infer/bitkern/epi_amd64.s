//go:build amd64 && !purego

#include "textflag.h"

// func lifAVX2(T, rows, groups int, acc *int32, accT, ldd int, scale, shift, gate *float32,
//	res *byte, resT, ldr, resMode int, out *byte, outT, ldo int, consts *lifAsmConsts, soft, lastMask int)
//
// The LIF epilogue for 8 channels at a time (one group; groups per pixel,
// rows pixels), the T steps of a neuron in order with its membrane in Y7.
// Strides are in bytes: step t, pixel q, group g reads the int32 sums at
// acc + t*accT + q*ldd + 32g and writes the 8 spike bits to the byte
// out + t*outT + q*ldo + g. resMode 1 adds float32 residuals at
// res + t*resT + q*ldr + 32g, resMode 2 packed spikes (the byte at
// res + t*resT + q*ldr + g, expanded to 0/1 floats). The float operations
// and their order are those of Epilogue and spiking.LIFForward, one IEEE
// rounding each (no FMA), so the results equal the Go epilogue's.
TEXT ·lifAVX2(SB), NOSPLIT, $0-152
	MOVQ consts+128(FP), AX
	VBROADCASTSS 0(AX), Y15     // k
	VBROADCASTSS 4(AX), Y14     // a (input gain)
	VBROADCASTSS 8(AX), Y13     // v_threshold
	VBROADCASTSS 12(AX), Y12    // v_reset
	VBROADCASTSS 16(AX), Y11    // 1.0
	VMOVDQU 64(AX), Y10         // dword i = 1<<i
	MOVQ acc+24(FP), R11
	MOVQ res+72(FP), R12
	MOVQ out+104(FP), R13
	MOVQ rows+8(FP), R8

rowloop:
	XORQ R9, R9

grouploop:
	MOVQ R9, CX
	SHLQ $5, CX                 // 32 bytes per group of float32/int32
	MOVQ scale+48(FP), AX
	VMOVUPS (AX)(CX*1), Y9
	MOVQ shift+56(FP), AX
	VMOVUPS (AX)(CX*1), Y8
	VMOVAPS Y12, Y7             // V_0 = v_reset
	LEAQ (R11)(CX*1), SI        // sums
	LEAQ (R12)(CX*1), DI        // float residuals
	CMPQ resMode+96(FP), $2
	JNE  resset
	LEAQ (R12)(R9*1), DI        // spike residuals
resset:
	LEAQ (R13)(R9*1), DX        // output byte
	MOVQ gate+64(FP), BX
	MOVQ $0xff, R15
	MOVQ groups+16(FP), AX
	DECQ AX
	CMPQ R9, AX
	JNE  maskset
	MOVQ lastMask+144(FP), R15
maskset:
	MOVQ T+0(FP), R10

steploop:
	VCVTDQ2PS (SI), Y0          // x = float32(acc), exact
	VBROADCASTSS (BX), Y1
	VMULPS Y1, Y0, Y0           // x = x*gate
	VMULPS Y9, Y0, Y0
	VADDPS Y8, Y0, Y0           // y = float32(x*scale) + shift
	CMPQ resMode+96(FP), $1
	JLT  lif
	JGT  resspikes
	VADDPS (DI), Y0, Y0         // y = y + residual
	JMP  lif
resspikes:
	VPBROADCASTB (DI), Y1
	VPAND Y10, Y1, Y1
	VPCMPEQD Y10, Y1, Y1
	VANDPS Y11, Y1, Y1          // 0/1 per channel
	VADDPS Y1, Y0, Y0           // y = y + spike

lif:
	VSUBPS Y12, Y7, Y1          // d = V - v_reset
	VMULPS Y15, Y1, Y1          // l = d*k
	VSUBPS Y1, Y7, Y1           // h0 = V - l
	VMULPS Y14, Y0, Y0          // ax = a*y
	VADDPS Y0, Y1, Y1           // H = h0 + ax
	VCMPPS $0x0d, Y13, Y1, Y2   // H >= v_threshold (GE_OS: false for NaN)
	VANDPS Y11, Y2, Y3          // S = 1.0 or 0.0
	CMPQ soft+136(FP), $0
	JNE  softreset
	VSUBPS Y12, Y1, Y4          // r = H - v_reset
	VMULPS Y4, Y3, Y3           // p = S*r
	VSUBPS Y3, Y1, Y7           // V = H - p
	JMP  store
softreset:
	VMULPS Y13, Y3, Y3          // p = S*v_threshold
	VSUBPS Y3, Y1, Y7           // V = H - p
store:
	VMOVMSKPS Y2, AX
	ANDQ R15, AX
	MOVB AX, (DX)
	ADDQ accT+32(FP), SI
	ADDQ resT+80(FP), DI
	ADDQ outT+112(FP), DX
	ADDQ $4, BX
	DECQ R10
	JNZ  steploop

	INCQ R9
	CMPQ R9, groups+16(FP)
	JLT  grouploop
	ADDQ ldd+40(FP), R11
	ADDQ ldr+88(FP), R12
	ADDQ ldo+120(FP), R13
	DECQ R8
	JNZ  rowloop
	VZEROUPPER
	RET

// func lifAVX512(T, rows, groups int, acc *int32, accT, ldd int, scale, shift, gate *float32,
//	res *byte, resT, ldr, resMode int, out *byte, outT, ldo int, consts *lifAsmConsts, soft, lastMask int)
//
// lifAVX2 with 16 channels per group (AVX512F): group g of pixel q reads
// 64 bytes of sums at acc + t*accT + q*ldd + 64g and writes 16 spike bits
// to the two bytes at out + t*outT + q*ldo + 2g; spike residuals are the
// two bytes at res + t*resT + q*ldr + 2g. The comparison goes to a mask
// register, S = 1.0 or 0.0 is a zero-masked move, and the same float32
// operations as lifAVX2 follow in the same order.
TEXT ·lifAVX512(SB), NOSPLIT, $0-152
	MOVQ consts+128(FP), AX
	VBROADCASTSS 0(AX), Z15     // k
	VBROADCASTSS 4(AX), Z14     // a (input gain)
	VBROADCASTSS 8(AX), Z13     // v_threshold
	VBROADCASTSS 12(AX), Z12    // v_reset
	VBROADCASTSS 16(AX), Z11    // 1.0
	VMOVDQU32 64(AX), Z10       // dword i = 1<<i
	MOVQ acc+24(FP), R11
	MOVQ res+72(FP), R12
	MOVQ out+104(FP), R13
	MOVQ rows+8(FP), R8

rowloop:
	XORQ R9, R9

grouploop:
	MOVQ R9, CX
	SHLQ $6, CX                 // 64 bytes per group of float32/int32
	MOVQ scale+48(FP), AX
	VMOVUPS (AX)(CX*1), Z9
	MOVQ shift+56(FP), AX
	VMOVUPS (AX)(CX*1), Z8
	VMOVAPS Z12, Z7             // V_0 = v_reset
	LEAQ (R11)(CX*1), SI        // sums
	LEAQ (R12)(CX*1), DI        // float residuals
	CMPQ resMode+96(FP), $2
	JNE  resset
	LEAQ (R12)(R9*2), DI        // spike residuals
resset:
	LEAQ (R13)(R9*2), DX        // output bytes
	MOVQ gate+64(FP), BX
	MOVQ $0xffff, R15
	MOVQ groups+16(FP), AX
	DECQ AX
	CMPQ R9, AX
	JNE  maskset
	MOVQ lastMask+144(FP), R15
maskset:
	MOVQ T+0(FP), R10

steploop:
	VCVTDQ2PS (SI), Z0          // x = float32(acc), exact
	VBROADCASTSS (BX), Z1
	VMULPS Z1, Z0, Z0           // x = x*gate
	VMULPS Z9, Z0, Z0
	VADDPS Z8, Z0, Z0           // y = float32(x*scale) + shift
	CMPQ resMode+96(FP), $1
	JLT  lif
	JGT  resspikes
	VADDPS (DI), Z0, Z0         // y = y + residual
	JMP  lif
resspikes:
	MOVWLZX (DI), AX
	VPBROADCASTD AX, Z1
	VPANDD Z10, Z1, Z1
	VPCMPEQD Z10, Z1, K2
	VMOVAPS.Z Z11, K2, Z1       // 0/1 per channel
	VADDPS Z1, Z0, Z0           // y = y + spike

lif:
	VSUBPS Z12, Z7, Z1          // d = V - v_reset
	VMULPS Z15, Z1, Z1          // l = d*k
	VSUBPS Z1, Z7, Z1           // h0 = V - l
	VMULPS Z14, Z0, Z0          // ax = a*y
	VADDPS Z0, Z1, Z1           // H = h0 + ax
	VCMPPS $0x0d, Z13, Z1, K1   // H >= v_threshold (GE_OS: false for NaN)
	VMOVAPS.Z Z11, K1, Z3       // S = 1.0 or 0.0
	CMPQ soft+136(FP), $0
	JNE  softreset
	VSUBPS Z12, Z1, Z4          // r = H - v_reset
	VMULPS Z4, Z3, Z3           // p = S*r
	VSUBPS Z3, Z1, Z7           // V = H - p
	JMP  store
softreset:
	VMULPS Z13, Z3, Z3          // p = S*v_threshold
	VSUBPS Z3, Z1, Z7           // V = H - p
store:
	KMOVW K1, AX
	ANDQ R15, AX
	MOVW AX, (DX)
	ADDQ accT+32(FP), SI
	ADDQ resT+80(FP), DI
	ADDQ outT+112(FP), DX
	ADDQ $4, BX
	DECQ R10
	JNZ  steploop

	INCQ R9
	CMPQ R9, groups+16(FP)
	JLT  grouploop
	ADDQ ldd+40(FP), R11
	ADDQ ldr+88(FP), R12
	ADDQ ldo+120(FP), R13
	DECQ R8
	JNZ  rowloop
	VZEROUPPER
	RET
