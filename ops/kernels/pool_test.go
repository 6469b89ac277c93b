package kernels

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// refPool64 pools by walking every window tap in the padded input: max over
// the taps inside the input (NaN wins), or their mean divided by the number
// of taps inside the input (or, with includePad, inside the padded extent).
func refPool64(p PoolParams, isMax, includePad bool, x []float64) []float64 {
	oh, ow := p.OutH(), p.OutW()
	y := make([]float64, p.N*p.C*oh*ow)
	for nc := 0; nc < p.N*p.C; nc++ {
		plane := x[nc*p.H*p.W:]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best, sum, inside, padded := math.Inf(-1), 0.0, 0, 0
				for a := 0; a < p.KH; a++ {
					for b := 0; b < p.KW; b++ {
						h := i*p.StrideH - p.PadTop + a*p.DilH
						w := j*p.StrideW - p.PadLeft + b*p.DilW
						if h < p.H+p.PadBottom && w < p.W+p.PadRight {
							padded++
						}
						if h < 0 || h >= p.H || w < 0 || w >= p.W {
							continue
						}
						v := plane[h*p.W+w]
						inside++
						sum += v
						if math.IsNaN(best) {
							continue
						}
						if v > best || math.IsNaN(v) {
							best = v
						}
					}
				}
				out := best
				if !isMax {
					div := inside
					if includePad {
						div = padded
					}
					out = 0
					if div > 0 {
						out = sum / float64(div)
					}
				}
				y[(nc*oh+i)*ow+j] = out
			}
		}
	}
	return y
}

func pool(n, c, h, w, kh, kw, sh, sw int, pads [4]int, dh, dw int, ceil bool) PoolParams {
	return PoolParams{N: n, C: c, H: h, W: w, KH: kh, KW: kw, StrideH: sh, StrideW: sw,
		PadTop: pads[0], PadLeft: pads[1], PadBottom: pads[2], PadRight: pads[3], DilH: dh, DilW: dw, CeilMode: ceil}
}

func poolCases() []PoolParams {
	return []PoolParams{
		pool(2, 3, 8, 8, 2, 2, 2, 2, [4]int{}, 1, 1, false),
		pool(1, 2, 7, 9, 3, 3, 2, 2, [4]int{1, 1, 1, 1}, 1, 1, true),
		pool(2, 2, 7, 6, 3, 2, 2, 3, [4]int{0, 1, 2, 0}, 1, 1, true),  // asymmetric pads
		pool(1, 3, 9, 9, 3, 3, 1, 2, [4]int{2, 1, 0, 2}, 2, 2, false), // dilation
		pool(1, 1, 5, 5, 2, 2, 2, 2, [4]int{1, 1, 1, 1}, 1, 1, true),  // last ceil window dropped
		pool(2, 2, 6, 5, 3, 3, 2, 2, [4]int{0, 0, 1, 1}, 2, 1, true),
		pool(1, 2, 4, 4, 3, 3, 3, 3, [4]int{2, 2, 2, 2}, 1, 1, false),    // windows entirely in the pads
		pool(4, 16, 32, 32, 3, 3, 2, 2, [4]int{1, 1, 1, 1}, 1, 1, false), // big enough to run in parallel
	}
}

func poolName(p PoolParams) string {
	return fmt.Sprintf("N%dC%dH%dW%d_k%dx%d_s%dx%d_p%d.%d.%d.%d_d%dx%d_ceil%v", p.N, p.C, p.H, p.W, p.KH, p.KW,
		p.StrideH, p.StrideW, p.PadTop, p.PadLeft, p.PadBottom, p.PadRight, p.DilH, p.DilW, p.CeilMode)
}

func TestPoolOutSize(t *testing.T) {
	for _, tc := range []struct {
		in, padBegin, padEnd, k, stride, dil int
		ceil                                 bool
		want                                 int
	}{
		{4, 0, 0, 3, 2, 1, false, 1},
		{4, 0, 0, 3, 2, 1, true, 2},
		{5, 1, 1, 2, 2, 1, false, 3},
		{5, 1, 1, 2, 2, 1, true, 3}, // a 4th window would start in the end pad
		{6, 1, 1, 2, 2, 1, true, 4},
		{7, 0, 2, 3, 2, 1, true, 4},
		{7, 0, 2, 3, 2, 1, false, 4},
		{9, 0, 0, 3, 1, 2, false, 5},
		{2, 0, 0, 3, 1, 1, false, 0},
	} {
		p := PoolParams{H: tc.in, PadTop: tc.padBegin, PadBottom: tc.padEnd, KH: tc.k, StrideH: tc.stride, DilH: tc.dil, CeilMode: tc.ceil}
		if got := p.OutH(); got != tc.want {
			t.Errorf("%+v: OutH = %d, want %d", tc, got, tc.want)
		}
	}
}

func TestPool(t *testing.T) {
	forEachThreads(t, func(t *testing.T) {
		for i, p := range poolCases() {
			t.Run(poolName(p), func(t *testing.T) {
				if err := p.Validate(); err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(uint64(i), 9))
				x := randSlice(r, p.xLen())
				if i == 1 {
					x[10] = float32(math.NaN())
				}
				dy := randSlice(r, p.yLen())

				y := nanSlice(p.yLen())
				argmax := make([]int32, p.yLen())
				MaxPoolForward(p, x, y, argmax)
				want := refPool64(p, true, false, to64(x))
				for q := range want {
					if !(float64(y[q]) == want[q] || math.IsNaN(want[q]) && math.IsNaN(float64(y[q]))) {
						t.Fatalf("max y[%d] = %v, want %v", q, y[q], want[q])
					}
					plane := q / (p.OutH() * p.OutW())
					if a := argmax[q]; a < 0 && !math.IsInf(want[q], -1) || a >= 0 && x[plane*p.H*p.W+int(a)] != y[q] && !math.IsNaN(want[q]) {
						t.Fatalf("argmax[%d] = %d does not point at the maximum %v", q, a, want[q])
					}
				}
				dx := nanSlice(p.xLen())
				MaxPoolBackward(p, dy, argmax, dx)
				wantDx := make([]float64, p.xLen())
				for q, a := range argmax {
					if a >= 0 {
						wantDx[q/(p.OutH()*p.OutW())*p.H*p.W+int(a)] += float64(dy[q])
					}
				}
				checkClose(t, "max dx", dx, wantDx, 1e-6)

				for _, include := range []bool{false, true} {
					AvgPoolForward(p, include, x, y)
					want := refPool64(p, false, include, to64(x))
					for q := range want {
						if d := math.Abs(float64(y[q]) - want[q]); !(d <= 1e-5) && !(math.IsNaN(want[q]) && math.IsNaN(float64(y[q]))) {
							t.Fatalf("avg(include=%v) y[%d] = %v, want %v", include, q, y[q], want[q])
						}
					}
					// Average pooling is linear: its backward is the adjoint.
					clean := randSlice(r, p.xLen())
					AvgPoolForward(p, include, clean, y)
					AvgPoolBackward(p, include, dy, dx)
					if lhs, rhs := dot64(y, dy), dot64(clean, dx); math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
						t.Errorf("avg(include=%v): <avg(x), dy> = %v, <x, avgBackward(dy)> = %v", include, lhs, rhs)
					}
				}
			})
		}
	})
}

// TestPoolTorchGolden compares with PyTorch results from
// testdata/pool_golden.json (made by testdata/make_pool_golden.py).
func TestPoolTorchGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/pool_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		N, C, H, W, KH, KW, StrideH, StrideW, PadH, PadW, DilH, DilW, OutH, OutW int
		CeilMode                                                                 bool
		X                                                                        []float64 `json:"x"`
		Dy                                                                       []float64 `json:"dy"`
		Max, MaxDx                                                               []float64
		Argmax                                                                   []int32
		AvgInclude, AvgIncludeDx, AvgExclude, AvgExcludeDx                       []float64
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	to32 := func(s []float64) []float32 {
		d := make([]float32, len(s))
		for i, v := range s {
			d[i] = float32(v)
		}
		return d
	}
	for _, c := range cases {
		p := pool(c.N, c.C, c.H, c.W, c.KH, c.KW, c.StrideH, c.StrideW, [4]int{c.PadH, c.PadW, c.PadH, c.PadW}, c.DilH, c.DilW, c.CeilMode)
		t.Run(poolName(p), func(t *testing.T) {
			if p.OutH() != c.OutH || p.OutW() != c.OutW {
				t.Fatalf("output %dx%d, PyTorch %dx%d", p.OutH(), p.OutW(), c.OutH, c.OutW)
			}
			x, dy := to32(c.X), to32(c.Dy)
			y := make([]float32, p.yLen())
			argmax := make([]int32, p.yLen())
			dx := make([]float32, p.xLen())
			MaxPoolForward(p, x, y, argmax)
			checkClose(t, "max", y, c.Max, 1e-6)
			for q := range argmax {
				if argmax[q] != c.Argmax[q] {
					t.Errorf("argmax[%d] = %d, PyTorch %d", q, argmax[q], c.Argmax[q])
				}
			}
			MaxPoolBackward(p, dy, argmax, dx)
			checkClose(t, "max dx", dx, c.MaxDx, 1e-6)
			for _, avg := range []struct {
				include bool
				y, dx   []float64
			}{{true, c.AvgInclude, c.AvgIncludeDx}, {false, c.AvgExclude, c.AvgExcludeDx}} {
				if avg.y == nil {
					continue
				}
				AvgPoolForward(p, avg.include, x, y)
				checkClose(t, fmt.Sprintf("avg(include=%v)", avg.include), y, avg.y, 1e-6)
				AvgPoolBackward(p, avg.include, dy, dx)
				checkClose(t, fmt.Sprintf("avg(include=%v) dx", avg.include), dx, avg.dx, 1e-6)
			}
		})
	}
}

// TestPoolONNXExamples checks the examples of the ONNX operator tests.
func TestPoolONNXExamples(t *testing.T) {
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i + 1)
	}
	y := make([]float32, 4)
	MaxPoolForward(pool(1, 1, 4, 4, 3, 3, 2, 2, [4]int{}, 1, 1, true), x, y, nil)
	if fmt.Sprint(y) != "[11 12 15 16]" {
		t.Errorf("maxpool_2d_ceil = %v", y)
	}
	AvgPoolForward(pool(1, 1, 4, 4, 3, 3, 2, 2, [4]int{}, 1, 1, true), false, x, y)
	if fmt.Sprint(y) != "[6 7.5 12 13.5]" {
		t.Errorf("averagepool_2d_ceil = %v", y)
	}
	MaxPoolForward(pool(1, 1, 4, 4, 2, 2, 1, 1, [4]int{}, 2, 2, false), x, y, nil)
	if fmt.Sprint(y) != "[11 12 15 16]" {
		t.Errorf("maxpool_2d_dilations = %v", y)
	}
}

func TestPoolParamsValidate(t *testing.T) {
	p := pool(1, 1, 4, 4, 3, 3, 0, 1, [4]int{-1, 0, 0, 0}, 1, 0, false)
	err := p.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"StrideH is 0", "DilW is 0", "PadTop is -1"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if err := pool(1, 1, 2, 2, 3, 3, 1, 1, [4]int{}, 1, 1, false).Validate(); err == nil {
		t.Error("window larger than the input: no error")
	}
}
