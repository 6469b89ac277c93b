// Package infer is the packed inference engine for BSNNs: binary layers
// (a Conv or MatMul whose weight is a BipolarQuant of unit scale, reading
// LIF spikes) run on bit-packed spikes and weights with AND-popcount
// (package bitkern), fused with the BatchNormalization, residual Add and
// LIF that follow them, so spikes never exist as float32 between binary
// layers. The float engine (package ops) is its oracle.
//
// # Plan
//
// Compile accepts a BSNN of any profile bsnnctl writes (plain and packed
// files are first rewritten to portable by export.Export; the plain
// profile's step form, a one-step graph its caller drives, is refused
// with ErrStepForm), finds the binary weights (BipolarQuant of
// initializers) and groups each binary layer with what follows it:
//
//	Conv|MatMul -> BatchNormalization [-> Add(residual)] [-> Reshape] -> LIF
//
// runs as one bitkern.Conv.Spikes call (integer sums, tdBN, residual, LIF
// over the T steps, packed spikes out); a binary layer whose
// BatchNormalization feeds another layer's Add (a projection shortcut) runs
// as bitkern.Conv.Float32 and is added channels last. A MatMul after a
// Flatten of spikes is a convolution whose kernel covers the image.
// Everything else runs node by node: the direct encoding (the input
// repeated T times) is stored once, so the float first layer and its
// BatchNormalization run on N images instead of T*N (an event input
// [T, N, C, H, W], bsnn.input_encoding "events", holds T different frames:
// the first layer runs on the T*N of them, and the samples are on axis 1
// of the input, see Engine.InputShape); the LIF after it
// packs the spikes as it makes them (bitkern.LIFNCHW); MaxPool of
// spikes is an OR, GlobalAveragePool counts spikes; AGMM gates compute
// their factors from spike counts and hand them to the binary layer's
// epilogue; float Conv, Gemm and MatMul (the first and last layers, and
// binary layers that cannot be packed, such as depthwise ones) run on
// ops/kernels as in the float engine.
//
// # Float fallback
//
// A node without such a path (an op the engine does not know, or a
// pattern its path refuses: a broadcasting Add, a GlobalAveragePool of
// floats, a gate on floats, a LIF whose final membrane is read, ...) runs
// on the float engine's own kernel for its op: the node alone, compiled by
// package ops as a one-node model for its run-time input shapes (fallback.go),
// in the same plan. Its numerics are the float engine's by construction,
// and every op the float engine runs can run here; values ops computes at
// compile time (Shape, Constant) become constants of the program. Plan
// reports, per compute layer and per fallback node, how it runs, what is
// fused with it, and why.
//
// # Exactness
//
// For models without forward-mode AGMM gates every spike is identical to
// the float engine's and the outputs agree within float32 rounding (the
// tests demand 1e-5 of the largest output; they agree bit for bit on the
// fixtures). A gate multiplies the exact integer sum once where the float
// engine sums gated inputs, which may move a membrane potential by a
// rounding error: for gated models the tests demand identical spikes on
// 99.99% of the neurons and outputs within 1e-4 (the LeNet and ResNet-20
// fixtures agree on every spike). See bitkern's documentation for the
// argument.
//
// # Speed
//
// `bsnnctl bench infer` (package internal/inferbench) times the packed
// engine against the float engine and onnxruntime on the same model, and
// onnxruntime on the float ANN, interleaved round by round; the figures
// are in docs/results.md. BenchmarkResNet20 runs the fixture ResNet-20
// (T = 4) in both of our engines, interleaved round by round:
//
//	go test ./infer -run '^$' -bench ResNet20 -cpu 1,2 -benchtime 6x
//
// On the 2-core reference machine (AMD EPYC Zen 5, AVX-512 kernels), load
// average 1.3 from other jobs, fastest of 8 rounds: batch 32 in 10.8 ms on
// one thread against 35.8 ms for the float engine (3.3x), and in 8.1 ms
// on two; batch 1 in 0.32 ms (its convolutions are too small to split
// over threads, see bitkern). BenchmarkResNet20Packed runs the packed
// engine alone, for profiling.
package infer
