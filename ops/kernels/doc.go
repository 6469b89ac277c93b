// Package kernels holds the dense float32 kernels that training runs on:
// matrix multiplication (Sgemm), 2-D convolution forward and backward
// (ConvForward, ConvBackwardData, ConvBackwardFilter, ConvBackwardBias) and
// max / average pooling forward and backward. They work on plain []float32
// slices, know nothing of Gorgonia, and are safe for concurrent use.
//
// # Layout conventions
//
// Matrices are row-major with an explicit row stride (leading dimension),
// as in CBLAS with CblasRowMajor: element (i, j) of a matrix with stride ld
// is at [i*ld+j]. Sgemm follows BLAS semantics: C = alpha*op(A)*op(B) +
// beta*C, C is never read when beta is 0 (NaN or garbage in C is simply
// overwritten), and A and B are not read when alpha or k is 0.
//
// Tensors are NCHW and contiguous: x is [N, C, H, W], convolution weights
// are [M, C/Groups, KH, KW] (ONNX and PyTorch order), y is [N, M, OH, OW].
// Pads are given per side (top, left, bottom, right), so asymmetric ONNX
// pads need no copy. Strides and dilations must be at least 1: the
// parameter structs have no defaults, and Validate says what is wrong.
// The backward kernels overwrite their outputs. MaxPoolForward's argmax
// holds, per output, the index h*W + w of the maximum inside its (n, c)
// input plane; pooling follows ONNX MaxPool / AveragePool (and PyTorch),
// including ceil mode, which drops a last window that would start in the
// end padding.
//
// Invalid parameters and short slices are programming errors: the kernels
// panic with a message naming the argument (call Validate first to get an
// error instead).
//
// # Sgemm: blocking and why
//
// Sgemm is a GotoBLAS/BLIS-style blocked GEMM. Operands are packed into
// contiguous panels that the micro-kernel streams through: B into panels of
// nr columns (nr floats per k step), A into panels of mr rows (mr floats per
// k step), zero-padded at the edges. The loops, outermost first:
//
//	for each nc-wide block of C's columns
//	  for each kc-deep slice of k:   pack the kc x nc block of B
//	    for each mc-high row block:  pack the mc x kc block of A
//	      for each nr-wide B panel:  for each mr-high A panel: micro-kernel
//
// On amd64 with AVX2 and FMA (checked with CPUID at start-up) the
// micro-kernel is assembly computing a 6x16 tile of C: 12 YMM accumulators
// (6 rows x 2 vectors of 8), 2 registers for the B row, and broadcasts of
// the A column (VBROADCASTSS + VFMADD231PS), unrolled 4 times in k. That
// is 12 independent FMA chains, enough to cover the FMA latency (4 cycles on
// Zen 3 with 2 FMA pipes needs at least 8), and 8 loads per 12 FMAs, under
// the 2 loads per cycle the core sustains. In L1 it runs at about 100
// GFLOP/s on the reference AMD EPYC (Zen 3), 32 flops per cycle.
//
// The block sizes for that kernel are mr=6, nr=16, kc=256, mc=144,
// nc=4080:
//   - kc=256: a B micro-panel is 256*16*4 = 16 KiB, half of the 32 KiB L1d,
//     so it stays in L1 while the kernel sweeps all the A panels of a row
//     block, with room for the A panel (6 KiB) and the C tile. k is cut into
//     equal blocks of at most kc (576 = 3 x 192, not 256+256+64), so that
//     the C loads and stores of every block are amortised over a deep loop.
//   - mc=144: the packed A block is 144*256*4 = 144 KiB, well inside the
//     512 KiB L2 next to the B panel being streamed.
//   - nc=4080 (a multiple of 16): the packed B block (up to 4 MiB) lives in
//     the shared L3 and is reused by every row block.
//
// When all rows of C fit one mc block (the usual case for convolutions,
// whose m is a channel count), B is packed one panel at a time right before
// the kernel sweeps it, so the freshly packed panel is still in L1. Contiguous
// B panels are copied, and transposed ones built from 16x16 in-register
// transposes, in assembly. Edge tiles are computed into a scratch tile and
// merged.
//
// Products of at least 2^22 multiply-adds are split over GOMAXPROCS
// goroutines along the dimension with more micro-tiles (n, or m when it is
// taller), each part with its own packing buffers; smaller ones run on the
// caller's goroutine, where waking a worker would cost more than it saves.
// The parts run on the engine's one worker pool (internal/parallel, whose
// idle workers poll briefly before they sleep), and packing buffers and
// per-call state are recycled, so calls allocate nothing once warm.
//
// On CPUs with AVX-512F (and an OS that saves the ZMM state) a 16x16
// kernel on 16-lane registers replaces it: 16 accumulators of one ZMM row
// each, the B row loaded once per k step and every A element broadcast by
// the FMA itself (EVEX embedded broadcast). It reads the same 16-column B
// panels, so the AVX2 packers serve both, and its 16 rows fit the 16-, 32-
// and 64-channel weights of a CIFAR ResNet exactly. Both kernels sum every
// element of C in the same k order, so they give the same bits; per core
// it runs at 1.5-1.7x the AVX2 kernel (135-170 GFLOP/s against 90-100).
//
// Other builds (purego tag, non-amd64, CPUs without AVX2/FMA) use a 2x4
// micro-kernel in plain Go with the same driver: correct, and about 5
// GFLOP/s on the reference machine.
//
// # Convolution
//
// Convolutions with groups run as one GEMM per (sample, group):
//   - Forward: y[n,g] (Mg x OH*OW) = W_g (Mg x Cg*KH*KW) * im2col(x[n,g]).
//     The im2col matrix is never materialised: its panels are packed
//     straight from the image (masked vector loads for runs of unit-stride
//     pixels, AVX2 gathers otherwise, from offset tables built once per
//     call), and the weights are packed once per call and shared by all
//     samples.
//   - 1x1 convolutions with unit stride and no padding use the image itself
//     as the GEMM operand.
//   - Backward data with unit strides (and at least 32 input channels per
//     group) is itself a convolution of dy with the flipped, transposed
//     kernel, run like the forward pass; otherwise the im2col gradient
//     W_g^T * dy is computed 128 output pixels at a time and scattered back
//     (col2im) while it is in L2.
//   - Backward filter: dW_g += dy[n,g] * im2col(x[n,g])^T, the transposed
//     im2col panels built with the same loads plus 16x16 transposes.
//   - Depthwise convolutions (Groups == C) skip GEMM, which would have too
//     few rows to pay for packing: direct loops make one strided AXPY (or
//     dot product, for the filter gradient) per kernel tap and plane.
//
// With at least as many (sample, group) items as threads (and an even
// share, or at least four per thread), the items are spread over the
// threads, each running serial GEMMs: coarse parallelism with no
// synchronisation inside a GEMM. Backward filter then sums per-thread
// partial gradients at the end, in part order, each part taking a fixed
// range of items, so the gradient is the same bits from run to run at a
// given thread count. With fewer items, each GEMM is split over the
// threads instead.
//
// With the AVX-512 kernel, unit-stride convolutions whose output rows hold
// at least 16 pixels run directly (conv_direct.go): each image is copied
// once into a zero-padded buffer, and a 16-channel x 16-pixel tile reads
// the im2col column of its 16 pixels in place (16 consecutive floats at a
// per-row offset) instead of packing it: no im2col panels, and backward
// data of unit-stride convolutions (at any channel count) runs the same
// way on the transposed geometry, without col2im. Each output element is
// the same sum in the same order as the GEMM's.
//
// 3x3 convolutions with unit stride and dilation, no groups and enough
// channels run as Winograd F(4x4, 3x3) (conv_winograd.go): per 4x4 output
// tile, 36 products over channels instead of 144 multiply-adds per pixel
// and channel pair, 4x fewer multiplications, for the forward pass and
// backward data (at least 32 input and output channels) and the weight
// gradient (at least 16; where the input is spikes the sparse path below
// comes first). A chunk of tiles is gathered, transformed and multiplied
// while it is in L2, the transforms running 16 tiles or channels at a time
// (AVX-512 assembly, Go elsewhere). The results differ from the direct
// kernel's by a few 1e-6 of their largest magnitude (TestWinogradAccuracy);
// the weight gradient's parts are summed in a fixed order as above.
//
// The weight gradient of a spike input (every nonzero of a sample the
// same value, at most 35% nonzero, unit strides: the AGMM-gated spikes of
// a BSNN's binary layers) is computed from the nonzeros only
// (conv_sparse.go): dy is transposed into a zero-bordered grid of output
// positions, and each tap of each nonzero adds one grid row, 16 output
// channels per register, with one multiplication per sample. It is split
// over input channels, so every element is summed by one thread in one
// order: the result does not depend on the thread count.
//
// vecops.go holds the vector primitives of the normalization, spiking and
// elementwise kernels (sums in float64 and float32, scale, scale-add,
// two-term affine, Add, Relu, non-zero counts), AVX2 assembly with Go
// loops that sum in the same order.
//
// BenchmarkSgemm, BenchmarkConv and BenchmarkConvResBlock (run with
// -cpu 1,2 -benchmem) report GFLOP/s and allocations; BenchmarkConvDirect
// compares the direct convolution with im2col, BenchmarkConvWinograd
// Winograd with the direct kernel, BenchmarkConvBackwardFilterSpikes
// the sparse weight gradient with the GEMM, BenchmarkVecOps the primitives
// (MB/s);
// testdata/torch_conv_bench.py times the same shapes in PyTorch.
package kernels
