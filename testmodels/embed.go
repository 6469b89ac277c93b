// Package testmodels embeds the default model and data of `bsnnctl
// quickstart`: a LeNet-style CNN trained as a float ANN on Fashion-MNIST by
// train_lenet_fmnist.py (Debian's PyTorch; accuracy in lenet_fmnist.json),
// and a slice of Fashion-MNIST (the first 4000 training and 1000 test images,
// MIT licence, see fmnist_slice/LICENSE). The folder also holds the fixture
// generator and the fixtures the tests use (README.md).
package testmodels

import (
	"embed"
	"encoding/json"
	"io/fs"
)

//go:embed lenet_fmnist.onnx lenet_fmnist.json fmnist_slice torch_bench_train.py
var files embed.FS

// TorchBenchTrainScript returns torch_bench_train.py, the PyTorch side of
// `bsnnctl bench train`.
func TorchBenchTrainScript() []byte {
	b, _ := files.ReadFile("torch_bench_train.py")
	return b
}

// DefaultModelName is the embedded model's file name.
const DefaultModelName = "lenet_fmnist.onnx"

// DefaultModel returns the embedded float ANN (ONNX, opset 13, BN kept,
// dynamic batch).
func DefaultModel() []byte {
	b, err := files.ReadFile(DefaultModelName)
	if err != nil {
		panic("testmodels: embedded model missing: " + err.Error()) // impossible: embedded at build time
	}
	return b
}

// ModelInfo describes how the embedded model was trained.
type ModelInfo struct {
	TestAccuracy float64 `json:"test_accuracy"`
	Epochs       int     `json:"epochs"`
	Seed         int     `json:"seed"`
	Torch        string  `json:"torch"`
}

// DefaultModelInfo returns lenet_fmnist.json.
func DefaultModelInfo() ModelInfo {
	var info ModelInfo
	b, _ := files.ReadFile("lenet_fmnist.json")
	json.Unmarshal(b, &info)
	return info
}

// FashionMNISTSlice returns the embedded Fashion-MNIST slice: the four IDX
// files (gzipped) under their original names, at the root of the FS.
func FashionMNISTSlice() fs.FS {
	sub, err := fs.Sub(files, "fmnist_slice")
	if err != nil {
		panic("testmodels: embedded data missing: " + err.Error())
	}
	return sub
}
