// Package onnxpb holds the Go types generated from ONNX's own onnx.proto
// (proto2, IR version 8, as shipped by Debian's python3-onnx 1.12).
//
// The schema is Apache-2.0 licensed by the ONNX Project Contributors; see
// onnx.proto. Fields added by newer IR versions are kept as unknown fields by
// the protobuf runtime, so a decode/encode round trip never loses them.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/bsnnctl/bsnnctl/onnx/onnxpb onnx.proto
