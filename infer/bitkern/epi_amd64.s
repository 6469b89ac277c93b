//go:build amd64 && !purego

#include "textflag.h"

// One time step of the LIF epilogues, for 8 channels at a time (AVX2) and
// 16 (AVX512F):
//
// func lifStepAVX2(rows, groups int, acc *int32, ldd int, scale, shift, gate *float32,
//	res *byte, ldr, resMode int, out *byte, ldo int, consts *asmConsts, reset, lastMask, floatIn int,
//	v *float32, ldv, first int)
//
// For every group g < groups and pixel q < rows (pixels inner, so that the
// neurons in flight are independent: a neuron's steps are a chain of
// dependent float operations, its next step is the next call), one LIF
// step of the group's L (8 or 16) neurons. Strides are in bytes: the int32
// sums (float32 inputs when floatIn is set) are at acc + q*ldd + 4*L*g, the
// membranes at v + q*ldv + 4*L*g (read as v_reset when first is set), the
// L spike bits go to out + q*ldo + L*g/8. resMode 1 adds float32 residuals
// at res + q*ldr + 4*L*g, resMode 2 packed spikes (the L bits at res +
// q*ldr + L*g/8, expanded to 0/1 floats); float inputs take no residual.
// The float operations and their order are those of Epilogue and
// spiking.LIFForward, one IEEE rounding each (no FMA), but for the AVX-512
// shortcuts documented at RESS_16, HARD_16 and LOAD0_16, which change no
// spike: the spikes equal the Go epilogue's. reset is 0 for the hard
// reset, 1 for the soft one, and (AVX-512 only) 2 for the hard reset with
// v_reset = +0 and a gate of 1. Each combination of input type, residual
// mode and reset has its own pixel loop, so the loops carry no tests; the
// membranes of the first step are loaded, with stride 0, from consts'
// v_reset vector.
//
// Registers: X5 gate, X8 shift, X9 scale, X10 dword i = 1<<i (AVX2),
// X11 1.0, X12 v_reset, X13 v_threshold, X14 input gain a, X15 k; SI
// sums, DI residuals, DX spikes out, R14 membranes out, BX membranes in
// (stride CX), R10 pixels left, R15 the group's lane mask.

#define LOAD_8 \
	VCVTDQ2PS (SI), Y0; \
	VMULPS Y5, Y0, Y0; \
	VMULPS Y9, Y0, Y0; \
	VADDPS Y8, Y0, Y0

#define LOADF_8 \
	VMOVUPS (SI), Y0; \
	VMULPS Y5, Y0, Y0; \
	VMULPS Y9, Y0, Y0; \
	VADDPS Y8, Y0, Y0

#define RESF_8 \
	VADDPS (DI), Y0, Y0

#define RESS_8 \
	VPBROADCASTB (DI), Y1; \
	VPAND Y10, Y1, Y1; \
	VPCMPEQD Y10, Y1, Y1; \
	VANDPS Y11, Y1, Y1; \
	VADDPS Y1, Y0, Y0

#define CHARGE_8 \
	VMOVUPS (BX), Y7; \
	VSUBPS Y12, Y7, Y1; \
	VMULPS Y15, Y1, Y1; \
	VSUBPS Y1, Y7, Y1; \
	VMULPS Y14, Y0, Y0; \
	VADDPS Y0, Y1, Y1; \
	VCMPPS $0x0d, Y13, Y1, Y2; \
	VANDPS Y11, Y2, Y3

#define HARD_8 \
	VSUBPS Y12, Y1, Y4; \
	VMULPS Y4, Y3, Y3; \
	VSUBPS Y3, Y1, Y7

#define SOFT_8 \
	VMULPS Y13, Y3, Y3; \
	VSUBPS Y3, Y1, Y7

#define STORE_8 \
	VMOVUPS Y7, (R14); \
	VMOVMSKPS Y2, AX; \
	ANDQ R15, AX; \
	MOVB AX, (DX); \
	ADDQ R11, SI; \
	ADDQ R12, DI; \
	ADDQ R13, DX; \
	ADDQ R8, R14; \
	ADDQ CX, BX; \
	DECQ R10

TEXT ·lifStepAVX2(SB), NOSPLIT, $0-152
	MOVQ consts+96(FP), AX
	VBROADCASTSS 0(AX), Y15     // k
	VBROADCASTSS 4(AX), Y14     // a (input gain)
	VBROADCASTSS 8(AX), Y13     // v_threshold
	VBROADCASTSS 12(AX), Y12    // v_reset
	VBROADCASTSS 16(AX), Y11    // 1.0
	VMOVDQU 64(AX), Y10       // dword i = 1<<i
	MOVQ gate+48(FP), AX
	VBROADCASTSS (AX), Y5
	MOVQ ldd+24(FP), R11
	MOVQ ldr+64(FP), R12
	MOVQ ldo+88(FP), R13
	MOVQ ldv+136(FP), R8
	XORQ R9, R9

grouploop:
	MOVQ R9, AX
	SHLQ $5, AX            // the group's offset in float arrays
	MOVQ scale+32(FP), SI
	VMOVUPS (SI)(AX*1), Y9
	MOVQ shift+40(FP), SI
	VMOVUPS (SI)(AX*1), Y8
	MOVQ v+128(FP), R14
	ADDQ AX, R14
	MOVQ R14, BX
	MOVQ R8, CX
	CMPQ first+144(FP), $0
	JEQ  vset
	MOVQ consts+96(FP), BX
	ADDQ $128, BX           // v_reset in every lane
	XORQ CX, CX
vset:
	MOVQ acc+16(FP), SI
	ADDQ AX, SI
	MOVQ res+56(FP), DI
	ADDQ AX, DI             // float residuals
	CMPQ resMode+72(FP), $2
	JNE  resset
	MOVQ res+56(FP), DI
	LEAQ (DI)(R9*1), DI     // spike residuals
resset:
	MOVQ out+80(FP), DX
	LEAQ (DX)(R9*1), DX
	MOVQ $0xff, R15
	MOVQ groups+8(FP), AX
	DECQ AX
	CMPQ R9, AX
	JNE  maskset
	MOVQ lastMask+112(FP), R15
maskset:
	MOVQ rows+0(FP), R10
	CMPQ floatIn+120(FP), $0
	JNE  floatloops
	CMPQ reset+104(FP), $0
	JNE  softloops
	CMPQ resMode+72(FP), $1
	JLT  hardnone
	JEQ  hardfloat
	JMP  hardspikes
softloops:
	CMPQ resMode+72(FP), $1
	JLT  softnone
	JEQ  softfloat
	JMP  softspikes
floatloops:
	CMPQ reset+104(FP), $0
	JNE  fsoftnone
	JMP  fhardnone

hardnone:
	LOAD_8
	CHARGE_8
	HARD_8
	STORE_8
	JNZ  hardnone
	JMP  nextgroup

hardfloat:
	LOAD_8
	RESF_8
	CHARGE_8
	HARD_8
	STORE_8
	JNZ  hardfloat
	JMP  nextgroup

hardspikes:
	LOAD_8
	RESS_8
	CHARGE_8
	HARD_8
	STORE_8
	JNZ  hardspikes
	JMP  nextgroup

softnone:
	LOAD_8
	CHARGE_8
	SOFT_8
	STORE_8
	JNZ  softnone
	JMP  nextgroup

softfloat:
	LOAD_8
	RESF_8
	CHARGE_8
	SOFT_8
	STORE_8
	JNZ  softfloat
	JMP  nextgroup

softspikes:
	LOAD_8
	RESS_8
	CHARGE_8
	SOFT_8
	STORE_8
	JNZ  softspikes
	JMP  nextgroup

fhardnone:
	LOADF_8
	CHARGE_8
	HARD_8
	STORE_8
	JNZ  fhardnone
	JMP  nextgroup

fsoftnone:
	LOADF_8
	CHARGE_8
	SOFT_8
	STORE_8
	JNZ  fsoftnone
	JMP  nextgroup

nextgroup:
	INCQ R9
	CMPQ R9, groups+8(FP)
	JLT  grouploop
	VZEROUPPER
	RET

#define LOAD_16 \
	VCVTDQ2PS (SI), Z0; \
	VMULPS Z5, Z0, Z0; \
	VMULPS Z9, Z0, Z0; \
	VADDPS Z8, Z0, Z0

#define LOADF_16 \
	VMOVUPS (SI), Z0; \
	VMULPS Z5, Z0, Z0; \
	VMULPS Z9, Z0, Z0; \
	VADDPS Z8, Z0, Z0

#define RESF_16 \
	VADDPS (DI), Z0, Z0

// The AVX-512 loops add residual spikes as 1 under the bits as a mask and
// leave the other lanes as they are, where y + 0 would turn -0 into +0,
// which no comparison and no non-zero sum tells apart.
#define RESS_16 \
	KMOVW (DI), K2; \
	VADDPS Z11, Z0, K2, Z0

#define CHARGE_16 \
	VMOVUPS (BX), Z7; \
	VSUBPS Z12, Z7, Z1; \
	VMULPS Z15, Z1, Z1; \
	VSUBPS Z1, Z7, Z1; \
	VMULPS Z14, Z0, Z0; \
	VADDPS Z0, Z1, Z1; \
	VCMPPS $0x0d, Z13, Z1, K1

// The AVX-512 resets subtract under the spike mask (K1), into H: where
// S = 1, H - 1*x is H - x exactly; where S = 0 the float engine's H - 0*x
// is H too, but for the sign of a zero, and for x (= H - v_reset)
// infinite or NaN, where it is NaN and H is kept: H did not fire, so it is
// -inf or NaN (or +inf under an infinite threshold), and such a membrane
// never fires again (V - (V - v_reset)*k is NaN), as NaN does not.
#define HARD_16 \
	VSUBPS Z12, Z1, Z4; \
	VSUBPS Z4, Z1, K1, Z1

#define SOFT_16 \
	VSUBPS Z13, Z1, K1, Z1

#define STORE_16 \
	VMOVUPS Z1, (R14); \
	KMOVW K1, AX; \
	ANDQ R15, AX; \
	MOVW AX, (DX); \
	ADDQ R11, SI; \
	ADDQ R12, DI; \
	ADDQ R13, DX; \
	ADDQ R8, R14; \
	ADDQ CX, BX; \
	DECQ R10

// The loops of reset mode 2 (hard reset, v_reset = +0, no gate): the
// same operations without those that cannot change a value there: x*1
// (the gate), V - 0 (V - v_reset) and H - 0 (H - v_reset; so the reset
// where S = 1 is H - H).
#define LOAD0_16 \
	VCVTDQ2PS (SI), Z0; \
	VMULPS Z9, Z0, Z0; \
	VADDPS Z8, Z0, Z0

#define LOADF0_16 \
	VMOVUPS (SI), Z0; \
	VMULPS Z9, Z0, Z0; \
	VADDPS Z8, Z0, Z0

#define CHARGE0_16 \
	VMOVUPS (BX), Z7; \
	VMULPS Z15, Z7, Z1; \
	VSUBPS Z1, Z7, Z1; \
	VMULPS Z14, Z0, Z0; \
	VADDPS Z0, Z1, Z1; \
	VCMPPS $0x0d, Z13, Z1, K1

#define HARD0_16 \
	VSUBPS Z1, Z1, K1, Z1

TEXT ·lifStepAVX512(SB), NOSPLIT, $0-152
	MOVQ consts+96(FP), AX
	VBROADCASTSS 0(AX), Z15     // k
	VBROADCASTSS 4(AX), Z14     // a (input gain)
	VBROADCASTSS 8(AX), Z13     // v_threshold
	VBROADCASTSS 12(AX), Z12    // v_reset
	VBROADCASTSS 16(AX), Z11    // 1.0
	MOVQ gate+48(FP), AX
	VBROADCASTSS (AX), Z5
	MOVQ ldd+24(FP), R11
	MOVQ ldr+64(FP), R12
	MOVQ ldo+88(FP), R13
	MOVQ ldv+136(FP), R8
	XORQ R9, R9

grouploop:
	MOVQ R9, AX
	SHLQ $6, AX            // the group's offset in float arrays
	MOVQ scale+32(FP), SI
	VMOVUPS (SI)(AX*1), Z9
	MOVQ shift+40(FP), SI
	VMOVUPS (SI)(AX*1), Z8
	MOVQ v+128(FP), R14
	ADDQ AX, R14
	MOVQ R14, BX
	MOVQ R8, CX
	CMPQ first+144(FP), $0
	JEQ  vset
	MOVQ consts+96(FP), BX
	ADDQ $128, BX           // v_reset in every lane
	XORQ CX, CX
vset:
	MOVQ acc+16(FP), SI
	ADDQ AX, SI
	MOVQ res+56(FP), DI
	ADDQ AX, DI             // float residuals
	CMPQ resMode+72(FP), $2
	JNE  resset
	MOVQ res+56(FP), DI
	LEAQ (DI)(R9*2), DI     // spike residuals
resset:
	MOVQ out+80(FP), DX
	LEAQ (DX)(R9*2), DX
	MOVQ $0xffff, R15
	MOVQ groups+8(FP), AX
	DECQ AX
	CMPQ R9, AX
	JNE  maskset
	MOVQ lastMask+112(FP), R15
maskset:
	MOVQ rows+0(FP), R10
	CMPQ floatIn+120(FP), $0
	JNE  floatloops
	CMPQ reset+104(FP), $1
	JEQ  softloops
	JGT  zeroloops
	CMPQ resMode+72(FP), $1
	JLT  hardnone
	JEQ  hardfloat
	JMP  hardspikes
softloops:
	CMPQ resMode+72(FP), $1
	JLT  softnone
	JEQ  softfloat
	JMP  softspikes
zeroloops:
	CMPQ resMode+72(FP), $1
	JLT  zhardnone
	JEQ  zhardfloat
	JMP  zhardspikes
floatloops:
	CMPQ reset+104(FP), $1
	JEQ  fsoftnone
	JGT  fzhardnone
	JMP  fhardnone

hardnone:
	LOAD_16
	CHARGE_16
	HARD_16
	STORE_16
	JNZ  hardnone
	JMP  nextgroup

hardfloat:
	LOAD_16
	RESF_16
	CHARGE_16
	HARD_16
	STORE_16
	JNZ  hardfloat
	JMP  nextgroup

hardspikes:
	LOAD_16
	RESS_16
	CHARGE_16
	HARD_16
	STORE_16
	JNZ  hardspikes
	JMP  nextgroup

softnone:
	LOAD_16
	CHARGE_16
	SOFT_16
	STORE_16
	JNZ  softnone
	JMP  nextgroup

softfloat:
	LOAD_16
	RESF_16
	CHARGE_16
	SOFT_16
	STORE_16
	JNZ  softfloat
	JMP  nextgroup

softspikes:
	LOAD_16
	RESS_16
	CHARGE_16
	SOFT_16
	STORE_16
	JNZ  softspikes
	JMP  nextgroup

fhardnone:
	LOADF_16
	CHARGE_16
	HARD_16
	STORE_16
	JNZ  fhardnone
	JMP  nextgroup

fsoftnone:
	LOADF_16
	CHARGE_16
	SOFT_16
	STORE_16
	JNZ  fsoftnone
	JMP  nextgroup

zhardnone:
	LOAD0_16
	CHARGE0_16
	HARD0_16
	STORE_16
	JNZ  zhardnone
	JMP  nextgroup

zhardfloat:
	LOAD0_16
	RESF_16
	CHARGE0_16
	HARD0_16
	STORE_16
	JNZ  zhardfloat
	JMP  nextgroup

zhardspikes:
	LOAD0_16
	RESS_16
	CHARGE0_16
	HARD0_16
	STORE_16
	JNZ  zhardspikes
	JMP  nextgroup

fzhardnone:
	LOADF0_16
	CHARGE0_16
	HARD0_16
	STORE_16
	JNZ  fzhardnone
	JMP  nextgroup

nextgroup:
	INCQ R9
	CMPQ R9, groups+8(FP)
	JLT  grouploop
	VZEROUPPER
	RET

// func affineAVX2(rows, groups int, acc *int32, ldd int, scale, shift, gate *float32, out *float32, ldo int)
//
// The float32 output of a fused convolution without residual: for every
// pixel q < rows and group g < groups of 8 channels, x = float32(sum) *
// gate, out = float32(x*scale) + shift (the operations of epiFloatGo, one
// IEEE rounding each), sums at acc + q*ldd, outputs at out + q*ldo (bytes).
TEXT ·affineAVX2(SB), NOSPLIT, $0-72
	MOVQ gate+48(FP), AX
	VBROADCASTSS (AX), Y5
	MOVQ acc+16(FP), SI
	MOVQ out+56(FP), DX
	MOVQ rows+0(FP), R10
	MOVQ ldd+24(FP), R11
	MOVQ ldo+64(FP), R13
	MOVQ scale+32(FP), R8
	MOVQ shift+40(FP), R9

affrowAVX2:
	XORQ AX, AX
	MOVQ groups+8(FP), CX

affgroupAVX2:
	VCVTDQ2PS (SI)(AX*1), Y0
	VMULPS Y5, Y0, Y0
	VMULPS (R8)(AX*1), Y0, Y0
	VADDPS (R9)(AX*1), Y0, Y0
	VMOVUPS Y0, (DX)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ  affgroupAVX2
	ADDQ R11, SI
	ADDQ R13, DX
	DECQ R10
	JNZ  affrowAVX2
	VZEROUPPER
	RET

// func affineAVX512(rows, groups int, acc *int32, ldd int, scale, shift, gate *float32, out *float32, ldo int)
//
// The float32 output of a fused convolution without residual: for every
// pixel q < rows and group g < groups of 16 channels, x = float32(sum) *
// gate, out = float32(x*scale) + shift (the operations of epiFloatGo, one
// IEEE rounding each), sums at acc + q*ldd, outputs at out + q*ldo (bytes).
TEXT ·affineAVX512(SB), NOSPLIT, $0-72
	MOVQ gate+48(FP), AX
	VBROADCASTSS (AX), Z5
	MOVQ acc+16(FP), SI
	MOVQ out+56(FP), DX
	MOVQ rows+0(FP), R10
	MOVQ ldd+24(FP), R11
	MOVQ ldo+64(FP), R13
	MOVQ scale+32(FP), R8
	MOVQ shift+40(FP), R9

affrowAVX512:
	XORQ AX, AX
	MOVQ groups+8(FP), CX

affgroupAVX512:
	VCVTDQ2PS (SI)(AX*1), Z0
	VMULPS Z5, Z0, Z0
	VMULPS (R8)(AX*1), Z0, Z0
	VADDPS (R9)(AX*1), Z0, Z0
	VMOVUPS Z0, (DX)(AX*1)
	ADDQ $64, AX
	DECQ CX
	JNZ  affgroupAVX512
	ADDQ R11, SI
	ADDQ R13, DX
	DECQ R10
	JNZ  affrowAVX512
	VZEROUPPER
	RET
