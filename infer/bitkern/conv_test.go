package bitkern

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// awkwardConvs are shapes that exercise every packing path: channel counts
// below, at and past word boundaries, strides, dilation, asymmetric pads,
// 1x1 convolutions, non-square kernels and images, M not a multiple of 16.
var awkwardConvs = []ConvParams{
	sq(1, 1, 5, 1, 3, 1, 1, 1),
	sq(2, 3, 7, 5, 3, 1, 1, 1),
	sq(1, 16, 8, 16, 3, 1, 1, 1),
	sq(3, 32, 6, 32, 3, 2, 1, 1),
	sq(2, 32, 6, 16, 3, 1, 1, 1), // two-word sliding spans
	{N: 1, C: 40, H: 5, W: 7, M: 9, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 2},
	sq(1, 63, 5, 17, 3, 1, 1, 1),
	sq(1, 64, 5, 64, 3, 1, 1, 1),
	sq(2, 65, 5, 33, 3, 2, 1, 1),
	sq(1, 130, 4, 7, 3, 1, 1, 1),
	sq(2, 16, 9, 20, 3, 1, 2, 2),  // dilation 2
	sq(1, 65, 7, 3, 3, 1, 2, 1),   // dilation 2, unaligned span
	sq(2, 16, 8, 32, 1, 2, 1, 0),  // 1x1 stride 2 shortcut
	sq(1, 64, 6, 128, 1, 1, 1, 0), // 1x1 stride 1
	sq(1, 33, 5, 31, 1, 1, 1, 0),  // 1x1, odd channels
	sq(9, 16, 6, 16, 3, 1, 1, 1),  // many images
	sq(1, 5, 3, 2, 3, 1, 1, 2),    // more padding than image
	{N: 2, C: 7, H: 6, W: 9, M: 18, KH: 2, KW: 5, StrideH: 1, StrideW: 3, DilH: 2, DilW: 1, PadTop: 0, PadLeft: 2, PadBottom: 3, PadRight: 1},
	{N: 1, C: 20, H: 5, W: 5, M: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadLeft: 0, PadBottom: 0, PadRight: 2},
	DenseParams(3, 16, 4, 4, 10), // dense layer as a whole-image kernel
	DenseParams(1, 50, 1, 1, 3),
	sq(1, 256, 3, 20, 3, 1, 1, 1), // GEMM depth 36 words: past the AVX2 kernel's 31-word chunks
	sq(2, 16, 19, 16, 3, 1, 1, 1), // 3-tap spans: two vector blocks of 8 and a tail
	// 3-tap spans with no right padding, and with two columns of it.
	{N: 1, C: 8, H: 4, W: 13, M: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 0, PadRight: 0},
	{N: 1, C: 21, H: 3, W: 17, M: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 0, PadLeft: 1, PadBottom: 2, PadRight: 2},
	sq(1, 32, 19, 16, 3, 1, 1, 1), // two-word 3-tap spans: vector blocks and a tail
	{N: 1, C: 24, H: 4, W: 12, M: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 0, PadRight: 0},
}

var layouts = []Layout{Tight, RowWords, TapWords}

func TestConvMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range awkwardConvs {
		x := randSpikes(r, p.N*p.C*p.H*p.W, 0.3)
		w := randWeights(r, p.M*p.C*p.KH*p.KW)
		want := refConv(p, x, w)
		eachKernel(t, func(t testing.TB, k *tileKernel) {
			for _, l := range layouts {
				got := runConv(t, p, l, x, w, 2)
				if i := firstDiff(got, want); i >= 0 {
					t.Errorf("%v %v kernel %s: out[%d] = %d, want %d", p, l, k.name, i, got[i], want[i])
				}
			}
		})
	}
}

// runConv packs x and w, runs Conv.Int32 and returns its output.
func runConv(t testing.TB, p ConvParams, l Layout, x, w []float32, threads int) []int32 {
	t.Helper()
	xp := make([]uint64, p.InLen())
	if err := PackNCHW(p.N, p.C, p.H, p.W, x, xp); err != nil {
		t.Fatal(err)
	}
	c := newTestConv(t, p, l, w)
	out := make([]int32, p.N*p.OutPixels()*p.M)
	for i := range out {
		out[i] = -1 << 31 // Int32 must overwrite everything
	}
	c.Int32(xp, out, threads)
	return out
}

// newTestConv packs w in layout l and returns the convolution p.
func newTestConv(t testing.TB, p ConvParams, l Layout, w []float32) *Conv {
	t.Helper()
	pw, err := PackConvWeights(p, l, w)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConv(p, pw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func firstDiff[T comparable](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func TestDenseMatchesMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, c, h, w, m = 3, 5, 3, 4, 21
	x := randSpikes(r, n*c*h*w, 0.4)
	wt := randWeights(r, c*h*w*m) // MatMul layout [C*H*W, M]
	p := DenseParams(n, c, h, w, m)
	pw, err := PackDenseWeights(p, Tight, wt)
	if err != nil {
		t.Fatal(err)
	}
	xp := make([]uint64, p.InLen())
	if err := PackNCHW(n, c, h, w, x, xp); err != nil {
		t.Fatal(err)
	}
	cv, err := NewConv(p, pw)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int32, n*m)
	cv.Int32(xp, got, 1)
	for i := range n {
		for j := range m {
			var s int32
			for k := range c * h * w {
				if x[i*c*h*w+k] == 1 {
					if wt[k*m+j] >= 0 {
						s++
					} else {
						s--
					}
				}
			}
			if got[i*m+j] != s {
				t.Fatalf("sample %d output %d: %d, want %d", i, j, got[i*m+j], s)
			}
		}
	}
}

func TestPackUnpackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []int{1, 3, 63, 64, 65, 130} {
		const n, h, w = 2, 3, 5
		x := randSpikes(r, n*c*h*w, 0.5)
		p := make([]uint64, n*h*w*Words(c))
		if err := PackNCHW(n, c, h, w, x, p); err != nil {
			t.Fatal(err)
		}
		for px := range n * h * w {
			if last := p[px*Words(c)+Words(c)-1]; c%64 != 0 && last>>(c%64) != 0 {
				t.Fatalf("C=%d: pixel %d has bits past channel C: %#x", c, px, last)
			}
		}
		back := make([]float32, len(x))
		UnpackNCHW(n, c, h, w, p, back)
		if !slices.Equal(back, x) {
			t.Fatalf("C=%d: unpack(pack(x)) != x", c)
		}
		if Count(p) != int(sum(x)) {
			t.Fatalf("C=%d: Count = %d, want %v", c, Count(p), sum(x))
		}
	}
	bad := []float32{0, 1, 0.5, 0}
	if err := PackNCHW(1, 1, 2, 2, bad, make([]uint64, 4)); err == nil {
		t.Fatal("PackNCHW accepted 0.5")
	}
}

func sum(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}

func TestValidate(t *testing.T) {
	bad := []ConvParams{
		{},
		sq(1, 4, 2, 4, 5, 1, 1, 0),     // kernel larger than the padded image
		sq(1, 4, 8, 4, 3, 0, 1, 1),     // stride 0
		sq(1, 1<<22, 1, 1, 3, 1, 1, 1), // receptive field too large for float32
	}
	for _, p := range bad {
		if p.Validate() == nil {
			t.Errorf("%v: Validate accepted it", p)
		}
	}
	for _, p := range awkwardConvs {
		if err := p.Validate(); err != nil {
			t.Errorf("%v: %v", p, err)
		}
	}
}
