// Package nirbsnn maps binary spiking neural networks (BSNN ONNX files,
// docs/spec/bsnn-onnx.md) to NIR graphs and back, following
// docs/spec/nir.md.
//
//	g, err := nirbsnn.Export(model, nirbsnn.ExportOptions{})   // any profile -> *nir.Graph
//	err = nir.WriteFile("lenet.nir", g)
//
//	g, err := nir.ReadFile("net.nir")                          // ours, or any nir.write file
//	res, err := nirbsnn.Import(g, nirbsnn.ImportOptions{})      // -> BSNN, portable profile
//
// # Export
//
// The model is first lifted to the canonical portable graph (package
// export), then walked node by node. Each ONNX tensor is a signal: the sum
// of the outputs of some NIR nodes, with a per-sample shape. Layers become
// Conv2d, Conv1d, Linear and Affine (binary ones with ±1 float32 weights and
// metadata bsnn.binary = 1); a BatchNormalization becomes the per-channel
// affine a·x + b our engine computes, as a diagonal layer after the layer
// or folded into it (BatchNorm); LIF neurons become NIR LIF nodes (IF for
// tau = +inf) by the forward-Euler correspondence of lif.go, with the
// threshold lowered to the next float32 because NIR fires on v > θ and we
// on v ≥ θ; a max pooling of spikes becomes a SumPool2d into an IF neuron
// that fires on any spike; adding two signals is two edges into the node
// that reads the sum. The T-step repetition of the input and the mean over
// time of the output are no nodes: the graph's metadata says them, with dt.
// Every node NIR cannot express (AGMM gates in forward mode, soft reset,
// ...) is reported at once in an *onnx.UnsupportedError.
//
// # Import
//
// Import types the graph (nir.Graph.InferTypes), orders it, recognises the
// node groups that stand for one ONNX op (a SumPool2d -> IF max pooling, a
// layer with the per-channel affine written for its BatchNormalization,
// checked value by value against bsnn.batchnorm), and writes the portable
// graph: the direct encoding (or the event input), BipolarQuant -> Conv or
// MatMul -> BatchNormalization for binary layers (binary when the metadata
// says so or every weight is ±1), Conv and Gemm for float ones, LIF nodes on
// the [T, N, ...] view, and the mean over time. Our own files come back
// with identical spikes; files from snnTorch, SpikingJelly and Norse come
// back as the networks those tools simulate, within the limits the
// specification lists. The result is finished by export.Export, so it is a
// BSNN every bsnnctl command takes.
package nirbsnn
