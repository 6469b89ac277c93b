package nir

import (
	"fmt"
	"io"
	"slices"

	"github.com/bsnnctl/bsnnctl/hdf5"
)

// maxDepth bounds the nesting of NIRGraph nodes (the hdf5 package bounds
// group nesting as well).
const maxDepth = 32

// ReadFile decodes the NIR file at path. Errors name the file.
func ReadFile(path string) (*Graph, error) {
	root, err := hdf5.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := decodeTree(root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Decode reads a NIR file (an HDF5 file of size bytes) as NIR's nir.read
// does: the "version" string dataset, and under "node" the top-level
// NIRGraph: its "type", a "nodes" group with one group per node (a "type"
// string dataset and one dataset per parameter), the (N, 2) string dataset
// "edges" and optional "metadata" groups. It reads what nir.write writes
// (gzip-compressed, chunked arrays; string datasets) in any HDF5 layout the
// hdf5 package reads, and checks the graph (see Graph.Check).
//
// Malformed HDF5 gives the hdf5 package's *hdf5.FormatError; a graph that
// breaks NIR's definitions a *FormatError naming the node and field; an
// unknown node type an *UnsupportedError. Datasets a node type does not
// define are ignored, as are soft links.
func Decode(r io.ReaderAt, size int64) (*Graph, error) {
	root, err := hdf5.Decode(r, size)
	if err != nil {
		return nil, err
	}
	return decodeTree(root)
}

func decodeTree(root *hdf5.Group) (*Graph, error) {
	var version string
	if root.Get("version") != nil {
		ds, err := root.Dataset("version")
		if err != nil {
			return nil, nodeErr("", "version", "%v", err)
		}
		if version, err = ds.StringValue(); err != nil {
			return nil, nodeErr("", "version", "%v", err)
		}
	}
	top, ok := root.Get("node").(*hdf5.Group)
	if !ok {
		return nil, nodeErr("", "node", "the file has no group \"node\" holding the graph")
	}
	n, err := decodeNode(top, "", 0)
	if err != nil {
		return nil, err
	}
	g, ok := n.(*Graph)
	if !ok {
		return nil, nodeErr("", "type", "the top-level node is a %s, not a NIRGraph", n.Type())
	}
	g.Version = version
	if err := g.Check(); err != nil {
		return nil, err
	}
	return g, nil
}

// A nodeReader reads the fields of one node group; the first error sticks.
type nodeReader struct {
	g    *hdf5.Group
	path string
	err  error
}

func (r *nodeReader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = nodeErr(r.path, field, format, args...)
	}
}

// dataset returns the dataset field, or nil (with an error if required).
func (r *nodeReader) dataset(field string, required bool) *hdf5.Dataset {
	switch o := r.g.Get(field).(type) {
	case *hdf5.Dataset:
		return o
	case nil:
		if required {
			r.fail(field, "is missing")
		}
	default:
		r.fail(field, "is a group, want a dataset")
	}
	return nil
}

func (r *nodeReader) has(field string) bool { return r.g.Get(field) != nil }

// tensor reads a float parameter; integer arrays become float64.
func (r *nodeReader) tensor(field string) Tensor {
	ds := r.dataset(field, true)
	if ds == nil {
		return Tensor{}
	}
	shape := slices.Clone(ds.Shape)
	switch ds.Kind() {
	case hdf5.Float32, hdf5.Float64:
		return Tensor{Shape: shape, Data: ds.Data}
	case hdf5.Bool, hdf5.String, hdf5.Invalid:
		r.fail(field, "is a %s dataset, want numbers", ds.Kind())
		return Tensor{}
	}
	v, err := ds.Float64s()
	if err != nil {
		r.fail(field, "%v", err)
	}
	return F64(shape, v)
}

// tensorOr reads an optional parameter, else fills def's shape with v.
func (r *nodeReader) tensorOr(field string, like Tensor, v float64) Tensor {
	if r.has(field) {
		return r.tensor(field)
	}
	return Full(slices.Clone(like.Shape), v)
}

// ints reads an integer scalar or vector (floats holding integers pass).
func (r *nodeReader) ints(field string, required bool) []int64 {
	ds := r.dataset(field, required)
	if ds == nil {
		return nil
	}
	if len(ds.Shape) > 1 {
		r.fail(field, "has shape %v, want a scalar or a vector", ds.Shape)
		return nil
	}
	v, err := ds.Int64s()
	if err != nil {
		r.fail(field, "%v", err)
		return nil
	}
	if v == nil {
		v = []int64{}
	}
	return v
}

// scalar reads an integer given as a scalar or a one-element vector.
func (r *nodeReader) scalar(field string, def int64, required bool) int64 {
	if !required && !r.has(field) {
		return def
	}
	v := r.ints(field, true)
	if r.err != nil {
		return def
	}
	if len(v) != 1 {
		r.fail(field, "has %d values, want 1", len(v))
		return def
	}
	return v[0]
}

// pair reads a 2-D window parameter: one integer for both axes, or two.
func (r *nodeReader) pair(field string) [2]int64 {
	v := r.ints(field, true)
	switch {
	case r.err != nil:
	case len(v) == 1:
		return [2]int64{v[0], v[0]}
	case len(v) == 2:
		return [2]int64{v[0], v[1]}
	default:
		r.fail(field, "has %d values, want 1 or 2", len(v))
	}
	return [2]int64{}
}

// padding reads a convolution's padding: a string ("same", "valid") or
// integers; n is the number of spatial axes.
func (r *nodeReader) padding(n int) (pad []int64, mode string) {
	ds := r.dataset("padding", true)
	if ds == nil {
		return make([]int64, n), ""
	}
	if ds.Kind() == hdf5.String {
		s, err := ds.StringValue()
		if err != nil {
			r.fail("padding", "%v", err)
		}
		return make([]int64, n), s
	}
	v := r.ints("padding", true)
	if len(v) == 1 && n > 1 {
		v = []int64{v[0], v[0]}
	}
	if len(v) != n {
		r.fail("padding", "has %d values, want %d", len(v), n)
		return make([]int64, n), ""
	}
	return v, ""
}

// optShape reads an optional shape vector (Conv's input_shape, Flatten's
// input_type): nil when absent.
func (r *nodeReader) optShape(field string) []int64 {
	if !r.has(field) {
		return nil
	}
	return r.ints(field, true)
}

func (r *nodeReader) metadata() Metadata {
	switch o := r.g.Get("metadata").(type) {
	case nil:
		return nil
	case *hdf5.Group:
		return decodeMetadata(o)
	default:
		r.fail("metadata", "is a dataset, want a group")
		return nil
	}
}

func decodeMetadata(g *hdf5.Group) Metadata {
	m := Metadata{}
	for _, l := range g.Links {
		switch o := l.Object.(type) {
		case *hdf5.Dataset:
			m[l.Name] = o.Array
		case *hdf5.Group:
			m[l.Name] = decodeMetadata(o)
		}
	}
	return m
}

func decodeNode(g *hdf5.Group, path string, depth int) (Node, error) {
	r := &nodeReader{g: g, path: path}
	tds := r.dataset("type", true)
	if r.err != nil {
		return nil, r.err
	}
	typ, err := tds.StringValue()
	if err != nil {
		return nil, nodeErr(path, "type", "%v", err)
	}
	var n Node
	switch typ {
	case "NIRGraph":
		if depth >= maxDepth {
			return nil, nodeErr(path, "", "graphs are nested more than %d deep", maxDepth)
		}
		return decodeGraph(r, depth)
	case "Input":
		n = &Input{Shape: r.ints("shape", true), Metadata: r.metadata()}
	case "Output":
		n = &Output{Shape: r.ints("shape", true), Metadata: r.metadata()}
	case "Affine":
		n = &Affine{Weight: r.tensor("weight"), Bias: r.tensor("bias"), Metadata: r.metadata()}
	case "Linear":
		n = &Linear{Weight: r.tensor("weight"), Metadata: r.metadata()}
	case "Scale":
		n = &Scale{Scale: r.tensor("scale"), Metadata: r.metadata()}
	case "Conv1d":
		c := &Conv1d{InputShape: r.optShape("input_shape"), Weight: r.tensor("weight"), Bias: r.tensor("bias"),
			Stride: r.scalar("stride", 1, true), Dilation: r.scalar("dilation", 1, true),
			Groups: r.scalar("groups", 1, true), Metadata: r.metadata()}
		pad, mode := r.padding(1)
		c.Padding, c.PaddingMode = pad[0], mode
		n = c
	case "Conv2d":
		c := &Conv2d{InputShape: r.optShape("input_shape"), Weight: r.tensor("weight"), Bias: r.tensor("bias"),
			Stride: r.pair("stride"), Dilation: r.pair("dilation"),
			Groups: r.scalar("groups", 1, true), Metadata: r.metadata()}
		pad, mode := r.padding(2)
		c.Padding, c.PaddingMode = [2]int64{pad[0], pad[1]}, mode
		n = c
	case "SumPool2d":
		n = &SumPool2d{KernelSize: r.pair("kernel_size"), Stride: r.pair("stride"), Padding: r.pair("padding"), Metadata: r.metadata()}
	case "AvgPool2d":
		n = &AvgPool2d{KernelSize: r.pair("kernel_size"), Stride: r.pair("stride"), Padding: r.pair("padding"), Metadata: r.metadata()}
	case "Flatten":
		// NIR's defaults: start_dim 1, end_dim -1.
		n = &Flatten{InputType: r.optShape("input_type"), StartDim: r.scalar("start_dim", 1, false),
			EndDim: r.scalar("end_dim", -1, false), Metadata: r.metadata()}
	case "Delay":
		n = &Delay{Delay: r.tensor("delay"), Metadata: r.metadata()}
	case "Threshold":
		n = &Threshold{Threshold: r.tensor("threshold"), Metadata: r.metadata()}
	case "I":
		n = &I{R: r.tensor("r"), Metadata: r.metadata()}
	case "IF":
		c := &IF{R: r.tensor("r"), VThreshold: r.tensor("v_threshold"), Metadata: r.metadata()}
		c.VReset = r.tensorOr("v_reset", c.VThreshold, 0)
		n = c
	case "LI":
		n = &LI{Tau: r.tensor("tau"), R: r.tensor("r"), VLeak: r.tensor("v_leak"), Metadata: r.metadata()}
	case "LIF":
		c := &LIF{Tau: r.tensor("tau"), R: r.tensor("r"), VLeak: r.tensor("v_leak"), VThreshold: r.tensor("v_threshold"), Metadata: r.metadata()}
		c.VReset = r.tensorOr("v_reset", c.VThreshold, 0)
		n = c
	case "CubaLI":
		c := &CubaLI{TauSyn: r.tensor("tau_syn"), TauMem: r.tensor("tau_mem"), R: r.tensor("r"), VLeak: r.tensor("v_leak"), Metadata: r.metadata()}
		c.WIn = r.tensorOr("w_in", c.VLeak, 1)
		n = c
	case "CubaLIF":
		c := &CubaLIF{TauSyn: r.tensor("tau_syn"), TauMem: r.tensor("tau_mem"), R: r.tensor("r"), VLeak: r.tensor("v_leak"),
			VThreshold: r.tensor("v_threshold"), Metadata: r.metadata()}
		c.VReset = r.tensorOr("v_reset", c.VThreshold, 0)
		c.WIn = r.tensorOr("w_in", c.VThreshold, 1)
		n = c
	default:
		return nil, &UnsupportedError{Node: path, Type: typ}
	}
	if r.err != nil {
		return nil, r.err
	}
	return n, nil
}

func decodeGraph(r *nodeReader, depth int) (*Graph, error) {
	g := &Graph{Nodes: map[string]Node{}, Metadata: r.metadata()}
	nodes, ok := r.g.Get("nodes").(*hdf5.Group)
	if r.err == nil && !ok {
		r.fail("nodes", "is missing or not a group")
	}
	if r.err != nil {
		return nil, r.err
	}
	for _, l := range nodes.Links {
		path := joinPath(r.path, l.Name)
		sub, ok := l.Object.(*hdf5.Group)
		if !ok {
			return nil, nodeErr(path, "", "is not a group")
		}
		n, err := decodeNode(sub, path, depth+1)
		if err != nil {
			return nil, err
		}
		g.Nodes[l.Name] = n
	}
	ds := r.dataset("edges", true)
	if r.err != nil {
		return nil, r.err
	}
	if ds.Len() == 0 {
		// nir.write of an empty edge list: h5py stores [] as float64 (0,).
		return g, nil
	}
	ends, err := ds.Strings()
	if err != nil || len(ds.Shape) != 2 || ds.Shape[1] != 2 {
		return nil, nodeErr(r.path, "edges", "is a %s dataset of shape %v, want (N, 2) strings", ds.Kind(), ds.Shape)
	}
	for i := 0; i+1 < len(ends); i += 2 {
		g.Edges = append(g.Edges, Edge{From: ends[i], To: ends[i+1]})
	}
	return g, nil
}
