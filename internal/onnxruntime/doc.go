// Package onnxruntime runs ONNX models in Microsoft's onnxruntime from the
// bsnnctl command (`bsnnctl bench infer` measures it; other commands may
// check their files with it), through the Go binding
// github.com/yalue/onnxruntime_go on the CPU library libonnxruntime.so.1
// that npm onnxruntime-node@1.30.0 ships (scripts/deps.sh installs it).
//
//	if err := onnxruntime.Init(); errors.Is(err, onnxruntime.ErrUnavailable) { ... }
//	s, err := onnxruntime.NewSession(modelBytes, onnxruntime.Options{IntraOpThreads: 2, InterOpThreads: 1})
//	c, err := s.Prepare([]onnxruntime.Tensor{{Name: "input", Shape: []int64{1, 3, 32, 32}, Float32: x}})
//	err = c.Run()            // time this
//	outs, err := c.Outputs() // copies
//
// # Finding the library
//
// The library is found at run time (LibPath): BSNNCTL_ORT_LIB, else the
// cache folder scripts/deps.sh installs into,
//
//	${BSNNCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bsnnctl}/ort/node_modules/
//	    onnxruntime-node/bin/napi-v6/linux/<x64|arm64>/libonnxruntime.so.1
//
// and loaded with dlopen; nothing links against it, so a bsnnctl binary
// runs on machines without it, and every function then returns an error
// wrapping ErrUnavailable.
//
// # cgo
//
// The binding needs cgo. Built with CGO_ENABLED=0 the package compiles
// all the same (ort_nocgo.go) and reports onnxruntime as unavailable, so
// `CGO_ENABLED=0 go build ./cli/bsnnctl` gives a pure-Go binary.
//
// The tests' helpers (package internal/interop) load the library through
// Init too, so one process never loads it twice.
package onnxruntime
