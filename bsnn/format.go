package bsnn

import "fmt"

// Header of every file bsnnctl writes (spec §1).
const (
	// TargetIRVersion is the ModelProto.ir_version written.
	TargetIRVersion = 8
	// TargetOpset is the ai.onnx opset written, first in opset_import; the
	// custom domains follow at version 1, and only those used.
	TargetOpset = 17
	// Producer is the ModelProto.producer_name written.
	Producer = "bsnnctl"
	// FormatVersion is the bsnn.format_version written: the version of the
	// format this package describes.
	FormatVersion = "1"
)

// Domains of the custom ops (spec §2).
const (
	// DomainQONNX is QONNX's domain, which holds BipolarQuant.
	DomainQONNX = "qonnx.custom_op.general"
	// DomainSNN holds LIF, LIFStep and AGMMGate.
	DomainSNN = "bsnn.custom_op.snn"
)

// LegacyBipolarDomains are the domains older QONNX, Brevitas and FINN
// files put BipolarQuant in; readers accept them, writers use DomainQONNX.
var LegacyBipolarDomains = []string{"onnx.brevitas", "finn", "finn.custom_op.general"}

// IsBipolarDomain reports whether d is DomainQONNX or a legacy BipolarQuant
// domain.
func IsBipolarDomain(d string) bool {
	if d == DomainQONNX {
		return true
	}
	for _, l := range LegacyBipolarDomains {
		if d == l {
			return true
		}
	}
	return false
}

// A Profile is a form of written file (spec §5).
type Profile string

// The profiles of spec §5.
const (
	// ProfilePortable: BipolarQuant on latent float weights, LIF and
	// AGMMGate nodes, each custom op with its model-local FunctionProto.
	ProfilePortable Profile = "portable"
	// ProfilePlain: standard ops only (PlainForm says how time is written).
	ProfilePlain Profile = "plain"
	// ProfilePacked: portable with 1 bit per binary weight, unpacked by
	// standard ops.
	ProfilePacked Profile = "packed"
	// ProfileTrain: portable plus the optimizer state in training_info.
	ProfileTrain Profile = "train"
)

// Profiles lists every profile, in the spec's order.
var Profiles = []Profile{ProfilePortable, ProfilePlain, ProfilePacked, ProfileTrain}

// ParseProfile parses a profile name.
func ParseProfile(s string) (Profile, error) {
	for _, p := range Profiles {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown profile %q (want portable, plain, packed or train)", s)
}

// A PlainForm is how a plain-profile file writes time (MetaPlainForm).
type PlainForm string

// The plain profile's forms.
const (
	// PlainUnrolled writes every LIF as T explicit steps of standard ops:
	// the file takes the model input [N, ...] and returns [N, classes] like
	// the portable one.
	PlainUnrolled PlainForm = "unrolled"
	// PlainStep writes one time step: each LIF reads its membrane from a
	// graph input "<lif>.v_in" and writes the next one to "<lif>.v_out", and
	// the AGMM gates read alpha[t] through the one-hot input TimeOneHot.
	PlainStep PlainForm = "step"
)

// ParsePlainForm parses a plain form name ("" is unrolled).
func ParsePlainForm(s string) (PlainForm, error) {
	switch s {
	case "", string(PlainUnrolled):
		return PlainUnrolled, nil
	case string(PlainStep):
		return PlainStep, nil
	}
	return "", fmt.Errorf("unknown plain form %q (want unrolled or step)", s)
}

// An InputEncoding is how a BSNN reads its input over its T time steps
// (MetaInputEncoding).
type InputEncoding string

// The input encodings.
const (
	// EncodingDirect: the graph input is [N, ...] and every time step sees
	// it (the graph repeats it T times, spec §3.7).
	EncodingDirect InputEncoding = "direct"
	// EncodingEvents: the graph input is time-major [T, N, ...], one frame
	// per time step (event-camera frames, spec §8).
	EncodingEvents InputEncoding = "events"
)

// ParseInputEncoding parses an input encoding name ("" is direct).
func ParseInputEncoding(s string) (InputEncoding, error) {
	switch s {
	case "", string(EncodingDirect):
		return EncodingDirect, nil
	case string(EncodingEvents):
		return EncodingEvents, nil
	}
	return "", fmt.Errorf("unknown input encoding %q (want direct or events)", s)
}

// BatchAxis is the axis of the graph input that holds the samples: 0 for
// direct encoding ([N, ...]), 1 for events ([T, N, ...]).
func (e InputEncoding) BatchAxis() int {
	if e == EncodingEvents {
		return 1
	}
	return 0
}

// Names the profiles give to tensors.
const (
	// TimeOneHot is the per-step plain graph's time input: float32 [T],
	// one-hot of the step index.
	TimeOneHot = "time_onehot"
	// Packing is the packing of a packed weight (Layer.Packing): 1 bit per
	// weight in a UINT8 tensor, element i in bit i%8 of byte i/8, bit 1 = -1.
	Packing = "lsb_first_1_is_neg"
)
