// Package static is the one definition of what ONNX ops do before a graph
// runs: shape inference and constant folding. The engine's builder (ops)
// calls it for every output shape and for ops whose inputs are all known
// at compile time; the converter's normalizer (convert) calls it to infer
// shapes with a symbolic batch size and to fold shape computations. It
// does not import the engine (Gorgonia), so the converter stays engine-free.
//
// Inputs are described by Input (shape, and the value when known); shapes
// are ONNX dimensions ([]int64) in which Symbolic stands for a size known
// only at run time. Values are onnx.Tensors. Attribute reading, including
// the differences between opset versions (an attribute that became an
// input, a changed default), is done here too, so both callers agree on
// it.
//
// One file per op family:
//
//	broadcast.go   numpy broadcasting: Broadcast, BroadcastStrides, Pairwise; Expand
//	copy.go        strided copies (CopyPlan) shared by folds and kernels
//	reshape.go     Reshape, Flatten, Squeeze, Unsqueeze, Shape
//	concat.go      Concat, Gather
//	slice.go       Slice, Transpose
//	pad.go         Pad
//	elementwise.go Add, Sub, Mul, Div, Neg, Sqrt, Cast, Clip's bounds
//	constant.go    Constant, ConstantOfShape
//	window.go      Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool
//	matmul.go      MatMul, Gemm
//	norm.go        BatchNormalization
//	reduce.go      ReduceMean, ReduceSum, Softmax's and LogSoftmax's axis
//
// Ops whose output shape is their input's (Relu, Sigmoid, Tanh, Identity,
// Dropout, ...) need nothing here.
//
// # Adding an op
//
//  1. Shape inference (and, if the op can appear in shape computations,
//     constant folding) goes here, in the file of the op's family: a
//     function that reads the node's attributes for the opset in force and
//     derives the output shape from the input shapes, treating Symbolic as
//     an unknown size, plus a Fold function on onnx.Tensors. Table tests
//     go in this package.
//  2. The engine entry goes in package ops, in the file of the same family:
//     a Spec (opset range, arity, attributes) whose BuildFunc calls the
//     functions of step 1 for shapes and for constant inputs and applies a
//     Kernel to runtime inputs; its case goes in the contract suite
//     (ops/contract_test.go, see ops/opstest).
//  3. If the converter must accept the op, add it to convert's runtimeOps
//     (convert/ops_*.go) or foldOps (convert/fold.go), calling the same
//     functions and adding only the converter's own rules (the batch stays
//     at axis 0, constant weights are float32, the opset-17 form).
//  4. A custom op of the BSNN format is not an ONNX op: its schema and
//     FunctionProto body go in package bsnn, its kernels in ops/spiking, its
//     registration in ops/bsnn.go.
//
// The folds of the ops only the engine evaluates (comparisons, Where,
// BitShift, Mod, the reductions, Sum/Max/Min) still sit next to their
// kernels in ops; they move here when the converter needs them.
package static
