// Package convert rewrites a float ANN, as exported to ONNX by PyTorch and
// other exporters, into a binary spiking neural network (BSNN) in ONNX terms,
// following docs/spec/bsnn-onnx.md §3 (network conventions), §2 (custom
// ops), §1 (header) and §4 (annotations and metadata). The result is a file
// of the portable profile: ir_version 8, opset_import "" 17 first and then
// only the custom domains used, a model-local FunctionProto for every custom
// op, value_info for every custom-node output.
//
//	res, err := convert.Convert(model, convert.DefaultOptions())
//	res.Model          // the BSNN (*onnx.Model)
//	res.Report.Write(os.Stdout)
//
// # Input
//
// Any exporter output with IR 3..10 and ai.onnx opset 7..21, one float32
// graph input [N, ...] whose dimensions other than the batch are fixed, and
// one graph output. The source graph is normalised first:
//
//   - constants are folded: Constant nodes, and nodes whose inputs are all
//     known (ops listed by SupportedOps' second result: Identity, Cast,
//     Shape, Gather, Unsqueeze, Squeeze, Concat, Reshape, Flatten, Slice,
//     Transpose, Add, Sub, Mul, Div, Neg, Sqrt, ConstantOfShape, Dropout).
//     Shape of a runtime tensor folds to a value holding the symbol N for
//     the batch, so the Shape -> Gather -> Unsqueeze -> Concat -> Reshape
//     chain of x.view(x.size(0), -1) becomes a constant Reshape;
//   - every Reshape becomes batch-agnostic: its target must keep the batch
//     at axis 0 unmerged (written as N, -1, 0, or the fixed batch of a
//     static export) and is written as [-1, d1, d2, ...] with the other
//     dimensions explicit, so it works on [N, ...] and on [T*N, ...];
//   - ops are rewritten into their opset-17 forms: Squeeze/Unsqueeze axes
//     and Clip bounds and Pad pads/value as inputs, Reshape's shape input,
//     Softmax/LogSoftmax axis with opset-13 semantics (older files convert
//     when the axis is the last non-unit one), BatchNormalization with
//     epsilon and momentum only (spatial=1 and training_mode=0 accepted and
//     dropped), ReduceMean axes as an attribute (from opset 18's input),
//     AveragePool without dilations (opset 19; only all-ones converts),
//     Squeeze without axes resolved to explicit non-batch axes;
//   - Dropout (inference) and Identity are removed.
//
// Ops accepted on runtime tensors (SupportedOps' first result): Conv, Gemm,
// MatMul (constant weight), BatchNormalization, Relu, Clip (min = 0 only),
// Sigmoid, Tanh, Add, Sub, Mul, Div, MaxPool, AveragePool,
// GlobalAveragePool, GlobalMaxPool, Flatten, Reshape, Squeeze, Unsqueeze,
// Transpose, Concat, Softmax, LogSoftmax, ReduceMean, Pad, Dropout,
// Identity. Each must keep the batch at axis 0 and never mix samples:
// Flatten(axis 0), Concat/Softmax/ReduceMean/Squeeze/Unsqueeze on axis 0,
// Transpose moving axis 0, Pad of axis 0, a constant operand spanning the
// batch, Gemm with transA, are unsupported. Activations other than Relu and
// Clip(min=0) (LeakyRelu, PRelu, HardSwish, ...) have no LIF equivalent;
// recurrent and control-flow ops, Resize/Upsample and any other op are
// unsupported, as is a Relu or Conv on a constant path. Every unsupported
// node is reported at once as an *onnx.UnsupportedError; no partial model is
// ever returned.
//
// # Layers (spec §3.1-§3.4)
//
// Compute layers are Conv, and Gemm/MatMul whose weight is a constant.
// First layers are reached from the graph input without passing another
// compute layer, last layers reach the graph output without passing one;
// both stay float. Options.KeepFloat keeps more layers float:
//
//   - "depthwise" (default on; "no-depthwise" turns it off): convolutions
//     with group == input channels > 1. A depthwise conv has only k*k
//     weights per channel, so binarizing it destroys the spatial filter
//     (a 3x3 sign pattern per channel is nearly all the filter there is)
//     for almost no size gain (MobileNetV2's depthwise weights are ~1% of
//     its parameters), and bitwise XNOR-popcount kernels only pay off on
//     channel-summed MACs, which a depthwise conv does not have;
//   - "shortcuts": 1x1 convs on residual branches (a 1x1 Conv whose data
//     input also feeds another node and whose output, directly or through
//     one BatchNormalization, feeds an Add);
//   - "all": nothing is binarized (with ReLUAsReLU and T = 1 the converted
//     graph computes exactly the source network; the tests check this);
//   - any other entry names a layer (its name L in the report, or its
//     source node name); an unknown name is an error.
//
// Layer names L are stable: the weight initializer's prefix
// ("layer1.0.conv1" for "layer1.0.conv1.weight"), else the PyTorch module
// path read from the node name ("/layer1/layer1.0/conv1/Conv"), else the
// node name, so a BN-folded and a BN-kept export get the same names.
//
// Float layers are written as they are, with their bias and the
// BatchNormalization that follows them. A binary layer L becomes
//
//	[T*N,...] -Reshape-> [T,N,...] -AGMMGate(L.agmm_alpha)-> -Reshape-> [T*N,...]
//	L.weight_latent, L.weight_scale -BipolarQuant (L/binarize)-> L.weight_bin
//	Conv (attributes kept) or MatMul ([in,out] weight), no bias      (L/conv, L/matmul)
//	BatchNormalization (L/bn: L.bn.weight, .bias, .running_mean, .running_var)
//
// weight_latent is the source weight as stored (a Gemm weight transposed to
// [in, out] when transB = 1), weight_scale the scalar 1.0. A binary Gemm's
// alpha (> 0) scales α in the tdBN initialisation. The tdBN absorbs the BatchNormalization that consumed the layer's
// output (when it was the only consumer) and the bias (Conv bias, Gemm C
// times beta, or the constant Add after a MatMul), initialised by
// tdBNInit so that BN'(W_bin·x) = BN_src(α ⊙ (W_bin·x) + b) with
// α_c = mean|W_latent[c]|.
//
// # Time (spec §3.5-§3.7)
//
// The input [N, ...] is repeated T times into [T*N, ...] by Unsqueeze(axes
// [0]) -> Expand([T, 1, ...]) -> Reshape([-1, ...]) (row t*N + n is step t
// of sample n; the graph is the same size for any T and lists the input
// once). With Options.InputEncoding bsnn.EncodingEvents (spec §8) the
// BSNN's input is instead time-major [T, N, ...] (T fixed, N symbolic, the
// ANN's input name), one frame of the ANN's input shape per step (event
// frames), merged into [T*N, ...] by one Reshape([-1, ...]) (node
// encode/frames), and bsnn.input_encoding says "events". Stateless ops run
// on [T*N, ...]. Each Relu and Clip(min=0) becomes
// Reshape [T,-1,...] -> LIF (all eight attributes written; the V_T output,
// which nothing reads, listed under the name <lif>.V_T) -> Reshape
// [-1,...]; the LIF output (spikes, annotated BINARY) is reused as the
// [T, N, ...] view by an AGMMGate that reads the same tensor. Every node
// output has a name and no node reads one tensor twice (a source op such
// as Mul(x, x) reads an Identity copy): the rules of bsnn.CheckNames, which
// QONNX's cleanup relies on. The graph
// output [T*N, ...] is reshaped to [T, N, ...] and averaged over axis 0
// (ReduceMean keepdims 0): ops after the last layer (Softmax, Flatten) run
// per step, before the mean. The batch stays symbolic: the graph input and
// output have dim_param N (the source's name when it had one; a static
// source becomes dynamic) and every Reshape target uses -1 for it.
//
// # Size report
//
// Report holds a row per compute layer (op, binary or float, parameters,
// binary parameters, MACs per sample and time step) and a SizeReport in the
// convention of docs/spec/bsnn-onnx.md §4 (size), which reproduces the
// published BSNN size tables: binary weights count 1 bit, every other
// parameter (float layers' weights and biases, BatchNormalization γ and β,
// AGMM alpha, float constants of elementwise ops) 32 bits; MB = 10^6 bytes.
// BatchNormalization running statistics are buffers, reported apart and
// not counted (as in those tables); shape constants, Clip bounds and the
// unit weight scales are not parameters.
//
// # Engine and onnxruntime
//
// The converted graph uses Unsqueeze, Expand, Reshape, ReduceMean,
// BatchNormalization, Conv, MatMul, Gemm and whatever stateless ops the
// source had, plus the custom ops LIF, AGMMGate and BipolarQuant. Function
// bodies come from Options.Functions, by default the format's
// (bsnn.Function).
package convert
