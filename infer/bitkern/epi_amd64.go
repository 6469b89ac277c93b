//go:build amd64 && !purego

package bitkern

import (
	"math"
	"unsafe"
)

// lifStepAVX2 and lifStepAVX512 are one step of the LIF epilogues, in
// epi_amd64.s, for groups of 8 and 16 channels.
//
//go:noescape
func lifStepAVX2(rows, groups int, acc unsafe.Pointer, ldd int, scale, shift, gate *float32,
	res unsafe.Pointer, ldr, resMode int, out unsafe.Pointer, ldo int, consts *asmConsts, reset, lastMask, floatIn int,
	v *float32, ldv, first int)

//go:noescape
func lifStepAVX512(rows, groups int, acc unsafe.Pointer, ldd int, scale, shift, gate *float32,
	res unsafe.Pointer, ldr, resMode int, out unsafe.Pointer, ldo int, consts *asmConsts, reset, lastMask, floatIn int,
	v *float32, ldv, first int)

type lifStepFunc = func(rows, groups int, acc unsafe.Pointer, ldd int, scale, shift, gate *float32,
	res unsafe.Pointer, ldr, resMode int, out unsafe.Pointer, ldo int, consts *asmConsts, reset, lastMask, floatIn int,
	v *float32, ldv, first int)

// affineAVX2 and affineAVX512 are the float32-output epilogue without
// residual, in epi_amd64.s, for groups of 8 and 16 channels.
//
//go:noescape
func affineAVX2(rows, groups int, acc *int32, ldd int, scale, shift, gate *float32, out *float32, ldo int)

//go:noescape
func affineAVX512(rows, groups int, acc *int32, ldd int, scale, shift, gate *float32, out *float32, ldo int)

// affineAsmAVX2 and affineAsmAVX512 run epiFloatGo's one-pass case (integer
// sums, an affine step, no residual) in assembly when the channels are
// whole groups; otherwise they report false.
func affineAsmAVX2(a *epiArgs) bool   { return affineAsm(a, 8, affineAVX2) }
func affineAsmAVX512(a *epiArgs) bool { return affineAsm(a, 16, affineAVX512) }

func affineAsm(a *epiArgs, lanes int, fn func(rows, groups int, acc *int32, ldd int, scale, shift, gate *float32, out *float32, ldo int)) bool {
	if a.res != nil || a.rspk != nil || a.scale == nil || a.accF != nil || a.m%lanes != 0 || a.rows == 0 {
		return false
	}
	_ = a.scale[a.m-1]
	_ = a.shift[a.m-1]
	_ = a.acc[(a.rows-1)*a.ldd+a.m-1]
	_ = a.f32[(a.rows-1)*a.m+a.m-1]
	fn(a.rows, a.m/lanes, &a.acc[0], 4*a.ldd, &a.scale[0], &a.shift[0], &a.gate[0], &a.f32[0], 4*a.m)
	return true
}

// asmConsts are the broadcast constants of the assembly epilogues.
type asmConsts struct {
	k, a, vth, vr, one float32
	_                  [11]float32
	bits               [16]uint32  // 1<<i
	vrs                [16]float32 // v_reset: the membranes before the first step
}

// epiAVX2 and epiAVX512 run the LIF epilogue in assembly, with groups of 8
// and 16 channels, one call per time step over all the band's pixels with
// the membranes in a.mem: the neurons of a step are independent, so the
// out-of-order core overlaps many of them, where one neuron's T steps are a
// chain of dependent float operations (each step waits ~20 cycles for the
// previous one). They need an affine step (true of every binary layer a
// BSNN has: a tdBN follows each) and, with a float residual, whole groups;
// otherwise they report false and the caller runs epiSpikesGo.
func epiAVX2(a *epiArgs) bool   { return epiAsm(a, 8, lifStepAVX2) }
func epiAVX512(a *epiArgs) bool { return epiAsm(a, 16, lifStepAVX512) }

func epiAsm(a *epiArgs, lanes int, fn lifStepFunc) bool {
	if len(a.scale) == 0 || a.rows == 0 || (a.res != nil && a.m%lanes != 0) || (a.accF != nil && (a.res != nil || a.rspk != nil)) {
		return false
	}
	groups := (a.m + lanes - 1) / lanes
	_ = a.scale[groups*lanes-1]
	_ = a.shift[groups*lanes-1]
	_ = a.gate[a.T-1]
	var in unsafe.Pointer
	floatIn := 0
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
		c.vrs[i] = a.lif.vr
	}
	var res unsafe.Pointer
	resMode, resT, ldr := 0, 0, 0
	switch {
	case a.res != nil:
		_ = a.res[(a.T-1)*a.resT+(a.rows-1)*a.m+a.m-1]
		res, resMode, resT, ldr = unsafe.Pointer(&a.res[0]), 1, 4*a.resT, 4*a.m
	case a.rspk != nil:
		_ = a.rspk[(a.T-1)*a.rspkT+(a.rows-1)*a.mw+a.mw-1]
		res, resMode, resT, ldr = unsafe.Pointer(&a.rspk[0]), 2, 8*a.rspkT, 8*a.mw
	}
	lastMask := 1<<lanes - 1
	if r := a.m % lanes; r != 0 {
		lastMask = 1<<r - 1
	}
	// Reset mode: 0 hard, 1 soft; 2 (AVX-512) hard with v_reset = +0 and
	// no gate, whose loops skip the operations that cannot change a value.
	reset := b2i(a.lif.soft)
	if lanes == 16 && !a.lif.soft && math.Float32bits(a.lif.vr) == 0 && allOnes(a.gate[:a.T]) {
		reset = 2
	}
	ldv := groups * lanes
	mem := a.mem[:a.rows*ldv]
	for t := range a.T {
		var r unsafe.Pointer
		if res != nil {
			r = unsafe.Add(res, t*resT)
		}
		fn(a.rows, groups, unsafe.Add(in, 4*t*a.accT), 4*a.ldd, &a.scale[0], &a.shift[0], &a.gate[t],
			r, ldr, resMode, unsafe.Pointer(&a.out[t*a.outT]), 8*a.mw, c, reset, lastMask, floatIn,
			&mem[0], 4*ldv, b2i(t == 0))
	}
	return true
}

func allOnes(x []float32) bool {
	for _, v := range x {
		if v != 1 {
			return false
		}
	}
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
