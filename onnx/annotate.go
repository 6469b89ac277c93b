package onnx

import (
	"encoding/json"
	"sort"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// QONNX/FINN datatype annotation, stored in graph.quantization_annotation.
const (
	AnnotationDatatype = "finn_datatype"
	DatatypeBipolar    = "BIPOLAR" // {-1, +1}
	DatatypeBinary     = "BINARY"  // {0, 1}
)

// Metadata keys of the bsnn.* family (spec §4).
const (
	MetaFormatVersion  = "bsnn.format_version"
	MetaProfile        = "bsnn.profile"
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

// Annotations returns graph.quantization_annotation as tensor -> key -> value.
func (m *Model) Annotations() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, a := range m.Proto.GetGraph().GetQuantizationAnnotation() {
		kv := out[a.GetTensorName()]
		if kv == nil {
			kv = map[string]string{}
			out[a.GetTensorName()] = kv
		}
		for _, e := range a.QuantParameterTensorNames {
			kv[e.GetKey()] = e.GetValue()
		}
	}
	return out
}

// SetAnnotation sets key=value on tensor's quantization annotation,
// creating the entry if needed.
func (m *Model) SetAnnotation(tensor, key, value string) {
	g := m.Proto.Graph
	for _, a := range g.QuantizationAnnotation {
		if a.GetTensorName() != tensor {
			continue
		}
		for _, e := range a.QuantParameterTensorNames {
			if e.GetKey() == key {
				e.Value = ptr(value)
				return
			}
		}
		a.QuantParameterTensorNames = append(a.QuantParameterTensorNames, &onnxpb.StringStringEntryProto{Key: ptr(key), Value: ptr(value)})
		return
	}
	g.QuantizationAnnotation = append(g.QuantizationAnnotation, &onnxpb.TensorAnnotation{
		TensorName:                ptr(tensor),
		QuantParameterTensorNames: []*onnxpb.StringStringEntryProto{{Key: ptr(key), Value: ptr(value)}},
	})
}

// A LayerInfo is one entry of the bsnn.layers metadata (spec §4).
type LayerInfo struct {
	Name         string  `json:"name"`
	Node         string  `json:"node"`
	Op           string  `json:"op,omitempty"`
	WeightLatent string  `json:"weight_latent,omitempty"`
	WeightBin    string  `json:"weight_bin,omitempty"`
	WeightScale  string  `json:"weight_scale,omitempty"`
	Binary       bool    `json:"binary"`
	Packing      *string `json:"packing"`
	Neuron       string  `json:"neuron,omitempty"`
}

// Layers parses bsnn.layers; ok is false when the key is absent or is not
// valid JSON.
func (m *Model) Layers() (layers []LayerInfo, ok bool) {
	s, present := m.Metadata()[MetaLayers]
	if !present {
		return nil, false
	}
	if err := json.Unmarshal([]byte(s), &layers); err != nil {
		return nil, false
	}
	return layers, true
}

// BinaryLayers returns the names of the model's binary layers. It reads
// bsnn.layers when present; otherwise (files from other tools, or whose
// names were rewritten by QONNX's cleanup) it recognises a compute node
// (Conv, ConvTranspose, MatMul, Gemm) whose weight is the output of a
// BipolarQuant node or carries a BIPOLAR datatype annotation.
func (m *Model) BinaryLayers() []string {
	if layers, ok := m.Layers(); ok {
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
		bip := ann[w][AnnotationDatatype] == DatatypeBipolar
		if p != nil && p.OpType == "BipolarQuant" {
			bip = true
		}
		if bip {
			names = append(names, n.Label())
		}
	}
	return names
}

// OpCounts returns the op histogram of the main graph; custom-domain ops are
// keyed "domain::Op".
func (g *Graph) OpCounts() map[string]int {
	out := map[string]int{}
	for _, n := range g.Nodes {
		out[n.QualifiedOp()]++
	}
	return out
}

// ParamCount returns the number of initializer elements (sparse
// initializers count their dense size).
func (g *Graph) ParamCount() int64 {
	var total int64
	for _, t := range g.Proto.Initializer {
		n, _ := NumElements(t.Dims)
		total += n
	}
	for _, st := range g.Proto.SparseInitializer {
		n, _ := NumElements(st.Dims)
		total += n
	}
	return total
}

// sortedKeys returns the keys of a map, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
