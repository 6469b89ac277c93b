package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// refConv64 is the direct 7-loop convolution in float64: y = conv(x, w) +
// bias (bias may be nil).
func refConv64(p ConvParams, x, w, bias []float64) []float64 {
	oh, ow := p.OutH(), p.OutW()
	cg, mg := p.C/p.Groups, p.M/p.Groups
	y := make([]float64, p.N*p.M*oh*ow)
	for n := 0; n < p.N; n++ {
		for m := 0; m < p.M; m++ {
			g := m / mg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var s float64
					if bias != nil {
						s = bias[m]
					}
					for c := 0; c < cg; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih := i*p.StrideH - p.PadTop + kh*p.DilH
								iw := j*p.StrideW - p.PadLeft + kw*p.DilW
								if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
									continue
								}
								s += x[((n*p.C+g*cg+c)*p.H+ih)*p.W+iw] * w[((m*cg+c)*p.KH+kh)*p.KW+kw]
							}
						}
					}
					y[((n*p.M+m)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return y
}

// refConvBackward64 returns dx and dw of the loss <conv(x, w), dy> by the
// same loops as refConv64, scattering instead of gathering.
func refConvBackward64(p ConvParams, x, w, dy []float64) (dx, dw []float64) {
	oh, ow := p.OutH(), p.OutW()
	cg, mg := p.C/p.Groups, p.M/p.Groups
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for n := 0; n < p.N; n++ {
		for m := 0; m < p.M; m++ {
			g := m / mg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					d := dy[((n*p.M+m)*oh+i)*ow+j]
					for c := 0; c < cg; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih := i*p.StrideH - p.PadTop + kh*p.DilH
								iw := j*p.StrideW - p.PadLeft + kw*p.DilW
								if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
									continue
								}
								xi := ((n*p.C+g*cg+c)*p.H+ih)*p.W + iw
								wi := ((m*cg+c)*p.KH+kh)*p.KW + kw
								dx[xi] += d * w[wi]
								dw[wi] += d * x[xi]
							}
						}
					}
				}
			}
		}
	}
	return dx, dw
}

func to64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// conv builds ConvParams from the common fields; pads are top, left,
// bottom, right.
func conv(n, c, h, w, m, kh, kw, sh, sw, dh, dw int, pads [4]int, groups int) ConvParams {
	return ConvParams{N: n, C: c, H: h, W: w, M: m, KH: kh, KW: kw, StrideH: sh, StrideW: sw,
		DilH: dh, DilW: dw, PadTop: pads[0], PadLeft: pads[1], PadBottom: pads[2], PadRight: pads[3], Groups: groups}
}

func convName(p ConvParams) string {
	return fmt.Sprintf("N%dC%dH%dW%dM%d_k%dx%d_s%dx%d_d%dx%d_p%d.%d.%d.%d_g%d", p.N, p.C, p.H, p.W, p.M,
		p.KH, p.KW, p.StrideH, p.StrideW, p.DilH, p.DilW, p.PadTop, p.PadLeft, p.PadBottom, p.PadRight, p.Groups)
}

func convCases() []ConvParams {
	one := [4]int{1, 1, 1, 1}
	zero := [4]int{}
	return []ConvParams{
		conv(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, one, 1),
		conv(1, 4, 6, 5, 3, 3, 3, 1, 1, 1, 1, [4]int{0, 2, 1, 0}, 1),   // asymmetric pads, N=1
		conv(2, 3, 9, 8, 4, 3, 3, 2, 2, 1, 1, one, 1),                  // stride 2
		conv(2, 2, 10, 7, 3, 3, 2, 2, 1, 2, 1, [4]int{2, 0, 1, 1}, 1),  // mixed stride and dilation
		conv(1, 3, 9, 9, 4, 3, 3, 1, 1, 2, 2, [4]int{2, 2, 2, 2}, 1),   // dilation 2
		conv(2, 4, 6, 7, 6, 3, 3, 1, 1, 1, 1, one, 2),                  // groups 2
		conv(3, 6, 8, 8, 9, 3, 3, 2, 2, 1, 1, [4]int{1, 0, 0, 1}, 3),   // groups 3, stride 2
		conv(2, 4, 7, 6, 4, 3, 3, 1, 1, 1, 1, one, 4),                  // depthwise
		conv(2, 3, 9, 8, 6, 3, 3, 2, 2, 1, 1, [4]int{0, 1, 2, 1}, 3),   // depthwise x2, stride 2
		conv(1, 2, 9, 9, 2, 3, 3, 1, 2, 2, 2, [4]int{2, 1, 0, 3}, 2),   // depthwise, dilation
		conv(2, 8, 5, 5, 16, 1, 1, 1, 1, 1, 1, zero, 1),                // pointwise
		conv(2, 8, 5, 6, 6, 1, 1, 1, 1, 1, 1, zero, 2),                 // pointwise, groups 2
		conv(2, 5, 7, 7, 3, 1, 1, 2, 2, 1, 1, zero, 1),                 // 1x1 stride 2
		conv(3, 6, 8, 9, 4, 1, 1, 2, 3, 2, 1, zero, 2),                 // 1x1 strides 2x3, groups 2 (subsampled)
		conv(2, 16, 32, 32, 32, 1, 1, 2, 2, 1, 1, zero, 1),             // a ResNet projection shortcut, in parts
		conv(2, 3, 11, 10, 4, 5, 5, 1, 1, 1, 1, [4]int{2, 2, 2, 2}, 1), // 5x5
		conv(2, 3, 6, 8, 4, 1, 3, 1, 1, 1, 1, [4]int{0, 1, 0, 1}, 1),   // 1x3
		conv(1, 3, 8, 6, 4, 3, 1, 1, 1, 1, 1, [4]int{1, 0, 1, 0}, 1),   // 3x1
		conv(2, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, [4]int{3, 3, 3, 3}, 1),   // pads beyond the kernel
		conv(2, 3, 10, 10, 2, 2, 2, 3, 3, 1, 1, zero, 1),               // stride > kernel
		conv(1, 2, 1, 1, 3, 1, 1, 1, 1, 1, 1, zero, 1),                 // 1x1 image
		conv(3, 32, 12, 12, 70, 3, 3, 1, 1, 1, 1, one, 1),              // K=288 > kc, M not a tile multiple
		conv(2, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, one, 1),                // the ResNet block's conv, smaller image
		conv(4, 16, 9, 9, 32, 3, 3, 2, 2, 1, 1, [4]int{1, 1, 0, 0}, 2), // strided, col2im in chunks
		conv(1, 8, 33, 35, 8, 3, 3, 2, 2, 1, 1, one, 1),                // P > col2im chunk
		// Rows of at least 16 output pixels at unit stride: the direct
		// convolution (forward and backward data) with the AVX-512 kernel.
		conv(2, 5, 18, 20, 19, 3, 3, 1, 1, 1, 1, one, 1),               // two channel panels, a 4-pixel tile
		conv(1, 16, 16, 32, 16, 3, 3, 1, 1, 1, 1, one, 1),              // the first ResNet-20 stage
		conv(2, 3, 17, 21, 4, 5, 5, 1, 1, 2, 2, [4]int{4, 3, 1, 2}, 1), // dilation, asymmetric pads
		conv(2, 40, 16, 16, 24, 3, 3, 1, 1, 1, 1, one, 1),              // K=360: two k blocks
		conv(1, 2, 16, 18, 3, 3, 3, 1, 1, 1, 1, [4]int{3, 3, 3, 3}, 1), // backward data crops the padding
		conv(2, 4, 16, 17, 5, 2, 3, 1, 1, 1, 1, [4]int{0, 0, 1, 2}, 1), // even kernel height
		conv(3, 20, 8, 8, 18, 3, 3, 1, 1, 1, 1, one, 1),                // rows of 8: two rows per tile
		conv(2, 6, 7, 8, 4, 3, 3, 1, 1, 1, 1, one, 1),                  // rows of 8, odd row count
	}
}

// convData returns random x, w, bias, dy for p.
func convData(p ConvParams, seed uint64) (x, w, bias, dy []float32) {
	r := rand.New(rand.NewPCG(seed, 7))
	return randSlice(r, p.xLen()), randSlice(r, p.wLen()), randSlice(r, p.M), randSlice(r, p.yLen())
}

// convTol is the tolerance of float32 results with reduction length k.
func convTol(k int) float64 { return 2e-5 * math.Sqrt(float64(k+1)) * 4 }

func TestConv(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		forEachThreads(t, func(t *testing.T) {
			for i, p := range convCases() {
				t.Run(convName(p), func(t *testing.T) {
					if err := p.Validate(); err != nil {
						t.Fatal(err)
					}
					x, w, bias, dy := convData(p, uint64(i))
					k := p.C / p.Groups * p.KH * p.KW

					y := nanSlice(p.yLen())
					ConvForward(p, x, w, bias, y)
					checkClose(t, "y", y, refConv64(p, to64(x), to64(w), to64(bias)), convTol(k))
					ConvForward(p, x, w, nil, y)
					checkClose(t, "y (no bias)", y, refConv64(p, to64(x), to64(w), nil), convTol(k))

					wantDx, wantDw := refConvBackward64(p, to64(x), to64(w), to64(dy))
					dx := nanSlice(p.xLen())
					ConvBackwardData(p, dy, w, dx)
					checkClose(t, "dx", dx, wantDx, convTol(p.M/p.Groups*p.KH*p.KW))
					dw := nanSlice(p.wLen())
					ConvBackwardFilter(p, x, dy, dw)
					checkClose(t, "dw", dw, wantDw, convTol(p.N*p.OutH()*p.OutW()))

					db := nanSlice(p.M)
					ConvBackwardBias(p, dy, db)
					wantDb := make([]float64, p.M)
					for n := 0; n < p.N; n++ {
						for m := 0; m < p.M; m++ {
							for q := 0; q < p.OutH()*p.OutW(); q++ {
								wantDb[m] += float64(dy[(n*p.M+m)*p.OutH()*p.OutW()+q])
							}
						}
					}
					checkClose(t, "db", db, wantDb, convTol(p.N*p.OutH()*p.OutW()))
				})
			}
		})
	})
}

// TestConvFiniteDifferences checks the backward kernels against central
// differences of the float64 reference forward pass of the loss
// L = <conv(x, w), r>.
func TestConvFiniteDifferences(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for i, p := range convCases() {
			if p.xLen()+p.wLen() > 3000 {
				continue
			}
			t.Run(convName(p), func(t *testing.T) {
				x, w, _, r := convData(p, uint64(100+i))
				x64, w64, r64 := to64(x), to64(w), to64(r)
				loss := func() float64 {
					y := refConv64(p, x64, w64, nil)
					var s float64
					for q := range y {
						s += y[q] * r64[q]
					}
					return s
				}
				const h = 1e-3
				diff := func(v []float64, q int) float64 {
					old := v[q]
					v[q] = old + h
					lp := loss()
					v[q] = old - h
					lm := loss()
					v[q] = old
					return (lp - lm) / (2 * h)
				}
				dx := make([]float32, p.xLen())
				ConvBackwardData(p, r, w, dx)
				dw := make([]float32, p.wLen())
				ConvBackwardFilter(p, x, r, dw)
				rng := rand.New(rand.NewPCG(uint64(i), 3))
				for range 12 {
					q := rng.IntN(len(x64))
					if got, want := float64(dx[q]), diff(x64, q); math.Abs(got-want) > 1e-3*max(1, math.Abs(want)) {
						t.Errorf("dx[%d] = %v, finite difference %v", q, got, want)
					}
					q = rng.IntN(len(w64))
					if got, want := float64(dw[q]), diff(w64, q); math.Abs(got-want) > 1e-3*max(1, math.Abs(want)) {
						t.Errorf("dw[%d] = %v, finite difference %v", q, got, want)
					}
				}
			})
		}
	})
}

// TestConvAdjoint checks <conv(x, w), dy> = <x, ConvBackwardData(dy)> =
// <w, ConvBackwardFilter(x, dy)> using only the kernels under test.
func TestConvAdjoint(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for i, p := range convCases() {
			t.Run(convName(p), func(t *testing.T) {
				x, w, _, dy := convData(p, uint64(200+i))
				y := make([]float32, p.yLen())
				ConvForward(p, x, w, nil, y)
				dx := make([]float32, p.xLen())
				ConvBackwardData(p, dy, w, dx)
				dw := make([]float32, p.wLen())
				ConvBackwardFilter(p, x, dy, dw)
				lhs := dot64(y, dy)
				scale := math.Sqrt(float64(len(y))*float64(p.C/p.Groups*p.KH*p.KW)) + 1
				for name, rhs := range map[string]float64{"<x, dx>": dot64(x, dx), "<w, dw>": dot64(w, dw)} {
					if math.Abs(lhs-rhs) > 1e-4*scale {
						t.Errorf("<conv(x), dy> = %v, %s = %v", lhs, name, rhs)
					}
				}
			})
		}
	})
}

func TestConvParamsValidate(t *testing.T) {
	good := conv(1, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, [4]int{1, 1, 1, 1}, 2)
	if err := good.Validate(); err != nil {
		t.Fatalf("valid params: %v", err)
	}
	if good.OutH() != 5 || good.OutW() != 5 {
		t.Errorf("OutH, OutW = %d, %d, want 5, 5", good.OutH(), good.OutW())
	}
	for _, tc := range []struct {
		edit func(*ConvParams)
		want []string
	}{
		{func(p *ConvParams) { p.DilH, p.StrideW = 0, 0 }, []string{"DilH is 0", "StrideW is 0"}},
		{func(p *ConvParams) { p.Groups = 4 }, []string{"M=6 is not a multiple of Groups=4"}},
		{func(p *ConvParams) { p.C, p.Groups = 5, 2 }, []string{"C=5"}},
		{func(p *ConvParams) { p.PadLeft = -1 }, []string{"PadLeft is -1"}},
		{func(p *ConvParams) { p.KH, p.PadTop, p.PadBottom = 9, 0, 0 }, []string{"does not fit"}},
	} {
		p := good
		tc.edit(&p)
		err := p.Validate()
		if err == nil {
			t.Errorf("%+v: no error", p)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q does not mention %q", p, err, w)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("ConvForward with a short y did not panic")
		}
	}()
	ConvForward(good, make([]float32, good.xLen()), make([]float32, good.wLen()), nil, make([]float32, 3))
}

// TestIm2colPacking compares the packers of the active kernel (gatherPanels
// in assembly when available) with the portable loops, on blocks of the
// im2col matrix and of its transpose.
func TestIm2colPacking(t *testing.T) {
	kr := activeKernel()
	if kr.gatherPanels == nil {
		t.Skip("no gatherPanels packer in this build")
	}
	portable := *kr
	portable.gatherPanels, portable.copyRows, portable.transpose16 = nil, nil, nil
	ws := new(gemmWorkspace)
	for i, p := range convCases() {
		c := getConvCall(p)
		g := c.geom
		putConvCall(c)
		if !g.canGather() {
			continue
		}
		g.taps, g.pixels = offsetTable{}, offsetTable{}
		g.buildOffsets()
		g.gather = true
		r := rand.New(rand.NewPCG(uint64(i), 5))
		x := randSlice(r, g.C*g.H*g.W)
		rows, cols := g.rows(), g.cols()
		for try := range 40 {
			r0, q0 := r.IntN(rows), r.IntN(cols)
			if try%2 == 0 { // the driver's blocks start at multiples of 16
				r0, q0 = r0/16*16, q0/16*16
			}
			kcb, ncb := 1+r.IntN(rows-r0), 1+r.IntN(cols-q0)
			want := nanSlice(roundUp(ncb, 16) * kcb)
			got := nanSlice(len(want))
			g.packIm2col(got, x, kr, ws, r0, kcb, q0, ncb)
			g.packIm2col(want, x, &portable, ws, r0, kcb, q0, ncb)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: packIm2col(rows %d+%d, cols %d+%d) differs", convName(p), r0, kcb, q0, ncb)
			}
			kcb, ncb = 1+r.IntN(cols-q0), 1+r.IntN(rows-r0)
			want = nanSlice(roundUp(ncb, 16) * kcb)
			got = nanSlice(len(want))
			g.packIm2colT(got, x, kr, ws, q0, kcb, r0, ncb)
			g.packIm2colT(want, x, &portable, ws, q0, kcb, r0, ncb)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: packIm2colT(rows %d+%d, cols %d+%d) differs", convName(p), q0, kcb, r0, ncb)
			}
		}
	}
}
