// Package ort runs ONNX models in onnxruntime, through the Go binding
// github.com/yalue/onnxruntime_go on the CPU library libonnxruntime.so.1
// shipped in npm onnxruntime-node@1.30.0 (which scripts/deps.sh installs):
// Init, Run, ModelIO. `bsnnctl import` uses it to cross-check a network
// that onnx-go cannot run; the tests use it (through internal/interop) to
// check the files bsnnctl writes.
//
// # Finding onnxruntime
//
// The shared library is taken from BSNNCTL_ORT_LIB, else from the cache
// folder that scripts/deps.sh installs into:
//
//	${BSNNCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bsnnctl}/ort/node_modules/
//	    onnxruntime-node/bin/napi-v6/linux/<x64|arm64>/libonnxruntime.so.1
//
// The library is loaded with dlopen at run time; nothing links against it.
//
// # cgo
//
// onnxruntime_go needs cgo (and gcc). Built with CGO_ENABLED=0 the package
// still compiles: Init and Run then report onnxruntime as unavailable
// (ErrUnavailable), so a pure-Go bsnnctl builds and runs without it.
package ort
