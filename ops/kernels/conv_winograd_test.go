package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// withWinoMin runs f with both Winograd channel thresholds set to min.
func withWinoMin(min int, f func()) {
	old, oldFilter := winoMinChannels, winoMinFilterChannels
	winoMinChannels, winoMinFilterChannels = min, min
	defer func() { winoMinChannels, winoMinFilterChannels = old, oldFilter }()
	f()
}

// TestWinogradTransformAdjoints checks that the gradient transforms are the
// adjoints of the forward ones: <A^T m A, e> = <m, A e A^T> and
// <G g G^T, u> = <g, G^T u G>.
func TestWinogradTransformAdjoints(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		var m, u, gm [winoPositions]float32
		var e, y [16]float32
		copy(m[:], randSlice(r, 36))
		copy(u[:], randSlice(r, 36))
		copy(e[:], randSlice(r, 16))
		g, dg := randSlice(r, 9), make([]float32, 9)
		winoOutput(&m, &y)
		winoGrad(&e, &gm)
		if a, b := dot64(y[:], e[:]), dot64(m[:], gm[:]); math.Abs(a-b) > 1e-4*(1+math.Abs(a)) {
			t.Errorf("output transform: <A^T m A, e> = %v, <m, A e A^T> = %v", a, b)
		}
		var gu [winoPositions]float32
		winoFilter(g, &gu)
		winoFilterGrad(&u, dg)
		if a, b := dot64(gu[:], u[:]), dot64(g, dg); math.Abs(a-b) > 1e-4*(1+math.Abs(a)) {
			t.Errorf("filter transform: <G g G^T, u> = %v, <g, G^T u G> = %v", a, b)
		}
	}
}

// winoCases are 3x3 unit-stride shapes: odd sizes, sizes that are not
// multiples of the 4x4 tile, pads 0, 1, 2 and asymmetric, batches > 1,
// chunks that do not fill a panel.
func winoCases(c1, c2 int) []ConvParams {
	one, zero := [4]int{1, 1, 1, 1}, [4]int{}
	return []ConvParams{
		conv(2, c1, 7, 9, c2, 3, 3, 1, 1, 1, 1, one, 1),
		conv(3, c2, 5, 6, c1, 3, 3, 1, 1, 1, 1, zero, 1),
		conv(1, c1, 11, 10, c1, 3, 3, 1, 1, 1, 1, [4]int{0, 2, 1, 0}, 1),
		conv(2, c2, 8, 8, c2, 3, 3, 1, 1, 1, 1, [4]int{2, 2, 2, 2}, 1),
		conv(5, c1, 3, 3, c2, 3, 3, 1, 1, 1, 1, one, 1),
		conv(2, c2, 13, 4, c1, 3, 3, 1, 1, 1, 1, [4]int{1, 0, 0, 1}, 1),
		conv(3, c1, 1, 2, c2, 3, 3, 1, 1, 1, 1, one, 1), // images smaller than the kernel
	}
}

// TestConvWinograd compares the three Winograd passes with the float64
// reference and with the direct / im2col kernels, for every micro-kernel and
// 1 and 2 threads, with channel counts around the threshold (lowered to 4
// so that the shapes stay small, and at its real value).
func TestConvWinograd(t *testing.T) {
	one := [4]int{1, 1, 1, 1}
	cases := append(winoCases(4, 5), winoCases(winoMinChannels, winoMinChannels+3)...)
	// More input channels than a packed block of the weights is deep.
	cases = append(cases, conv(1, 2*goKernel.kc+5, 5, 6, 20, 3, 3, 1, 1, 1, 1, one, 1))
	run := func(t *testing.T) {
		forEachThreads(t, func(t *testing.T) {
			withWinoMin(4, func() {
				for i, p := range cases {
					t.Run(convName(p), func(t *testing.T) { checkWinograd(t, p, uint64(i)) })
				}
			})
		})
	}
	forEachKernel(t, run)
	// The portable lane transforms, with the kernel the CPU uses.
	t.Run("go-lanes", func(t *testing.T) {
		if winoLanes(activeKernel()) == nil {
			t.Skip("the active kernel's chunks take the scalar transforms")
		}
		winoForceGoLanes = true
		defer func() { winoForceGoLanes = false }()
		run(t)
	})
}

// checkWinograd checks one shape's Winograd passes.
func checkWinograd(t *testing.T, p ConvParams, seed uint64) {
	t.Helper()
	if p.strategy() != convWinograd {
		t.Fatalf("strategy %d, want Winograd", p.strategy())
	}
	x, w, bias, dy := convData(p, seed)
	y, dx, dw := nanSlice(p.yLen()), nanSlice(p.xLen()), nanSlice(p.wLen())
	ConvForward(p, x, w, bias, y)
	ConvBackwardData(p, dy, w, dx)
	ConvBackwardFilter(p, x, dy, dw)
	wantDx, wantDw := refConvBackward64(p, to64(x), to64(w), to64(dy))
	checkClose(t, "y", y, refConv64(p, to64(x), to64(w), to64(bias)), winoTol(p.C))
	checkClose(t, "dx", dx, wantDx, winoTol(p.M))
	checkClose(t, "dw", dw, wantDw, winoTol(p.N*p.OutH()*p.OutW()))

	// The same passes without Winograd.
	y2, dx2, dw2 := nanSlice(p.yLen()), nanSlice(p.xLen()), nanSlice(p.wLen())
	withWinoMin(math.MaxInt, func() {
		ConvForward(p, x, w, bias, y2)
		ConvBackwardData(p, dy, w, dx2)
		ConvBackwardFilter(p, x, dy, dw2)
	})
	checkClose(t, "y vs direct", y, to64(y2), winoTol(p.C))
	checkClose(t, "dx vs direct", dx, to64(dx2), winoTol(p.M))
	checkClose(t, "dw vs direct", dw, to64(dw2), winoTol(p.N*p.OutH()*p.OutW()))
}

// winoTol is the tolerance of a Winograd result summing k products of
// 3x3 windows, relative to the largest magnitude: F(4x4, 3x3)'s transforms
// multiply float32 rounding by up to about 100 (see TestWinogradAccuracy).
func winoTol(k int) float64 { return 2e-6 * 100 * math.Sqrt(float64(9*k+1)) }

// TestWinogradAccuracy measures, on the ResNet block's 64-channel convolution
// (smaller image), the relative error of each pass against float64, Winograd
// next to the direct kernel, and bounds Winograd's at 1e-4 of the result's
// largest magnitude.
func TestWinogradAccuracy(t *testing.T) {
	p := conv(4, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, [4]int{1, 1, 1, 1}, 1)
	x, w, _, dy := convData(p, 9)
	wantY := refConv64(p, to64(x), to64(w), nil)
	wantDx, wantDw := refConvBackward64(p, to64(x), to64(w), to64(dy))
	for _, c := range []struct {
		name string
		min  int
	}{{"winograd", 64}, {"direct", math.MaxInt}} {
		y, dx, dw := make([]float32, p.yLen()), make([]float32, p.xLen()), make([]float32, p.wLen())
		withWinoMin(c.min, func() {
			ConvForward(p, x, w, nil, y)
			ConvBackwardData(p, dy, w, dx)
			ConvBackwardFilter(p, x, dy, dw)
		})
		ey, edx, edw := maxRelErr(y, wantY), maxRelErr(dx, wantDx), maxRelErr(dw, wantDw)
		t.Logf("%s: max error / max |value|: y %.2g, dx %.2g, dw %.2g", c.name, ey, edx, edw)
		if c.min != math.MaxInt && max(ey, edx, edw) > 1e-4 {
			t.Errorf("%s: error above 1e-4", c.name)
		}
	}
}

// maxRelErr is the largest |got - want| relative to the largest |want|.
func maxRelErr(got []float32, want []float64) float64 {
	var e, scale float64
	for i, w := range want {
		e = max(e, math.Abs(float64(got[i])-w))
		scale = max(scale, math.Abs(w))
	}
	return e / scale
}

// TestConvWinogradStrategy checks where Winograd is and is not chosen.
func TestConvWinogradStrategy(t *testing.T) {
	n, f := winoMinChannels, winoMinFilterChannels
	one := [4]int{1, 1, 1, 1}
	for _, c := range []struct {
		p            ConvParams
		want, filter bool // Winograd for the forward and backward-data passes, for the weight gradient
	}{
		{conv(2, n, 8, 8, n, 3, 3, 1, 1, 1, 1, one, 1), true, true},
		{conv(2, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, one, 1), true, true},              // the ResNet block
		{conv(2, n, 8, 8, 2*n, 3, 3, 1, 1, 1, 1, [4]int{}, 1), true, true},           // no padding
		{conv(2, n-1, 8, 8, n, 3, 3, 1, 1, 1, 1, one, 1), false, true},               // few input channels
		{conv(2, n, 8, 8, n-1, 3, 3, 1, 1, 1, 1, one, 1), false, true},               // few output channels
		{conv(2, f, 8, 8, f, 3, 3, 1, 1, 1, 1, one, 1), false, true},                 // a ResNet-20's first stage
		{conv(2, f-1, 8, 8, f, 3, 3, 1, 1, 1, 1, one, 1), false, false},              // fewer
		{conv(2, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1, one, 1), false, false},             // an encoder
		{conv(2, n, 8, 8, n, 3, 3, 2, 2, 1, 1, one, 1), false, false},                // strided
		{conv(2, n, 8, 8, n, 3, 3, 1, 1, 2, 2, one, 1), false, false},                // dilated
		{conv(2, 2*n, 8, 8, 2*n, 3, 3, 1, 1, 1, 1, one, 2), false, false},            // grouped
		{conv(2, n, 8, 8, n, 5, 5, 1, 1, 1, 1, [4]int{2, 2, 2, 2}, 1), false, false}, // 5x5
		{conv(2, n, 8, 8, n, 1, 1, 1, 1, 1, 1, [4]int{}, 1), false, false},           // pointwise
	} {
		if got := c.p.strategy() == convWinograd; got != c.want {
			t.Errorf("%s: Winograd forward %v, want %v", convName(c.p), got, c.want)
		}
		if got := c.p.winograd(winoMinFilterChannels); got != c.filter {
			t.Errorf("%s: Winograd weight gradient %v, want %v", convName(c.p), got, c.filter)
		}
	}
}

// TestConvWinogradReproducible checks that two-thread weight gradients are
// bit-identical from call to call (the parts' sums are added in a fixed
// order).
func TestConvWinogradReproducible(t *testing.T) {
	old := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(old)
	p := conv(3, 32, 20, 20, 32, 3, 3, 1, 1, 1, 1, [4]int{1, 1, 1, 1}, 1)
	x, _, _, dy := convData(p, 4)
	first := make([]float32, p.wLen())
	ConvBackwardFilter(p, x, dy, first)
	for i := range 5 {
		dw := make([]float32, p.wLen())
		ConvBackwardFilter(p, x, dy, dw)
		if !slices.Equal(dw, first) {
			t.Fatalf("call %d: weight gradient differs from the first call", i+2)
		}
	}
}

// BenchmarkConvWinograd times the three passes of the 3x3 convolutions of
// the ResNet block and the BSNN ResNet-20 with Winograd and without
// (direct / im2col); GFLOP/s count the dense convolution's flops.
func BenchmarkConvWinograd(b *testing.B) {
	for _, s := range unitConvs {
		p := s.p
		for _, pass := range convPasses(p) {
			for _, algo := range []struct {
				name string
				min  int
			}{{"winograd", 1}, {"direct", math.MaxInt}} {
				b.Run(fmt.Sprintf("%s/%s/%s", s.name, pass.name, algo.name), func(b *testing.B) {
					withWinoMin(algo.min, func() {
						for i := 0; i < b.N; i++ {
							pass.f()
						}
					})
					reportGFLOPS(b, convFlops(p))
				})
			}
		}
	}
}

// TestWinoGatherT checks the lane ops' fused gathers and transposes of 6x6
// and 4x4 tiles against a plain loop, on tiles inside the image and
// hanging over each of its borders, for the assembly and the portable ops.
func TestWinoGatherT(t *testing.T) {
	const H, W = 9, 11
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, 3*H*W)
	for i := range src {
		src[i] = rng.Float32() + 1
	}
	for _, ops := range []*winoLaneOps{winoGoLanes, winoAsmLanes} {
		if ops == nil {
			continue
		}
		for _, size := range []int{6, 4} {
			gather := ops.gatherT
			if size == 4 {
				gather = ops.gatherT4
			}
			for round := 0; round < 20; round++ {
				var lanes [16]winoLane
				for l := range lanes {
					setLane(&lanes[l], size, H*W, H, W, rng.IntN(H+8)-6, rng.IntN(W+8)-6)
				}
				checkLanes(src, lanes[:], W, H*W)
				var masks [6][16]uint16
				rowMasks(&masks, &lanes)
				got := nanSlice(size * size * 16)
				gather(src, &lanes, &masks, W, got, H*W)
				for l, ln := range lanes {
					for e := 0; e < size*size; e++ {
						r, j := e/size, e%size
						var want float32
						if r >= ln.r0 && r < ln.r1 && ln.mask>>j&1 != 0 {
							want = src[ln.off+r*W+j]
						}
						if g := got[e*16+l]; g != want {
							t.Fatalf("%s: %dx%d, round %d, tile %d (%+v), element %d: %v, want %v", ops.name, size, size, round, l, ln, e, g, want)
						}
					}
				}
			}
		}
	}
}

// TestWinoFilterLanes checks that the lane ops' kernel transform and its
// gradient give winoFilter's and winoFilterGrad's results bit for bit in
// every lane (the assembly divides in the same order), so that the
// results do not depend on the CPU.
func TestWinoFilterLanes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := make([]float32, 9*16)
	for i := range g {
		g[i] = float32(rng.NormFloat64())
	}
	const stride = 19
	for _, ops := range []*winoLaneOps{winoGoLanes, winoAsmLanes} {
		if ops == nil {
			continue
		}
		dst := nanSlice(35*stride + 16)
		ops.filter(g, dst, stride)
		for l := 0; l < 16; l++ {
			var k [9]float32
			for q := range k {
				k[q] = g[q*16+l]
			}
			var want [winoPositions]float32
			winoFilter(k[:], &want)
			for xi, w := range want {
				if got := dst[xi*stride+l]; math.Float32bits(got) != math.Float32bits(w) {
					t.Fatalf("%s: lane %d, position %d: %v, want %v", ops.name, l, xi, got, w)
				}
			}
		}
		u := make([]float32, winoPositions*16)
		for i := range u {
			u[i] = float32(rng.NormFloat64())
		}
		dg := nanSlice(9 * 16)
		ops.filterGrad(u, dg)
		for l := 0; l < 16; l++ {
			var m [winoPositions]float32
			for xi := range m {
				m[xi] = u[xi*16+l]
			}
			var want [9]float32
			winoFilterGrad(&m, want[:])
			for q, w := range want {
				if got := dg[q*16+l]; math.Float32bits(got) != math.Float32bits(w) {
					t.Fatalf("%s: gradient lane %d, element %d: %v, want %v", ops.name, l, q, got, w)
				}
			}
		}
	}
}

// TestWinoScatterT checks the lane ops' fused transpose and scatter of
// 4x4 tiles against a plain loop, on tiles inside the image and hanging
// over each of its borders: the elements outside must stay untouched.
func TestWinoScatterT(t *testing.T) {
	const H, W = 7, 9
	rng := rand.New(rand.NewPCG(5, 6))
	src := make([]float32, 256)
	for i := range src {
		src[i] = rng.Float32() + 1
	}
	for _, ops := range []*winoLaneOps{winoGoLanes, winoAsmLanes} {
		if ops == nil {
			continue
		}
		for round := 0; round < 20; round++ {
			var lanes [16]winoLane
			for l := range lanes {
				// A plane each: tiles of one plane could overlap.
				setLane(&lanes[l], 4, l*H*W, H, W, rng.IntN(H+4)-4, rng.IntN(W+4)-4)
			}
			checkLanes(make([]float32, 16*H*W), lanes[:], W, 0)
			var masks [6][16]uint16
			rowMasks(&masks, &lanes)
			got, want := make([]float32, 16*H*W), make([]float32, 16*H*W)
			ops.scatterT(got, &lanes, &masks, W, src, H*W)
			for l, ln := range lanes {
				for r := ln.r0; r < ln.r1; r++ {
					for j := 0; j < 4; j++ {
						if ln.mask>>j&1 != 0 {
							want[ln.off+r*W+j] = src[(4*r+j)*16+l]
						}
					}
				}
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: round %d, element %d: %v, want %v", ops.name, round, i, got[i], want[i])
				}
			}
		}
	}
}
