//go:build amd64 && !purego

package bitkern

// spans3AVX512 is in span_amd64.s.
//
//go:noescape
func spans3AVX512(src *uint64, blocks int, c uint64, dst *uint64, cnt *int32)

// spans3VecAVX512 implements tileKernel.spans3 with AVX-512 (VPOPCNTQ):
// blocks of 8 spans in assembly, the last one overlapping the one before
// it when 8 does not divide the count (spans depend only on src), and
// fewer than 8 in Go.
func spans3VecAVX512(src, dst []uint64, cnt []int32, c uint) {
	n := len(cnt)
	if n < 8 {
		spans3Go(src, dst[:n], cnt, c)
		return
	}
	_ = src[n+1]
	_ = dst[n-1]
	spans3AVX512(&src[0], n/8, uint64(c), &dst[0], &cnt[0])
	if r := n - 8; n%8 != 0 {
		spans3AVX512(&src[r], 1, uint64(c), &dst[r], &cnt[r])
	}
}

// addInt32AVX512 is in span_amd64.s.
//
//go:noescape
func addInt32AVX512(dst, src *int32, blocks int)

// addInt32VecAVX512 implements tileKernel.addInt32 with AVX-512: whole
// blocks of 16 in assembly, the rest in Go.
func addInt32VecAVX512(dst, src []int32) {
	n := len(dst)
	src = src[:n]
	if b := n / 16; b > 0 {
		addInt32AVX512(&dst[0], &src[0], b)
	}
	addInt32Go(dst[n/16*16:], src[n/16*16:])
}

// spans3x2AVX512 is in span_amd64.s.
//
//go:noescape
func spans3x2AVX512(src *uint64, blocks int, c uint64, dst *uint64, cnt *int32)

// spans3x2VecAVX512 implements tileKernel.spans3x2 with AVX-512 like
// spans3VecAVX512.
func spans3x2VecAVX512(src, dst []uint64, cnt []int32, c uint) {
	n := len(cnt)
	if n < 8 {
		spans3x2Go(src, dst[:2*n], cnt, c)
		return
	}
	_ = src[n+1]
	_ = dst[2*n-1]
	spans3x2AVX512(&src[0], n/8, uint64(c), &dst[0], &cnt[0])
	if r := n - 8; n%8 != 0 {
		spans3x2AVX512(&src[r], 1, uint64(c), &dst[2*r], &cnt[r])
	}
}
