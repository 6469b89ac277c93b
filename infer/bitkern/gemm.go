package bitkern

import (
	"fmt"
	"math/bits"
)

// A tileKernel computes a block of the binary GEMM, rows patches (a
// multiple of the kernel's tile height, rows) by the 16 channels of a
// weight panel:
//
//	dst[r*ldd+j] = 2*popcount(patch r ∧ column j of b) − pcs[r]
//
// for r < rows and j < 16, where a patch is kw/sw runs of sw contiguous
// words, ldk apart: word k of patch r is a[r*lda+(k/sw)*ldk+k%sw]; b is a
// packed panel (kw rows of 16 words, see Weights) and pcs[r] = popcount of
// patch r. kw is a positive multiple of sw. Contiguous patches are one
// run (sw = kw); patches read in place from a convolution's spans have one
// run per kernel row (see patch.go).
//
// epi and affine, when set, are the LIF and float32-output epilogues for
// CPUs with this kernel's instruction set; they report false for arguments
// they do not handle. spans3, spans3x2 and addInt32, when set, are
// spans3Go, spans3x2Go and addInt32Go in vector instructions.
type tileKernel struct {
	name string
	rows int
	fn   func(kw, rows int, a []uint64, lda, ldk, sw int, b []uint64, pcs, dst []int32, ldd int)
	// raw, when set, is fn without bounds checks, for gemm to check once.
	raw      func(kw, rows int, a *uint64, lda, ldk, sw int, b *uint64, pcs, dst *int32, ldd int)
	epi      func(a *epiArgs) bool
	affine   func(a *epiArgs) bool
	spans3   func(src, dst []uint64, cnt []int32, c uint)
	spans3x2 func(src, dst []uint64, cnt []int32, c uint)
	addInt32 func(dst, src []int32)
}

// goKernel is the portable micro-kernel (math/bits): one patch at a time,
// four channels per pass over the patch, which keeps the counters in
// registers.
var goKernel = &tileKernel{name: "go", rows: 1, fn: goTile}

func goTile(kw, rows int, a []uint64, lda, ldk, sw int, b []uint64, pcs, dst []int32, ldd int) {
	b = b[:kw*blockM]
	for r := range rows {
		a, n := a[r*lda:], int(pcs[r])
		for j := 0; j < blockM; j += 4 {
			var c0, c1, c2, c3 int
			if sw == 1 {
				for k := range kw {
					s := a[k*ldk]
					w := b[k*blockM+j:][:4:4]
					c0 += bits.OnesCount64(s & w[0])
					c1 += bits.OnesCount64(s & w[1])
					c2 += bits.OnesCount64(s & w[2])
					c3 += bits.OnesCount64(s & w[3])
				}
			} else if sw >= 4 {
				for k0, off := 0, 0; k0 < kw; k0, off = k0+sw, off+ldk {
					wr := b[k0*blockM+j:]
					for k, s := range a[off:][:sw] {
						w := wr[k*blockM:][:4:4]
						c0 += bits.OnesCount64(s & w[0])
						c1 += bits.OnesCount64(s & w[1])
						c2 += bits.OnesCount64(s & w[2])
						c3 += bits.OnesCount64(s & w[3])
					}
				}
			} else {
				// Short runs: off steps a word, and to the next run after
				// sw words (cheaper than a loop per run).
				off, left := 0, sw
				for k := range kw {
					s := a[off]
					w := b[k*blockM+j:][:4:4]
					c0 += bits.OnesCount64(s & w[0])
					c1 += bits.OnesCount64(s & w[1])
					c2 += bits.OnesCount64(s & w[2])
					c3 += bits.OnesCount64(s & w[3])
					off++
					if left--; left == 0 {
						off, left = off+ldk-sw, sw
					}
				}
			}
			d := dst[r*ldd+j:][:4:4]
			d[0] = int32(2*c0 - n)
			d[1] = int32(2*c1 - n)
			d[2] = int32(2*c2 - n)
			d[3] = int32(2*c3 - n)
		}
	}
}

// forceGo makes every call use goKernel even when an assembly kernel is
// available; tests set it to cover both paths.
var forceGo bool

// activeKernel returns the micro-kernel the next call uses: the fastest one
// the CPU supports (see asmKernels), or goKernel.
func activeKernel() *tileKernel {
	if forceGo {
		return goKernel
	}
	for _, k := range asmKernels {
		if k != nil {
			return k
		}
	}
	return goKernel
}

// KernelName names the micro-kernel the package uses on this CPU: "avx512"
// (VPOPCNTQ), "avx2" (nibble-table VPSHUFB popcount) or "go" (math/bits).
func KernelName() string { return activeKernel().name }

// Kernels names the micro-kernels this CPU runs, fastest first; "go" is
// always last.
func Kernels() []string {
	var s []string
	for _, k := range asmKernels {
		if k != nil {
			s = append(s, k.name)
		}
	}
	return append(s, goKernel.name)
}

// UseKernel makes the calls that follow use the named micro-kernel (one of
// Kernels(), with its epilogue) instead of the fastest, until restore is
// called. It lets tests and benchmarks cover every path in one run; it is
// not safe to call while other goroutines use the package.
func UseKernel(name string) (restore func(), err error) {
	saved, savedForce := asmKernels, forceGo
	restore = func() { asmKernels, forceGo = saved, savedForce }
	if name == goKernel.name {
		forceGo = true
		return restore, nil
	}
	for _, k := range asmKernels {
		if k != nil && k.name == name {
			asmKernels, forceGo = []*tileKernel{k}, false
			return restore, nil
		}
	}
	return nil, fmt.Errorf("bitkern: kernel %q is not available on this CPU (it runs %v)", name, Kernels())
}

// operand is the left operand of a binary GEMM: patches of words, word k
// of patch r at a[r*lda+(k/sw)*ldk+k%sw] (see tileKernel). When pitch is
// set the patches are outRows rows of ow, and the rows are pitch words
// apart instead of ow*lda: patch r*ow+x starts at a[r*pitch+x*lda].
type operand struct {
	a            []uint64
	lda, ldk, sw int
	pitch        int
	ow, outRows  int
}

// contiguous returns the operand of patches of kw contiguous words, lda
// apart.
func contiguous(a []uint64, lda, kw int) operand { return operand{a: a, lda: lda, ldk: kw, sw: kw} }

// gemm computes the dot products of rows patches (op, their spike counts
// in pcs) with every output channel of w into acc: row r, channel m at
// acc[r*ldd+m], for m below w's channel count rounded up to 16. rows must
// be a multiple of k.rows; op, pcs and acc must cover them. An operand
// with a pitch runs one row of patches at a time, each rounded up to whole
// tiles, whose rows past the row's end are the next row's first patches
// (computed again by the next call) or, after the last row, slack: op,
// pcs and acc must cover (outRows-1)*ow + roundUp(ow, k.rows) patches.
func gemm(k *tileKernel, w *Weights, op operand, pcs []int32, rows int, acc []int32, ldd int) {
	outRows, n, step := 1, rows, 0
	if op.pitch != 0 {
		outRows, n, step = op.outRows, roundUp(op.ow, k.rows), op.ow
	}
	kw := w.g.kWords
	if k.raw == nil {
		for r := range outRows {
			for b := range w.blocks() {
				k.fn(kw, n, op.a[r*op.pitch:], op.lda, op.ldk, op.sw, w.panel(b), pcs[r*step:], acc[r*step*ldd+b*blockM:], ldd)
			}
		}
		return
	}
	// The assembly kernels do not check bounds: check the last word each
	// operand has to hold, once for all calls.
	if op.sw < 1 || kw%op.sw != 0 {
		panic(fmt.Sprintf("bitkern: patches of %d words in runs of %d", kw, op.sw))
	}
	last := (outRows-1)*step + n - 1
	_ = op.a[(outRows-1)*op.pitch+(n-1)*op.lda+(kw/op.sw-1)*op.ldk+op.sw-1]
	_ = pcs[last]
	_ = acc[last*ldd+w.blocks()*blockM-1]
	_ = w.words[w.blocks()*kw*blockM-1]
	for r := range outRows {
		for b := range w.blocks() {
			k.raw(kw, n, &op.a[r*op.pitch], op.lda, op.ldk, op.sw, &w.words[b*kw*blockM], &pcs[r*step],
				&acc[r*step*ldd+b*blockM], ldd)
		}
	}
}
