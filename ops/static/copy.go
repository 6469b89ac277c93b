package static

import "github.com/bsnnctl/bsnnctl/onnx"

// A CopyPlan copies a strided region: for every index (i0, ..., ik) of
// Dims, dst[DBase + sum(i_a*DS_a)] = src[SBase + sum(i_a*SS_a)], in
// row-major order of the region. Unit axes are dropped and adjacent axes
// that stay contiguous in both operands are merged, so the inner loop runs
// over the longest possible stretch. Transpose, Slice, Pad, broadcasts and
// reductions (and the engine's kernels and gradients for them) are all
// such copies.
type CopyPlan struct {
	Dims, DS, SS []int
	DBase, SBase int
	// Empty: the region has no element.
	Empty bool
	idx   []int // odometer scratch
}

// NewCopyPlan plans the copy of region dims with destination strides ds
// and source strides ss from the given base offsets.
func NewCopyPlan(dims, ds, ss []int, dbase, sbase int) *CopyPlan {
	p := &CopyPlan{DBase: dbase, SBase: sbase}
	for i, d := range dims {
		if d == 0 {
			p.Empty = true
		}
		if d == 1 {
			continue
		}
		if k := len(p.Dims) - 1; k >= 0 && p.DS[k] == ds[i]*d && p.SS[k] == ss[i]*d {
			p.Dims[k] *= d
			p.DS[k], p.SS[k] = ds[i], ss[i]
			continue
		}
		p.Dims = append(p.Dims, d)
		p.DS = append(p.DS, ds[i])
		p.SS = append(p.SS, ss[i])
	}
	if len(p.Dims) == 0 {
		p.Dims, p.DS, p.SS = []int{1}, []int{0}, []int{0}
	}
	p.idx = make([]int, len(p.Dims))
	return p
}

// BroadcastPlan returns the plan over full whose destination side is the
// small tensor (shape small, broadcast to full: stride 0 on broadcast axes)
// and whose source side is the contiguous full tensor. Run forward it
// reduces full onto small (ReduceInto); swapped it expands small to full.
func BroadcastPlan(small, full []int) *CopyPlan {
	return NewCopyPlan(full, BroadcastStrides(small, full), RowStrides(full), 0, 0)
}

// Swapped returns the plan copying in the other direction.
func (p *CopyPlan) Swapped() *CopyPlan {
	return &CopyPlan{Dims: p.Dims, DS: p.SS, SS: p.DS, DBase: p.SBase, SBase: p.DBase, Empty: p.Empty, idx: make([]int, len(p.idx))}
}

// Odometer returns the plan's scratch index over its outer axes (every
// axis but the innermost), cleared; not safe for concurrent runs of one
// plan.
func (p *CopyPlan) Odometer() []int {
	idx := p.idx[:len(p.Dims)-1]
	clear(idx)
	return idx
}

// Next advances the odometer idx over the outer axes of p, moving the
// destination and source offsets with it; it reports false once every run
// was visited.
func (p *CopyPlan) Next(idx []int, doff, soff *int) bool {
	for a := len(idx) - 1; a >= 0; a-- {
		idx[a]++
		*doff += p.DS[a]
		*soff += p.SS[a]
		if idx[a] < p.Dims[a] {
			return true
		}
		*doff -= p.DS[a] * p.Dims[a]
		*soff -= p.SS[a] * p.Dims[a]
		idx[a] = 0
	}
	return false
}

// CopyStrided runs plan p from src to dst.
func CopyStrided[T any](p *CopyPlan, dst, src []T) {
	if p.Empty {
		return
	}
	k := len(p.Dims) - 1
	n, dst1, src1 := p.Dims[k], p.DS[k], p.SS[k]
	idx := p.Odometer()
	doff, soff := p.DBase, p.SBase
	for {
		if dst1 == 1 && src1 == 1 {
			copy(dst[doff:doff+n], src[soff:soff+n])
		} else {
			for j := 0; j < n; j++ {
				dst[doff+j*dst1] = src[soff+j*src1]
			}
		}
		if !p.Next(idx, &doff, &soff) {
			return
		}
	}
}

// CopyConst makes a constant of shape out, filled with fill, and runs plan
// p from t's data into it. Integer, double and bool constants keep their
// type; every other one becomes float32.
func CopyConst(t *onnx.Tensor, out []int, p *CopyPlan, fill float64) *onnx.Tensor {
	r := &onnx.Tensor{Type: t.Type, Dims: Dims(out)}
	n := Prod(out)
	switch {
	case t.Int64 != nil:
		r.Int64 = make([]int64, n)
		for i := range r.Int64 {
			r.Int64[i] = int64(fill)
		}
		CopyStrided(p, r.Int64, t.Int64)
	case t.Float64 != nil:
		r.Float64 = make([]float64, n)
		for i := range r.Float64 {
			r.Float64[i] = fill
		}
		CopyStrided(p, r.Float64, t.Float64)
	case t.Bool != nil:
		r.Bool = make([]bool, n)
		for i := range r.Bool {
			r.Bool[i] = fill != 0
		}
		CopyStrided(p, r.Bool, t.Bool)
	default:
		src := t.Floats()
		if r.Type != onnx.Float16 && r.Type != onnx.BFloat16 {
			r.Type = onnx.Float
		}
		r.Float32 = make([]float32, n)
		for i := range r.Float32 {
			r.Float32[i] = float32(fill)
		}
		CopyStrided(p, r.Float32, src)
	}
	return r
}
