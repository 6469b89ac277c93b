package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// gemmKernel computes Y[b] = alpha * op(A[b]) op(B[b]) + beta * C for each
// of batch matrices. B is shared by all batches when bShared (MatMul with
// a 2-D weight, the common case: then the batch folds into M). C, when
// present, broadcasts to [M, N].
type gemmKernel struct {
	transA, transB bool
	batch          int
	m, n, k        int
	alpha, beta    float32
	bShared        bool
	cShape         []int // nil when there is no C
	out            []int
}

func (k *gemmKernel) Name() string {
	return fmt.Sprintf("Gemm(tA=%v,tB=%v,b=%d,m=%d,n=%d,k=%d,a=%g,beta=%g,C=%v)", k.transA, k.transB, k.batch, k.m, k.n, k.k, k.alpha, k.beta, k.cShape)
}
func (k *gemmKernel) OutShape() []int { return k.out }

// Flops counts the products (not C's broadcast); each gradient of A or B
// does as many multiply-adds as the forward product.
func (k *gemmKernel) Flops() float64 { return 2 * float64(k.batch*k.m) * float64(k.n*k.k) }

func (k *gemmGradKernel) Flops() float64 {
	if k.which == 2 {
		return 0
	}
	return k.f.Flops()
}

func (k *gemmKernel) lds() (lda, ldb int) {
	lda, ldb = k.k, k.n
	if k.transA {
		lda = k.m
	}
	if k.transB {
		ldb = k.k
	}
	return
}

func (k *gemmKernel) Forward(out []float32, in ...[]float32) error {
	a, b := in[0], in[1]
	lda, ldb := k.lds()
	beta := float32(0)
	if k.cShape != nil {
		c := in[2]
		cs := []int{k.batch * k.m, k.n}
		if k.batch == 1 || k.bShared {
			cs = []int{k.batch * k.m, k.n}
		}
		// Broadcast C (scaled by beta) into the output, then accumulate.
		cb := static.NewPairwise(cs, padShape(k.cShape, 2), cs)
		cb.Each(func(o, _, ic int) {
			for i := 0; i < cb.InnerLen; i++ {
				out[o+i] = k.beta * c[ic+i*cb.InnerB]
			}
		})
		beta = 1
	}
	if k.bShared && !k.transA {
		kernels.Sgemm(false, k.transB, k.batch*k.m, k.n, k.k, k.alpha, a, lda, b, ldb, beta, out, k.n)
		return nil
	}
	sa, sb, sy := k.m*k.k, k.k*k.n, k.m*k.n
	if k.bShared {
		sb = 0
	}
	for i := 0; i < k.batch; i++ {
		kernels.Sgemm(k.transA, k.transB, k.m, k.n, k.k, k.alpha, a[i*sa:], lda, b[i*sb:], ldb, beta, out[i*sy:], k.n)
	}
	return nil
}

// padShape left-pads s with ones to rank r.
func padShape(s []int, r int) []int {
	if len(s) >= r {
		return s
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	copy(out[r-len(s):], s)
	return out
}

func (k *gemmKernel) DiffWRT(arity int) []bool { return allTrue(arity) }

func (k *gemmKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	ga, err := Apply(&gemmGradKernel{f: k, which: 0}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	gb, err := Apply(&gemmGradKernel{f: k, which: 1}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	gs := G.Nodes{ga, gb}
	if k.cShape != nil {
		gc, err := Apply(&gemmGradKernel{f: k, which: 2}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		gs = append(gs, gc)
	}
	return gs, nil
}

// gemmGradKernel: inputs A, B, dY; output dA, dB or dC.
type gemmGradKernel struct {
	f     *gemmKernel
	which int
	shape []int
	aS    []int
}

func (k *gemmGradKernel) Name() string { return fmt.Sprintf("d%s/d%c", k.f.Name(), "ABC"[k.which]) }

func (k *gemmGradKernel) OutShape() []int {
	f := k.f
	switch k.which {
	case 0:
		if f.transA {
			return batchShape(f, f.k, f.m)
		}
		return batchShape(f, f.m, f.k)
	case 1:
		s := []int{f.k, f.n}
		if f.transB {
			s = []int{f.n, f.k}
		}
		if f.bShared {
			return s
		}
		return batchShape(f, s[0], s[1])
	}
	return f.cShape
}

func batchShape(f *gemmKernel, r, c int) []int {
	s := append([]int(nil), f.out[:len(f.out)-2]...)
	return append(s, r, c)
}

func (k *gemmGradKernel) Forward(out []float32, in ...[]float32) error {
	f := k.f
	a, b, gy := in[0], in[1], in[2]
	lda, ldb := f.lds()
	switch k.which {
	case 0: // dA = alpha * dY op(B)^T  (or its transpose when transA)
		if f.bShared && !f.transA {
			kernels.Sgemm(false, !f.transB, f.batch*f.m, f.k, f.n, f.alpha, gy, f.n, b, ldb, 0, out, f.k)
			return nil
		}
		sb, sy, sa := f.k*f.n, f.m*f.n, f.m*f.k
		if f.bShared {
			sb = 0
		}
		for i := 0; i < f.batch; i++ {
			if f.transA { // A^T is [m,k] stored [k,m]: dA = alpha * op(B) dY^T
				kernels.Sgemm(f.transB, true, f.k, f.m, f.n, f.alpha, b[i*sb:], ldb, gy[i*sy:], f.n, 0, out[i*sa:], f.m)
			} else {
				kernels.Sgemm(false, !f.transB, f.m, f.k, f.n, f.alpha, gy[i*sy:], f.n, b[i*sb:], ldb, 0, out[i*sa:], f.k)
			}
		}
	case 1: // dB = alpha * op(A)^T dY (summed over the batch when B is shared)
		sa, sy := f.m*f.k, f.m*f.n
		if f.bShared && !f.transA {
			if f.transB { // dB^T: [n,k] = dY^T A
				kernels.Sgemm(true, false, f.n, f.k, f.batch*f.m, f.alpha, gy, f.n, a, lda, 0, out, f.k)
			} else {
				kernels.Sgemm(true, false, f.k, f.n, f.batch*f.m, f.alpha, a, lda, gy, f.n, 0, out, f.n)
			}
			return nil
		}
		sb := f.k * f.n
		for i := 0; i < f.batch; i++ {
			off, beta := i*sb, float32(0)
			if f.bShared {
				off = 0
				if i > 0 {
					beta = 1
				}
			}
			if f.transB {
				kernels.Sgemm(true, f.transA, f.n, f.k, f.m, f.alpha, gy[i*sy:], f.n, a[i*sa:], lda, beta, out[off:], f.k)
			} else {
				kernels.Sgemm(!f.transA, false, f.k, f.n, f.m, f.alpha, a[i*sa:], lda, gy[i*sy:], f.n, beta, out[off:], f.n)
			}
		}
	case 2: // dC = beta * reduce(dY)
		reduceTo(out, padShape(f.cShape, 2), gy, []int{f.batch * f.m, f.n})
		for i := range out {
			out[i] *= f.beta
		}
	}
	return nil
}

func buildMatMul(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x, w := in[0], in[1]
	out, err := static.MatMul(dims64(x.Shape), dims64(w.Shape))
	if err != nil {
		return nil, err
	}
	m, kk, nn := x.Shape[len(x.Shape)-2], x.Shape[len(x.Shape)-1], w.Shape[len(w.Shape)-1]
	k := &gemmKernel{m: m, n: nn, k: kk, alpha: 1, batch: static.Prod(x.Shape[:len(x.Shape)-2]), bShared: len(w.Shape) == 2, out: ints(out)}
	v, err := b.Apply(k, x, w)
	return []*Value{v}, err
}

func buildGemm(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	a, w := in[0], in[1]
	var c []int64
	if len(in) > 2 && in[2] != nil {
		c = dims64(in[2].Shape)
	}
	out, err := static.Gemm(n, dims64(a.Shape), dims64(w.Shape), c)
	if err != nil {
		return nil, err
	}
	k := &gemmKernel{transA: n.Int("transA", 0) != 0, transB: n.Int("transB", 0) != 0,
		alpha: n.Float("alpha", 1), beta: n.Float("beta", 1), batch: 1, bShared: true}
	k.m, k.k = a.Shape[0], a.Shape[1]
	if k.transA {
		k.m, k.k = k.k, k.m
	}
	k.n = int(out[1])
	k.out = ints(out)
	args := []*Value{a, w}
	if c != nil {
		k.cShape = in[2].Shape
		if len(k.cShape) == 0 {
			k.cShape = []int{1}
		}
		args = append(args, in[2])
	}
	if k.transA {
		// Keep the general per-batch path (batch 1).
		k.bShared = true
	}
	v, err := b.Apply(k, args...)
	return []*Value{v}, err
}

func init() {
	Register(&Spec{OpType: "MatMul", Since: 1, MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Build: buildMatMul, Doc: "matrix product (2-D weight or equal batch dims)"})
	Register(&Spec{OpType: "Gemm", Since: 7, MinInputs: 2, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{
			{Name: "alpha", Type: AttrFloat, Default: float32(1)}, {Name: "beta", Type: AttrFloat, Default: float32(1)},
			{Name: "transA", Type: AttrInt, Default: int64(0)}, {Name: "transB", Type: AttrInt, Default: int64(0)},
		},
		Build: buildGemm, Doc: "alpha*op(A)op(B) + beta*C"})
}
