package bsnn

import (
	"encoding/json"
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// QONNX/FINN datatype annotation, stored in graph.quantization_annotation
// (onnx.Model.Annotations, SetAnnotation).
const (
	AnnotationDatatype = "finn_datatype"
	DatatypeBipolar    = "BIPOLAR" // {-1, +1}: binary weights
	DatatypeBinary     = "BINARY"  // {0, 1}: spikes
)

// Metadata keys of the bsnn.* family (spec §4).
const (
	MetaFormatVersion  = "bsnn.format_version"
	MetaProfile        = "bsnn.profile"
	MetaPlainForm      = "bsnn.plain_form" // plain profile only: "unrolled" or "step"
	MetaTimeSteps      = "bsnn.time_steps"
	MetaTimeAxis       = "bsnn.time_axis"
	MetaInputEncoding  = "bsnn.input_encoding"
	MetaOutputDecoding = "bsnn.output_decoding"
	MetaSignZero       = "bsnn.sign_zero"
	MetaSpikeCondition = "bsnn.spike_condition"
	MetaLayers         = "bsnn.layers"
	MetaNeurons        = "bsnn.neurons"
	MetaAGMM           = "bsnn.agmm"
	MetaSourceModel    = "bsnn.source_model"
	MetaSizeReport     = "bsnn.size_report"
)

// A Layer is one entry of the bsnn.layers metadata (spec §4): one per
// compute layer, in graph order. The JSON keys are the format's; empty
// optional keys are left out and packing is null unless the weight is
// packed.
type Layer struct {
	Name string `json:"name"` // the layer name L
	Node string `json:"node"` // its Conv / MatMul / Gemm node
	Op   string `json:"op,omitempty"`
	// Binary layers: the latent float weight and its scale (portable,
	// train), the ±1 weight the compute node reads, and the 1-bit weight
	// (packed).
	WeightLatent string `json:"weight_latent,omitempty"`
	WeightBin    string `json:"weight_bin,omitempty"`
	WeightScale  string `json:"weight_scale,omitempty"`
	WeightPacked string `json:"weight_packed,omitempty"`
	Binary       bool   `json:"binary"`
	// Packing is Packing for a packed weight, else nil (JSON null).
	Packing *string `json:"packing"`
	// Neuron is the LIF node the layer feeds ("" if none).
	Neuron string `json:"neuron,omitempty"`
}

// ReadLayers parses m's bsnn.layers; ok is false when the key is absent or
// is not valid JSON.
func ReadLayers(m *onnx.Model) (layers []Layer, ok bool) {
	s, present := m.Metadata()[MetaLayers]
	if !present {
		return nil, false
	}
	if err := json.Unmarshal([]byte(s), &layers); err != nil {
		return nil, false
	}
	return layers, true
}

// BinaryLayers returns the names of m's binary layers. It reads bsnn.layers
// when present; otherwise (files from other tools, or whose names were
// rewritten by QONNX's cleanup) it recognises a compute node (Conv,
// ConvTranspose, MatMul, Gemm) whose weight is the output of a BipolarQuant
// node or carries a BIPOLAR datatype annotation.
func BinaryLayers(m *onnx.Model) []string {
	if layers, ok := ReadLayers(m); ok {
		var names []string
		for _, l := range layers {
			if l.Binary {
				names = append(names, l.Name)
			}
		}
		return names
	}
	g, err := m.Graph()
	if err != nil {
		return nil
	}
	ann := m.Annotations()
	var names []string
	for _, n := range g.Nodes {
		switch n.OpType {
		case "Conv", "ConvTranspose", "MatMul", "Gemm":
		default:
			continue
		}
		if n.Domain != "" {
			continue
		}
		w := n.Input(1)
		p := g.Producer(w)
		if ann[w][AnnotationDatatype] == DatatypeBipolar || p != nil && p.OpType == "BipolarQuant" {
			names = append(names, n.Label())
		}
	}
	return names
}

// InputEncodingOf returns m's bsnn.input_encoding: EncodingDirect when the
// key is absent (files of other tools, float networks), an error naming the
// key when its value is neither "direct" nor "events".
func InputEncodingOf(m *onnx.Model) (InputEncoding, error) {
	e, err := ParseInputEncoding(m.Metadata()[MetaInputEncoding])
	if err != nil {
		return "", fmt.Errorf("metadata %s: %w", MetaInputEncoding, err)
	}
	return e, nil
}

// Summarize is onnx.Summarize with the binary layers filled in.
func Summarize(m *onnx.Model) (*onnx.Summary, error) {
	s, err := onnx.Summarize(m)
	if err != nil {
		return nil, err
	}
	if b := BinaryLayers(m); b != nil {
		s.BinaryLayers = b
	}
	return s, nil
}
