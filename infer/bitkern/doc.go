// Package bitkern holds the bit-packed kernels of the BSNN inference
// engine: binary convolutions (and dense layers) of spikes s ∈ {0, 1} with
// ±1 weights, computed as AND-popcounts on 64-bit words, with a fused
// epilogue (AGMM gate, BatchNormalization, residual Add, LIF) that turns the
// exact integer sums into packed output spikes. It works on plain slices and
// knows nothing of Gorgonia or ONNX.
//
// # Layouts
//
// Spikes are packed channels last: an image is H*W pixels in row-major
// order, each Words(C) words, channel c at bit c%64 of word c/64; the bits
// past C are zero. Batches of a BSNN are time-major: image t*N + n is step
// t of sample n (the [T*N, ...] tensors of the BSNN format).
//
// Weights are one sign plane: bit 1 for +1. For a receptive field s of
// spikes, Σ s·w = 2·popcount(s ∧ w⁺) − popcount(s); zero padding is exact
// because a zero bit is "no spike". popcount(s) is computed once per output
// pixel, not per channel.
//
// A convolution's receptive fields ("patches") are laid out as Layout says.
// Tight packs the C*KH*KW bits contiguously; RowWords starts every kernel
// row (KW taps of C bits) on a word boundary; TapWords starts every tap on
// a word boundary (Words(C) words per tap). With C a multiple of 64 the
// three coincide. For smaller C they trade GEMM depth (words per patch)
// against the cost of building patches: for a 3x3 kernel, 16 channels take
// 3 words in Tight and RowWords and 9 in TapWords; 32 channels take 5, 6
// and 9. Patches are built in two passes (see patch.go): the kernel rows
// ("spans") of every input row, shared by the KH output rows that read
// them, then the patches; when kernel rows start on word boundaries
// (RowWords, TapWords), the spans themselves are the GEMM operand (a patch
// is KH runs of span words, read in place; with a vertical stride, one row
// of output pixels per GEMM call) and nothing is copied. When taps start
// on word boundaries too (TapWords, or C a multiple of 64) and the
// horizontal stride is 1, the span rows are the zero-padded input rows
// themselves, and spans overlap.
//
// BenchmarkLayouts decided for RowWords everywhere (ChooseLayout). Whole
// convolutions, 16 images, one thread, fastest of 100 interleaved rounds,
// binary G MAC/s (go test ./infer/bitkern -run '^$' -bench Layouts
// -benchtime 100x, on the 3.6 GHz AMD EPYC (Zen 5) of the reference
// machine, load average 2 from other jobs):
//
//	C (3x3, HxW)   kernel   tight  row-words  tap-words
//	16 (32x32)     avx512     165        849        151
//	16 (32x32)     avx2       109        218         69
//	16 (32x32)     go          38         50         18
//	32 (16x16)     avx512     445       1148        357
//	32 (16x16)     avx2       219        266        154
//	32 (16x16)     go          61         55         36
//	64 (8x8)       avx512     845        840        845
//	64 (8x8)       avx2       325        324        325
//
// At 16 and 32 channels RowWords wins by 1.2-5.6x on the assembly kernels:
// its spans are the GEMM operand, read in place, where Tight (5 words at
// 32 channels against 6) copies every patch, and TapWords' 9 words cost
// more GEMM than its copy-free rows save; only the Go kernel, whose GEMM
// dominates, does 11% better with Tight's 5 words at 32 channels. From 64
// channels on the layouts are the same words (in the measurements for 128,
// 256 and 512 channels too).
//
// # Micro-kernels
//
// A micro-kernel computes dot products of a tile of patches with a panel of
// 16 output channels (weights are stored in panels: 16 channels'
// words interleaved per k). Three exist, chosen at run time with
// golang.org/x/sys/cpu, fastest first:
//   - avx512 (AVX512F + AVX512_VPOPCNTDQ): 4 patches x 16 channels; per
//     patch word, a broadcast, then VPANDQ, VPOPCNTQ, VPADDQ into a qword
//     accumulator for each 8 channels.
//   - avx2: 2 patches x 16 channels with the nibble-table popcount (VPAND,
//     VPSRLW, two VPAND with 0x0f, two VPSHUFB, two VPADDB into byte
//     accumulators, summed with VPSADBW at most every 31 words).
//   - go: math/bits.OnesCount64, 1 patch x 4 channels per pass.
//
// The purego build tag, other architectures and CPUs without AVX2 get the
// Go kernel. Tests run every kernel the CPU has, and the Go one, on the
// same cases (forceGo and asmKernels in the tests).
//
// # Fused epilogue and exactness
//
// Conv.Spikes processes work items of (sample, band of output rows): it
// builds the band's patches and runs the GEMM for each of the T steps into
// an int32 tile that stays in cache, then runs the epilogue over the band,
// writing packed spikes. The assembly epilogues (AVX-512 and AVX2, 16 and
// 8 channels at a time) run one time step over all the band's neurons,
// then the next, with the membranes in a buffer: a neuron's steps are a
// chain of dependent float operations (each waits ~20 cycles for the one
// before), and neurons of one step are independent, so the out-of-order
// core overlaps many of them; the Go epilogue runs each neuron's T steps
// in order. No float32 spike tensor exists between binary layers.
//
// The float engine computes a binary layer as a float32 convolution of 0/1
// spikes with ±1 weights: every partial sum is an integer below 2^24, so
// the float result is exactly the integer sum, in any summation order.
// BatchNorm computes the affine factors as ops/norm.go does, and the
// epilogue applies them and the LIF update in spiking.LIFForward's
// operation order, one IEEE float32 rounding per operation and no fused
// multiply-add. The spikes are therefore bit-identical to the float
// engine's (TestFusedMatchesFloatEngine compiles Conv -> BatchNormalization
// -> Add -> LIF graphs in ops and compares bit for bit). Two steps of the
// AVX-512 epilogue take a shortcut that changes no spike: it adds a
// residual spike as 1 under a mask where the float engine adds 0 or 1 to
// every neuron, and it resets as H - (H - v_reset) (or H - v_threshold)
// under the spike mask, keeping H elsewhere, where the float engine
// subtracts 0*(H - v_reset). Adding or subtracting a zero can only change
// the sign of a zero result, which no comparison and no non-zero sum tells
// apart; and where H - v_reset is infinite or NaN, 0 times it is NaN while
// the epilogue keeps H, which did not fire, so is -inf or NaN, and never
// fires again either way (TestLIFChannelsLastMatchesLIFForward feeds
// infinities and NaN). An AGMM gate is the exception: the float engine
// sums gated inputs g·s, rounding after every term, while the epilogue
// multiplies the exact sum by g once.
//
// # Threads
//
// Work items are spread over the threads a call asks for (0: GOMAXPROCS)
// through internal/parallel's long-lived workers; scratch space is
// recycled, so steady-state calls allocate nothing.
//
// # Speed
//
// The AVX2 popcount roofline: the nibble-table AND-popcount takes 8 vector
// instructions per 256 bits and Zen 4/5 issue 4 integer-vector instructions
// per cycle, so 2 cycles per 256 binary multiply-accumulates: 128 binary
// MACs per cycle per core, 466 G/s at the 3.64 GHz the benchmarks measure
// (TestClockEstimate; a chain of dependent IMULs). Figures of one core
// (-cpu 1), fastest of 300 calls, load average 2 from other jobs:
//
//	go test ./infer/bitkern -run '^$' -bench 'Tile|Conv$|ConvLIF' -cpu 1 -benchtime 300x
//
//	                                      avx2            avx512           go
//	                                   GMAC/s roofline  GMAC/s roofline  GMAC/s
//	micro-kernel, 3-word patches          367   0.78     1573   3.32       65
//	micro-kernel, 36-word patches         447   0.94     2349   4.96       98
//	conv int32, C=16 32x32                219   0.46      864   1.83       50
//	conv int32, C=32 16x16                266   0.56     1149   2.43       55
//	conv int32, C=64 8x8                  325   0.69      844   1.78       74
//	conv int32, C=512 4x4                 425   0.90     2024   4.28       98
//	conv+BN+LIF T=4, 16->16 32x32         162   0.34      504   1.06       16
//	conv+BN+LIF T=4, 16->32 32x32 s2      153   0.32      320   0.68       17
//	conv+BN+LIF T=4, 32->32 16x16         217   0.46      732   1.55       25
//	conv+BN+LIF T=4, 32->64 16x16 s2      181   0.38      383   0.81       25
//	conv+BN+LIF T=4, 64->64 8x8           341   0.72     1147   2.42       40
//
// The binary layers of a ResNet-20 (the conv+BN+LIF rows) run at 32-72% of
// the AVX2 roofline on the AVX2 path. On AVX-512 a ResNet-20 spends about
// 30% of its time in the micro-kernel, 25% in the LIF epilogue and 15% in
// building spans (BenchmarkResNet20Packed, batch 32, one thread).
//
// Spike sparsity is not exploited, because it would not pay: measured with
// the packed engine on the trained quickstart LeNet and 64 Fashion-MNIST
// test images (firing rates 0.13-0.17), 12.5% of the pixels of the first
// spiking layer (32 channels, the image background) have no spike and 5.7%
// of its 3x3 neighbourhoods are empty, and none of the deeper layers'; on
// the ResNet-20 fixture (rates 0.03-0.28) empty neighbourhoods are 0% in 17
// of 19 layers (13.5% in one layer firing at 3%). Skipping empty patches
// would save at most a few percent of one layer and cost a test on every
// patch of every layer.
package bitkern
