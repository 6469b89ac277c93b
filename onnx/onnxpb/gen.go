// Package onnxpb holds the Go types generated from ONNX's own onnx.proto
// (proto2, IR version 8, as shipped by Debian's python3-onnx 1.12).
//
// One line of the schema differs from ONNX's: the protobuf package is
// "bsnnctl.onnx" instead of "onnx", because onnx-go (our cross-check
// reference) registers its own copies of the same messages under "onnx" and
// the protobuf runtime refuses two registrations of one name. Package names
// are not part of the wire format, so files are unaffected.
//
// The schema is Apache-2.0 licensed by the ONNX Project Contributors; see
// onnx.proto. Fields added by newer IR versions are kept as unknown fields by
// the protobuf runtime, so a decode/encode round trip never loses them.
package onnxpb

//go:generate protoc --proto_path=../.. --go_out=../.. --go_opt=paths=source_relative --go_opt=Monnx/onnxpb/onnx.proto=github.com/bsnnctl/bsnnctl/onnx/onnxpb onnx/onnxpb/onnx.proto
