package onnx

import (
	"sort"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
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
