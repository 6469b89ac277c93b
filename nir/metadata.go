package nir

import (
	"math"

	"github.com/bsnnctl/bsnnctl/hdf5"
)

// Metadata is the "metadata" group of a node or graph. Each value is an
// hdf5.Array (a string, number or bool scalar, or an array: one dataset) or
// a nested Metadata (a group), as nir.write stores a Python dict.
//
// NIR's rule holds: metadata may help a reader (the discretization a graph
// was trained with, where a node came from) but the graph must run without
// it.
type Metadata map[string]any

// Set stores v under key, creating the map if needed. v is a string, bool,
// int, int64, float32 or float64 (stored as a scalar dataset), a []float32,
// []float64, []int64 or []string (a 1-D dataset), an hdf5.Array, or a
// Metadata (a nested group). Encode reports any other value, naming the key.
func (m *Metadata) Set(key string, v any) {
	if *m == nil {
		*m = Metadata{}
	}
	switch x := v.(type) {
	case int:
		v = hdf5.Scalar(int64(x))
	case string, bool, int64, float32, float64:
		v = hdf5.Scalar(x)
	case []float32:
		v = hdf5.Array{Shape: []int{len(x)}, Data: x}
	case []float64:
		v = hdf5.Array{Shape: []int{len(x)}, Data: x}
	case []int64:
		v = hdf5.Array{Shape: []int{len(x)}, Data: x}
	case []string:
		v = hdf5.Array{Shape: []int{len(x)}, Data: x}
	}
	(*m)[key] = v
}

// Array returns the dataset stored under key.
func (m Metadata) Array(key string) (hdf5.Array, bool) {
	a, ok := m[key].(hdf5.Array)
	return a, ok
}

// Group returns the nested group stored under key.
func (m Metadata) Group(key string) (Metadata, bool) {
	g, ok := m[key].(Metadata)
	return g, ok
}

// String returns the string scalar stored under key.
func (m Metadata) String(key string) (string, bool) {
	a, ok := m.Array(key)
	if !ok || a.Len() != 1 {
		return "", false
	}
	s, err := a.StringValue()
	return s, err == nil
}

// Float returns the numeric scalar stored under key, whatever its type.
func (m Metadata) Float(key string) (float64, bool) {
	a, ok := m.Array(key)
	if !ok || a.Len() != 1 || a.Kind() == hdf5.Bool {
		return 0, false
	}
	v, err := a.Float64s()
	if err != nil {
		return 0, false
	}
	return v[0], true
}

// Int returns the integer scalar stored under key (an integer dataset, or a
// float one holding an integer).
func (m Metadata) Int(key string) (int64, bool) {
	f, ok := m.Float(key)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}
