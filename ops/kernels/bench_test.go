package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Run with -cpu 1,2 for the single- and two-thread figures; -benchmem shows
// the allocations per call (0 in steady state). The benchmarks loop over
// b.N rather than b.Loop: b.Loop in sub-benchmarks ignores -cpu (Go 1.26
// runs the whole loop once, at the GOMAXPROCS in effect before).

func BenchmarkSgemm(b *testing.B) {
	shapes := []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"256", false, false, 256, 256, 256},
		{"512", false, false, 512, 512, 512},
		{"1024", false, false, 1024, 1024, 1024},
		{"1024tA", true, false, 1024, 1024, 1024},
		{"1024tB", false, true, 1024, 1024, 1024},
		// The 3x3 64-channel 32x32 convolution as GEMMs: forward
		// (W * im2col), backward data (W^T * dy), backward filter
		// (dy * im2col^T).
		{"conv_fwd_64x1024x576", false, false, 64, 1024, 576},
		{"conv_bwd_data_576x1024x64", true, false, 576, 1024, 64},
		{"conv_bwd_filter_64x576x1024", false, true, 64, 576, 1024},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			benchKernels(b, func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				a := randSlice(r, s.m*s.k)
				bb := randSlice(r, s.k*s.n)
				c := randSlice(r, s.m*s.n)
				lda, ldb := s.k, s.n
				if s.transA {
					lda = s.m
				}
				if s.transB {
					ldb = s.k
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
				}
				reportGFLOPS(b, 2*float64(s.m)*float64(s.n)*float64(s.k))
			})
		})
	}
}

// benchKernels runs f with the assembly kernel, and with the Go kernel when
// the kernel=go sub-benchmark is selected.
func benchKernels(b *testing.B, f func(b *testing.B)) {
	for _, k := range asmKernels {
		b.Run("kernel="+k.name, func(b *testing.B) {
			old := forceKernel
			forceKernel = k
			defer func() { forceKernel = old }()
			f(b)
		})
	}
	b.Run("kernel="+goKernel.name, func(b *testing.B) {
		old := forceGo
		forceGo = true
		defer func() { forceGo = old }()
		f(b)
	})
}

func reportGFLOPS(b *testing.B, flopsPerOp float64) {
	b.ReportMetric(flopsPerOp*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// resBlockConv is the 3x3 convolution of a CIFAR ResNet basic block with 64
// channels at 32x32, batch 32.
var resBlockConv = ConvParams{N: 32, C: 64, H: 32, W: 32, M: 64, KH: 3, KW: 3,
	StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}

func convFlops(p ConvParams) float64 {
	return 2 * float64(p.N*p.M*p.OutH()*p.OutW()) * float64(p.C/p.Groups*p.KH*p.KW)
}

// BenchmarkConvResBlock times the two convolutions of a ResNet basic block
// (conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> +x -> ReLU) forward and
// backward: conv1 and conv2 forward, then for conv2 and conv1 the data and
// filter gradients (6 convolution passes). BN and ReLU are not included;
// testdata/torch_conv_bench.py times the same passes in PyTorch.
func BenchmarkConvResBlock(b *testing.B) {
	p := resBlockConv
	r := rand.New(rand.NewPCG(3, 3))
	x, h, y := randSlice(r, p.xLen()), make([]float32, p.yLen()), make([]float32, p.yLen())
	w1, w2 := randSlice(r, p.wLen()), randSlice(r, p.wLen())
	dy, dh, dx := randSlice(r, p.yLen()), make([]float32, p.yLen()), make([]float32, p.xLen())
	dw1, dw2 := make([]float32, p.wLen()), make([]float32, p.wLen())
	benchKernels(b, func(b *testing.B) {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ConvForward(p, x, w1, nil, h)
			ConvForward(p, h, w2, nil, y)
			ConvBackwardData(p, dy, w2, dh)
			ConvBackwardFilter(p, h, dy, dw2)
			ConvBackwardData(p, dh, w1, dx)
			ConvBackwardFilter(p, x, dh, dw1)
		}
		reportGFLOPS(b, 6*convFlops(p))
	})
}

// convPass is one convolution pass on random operands.
type convPass struct {
	name string
	f    func()
}

// convPasses returns the three passes of p on random operands.
func convPasses(p ConvParams) []convPass {
	r := rand.New(rand.NewPCG(4, 4))
	x, w, y := randSlice(r, p.xLen()), randSlice(r, p.wLen()), make([]float32, p.yLen())
	dy, dx, dw := randSlice(r, p.yLen()), make([]float32, p.xLen()), make([]float32, p.wLen())
	return []convPass{
		{"forward", func() { ConvForward(p, x, w, nil, y) }},
		{"backward_data", func() { ConvBackwardData(p, dy, w, dx) }},
		{"backward_filter", func() { ConvBackwardFilter(p, x, dy, dw) }},
	}
}

// BenchmarkConv times each convolution pass alone on several shapes.
func BenchmarkConv(b *testing.B) {
	shapes := []struct {
		name string
		p    ConvParams
	}{
		{"resblock_3x3_64c_32px", resBlockConv},
		{"3x3_s2_64to128c_32px", ConvParams{N: 32, C: 64, H: 32, W: 32, M: 128, KH: 3, KW: 3, StrideH: 2, StrideW: 2,
			DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}},
		{"1x1_64to256c_16px", ConvParams{N: 32, C: 64, H: 16, W: 16, M: 256, KH: 1, KW: 1, StrideH: 1, StrideW: 1,
			DilH: 1, DilW: 1, Groups: 1}},
		{"depthwise_3x3_128c_16px", ConvParams{N: 32, C: 128, H: 16, W: 16, M: 128, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
			DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 128}},
	}
	for _, s := range shapes {
		p := s.p
		for _, pass := range convPasses(p) {
			b.Run(s.name+"/"+pass.name, func(b *testing.B) {
				benchKernels(b, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						pass.f()
					}
					reportGFLOPS(b, convFlops(p))
				})
			})
		}
	}
}

// The convolutions of the BSNN ResNet-20 at batch 32 and T = 4 (128
// images), one per stage.
var bsnnConvs = []struct {
	name string
	p    ConvParams
}{
	{"bsnn_3x3_16c_32px", ConvParams{N: 128, C: 16, H: 32, W: 32, M: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}},
	{"bsnn_3x3_32c_16px", ConvParams{N: 128, C: 32, H: 16, W: 16, M: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}},
	{"bsnn_3x3_64c_8px", ConvParams{N: 128, C: 64, H: 8, W: 8, M: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}},
}

// unitConvs are the 3x3 unit-stride shapes the benchmarks compare
// algorithms on: the ResNet block's and bsnnConvs.
var unitConvs = append([]struct {
	name string
	p    ConvParams
}{{"resblock_3x3_64c_32px", resBlockConv}}, bsnnConvs...)

// The strided convolutions of the BSNN ResNet-20 at batch 32 and T = 4:
// the first convolution of stages 2 and 3 and their 1x1 shortcuts.
var bsnnStridedConvs = []struct {
	name string
	p    ConvParams
}{
	{"bsnn_3x3_s2_16to32c_32px", ConvParams{N: 128, C: 16, H: 32, W: 32, M: 32, KH: 3, KW: 3, StrideH: 2, StrideW: 2,
		DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}},
	{"bsnn_3x3_s2_32to64c_16px", ConvParams{N: 128, C: 32, H: 16, W: 16, M: 64, KH: 3, KW: 3, StrideH: 2, StrideW: 2,
		DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}},
	{"bsnn_1x1_s2_16to32c_32px", ConvParams{N: 128, C: 16, H: 32, W: 32, M: 32, KH: 1, KW: 1, StrideH: 2, StrideW: 2,
		DilH: 1, DilW: 1, Groups: 1}},
	{"bsnn_1x1_s2_32to64c_16px", ConvParams{N: 128, C: 32, H: 16, W: 16, M: 64, KH: 1, KW: 1, StrideH: 2, StrideW: 2,
		DilH: 1, DilW: 1, Groups: 1}},
}

// BenchmarkConvStrided times the three passes of the BSNN ResNet-20's
// strided convolutions (the weight gradient on gated spikes, 15% nonzero).
func BenchmarkConvStrided(b *testing.B) {
	for _, s := range bsnnStridedConvs {
		p := s.p
		r := rand.New(rand.NewPCG(4, 4))
		x, w, y := spikeData(p, 0.15, 5), randSlice(r, p.wLen()), make([]float32, p.yLen())
		dy, dx, dw := randSlice(r, p.yLen()), make([]float32, p.xLen()), make([]float32, p.wLen())
		for _, pass := range []struct {
			name string
			f    func()
		}{
			{"forward", func() { ConvForward(p, x, w, nil, y) }},
			{"backward_data", func() { ConvBackwardData(p, dy, w, dx) }},
			{"backward_filter", func() { ConvBackwardFilter(p, x, dy, dw) }},
		} {
			b.Run(s.name+"/"+pass.name, func(b *testing.B) {
				pass.f()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					pass.f()
				}
				reportGFLOPS(b, convFlops(p))
			})
		}
	}
}

// BenchmarkConvDirect compares the direct convolution with the im2col GEMM
// (path=im2col) on the AVX-512 kernel, forward and backward data.
func BenchmarkConvDirect(b *testing.B) {
	if avx512Kernel == nil {
		b.Skip("no AVX-512 kernel on this CPU")
	}
	for _, s := range unitConvs {
		p := s.p
		r := rand.New(rand.NewPCG(4, 4))
		x, w, y := randSlice(r, p.xLen()), randSlice(r, p.wLen()), make([]float32, p.yLen())
		dy, dx := randSlice(r, p.yLen()), make([]float32, p.xLen())
		for _, pass := range []struct {
			name string
			f    func()
		}{
			{"forward", func() { ConvForward(p, x, w, nil, y) }},
			{"backward_data", func() { ConvBackwardData(p, dy, w, dx) }},
		} {
			for _, im2col := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/%s/path=%s", s.name, pass.name, map[bool]string{false: "direct", true: "im2col"}[im2col]), func(b *testing.B) {
					old := forceIm2col
					forceIm2col = im2col
					defer func() { forceIm2col = old }()
					pass.f()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						pass.f()
					}
					reportGFLOPS(b, convFlops(p))
				})
			}
		}
	}
}

// BenchmarkConvBackwardFilterSpikes times the weight gradient of the BSNN
// ResNet-20's binary layers on gated spikes (15% nonzero), with the sparse
// path and with the dense GEMM (path=dense). GFLOP/s counts the dense
// product's flops for both, so it compares their speed directly.
func BenchmarkConvBackwardFilterSpikes(b *testing.B) {
	for _, s := range bsnnConvs {
		p := s.p
		x := spikeData(p, 0.15, 5)
		r := rand.New(rand.NewPCG(5, 5))
		dy, dw := randSlice(r, p.yLen()), make([]float32, p.wLen())
		for _, dense := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/path=%s", s.name, map[bool]string{false: "sparse", true: "dense"}[dense]), func(b *testing.B) {
				old := forceIm2col
				forceIm2col = dense
				defer func() { forceIm2col = old }()
				ConvBackwardFilter(p, x, dy, dw)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ConvBackwardFilter(p, x, dy, dw)
				}
				reportGFLOPS(b, convFlops(p))
			})
		}
	}
}

// BenchmarkVecOps times the vector primitives on one activation tensor of
// the BSNN ResNet-20's first stage (2 Mi floats, 8 MiB); MB/s counts each
// tensor read or written once.
func BenchmarkVecOps(b *testing.B) {
	const n = 2 << 20
	r := rand.New(rand.NewPCG(6, 6))
	x, y, z := randSlice(r, n), randSlice(r, n), make([]float32, n)
	var sink float64
	for _, op := range []struct {
		name    string
		tensors int64
		f       func()
	}{
		{"Sum64", 1, func() { sink += Sum64(x) }},
		{"SumDot64", 2, func() { _, d := SumDot64(x, y); sink += d }},
		{"SumShifted", 1, func() { a, _ := SumShifted(x, 0.5); sink += float64(a) }},
		{"Scale", 2, func() { Scale(z, x, 1.5) }},
		{"ScaleAdd", 2, func() { ScaleAdd(z, x, 1.5, 0.25) }},
		{"Affine2", 3, func() { Affine2(z, x, y, 1.5, 0.5, 0.25) }},
		{"Add", 3, func() { Add(z, x, y) }},
		{"Relu", 2, func() { Relu(z, x) }},
		{"ReluGrad", 3, func() { ReluGrad(z, x, y) }},
	} {
		b.Run(op.name, func(b *testing.B) {
			b.SetBytes(4 * n * op.tensors)
			for i := 0; i < b.N; i++ {
				op.f()
			}
		})
	}
	_ = sink
}
