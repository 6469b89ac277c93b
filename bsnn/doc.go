// Package bsnn is the BSNN file format: the one vocabulary that the
// converter (convert), the exporter (export), the engine (ops) and the
// trainer (train) share, the way image/color is the vocabulary of every
// image codec. A BSNN file is an ONNX model (package onnx reads and writes
// it) with
//
//   - the header of spec §1: TargetIRVersion, opset_import ai.onnx
//     TargetOpset first, then only the custom domains used (DomainQONNX,
//     DomainSNN) at version 1, producer Producer;
//   - the custom ops of spec §2 (BipolarQuant, LIF, LIFStep, AGMMGate): their
//     schemas (Ops, LookupOp: domain, arity, attributes with defaults), the
//     parsing of a node's attributes into the parameters of the reference
//     kernels in ops/spiking (ParseLIF, ParseAGMMGate) and back
//     (LIFAttributes, AGMMGateAttributes), and their FunctionProto bodies
//     (Op.Function), which a file carries so that stock onnxruntime runs it;
//   - the annotations and metadata of spec §4: finn_datatype BIPOLAR on
//     binary weights and BINARY on spikes, the bsnn.* keys (MetaLayers is
//     read by ReadLayers into Layer, one entry per compute layer; MetaNeurons
//     holds NeuronEntry per LIF; MetaInputEncoding is an InputEncoding,
//     direct or events, read by InputEncodingOf);
//   - one of the profiles of spec §5 (Profile, PlainForm);
//   - the naming rules of CheckNames, which every writer obeys so that the
//     file survives QONNX's cleanup transformations.
//
// This package has no engine: it imports onnx and the slice kernels' plain
// parameter types (ops/spiking), never Gorgonia.
package bsnn
