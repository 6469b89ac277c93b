package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Transpose: a permutation of the axes, folded at compile time on
// constants, a kernel with gradient (the inverse permutation) at run time.

// copyPlan copies a strided region: for every index (i0, ..., ik) of dims,
// dst[dbase + sum(i_a*ds_a)] = src[sbase + sum(i_a*ss_a)], in row-major
// order of the region. Unit axes are dropped and adjacent axes that stay
// contiguous in both operands are merged, so the inner loop runs over the
// longest possible stretch. Transpose, Slice, Pad and their gradients are
// all such copies.
type copyPlan struct {
	dims, ds, ss []int
	dbase, sbase int
	empty        bool
	idx          []int // odometer scratch
}

func newCopyPlan(dims, ds, ss []int, dbase, sbase int) *copyPlan {
	p := &copyPlan{dbase: dbase, sbase: sbase}
	for i, d := range dims {
		if d == 0 {
			p.empty = true
		}
		if d == 1 {
			continue
		}
		if k := len(p.dims) - 1; k >= 0 && p.ds[k] == ds[i]*d && p.ss[k] == ss[i]*d {
			p.dims[k] *= d
			p.ds[k], p.ss[k] = ds[i], ss[i]
			continue
		}
		p.dims = append(p.dims, d)
		p.ds = append(p.ds, ds[i])
		p.ss = append(p.ss, ss[i])
	}
	if len(p.dims) == 0 {
		p.dims, p.ds, p.ss = []int{1}, []int{0}, []int{0}
	}
	p.idx = make([]int, len(p.dims))
	return p
}

// swapped returns the plan copying in the other direction.
func (p *copyPlan) swapped() *copyPlan {
	return &copyPlan{dims: p.dims, ds: p.ss, ss: p.ds, dbase: p.sbase, sbase: p.dbase, empty: p.empty, idx: make([]int, len(p.idx))}
}

// next advances the odometer idx over the outer axes of p (every axis but
// the innermost, which the callers run themselves), moving the destination
// and source offsets with it; it reports false once every run was visited.
func (p *copyPlan) next(idx []int, doff, soff *int) bool {
	for a := len(idx) - 1; a >= 0; a-- {
		idx[a]++
		*doff += p.ds[a]
		*soff += p.ss[a]
		if idx[a] < p.dims[a] {
			return true
		}
		*doff -= p.ds[a] * p.dims[a]
		*soff -= p.ss[a] * p.dims[a]
		idx[a] = 0
	}
	return false
}

// copyStrided runs plan p from src to dst.
func copyStrided[T any](p *copyPlan, dst, src []T) {
	if p.empty {
		return
	}
	k := len(p.dims) - 1
	n, dst1, src1 := p.dims[k], p.ds[k], p.ss[k]
	idx := p.idx[:k]
	clear(idx)
	doff, soff := p.dbase, p.sbase
	for {
		if dst1 == 1 && src1 == 1 {
			copy(dst[doff:doff+n], src[soff:soff+n])
		} else {
			for j := 0; j < n; j++ {
				dst[doff+j*dst1] = src[soff+j*src1]
			}
		}
		if !p.next(idx, &doff, &soff) {
			return
		}
	}
}

// constCopy makes a constant of shape out, filled with fill, and runs plan
// p from t's data into it (any tensor type: constants fold at compile
// time).
func constCopy(t *onnx.Tensor, out []int, p *copyPlan, fill float64) *onnx.Tensor {
	r := &onnx.Tensor{Type: t.Type, Dims: dims64(out)}
	n := prod(out)
	switch {
	case t.Int64 != nil:
		r.Int64 = make([]int64, n)
		for i := range r.Int64 {
			r.Int64[i] = int64(fill)
		}
		copyStrided(p, r.Int64, t.Int64)
	case t.Float64 != nil:
		r.Float64 = make([]float64, n)
		for i := range r.Float64 {
			r.Float64[i] = fill
		}
		copyStrided(p, r.Float64, t.Float64)
	case t.Bool != nil:
		r.Bool = make([]bool, n)
		for i := range r.Bool {
			r.Bool[i] = fill != 0
		}
		copyStrided(p, r.Bool, t.Bool)
	default:
		src := t.Floats()
		r.Type = onnx.Float
		r.Float32 = make([]float32, n)
		for i := range r.Float32 {
			r.Float32[i] = float32(fill)
		}
		copyStrided(p, r.Float32, src)
	}
	return r
}

// transposeKernel permutes the axes of its input.
type transposeKernel struct {
	in, perm, out []int
	plan          *copyPlan
}

func newTransposeKernel(in, perm []int) *transposeKernel {
	out := make([]int, len(perm))
	st := make([]int, len(perm))
	inSt := rowStrides(in)
	for i, a := range perm {
		out[i] = in[a]
		st[i] = inSt[a]
	}
	return &transposeKernel{in: in, perm: perm, out: out, plan: newCopyPlan(out, rowStrides(out), st, 0, 0)}
}

// rowStrides returns the row-major element strides of shape s.
func rowStrides(s []int) []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

func (k *transposeKernel) Name() string    { return fmt.Sprintf("Transpose%v%v", k.perm, k.in) }
func (k *transposeKernel) OutShape() []int { return k.out }
func (k *transposeKernel) Forward(out []float32, in ...[]float32) error {
	copyStrided(k.plan, out, in[0])
	return nil
}
func (k *transposeKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *transposeKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	inv := make([]int, len(k.perm))
	for i, a := range k.perm {
		inv[a] = i
	}
	g, err := Apply(newTransposeKernel(k.out, inv), grad)
	return G.Nodes{g}, err
}

func buildTranspose(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x := in[0]
	r := len(x.Shape)
	perm := make([]int, r)
	for i := range perm {
		perm[i] = r - 1 - i
	}
	if p := n.Ints("perm", nil); p != nil {
		if len(p) != r {
			return nil, fmt.Errorf("perm %v for a rank-%d input", p, r)
		}
		seen := make([]bool, r)
		for i, a := range p {
			if a < 0 || int(a) >= r || seen[a] {
				return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", p, r-1)
			}
			seen[a] = true
			perm[i] = int(a)
		}
	}
	if x.Node == nil {
		k := newTransposeKernel(x.Shape, perm)
		return []*Value{ConstValue(constCopy(x.Const, k.out, k.plan, 0))}, nil
	}
	identity := true
	for i, a := range perm {
		identity = identity && i == a
	}
	if identity {
		return []*Value{{Shape: x.Shape, Node: x.Node}}, nil
	}
	v, err := b.Apply(newTransposeKernel(x.Shape, perm), x)
	return []*Value{v}, err
}

func init() {
	Register(&Spec{OpType: "Transpose", Since: 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "perm", Type: AttrInts, Doc: "default: reversed axes"}},
		Build: buildTranspose, Doc: "permute axes"})
}
