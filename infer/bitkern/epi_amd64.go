//go:build amd64 && !purego

package bitkern

import "unsafe"

// lifAVX2 and lifAVX512 are the LIF epilogues in epi_amd64.s, for groups of
// 8 and 16 channels.
//
//go:noescape
func lifAVX2(T, rows, groups int, acc *int32, accT, ldd int, scale, shift, gate *float32,
	res *byte, resT, ldr, resMode int, out *byte, outT, ldo int, consts *asmConsts, soft, lastMask, floatIn int)

//go:noescape
func lifAVX512(T, rows, groups int, acc *int32, accT, ldd int, scale, shift, gate *float32,
	res *byte, resT, ldr, resMode int, out *byte, outT, ldo int, consts *asmConsts, soft, lastMask, floatIn int)

// asmConsts are the broadcast constants of the assembly epilogues.
type asmConsts struct {
	k, a, vth, vr, one float32
	_                  [11]float32
	bits               [16]uint32 // 1<<i
}

// epiAVX2 and epiAVX512 run the LIF epilogue in assembly, with groups of 8
// and 16 channels. They need an affine step (true of every binary layer a
// BSNN has: a tdBN follows each) and, with a float residual, whole groups;
// otherwise they report false and the caller runs epiSpikesGo.
func epiAVX2(a *epiArgs) bool   { return epiAsm(a, 8, lifAVX2) }
func epiAVX512(a *epiArgs) bool { return epiAsm(a, 16, lifAVX512) }

func epiAsm(a *epiArgs, lanes int, fn func(T, rows, groups int, acc *int32, accT, ldd int, scale, shift, gate *float32,
	res *byte, resT, ldr, resMode int, out *byte, outT, ldo int, consts *asmConsts, soft, lastMask, floatIn int)) bool {
	if len(a.scale) == 0 || a.rows == 0 || (a.res != nil && a.m%lanes != 0) || (a.accF != nil && (a.res != nil || a.rspk != nil)) {
		return false
	}
	groups := (a.m + lanes - 1) / lanes
	_ = a.scale[groups*lanes-1]
	_ = a.shift[groups*lanes-1]
	_ = a.gate[a.T-1]
	in, floatIn := unsafe.Pointer(nil), 0
	if a.accF != nil {
		_ = a.accF[(a.T-1)*a.accT+(a.rows-1)*a.ldd+groups*lanes-1]
		in, floatIn = unsafe.Pointer(&a.accF[0]), 1
	} else {
		_ = a.acc[(a.T-1)*a.accT+(a.rows-1)*a.ldd+groups*lanes-1]
		in = unsafe.Pointer(&a.acc[0])
	}
	_ = a.out[(a.T-1)*a.outT+(a.rows-1)*a.mw+a.mw-1]
	c := &a.asm
	*c = asmConsts{k: a.lif.k, a: a.lif.a, vth: a.lif.vth, vr: a.lif.vr, one: 1}
	for i := range c.bits {
		c.bits[i] = 1 << i
	}
	var res *byte
	resMode, resT, ldr := 0, 0, 0
	switch {
	case a.res != nil:
		_ = a.res[(a.T-1)*a.resT+(a.rows-1)*a.m+a.m-1]
		res, resMode, resT, ldr = (*byte)(unsafe.Pointer(&a.res[0])), 1, 4*a.resT, 4*a.m
	case a.rspk != nil:
		_ = a.rspk[(a.T-1)*a.rspkT+(a.rows-1)*a.mw+a.mw-1]
		res, resMode, resT, ldr = (*byte)(unsafe.Pointer(&a.rspk[0])), 2, 8*a.rspkT, 8*a.mw
	}
	lastMask := 1<<lanes - 1
	if r := a.m % lanes; r != 0 {
		lastMask = 1<<r - 1
	}
	soft := 0
	if a.lif.soft {
		soft = 1
	}
	fn(a.T, a.rows, groups, (*int32)(in), 4*a.accT, 4*a.ldd, &a.scale[0], &a.shift[0], &a.gate[0],
		res, resT, ldr, resMode, (*byte)(unsafe.Pointer(&a.out[0])), 8*a.outT, 8*a.mw, c, soft, lastMask, floatIn)
	return true
}
