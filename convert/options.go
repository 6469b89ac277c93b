package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// Keep-float policies (Options.KeepFloat). Any other entry names one layer:
// its layer name L (as in the report) or its source node name.
const (
	// PolicyFirst and PolicyLast are always in force (spec §3.1); naming
	// them is allowed and changes nothing.
	PolicyFirst = "first"
	PolicyLast  = "last"
	// PolicyShortcuts keeps 1x1 convolutions on residual branches float: a
	// 1x1 Conv whose data input also feeds another node (the block input)
	// and whose output, directly or through one BatchNormalization, feeds
	// an Add.
	PolicyShortcuts = "shortcuts"
	// PolicyDepthwise keeps depthwise convolutions (group == input channels
	// > 1) float. It is on by default; see the package documentation.
	PolicyDepthwise = "depthwise"
	// PolicyNoDepthwise turns the default PolicyDepthwise off (depthwise
	// convolutions become binary too).
	PolicyNoDepthwise = "no-depthwise"
	// PolicyAll keeps every layer float: no binarization at all (used to
	// check that the rewrite itself loses nothing).
	PolicyAll = "all"
)

// DefaultTimeSteps is T when Options.TimeSteps is 0 (spec §3.7).
const DefaultTimeSteps = 4

// Options control a conversion. Start from DefaultOptions: in the zero value
// AGMM is off (Go booleans default to false).
type Options struct {
	// TimeSteps is T, the number of time steps the input is repeated for
	// (0 means DefaultTimeSteps); with event input, the number of frames the
	// BSNN reads.
	TimeSteps int
	// InputEncoding is how the BSNN reads its input (spec §3.7, §8):
	// bsnn.EncodingDirect ("" too) repeats the ANN's input [N, ...] T
	// times; bsnn.EncodingEvents makes the BSNN's input time-major
	// [T, N, ...], one frame per time step (event-camera frames), each of
	// the ANN's input shape.
	InputEncoding bsnn.InputEncoding
	// AGMM puts an AGMMGate in front of every binary layer (default true).
	AGMM bool
	// Gate holds the AGMMGate attributes; the zero value is the spec
	// default (mode "forward", detach_stat 0).
	Gate spiking.AGMMParams
	// KeepFloat lists extra layers to keep float, by policy (PolicyShortcuts,
	// PolicyDepthwise, PolicyNoDepthwise, PolicyAll) or by name. The first
	// and last layers are always float and depthwise convolutions are float
	// unless PolicyNoDepthwise is listed.
	KeepFloat []string
	// Neuron holds the LIF attributes written on every LIF node. The zero
	// value means the spec defaults (spiking.DefaultLIF).
	Neuron spiking.LIFParams
	// ReLUAsReLU keeps Relu and Clip nodes instead of turning them into LIF
	// neurons. For tests only: with T = 1 and KeepFloat "all" the converted
	// graph then computes exactly the source network.
	ReLUAsReLU bool
	// SourceSHA256, SourceBytes and SourcePath identify the imported file
	// for the bsnn.source_model sha256: SourceSHA256 (hex) when set (a
	// caller that hashed the file while decoding it, see
	// onnx.DecodeFileHashed), else the hash of SourceBytes, else of the
	// file at SourcePath, else of the deterministic re-encoding of the
	// source model.
	SourceSHA256 string
	SourcePath   string
	SourceBytes  []byte
	// ProducerVersion is written as producer_version (the toolkit version;
	// "dev" when empty).
	ProducerVersion string
	// Functions supplies the model-local FunctionProto of each custom op the
	// converted graph uses; nil means DefaultFunctions.
	Functions FunctionSource
}

// DefaultOptions returns the spec defaults: T = 4, AGMM on, default LIF
// attributes, depthwise convolutions float.
func DefaultOptions() Options {
	return Options{TimeSteps: DefaultTimeSteps, AGMM: true, Neuron: spiking.DefaultLIF()}
}

// A FunctionSource returns the FunctionProto (body made of standard ops)
// that defines a custom op in a written file (spec §2).
type FunctionSource func(domain, op string) (*onnxpb.FunctionProto, error)

// ErrNoFunction is wrapped by DefaultFunctions' error when the format has
// no FunctionProto body for a custom op.
var ErrNoFunction = errors.New("no FunctionProto for custom op")

// DefaultFunctions takes the function body from the format (bsnn.Function).
func DefaultFunctions(domain, op string) (*onnxpb.FunctionProto, error) {
	f, err := bsnn.Function(domain, op)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoFunction, err)
	}
	return f, nil
}

// resolved is Options with defaults applied and policies parsed.
type resolved struct {
	Options
	T         int64
	keepAll   bool
	shortcuts bool
	depthwise bool
	names     map[string]bool // explicit layer or node names
}

func (o Options) resolve() (*resolved, error) {
	r := &resolved{Options: o, depthwise: true, names: map[string]bool{}}
	if r.TimeSteps == 0 {
		r.TimeSteps = DefaultTimeSteps
	}
	if r.TimeSteps < 1 {
		return nil, fmt.Errorf("convert: time steps must be >= 1, got %d", r.TimeSteps)
	}
	r.T = int64(r.TimeSteps)
	enc, err := bsnn.ParseInputEncoding(string(r.InputEncoding))
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	r.InputEncoding = enc
	if r.Neuron == (spiking.LIFParams{}) {
		r.Neuron = spiking.DefaultLIF()
	}
	if err := r.Neuron.Validate(); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	if err := r.Gate.Validate(); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	if r.ProducerVersion == "" {
		r.ProducerVersion = "dev"
	}
	if b, err := hex.DecodeString(r.SourceSHA256); r.SourceSHA256 != "" && (err != nil || len(b) != sha256.Size || strings.ToLower(r.SourceSHA256) != r.SourceSHA256) {
		return nil, fmt.Errorf("convert: SourceSHA256 %q is not a lower-case hex SHA-256 digest", r.SourceSHA256)
	}
	if r.Functions == nil {
		r.Functions = DefaultFunctions
	}
	for _, p := range o.KeepFloat {
		p = strings.TrimSpace(p)
		switch p {
		case "", PolicyFirst, PolicyLast:
		case PolicyShortcuts:
			r.shortcuts = true
		case PolicyDepthwise:
			r.depthwise = true
		case PolicyNoDepthwise:
			r.depthwise = false
		case PolicyAll:
			r.keepAll = true
		default:
			r.names[p] = true
		}
	}
	return r, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// unsupported builds an onnx.Unsupported naming a source node.
func unsupported(n *onnx.Node, opset int, reason string) onnx.Unsupported {
	return onnx.Unsupported{Node: n.Label(), OpType: n.OpType, Domain: n.Domain, Version: opset, Reason: reason}
}
