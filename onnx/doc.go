// Package onnx reads, validates, inspects and writes ONNX models.
//
// Decode and Encode are symmetric: Decode parses a serialized ModelProto into a
// Model that keeps the protobuf message verbatim (every field of onnx.proto,
// including functions, training_info, quantization annotations, metadata,
// external-data references and sparse initializers, plus any field from a newer
// IR version as an unknown field), and Encode writes it back. Encoding a
// decoded model gives a proto-equal message, and a second round trip is
// byte-identical because Encode always uses deterministic marshalling.
//
// Decode validates what later stages rely on and reports problems as typed
// errors, in the style of image/png:
//
//   - *FormatError: the input is not a well-formed ONNX model (bad protobuf,
//     a tensor whose data disagrees with its declared shape, negative or
//     overflowing dimensions, a cycle, a node input nobody produces, an
//     external-data path that leaves the model's folder).
//   - *UnsupportedError: the input is valid ONNX but uses something this
//     toolkit does not handle; it lists every culprit at once.
//
// The typed view (Graph, Node, Tensor, Shape) gives nodes in topological order,
// initializers as typed tensors, attribute accessors and shapes whose
// symbolic dimensions keep their names.
package onnx
