package static

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Slice, Pad and Transpose: strided copies of a region (see CopyPlan).

// A Region is a strided window of an input of shape In: Out[i] elements
// along axis i, starting at First[i], Step[i] apart.
type Region struct {
	In, First, Step, Out []int64
}

// Plan returns the copy plan from the input into the contiguous region,
// with the input's data starting at offset 0.
func (r *Region) Plan() *CopyPlan {
	in, out := Ints(r.In), Ints(r.Out)
	inSt := RowStrides(in)
	ss := make([]int, len(in))
	base := 0
	for i := range ss {
		ss[i] = inSt[i] * int(r.Step[i])
		base += int(r.First[i]) * inSt[i]
	}
	return NewCopyPlan(out, RowStrides(out), ss, 0, base)
}

// SliceArgs reads Slice's starts, ends, axes and steps: attributes before
// opset 10, constant inputs 1..4 from then on; axes default to 0..k-1 and
// steps to 1.
func SliceArgs(n *onnx.Node, opset int, in []Input) (starts, ends, axes, steps []int64, err error) {
	if opset < 10 {
		starts, ends, axes = n.Ints("starts", nil), n.Ints("ends", nil), n.Ints("axes", nil)
	} else {
		for i, p := range []*[]int64{&starts, &ends, &axes, &steps} {
			what := [...]string{"Slice starts", "Slice ends", "Slice axes", "Slice steps"}[i]
			if *p, err = constInts(in, i+1, what); err != nil {
				return
			}
		}
	}
	if len(starts) != len(ends) {
		err = fmt.Errorf("Slice starts %v and ends %v differ in length", starts, ends)
		return
	}
	if axes == nil {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		err = fmt.Errorf("Slice starts, ends, axes, steps have lengths %d, %d, %d, %d", len(starts), len(ends), len(axes), len(steps))
	}
	return
}

// sliceRange resolves one axis of Slice per ONNX (numpy) rules: negative
// starts and ends count from the end, then they are clamped to the axis
// ([0, dim] for positive steps, [0, dim-1] and [-1, dim-1] for negative
// ones). It returns the first index, the element count and the step (a
// step longer than the axis takes at most one element and is clamped, so
// that strides cannot overflow).
func sliceRange(start, end, step, d int64) (first, count, st int64) {
	lim := max(d, 1)
	step = min(max(step, -lim), lim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
		if end > start {
			count = (end-start-1)/step + 1
		}
	} else {
		start = min(max(start, 0), d-1)
		end = min(max(end, -1), d-1)
		if start > end {
			count = (start-end-1)/(-step) + 1
		}
	}
	return start, count, step
}

// Slice resolves Slice on an input of shape x.
func Slice(x, starts, ends, axes, steps []int64) (*Region, error) {
	r := len(x)
	reg := &Region{In: x, First: make([]int64, r), Step: make([]int64, r), Out: append([]int64{}, x...)}
	for i := range reg.Step {
		reg.Step[i] = 1
	}
	seen := make([]bool, r)
	for i, a := range axes {
		ax, err := NormAxis(a, r)
		if err != nil {
			return nil, fmt.Errorf("Slice %w", err)
		}
		if seen[ax] {
			return nil, fmt.Errorf("Slice axis %d repeated in %v", ax, axes)
		}
		seen[ax] = true
		if steps[i] == 0 {
			return nil, fmt.Errorf("Slice step 0 on axis %d", ax)
		}
		if x[ax] == Symbolic {
			return nil, fmt.Errorf("Slice of axis %d, whose size is known only at run time", ax)
		}
		reg.First[ax], reg.Out[ax], reg.Step[ax] = sliceRange(starts[i], ends[i], steps[i], x[ax])
	}
	return reg, nil
}

// FoldSlice slices a constant.
func FoldSlice(t *onnx.Tensor, reg *Region) *onnx.Tensor {
	return CopyConst(t, Ints(reg.Out), reg.Plan(), 0)
}

// Perm reads Transpose's perm for an input of the given rank (default: the
// axes reversed); it must be a permutation of 0..rank-1.
func Perm(n *onnx.Node, rank int) ([]int, error) {
	perm := make([]int, rank)
	p := n.Ints("perm", nil)
	if p == nil {
		for i := range perm {
			perm[i] = rank - 1 - i
		}
		return perm, nil
	}
	if len(p) != rank {
		return nil, fmt.Errorf("Transpose perm %v for a rank-%d input", p, rank)
	}
	seen := make([]bool, rank)
	for i, a := range p {
		if a < 0 || int(a) >= rank || seen[a] {
			return nil, fmt.Errorf("Transpose perm %v is not a permutation of 0..%d", p, rank-1)
		}
		seen[a] = true
		perm[i] = int(a)
	}
	return perm, nil
}

// Transpose infers Transpose's output: x's dimensions permuted.
func Transpose(x []int64, perm []int) []int64 {
	out := make([]int64, len(perm))
	for i, a := range perm {
		out[i] = x[a]
	}
	return out
}

// TransposePlan is the copy plan of a transpose of an input of shape in.
func TransposePlan(in, perm []int) *CopyPlan {
	st := RowStrides(in)
	out := make([]int, len(perm))
	ss := make([]int, len(perm))
	for i, a := range perm {
		out[i], ss[i] = in[a], st[a]
	}
	return NewCopyPlan(out, RowStrides(out), ss, 0, 0)
}

// FoldTranspose transposes a constant.
func FoldTranspose(t *onnx.Tensor, perm []int) *onnx.Tensor {
	in := Ints(t.Dims)
	return CopyConst(t, Ints(Transpose(t.Dims, perm)), TransposePlan(in, perm), 0)
}
