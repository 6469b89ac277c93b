package nirbsnn

import (
	"slices"

	"github.com/bsnnctl/bsnnctl/hdf5"
)

// FormatVersion is the version of the mapping (docs/spec/nir.md) a graph's
// bsnn.format_version names.
const FormatVersion = "1"

// Metadata keys of the graph. The graph also carries "dt" (seconds per
// step) and these keys of the ONNX file's metadata: bsnn.time_steps (T),
// bsnn.input_encoding ("direct" or "events"), bsnn.output_decoding
// ("mean_over_time") and bsnn.spike_condition (">=", which the thresholds
// written already account for).
const (
	MetaFormatVersion = "bsnn.format_version"
	MetaProducer      = "bsnn.producer"
	// MetaInputRepeat is T for a direct-encoding model: the graph's input is
	// to be presented unchanged at each of the T time steps.
	MetaInputRepeat = "bsnn.input_repeat"
	// MetaBatchNormMode is "layer" or "fold" (ExportOptions.BatchNorm).
	MetaBatchNormMode = "bsnn.batchnorm_mode"
)

// Metadata keys of nodes.
const (
	// MetaBinary = 1 marks a layer whose weights are one sign bit each:
	// ±1, or ±a_c per output channel when a BatchNormalization was folded
	// into it.
	MetaBinary = "bsnn.binary"
	// MetaWeightScale is the layer's BipolarQuant scale (a scalar, or one
	// value per output channel in the ONNX weight's layout).
	MetaWeightScale = "bsnn.weight_scale"
	// MetaBatchNorm is a group with the BatchNormalization's parameters
	// (float32 "scale", "bias", "mean", "var"; "epsilon", "momentum"), on the
	// node written for it or on the layer it was folded into.
	MetaBatchNorm = "bsnn.batchnorm"
	// MetaBias is a folded layer's bias before folding.
	MetaBias = "bsnn.bias"
	// MetaSurrogate, MetaSurrogateAlpha and MetaDetachReset are a LIF's
	// training-only attributes.
	MetaSurrogate      = "bsnn.surrogate"
	MetaSurrogateAlpha = "bsnn.surrogate_alpha"
	MetaDetachReset    = "bsnn.detach_reset"
	// MetaOp names what a group of NIR nodes stands for: "MaxPool" on the
	// SumPool2d and IF that compute a max pooling of spikes, "weight_scale"
	// on the per-channel affine that applies a binary layer's BipolarQuant
	// scale.
	MetaOp = "bsnn.op"
	// MetaONNXNode is the ONNX node a layer or neuron was exported from.
	MetaONNXNode = "bsnn.onnx_node"
)

// float32Array is a float32 metadata value of the given shape (nil: a
// scalar).
func float32Array(shape []int, v []float32) hdf5.Array {
	return hdf5.Array{Shape: shape, Data: slices.Clone(v)}
}
