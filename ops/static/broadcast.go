package static

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Numpy broadcasting (ONNX's multidirectional broadcasting): shapes are
// aligned on the right, and on each axis the sizes must be equal or one of
// them 1. This file is the one place it is written: the shape rule
// (Broadcast), the stride rule (BroadcastStrides) and the iterator the
// elementwise kernels and folds run (Pairwise).

// A BroadcastError reports two shapes that do not broadcast.
type BroadcastError struct {
	A, B []int64
	// Axis is the first offending axis of the output (right-aligned), and
	// DimA, DimB the sizes there (1 where a shape is too short).
	Axis       int
	DimA, DimB int64
}

func (e *BroadcastError) Error() string {
	return fmt.Sprintf("shapes %s and %s do not broadcast", FormatShape(e.A), FormatShape(e.B))
}

// Broadcast returns the broadcast of two shapes. A Symbolic dimension
// broadcasts against 1 and against itself only.
func Broadcast(a, b []int64) ([]int64, error) {
	r := max(len(a), len(b))
	out := make([]int64, r)
	for i := range out {
		da, db := int64(1), int64(1)
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, &BroadcastError{A: a, B: b, Axis: i, DimA: da, DimB: db}
		}
	}
	return out, nil
}

// BroadcastStrides returns, for an operand of shape s broadcast to out,
// the element stride of each output axis: 0 on axes s does not have or
// has as 1 where out is larger, the row-major stride of s elsewhere.
func BroadcastStrides(s, out []int) []int {
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

// Pairwise iterates the output of a broadcast binary op. It merges axes
// and calls Each's function for each contiguous run of the innermost axis
// with the offsets of the output and of both operands; within a run the
// operands advance by InnerA and InnerB (0 when broadcast).
type Pairwise struct {
	InnerLen       int // length of each run
	InnerA, InnerB int // operand strides within a run
	outer          []int
	sa, sb         []int // per outer axis strides of a and b
}

// NewPairwise plans the iteration of operands of shapes a and b broadcast
// to out (Broadcast's result).
func NewPairwise(a, b, out []int) Pairwise {
	sa, sb := BroadcastStrides(a, out), BroadcastStrides(b, out)
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
	return Pairwise{InnerLen: mo[k], InnerA: ma[k], InnerB: mb[k], outer: mo[:k], sa: ma, sb: mb}
}

// Each calls f(offOut, offA, offB) for each inner run, in output order.
func (p Pairwise) Each(f func(o, a, b int)) {
	idx := make([]int, len(p.outer))
	o := 0
	for {
		a, b := 0, 0
		for i, v := range idx {
			a += v * p.sa[i]
			b += v * p.sb[i]
		}
		f(o, a, b)
		o += p.InnerLen
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < p.outer[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

// Expand infers Expand's output: x broadcast with the target shape (ONNX's
// Expand broadcasts both ways, so a target dimension 1 keeps x's).
func Expand(x, shape []int64) ([]int64, error) {
	out, err := Broadcast(x, shape)
	if err != nil {
		return nil, fmt.Errorf("Expand: %w", err)
	}
	return out, nil
}

// FoldExpand expands a constant to shape out (Expand's result).
func FoldExpand(t *onnx.Tensor, out []int64) *onnx.Tensor {
	return CopyConst(t, Ints(out), BroadcastPlan(Ints(t.Dims), Ints(out)).Swapped(), 0)
}
