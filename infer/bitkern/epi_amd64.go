//go:build amd64 && !purego

package bitkern

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// lifAVX2 is the LIF epilogue in epi_amd64.s.
//
//go:noescape
func lifAVX2(T, rows, groups int, acc *int32, accT, ldd int, scale, shift, gate *float32,
	res *byte, resT, ldr, resMode int, out *byte, outT, ldo int, consts *lifAsmConsts, soft, lastMask int)

// lifAsmConsts are the broadcast constants of lifAVX2.
type lifAsmConsts struct {
	k, a, vth, vr, one float32
	_                  [3]float32
	bits               [8]uint32
}

var haveAVX2 = cpu.X86.HasAVX2

// epiSpikes runs the LIF epilogue: in assembly when the CPU has AVX2 and
// there is an affine step (and, with a float residual, M is a multiple of
// 8: the assembly reads whole groups of 8 channels); the portable loop
// otherwise.
func epiSpikes(a *epiArgs) {
	if !haveAVX2 || forceGo || len(a.scale) == 0 || a.rows == 0 || (a.res != nil && a.m%8 != 0) {
		epiSpikesGo(a)
		return
	}
	groups := (a.m + 7) / 8
	_ = a.scale[groups*8-1]
	_ = a.shift[groups*8-1]
	_ = a.gate[a.T-1]
	_ = a.acc[(a.T-1)*a.accT+(a.rows-1)*a.ldd+groups*8-1]
	_ = a.out[(a.T-1)*a.outT+(a.rows-1)*a.mw+a.mw-1]
	c := lifAsmConsts{k: a.lif.k, a: a.lif.a, vth: a.lif.vth, vr: a.lif.vr, one: 1,
		bits: [8]uint32{1, 2, 4, 8, 16, 32, 64, 128}}
	var res *byte
	resMode, resT, ldr := 0, 0, 0
	switch {
	case a.res != nil:
		_ = a.res[(a.T-1)*a.resT+(a.rows-1)*a.m+groups*8-1]
		res, resMode, resT, ldr = (*byte)(unsafe.Pointer(&a.res[0])), 1, 4*a.resT, 4*a.m
	case a.rspk != nil:
		_ = a.rspk[(a.T-1)*a.rspkT+(a.rows-1)*a.mw+a.mw-1]
		res, resMode, resT, ldr = (*byte)(unsafe.Pointer(&a.rspk[0])), 2, 8*a.rspkT, 8*a.mw
	}
	lastMask := 0xff
	if r := a.m % 8; r != 0 {
		lastMask = 1<<r - 1
	}
	soft := 0
	if a.lif.soft {
		soft = 1
	}
	lifAVX2(a.T, a.rows, groups, &a.acc[0], 4*a.accT, 4*a.ldd, &a.scale[0], &a.shift[0], &a.gate[0],
		res, resT, ldr, resMode, (*byte)(unsafe.Pointer(&a.out[0])), 8*a.outT, 8*a.mw, &c, soft, lastMask)
}
