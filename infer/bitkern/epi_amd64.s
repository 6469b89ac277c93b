//go:build amd64 && !purego

#include "textflag.h"

// The LIF epilogues, for 8 channels at a time (AVX2) and 16 (AVX512F):
//
// func lifAVX2(T, rows, groups int, acc *int32, accT, ldd int, scale, shift, gate *float32,
//	res *byte, resT, ldr, resMode int, out *byte, outT, ldo int, consts *asmConsts, soft, lastMask, floatIn int)
//
// For every pixel q < rows and group g < groups, the T steps of the
// group's neurons run in order with the membranes in one register. Strides
// are in bytes: step t, pixel q, group g reads the int32 sums (float32
// inputs when floatIn is set) at acc + t*accT + q*ldd + 4*L*g (L = 8 or 16
// lanes) and writes the L spike bits to out + t*outT + q*ldo + L*g/8.
// resMode 1 adds float32 residuals at res + t*resT + q*ldr + 4*L*g, resMode
// 2 packed spikes (the L bits at res + t*resT + q*ldr + L*g/8, expanded to
// 0/1 floats); float inputs take no residual. The float operations and
// their order are those of Epilogue and spiking.LIFForward, one IEEE
// rounding each (no FMA), so the results equal the Go epilogue's. Each
// combination of input type, residual mode and reset has its own step
// loop, so the loops carry no tests.

#define LOAD_AVX2 \
	VCVTDQ2PS (SI), Y0; \
	VBROADCASTSS (BX), Y1; \
	VMULPS Y1, Y0, Y0; \
	VMULPS Y9, Y0, Y0; \
	VADDPS Y8, Y0, Y0

#define LOADF_AVX2 \
	VMOVUPS (SI), Y0; \
	VBROADCASTSS (BX), Y1; \
	VMULPS Y1, Y0, Y0; \
	VMULPS Y9, Y0, Y0; \
	VADDPS Y8, Y0, Y0

#define RESF_AVX2 \
	VADDPS (DI), Y0, Y0; \
	ADDQ resT+80(FP), DI

#define RESS_AVX2 \
	VPBROADCASTB (DI), Y1; \
	VPAND Y10, Y1, Y1; \
	VPCMPEQD Y10, Y1, Y1; \
	VANDPS Y11, Y1, Y1; \
	VADDPS Y1, Y0, Y0; \
	ADDQ resT+80(FP), DI

#define CHARGE_AVX2 \
	VSUBPS Y12, Y7, Y1; \
	VMULPS Y15, Y1, Y1; \
	VSUBPS Y1, Y7, Y1; \
	VMULPS Y14, Y0, Y0; \
	VADDPS Y0, Y1, Y1; \
	VCMPPS $0x0d, Y13, Y1, Y2; \
	VANDPS Y11, Y2, Y3

#define HARD_AVX2 \
	VSUBPS Y12, Y1, Y4; \
	VMULPS Y4, Y3, Y3; \
	VSUBPS Y3, Y1, Y7

#define SOFT_AVX2 \
	VMULPS Y13, Y3, Y3; \
	VSUBPS Y3, Y1, Y7

#define STORE_AVX2 \
	VMOVMSKPS Y2, AX; \
	ANDQ R15, AX; \
	MOVB AX, (DX); \
	ADDQ accT+32(FP), SI; \
	ADDQ outT+112(FP), DX; \
	ADDQ $4, BX; \
	DECQ R10

TEXT ·lifAVX2(SB), NOSPLIT, $0-160
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
	SHLQ $5, CX
	MOVQ scale+48(FP), AX
	VMOVUPS (AX)(CX*1), Y9
	MOVQ shift+56(FP), AX
	VMOVUPS (AX)(CX*1), Y8
	VMOVAPS Y12, Y7         // V_0 = v_reset
	LEAQ (R11)(CX*1), SI        // sums
	LEAQ (R12)(CX*1), DI        // float residuals
	CMPQ resMode+96(FP), $2
	JNE  resset
	LEAQ (R12)(R9*1), DI        // spike residuals
resset:
	LEAQ (R13)(R9*1), DX        // output
	MOVQ gate+64(FP), BX
	MOVQ $0xff, R15
	MOVQ groups+16(FP), AX
	DECQ AX
	CMPQ R9, AX
	JNE  maskset
	MOVQ lastMask+144(FP), R15
maskset:
	MOVQ T+0(FP), R10
	CMPQ floatIn+152(FP), $0
	JNE  floatloops
	CMPQ soft+136(FP), $0
	JNE  softloops
	CMPQ resMode+96(FP), $1
	JLT  hardnone
	JEQ  hardfloat
	JMP  hardspikes
softloops:
	CMPQ resMode+96(FP), $1
	JLT  softnone
	JEQ  softfloat
	JMP  softspikes
floatloops:
	CMPQ soft+136(FP), $0
	JNE  fsoftnone
	JMP  fhardnone

hardnone:
	LOAD_AVX2
	CHARGE_AVX2
	HARD_AVX2
	STORE_AVX2
	JNZ  hardnone
	JMP  nextgroup

hardfloat:
	LOAD_AVX2
	RESF_AVX2
	CHARGE_AVX2
	HARD_AVX2
	STORE_AVX2
	JNZ  hardfloat
	JMP  nextgroup

hardspikes:
	LOAD_AVX2
	RESS_AVX2
	CHARGE_AVX2
	HARD_AVX2
	STORE_AVX2
	JNZ  hardspikes
	JMP  nextgroup

softnone:
	LOAD_AVX2
	CHARGE_AVX2
	SOFT_AVX2
	STORE_AVX2
	JNZ  softnone
	JMP  nextgroup

softfloat:
	LOAD_AVX2
	RESF_AVX2
	CHARGE_AVX2
	SOFT_AVX2
	STORE_AVX2
	JNZ  softfloat
	JMP  nextgroup

softspikes:
	LOAD_AVX2
	RESS_AVX2
	CHARGE_AVX2
	SOFT_AVX2
	STORE_AVX2
	JNZ  softspikes
	JMP  nextgroup

fhardnone:
	LOADF_AVX2
	CHARGE_AVX2
	HARD_AVX2
	STORE_AVX2
	JNZ  fhardnone
	JMP  nextgroup

fsoftnone:
	LOADF_AVX2
	CHARGE_AVX2
	SOFT_AVX2
	STORE_AVX2
	JNZ  fsoftnone
	JMP  nextgroup

nextgroup:
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

#define LOAD_AVX512 \
	VCVTDQ2PS (SI), Z0; \
	VBROADCASTSS (BX), Z1; \
	VMULPS Z1, Z0, Z0; \
	VMULPS Z9, Z0, Z0; \
	VADDPS Z8, Z0, Z0

#define LOADF_AVX512 \
	VMOVUPS (SI), Z0; \
	VBROADCASTSS (BX), Z1; \
	VMULPS Z1, Z0, Z0; \
	VMULPS Z9, Z0, Z0; \
	VADDPS Z8, Z0, Z0

#define RESF_AVX512 \
	VADDPS (DI), Z0, Z0; \
	ADDQ resT+80(FP), DI

#define RESS_AVX512 \
	MOVWLZX (DI), AX; \
	VPBROADCASTD AX, Z1; \
	VPANDD Z10, Z1, Z1; \
	VPCMPEQD Z10, Z1, K2; \
	VMOVAPS.Z Z11, K2, Z1; \
	VADDPS Z1, Z0, Z0; \
	ADDQ resT+80(FP), DI

#define CHARGE_AVX512 \
	VSUBPS Z12, Z7, Z1; \
	VMULPS Z15, Z1, Z1; \
	VSUBPS Z1, Z7, Z1; \
	VMULPS Z14, Z0, Z0; \
	VADDPS Z0, Z1, Z1; \
	VCMPPS $0x0d, Z13, Z1, K1; \
	VMOVAPS.Z Z11, K1, Z3

#define HARD_AVX512 \
	VSUBPS Z12, Z1, Z4; \
	VMULPS Z4, Z3, Z3; \
	VSUBPS Z3, Z1, Z7

#define SOFT_AVX512 \
	VMULPS Z13, Z3, Z3; \
	VSUBPS Z3, Z1, Z7

#define STORE_AVX512 \
	KMOVW K1, AX; \
	ANDQ R15, AX; \
	MOVW AX, (DX); \
	ADDQ accT+32(FP), SI; \
	ADDQ outT+112(FP), DX; \
	ADDQ $4, BX; \
	DECQ R10

TEXT ·lifAVX512(SB), NOSPLIT, $0-160
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
	SHLQ $6, CX
	MOVQ scale+48(FP), AX
	VMOVUPS (AX)(CX*1), Z9
	MOVQ shift+56(FP), AX
	VMOVUPS (AX)(CX*1), Z8
	VMOVAPS Z12, Z7         // V_0 = v_reset
	LEAQ (R11)(CX*1), SI        // sums
	LEAQ (R12)(CX*1), DI        // float residuals
	CMPQ resMode+96(FP), $2
	JNE  resset
	LEAQ (R12)(R9*2), DI        // spike residuals
resset:
	LEAQ (R13)(R9*2), DX        // output
	MOVQ gate+64(FP), BX
	MOVQ $0xffff, R15
	MOVQ groups+16(FP), AX
	DECQ AX
	CMPQ R9, AX
	JNE  maskset
	MOVQ lastMask+144(FP), R15
maskset:
	MOVQ T+0(FP), R10
	CMPQ floatIn+152(FP), $0
	JNE  floatloops
	CMPQ soft+136(FP), $0
	JNE  softloops
	CMPQ resMode+96(FP), $1
	JLT  hardnone
	JEQ  hardfloat
	JMP  hardspikes
softloops:
	CMPQ resMode+96(FP), $1
	JLT  softnone
	JEQ  softfloat
	JMP  softspikes
floatloops:
	CMPQ soft+136(FP), $0
	JNE  fsoftnone
	JMP  fhardnone

hardnone:
	LOAD_AVX512
	CHARGE_AVX512
	HARD_AVX512
	STORE_AVX512
	JNZ  hardnone
	JMP  nextgroup

hardfloat:
	LOAD_AVX512
	RESF_AVX512
	CHARGE_AVX512
	HARD_AVX512
	STORE_AVX512
	JNZ  hardfloat
	JMP  nextgroup

hardspikes:
	LOAD_AVX512
	RESS_AVX512
	CHARGE_AVX512
	HARD_AVX512
	STORE_AVX512
	JNZ  hardspikes
	JMP  nextgroup

softnone:
	LOAD_AVX512
	CHARGE_AVX512
	SOFT_AVX512
	STORE_AVX512
	JNZ  softnone
	JMP  nextgroup

softfloat:
	LOAD_AVX512
	RESF_AVX512
	CHARGE_AVX512
	SOFT_AVX512
	STORE_AVX512
	JNZ  softfloat
	JMP  nextgroup

softspikes:
	LOAD_AVX512
	RESS_AVX512
	CHARGE_AVX512
	SOFT_AVX512
	STORE_AVX512
	JNZ  softspikes
	JMP  nextgroup

fhardnone:
	LOADF_AVX512
	CHARGE_AVX512
	HARD_AVX512
	STORE_AVX512
	JNZ  fhardnone
	JMP  nextgroup

fsoftnone:
	LOADF_AVX512
	CHARGE_AVX512
	SOFT_AVX512
	STORE_AVX512
	JNZ  fsoftnone
	JMP  nextgroup

nextgroup:
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
