//go:build amd64 && !purego

#include "textflag.h"

// func addChainLoop(n int64)
// Eight dependent ADDQs per iteration: 8 cycles, whatever the core's
// width; the loop counter runs in parallel.
TEXT ·addChainLoop(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	XORQ AX, AX
loop:
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	DECQ CX
	JNZ  loop
	RET
