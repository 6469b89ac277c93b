//go:build amd64 && !purego

#include "textflag.h"

// func axpyAVX2(a float32, x, y *float32, rows, cols, ldx, ldy int)
//
// y[r*ldy+i] += a*x[r*ldx+i] for r < rows, i < cols (strides in floats).
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS a+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ rows+24(FP), BX
	MOVQ cols+32(FP), CX
	MOVQ ldx+40(FP), R8
	SHLQ $2, R8
	MOVQ ldy+48(FP), R9
	SHLQ $2, R9
	MOVQ CX, DX
	ANDQ $-32, DX
	MOVQ CX, R10
	ANDQ $-8, R10
	TESTQ BX, BX
	JZ    done

row:
	XORQ AX, AX
	CMPQ AX, DX
	JGE  tail8

loop32:
	VMOVUPS (DI)(AX*4), Y1
	VMOVUPS 32(DI)(AX*4), Y2
	VMOVUPS 64(DI)(AX*4), Y3
	VMOVUPS 96(DI)(AX*4), Y4
	VFMADD231PS (SI)(AX*4), Y0, Y1
	VFMADD231PS 32(SI)(AX*4), Y0, Y2
	VFMADD231PS 64(SI)(AX*4), Y0, Y3
	VFMADD231PS 96(SI)(AX*4), Y0, Y4
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	VMOVUPS Y3, 64(DI)(AX*4)
	VMOVUPS Y4, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, DX
	JLT  loop32

tail8:
	CMPQ AX, R10
	JGE  tail1

loop8:
	VMOVUPS (DI)(AX*4), Y1
	VFMADD231PS (SI)(AX*4), Y0, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, R10
	JLT  loop8

tail1:
	CMPQ AX, CX
	JGE  nextrow

loop1:
	VMOVSS (DI)(AX*4), X1
	VFMADD231SS (SI)(AX*4), X0, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JLT  loop1

nextrow:
	ADDQ R8, SI
	ADDQ R9, DI
	DECQ BX
	JNZ  row

done:
	VZEROUPPER
	RET

// func dotAVX2(x, y *float32, rows, cols, ldx, ldy int) float32
//
// Returns the sum of x[r*ldx+i]*y[r*ldy+i] for r < rows, i < cols.
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ rows+16(FP), BX
	MOVQ cols+24(FP), CX
	MOVQ ldx+32(FP), R8
	SHLQ $2, R8
	MOVQ ldy+40(FP), R9
	SHLQ $2, R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS X8, X8, X8 // scalar tail sum
	MOVQ CX, DX
	ANDQ $-32, DX
	MOVQ CX, R10
	ANDQ $-8, R10
	TESTQ BX, BX
	JZ    dreduce

drow:
	XORQ AX, AX
	CMPQ AX, DX
	JGE  dtail8

dloop32:
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VMOVUPS 64(SI)(AX*4), Y6
	VMOVUPS 96(SI)(AX*4), Y7
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS 32(DI)(AX*4), Y5, Y1
	VFMADD231PS 64(DI)(AX*4), Y6, Y2
	VFMADD231PS 96(DI)(AX*4), Y7, Y3
	ADDQ $32, AX
	CMPQ AX, DX
	JLT  dloop32

dtail8:
	CMPQ AX, R10
	JGE  dtail1

dloop8:
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ $8, AX
	CMPQ AX, R10
	JLT  dloop8

dtail1:
	CMPQ AX, CX
	JGE  dnextrow

dloop1:
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X8
	INCQ AX
	CMPQ AX, CX
	JLT  dloop1

dnextrow:
	ADDQ R8, SI
	ADDQ R9, DI
	DECQ BX
	JNZ  drow

dreduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VADDSS X8, X0, X0
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func addToAVX2(dst, src *float32, n int)
//
// dst[i] += src[i] for i < n.
TEXT ·addToAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-16, DX
	JZ   atail8

aloop16:
	VMOVUPS (DI)(AX*4), Y1
	VMOVUPS 32(DI)(AX*4), Y2
	VADDPS (SI)(AX*4), Y1, Y1
	VADDPS 32(SI)(AX*4), Y2, Y2
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, DX
	JLT  aloop16

atail8:
	MOVQ CX, DX
	ANDQ $-8, DX
	CMPQ AX, DX
	JGE  atail1
	VMOVUPS (DI)(AX*4), Y1
	VADDPS (SI)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX

atail1:
	CMPQ AX, CX
	JGE  adone

aloop1:
	VMOVSS (DI)(AX*4), X1
	VADDSS (SI)(AX*4), X1, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JLT  aloop1

adone:
	VZEROUPPER
	RET
