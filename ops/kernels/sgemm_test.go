package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is the triple-loop reference of Sgemm, accumulating in float64.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*ldc+j] = v
		}
	}
	return out
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra columns in every leading dimension
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,%dx%dx%d,alpha=%v,beta=%v,pad=%d", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// run checks Sgemm on one case. Elements of C outside the m x n matrix (the
// leading-dimension padding) must keep their value.
func (tc gemmCase) run(t *testing.T, r *rand.Rand) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.pad, bc+tc.pad, tc.n+tc.pad
	lda, ldb, ldc = max(lda, 1), max(ldb, 1), max(ldc, 1)
	a := randSlice(r, max(ar*lda, 1))
	b := randSlice(r, max(br*ldb, 1))
	c := randSlice(r, max(tc.m*ldc, 1))
	if tc.beta == 0 {
		c = nanSlice(len(c))
	}
	want := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	for i := 0; i < tc.m; i++ {
		for j := tc.n; j < ldc && tc.beta == 0; j++ {
			if !math.IsNaN(float64(c[i*ldc+j])) {
				t.Fatalf("%v: C[%d,%d] outside the matrix was written", tc, i, j)
			}
			want[i*ldc+j] = 0
			c[i*ldc+j] = 0
		}
	}
	// float32 accumulation over k terms of unit-variance products.
	tol := 1e-5 * math.Sqrt(float64(tc.k+1)) * 4
	checkClose(t, tc.String(), c, want, tol)
}

func gemmCases() []gemmCase {
	var cases []gemmCase
	dims := []struct{ m, n, k int }{
		{1, 1, 1}, {1, 17, 3}, {7, 1, 5}, {6, 16, 1}, {6, 16, 4}, {5, 15, 7}, {7, 17, 9},
		{12, 32, 64}, {13, 33, 65}, {31, 29, 1}, {64, 64, 64}, {100, 37, 300},
		{145, 70, 257}, {37, 4100, 5}, {64, 1024, 72}, {201, 130, 90}, {3, 500, 513},
	}
	for _, d := range dims {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			cases = append(cases, gemmCase{tr[0], tr[1], d.m, d.n, d.k, 1, 0, 0})
		}
	}
	ab := []struct{ alpha, beta float32 }{{1, 1}, {-0.5, 0}, {2, -1.5}, {0.25, 0.5}}
	for i, d := range dims {
		x := ab[i%len(ab)]
		cases = append(cases, gemmCase{i%2 == 0, i%3 == 0, d.m, d.n, d.k, x.alpha, x.beta, 3})
	}
	return cases
}

func TestSgemm(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		forEachThreads(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for _, tc := range gemmCases() {
				tc.run(t, r)
			}
		})
	})
}

// TestSgemmDegenerate covers alpha = 0 and k = 0 (C = beta*C without reading
// A or B) and empty matrices.
func TestSgemmDegenerate(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 3, c, 2)
	if want := []float32{3, 6, 9, 12}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("k=0, beta=3: C = %v, want %v", c, want)
	}
	nan := nanSlice(4)
	Sgemm(false, false, 2, 2, 2, 0, nan, 2, nan, 2, 0, c, 2)
	if want := []float32{0, 0, 0, 0}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("alpha=0, beta=0: C = %v, want %v", c, want)
	}
	Sgemm(true, true, 0, 5, 3, 1, nil, 1, nil, 3, 0, nil, 5)
	Sgemm(false, false, 4, 0, 3, 1, nil, 3, nil, 1, 0, nil, 1)
}

func TestSgemmPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"negative m": func() { Sgemm(false, false, -1, 1, 1, 1, nil, 1, nil, 1, 0, nil, 1) },
		"small lda": func() {
			Sgemm(false, false, 2, 2, 3, 1, make([]float32, 6), 2, make([]float32, 6), 2, 0, make([]float32, 4), 2)
		},
		"short c": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func FuzzSgemm(f *testing.F) {
	f.Add(uint8(7), uint8(17), uint8(9), uint8(0), uint8(0), false, false)
	f.Add(uint8(64), uint8(100), uint8(3), uint8(1), uint8(2), true, false)
	f.Add(uint8(1), uint8(1), uint8(255), uint8(3), uint8(1), false, true)
	f.Fuzz(func(t *testing.T, m, n, k, ab, pad uint8, transA, transB bool) {
		alphas := []float32{1, -1, 0.5, 2}
		betas := []float32{0, 1, -0.5, 3}
		tc := gemmCase{transA, transB, int(m)%150 + 1, int(n)%150 + 1, int(k) + 1, alphas[ab%4], betas[ab/4%4], int(pad) % 4}
		r := rand.New(rand.NewPCG(uint64(m)<<16|uint64(n)<<8|uint64(k), uint64(ab)))
		forEachKernel(t, func(t *testing.T) { tc.run(t, r) })
	})
}
