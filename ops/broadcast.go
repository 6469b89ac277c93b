package ops

import (
	"fmt"
)

// broadcastShape returns the numpy-style broadcast of two shapes.
func broadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// bstrides returns, for an operand of shape s broadcast to out, the element
// stride of each output axis (0 on broadcast axes).
func bstrides(s, out []int) []int {
	st := make([]int, len(out))
	acc := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(s) - len(out) + i
		if j >= 0 && s[j] != 1 {
			st[i] = acc
		}
		if j >= 0 {
			acc *= s[j]
		}
	}
	return st
}

// bcast iterates the output of a broadcast binary op. It merges axes and
// calls inner for each contiguous run of the innermost axis with the
// offsets and strides of both operands.
type bcast struct {
	out      []int
	sa, sb   []int // per-axis strides of a and b
	innerLen int
	ia, ib   int // inner strides
	outer    []int
}

func newBcast(a, b, out []int) bcast {
	sa, sb := bstrides(a, out), bstrides(b, out)
	// Merge adjacent axes whose strides are contiguous for both operands.
	var mo, ma, mb []int
	for i := 0; i < len(out); i++ {
		if out[i] == 1 {
			continue
		}
		if k := len(mo) - 1; k >= 0 &&
			ma[k] == sa[i]*out[i] && mb[k] == sb[i]*out[i] {
			mo[k] *= out[i]
			ma[k], mb[k] = sa[i], sb[i]
			continue
		}
		mo = append(mo, out[i])
		ma = append(ma, sa[i])
		mb = append(mb, sb[i])
	}
	if len(mo) == 0 {
		mo, ma, mb = []int{1}, []int{0}, []int{0}
	}
	k := len(mo) - 1
	return bcast{out: mo, sa: ma, sb: mb, innerLen: mo[k], ia: ma[k], ib: mb[k], outer: mo[:k]}
}

// each calls f(offOut, offA, offB) for each inner run.
func (bc bcast) each(f func(o, a, b int)) {
	idx := make([]int, len(bc.outer))
	o := 0
	for {
		a, b := 0, 0
		for i, v := range idx {
			a += v * bc.sa[i]
			b += v * bc.sb[i]
		}
		f(o, a, b)
		o += bc.innerLen
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < bc.outer[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

// reduceTo sums src (shape out) into dst (shape s, which broadcasts to
// out), overwriting dst.
func reduceTo(dst []float32, s []int, src []float32, out []int) {
	if prod(s) == len(src) {
		copy(dst, src)
		return
	}
	for i := range dst {
		dst[i] = 0
	}
	bc := newBcast(out, s, out)
	bc.each(func(o, _, d int) {
		run := src[o : o+bc.innerLen]
		if bc.ib == 0 {
			var acc float32
			for _, v := range run {
				acc += v
			}
			dst[d] += acc
			return
		}
		for i, v := range run {
			dst[d+i*bc.ib] += v
		}
	})
}
