// Package nir reads and writes NIR, the Neuromorphic Intermediate
// Representation (github.com/neuromorphs/NIR): a graph of neuromorphic
// primitives (LIF, IF, Conv2d, Affine, ...) stored in an HDF5 file, which
// snnTorch, Norse, SpikingJelly, Sinabs, Rockpool, Lava and the chips
// behind them exchange.
//
//	g, err := nir.ReadFile("model.nir")
//	for _, name := range g.Names() {
//		if lif, ok := g.Nodes[name].(*nir.LIF); ok { ... }
//	}
//	types, err := g.InferTypes()   // every node's input and output shape
//	err = nir.WriteFile("copy.nir", g)
//
// # Model
//
// A Graph (NIR's NIRGraph) maps node names to Nodes and lists Edges; a node
// with several incoming edges receives their sum. Each primitive of
// nir/ir/*.py is a struct with NIR's fields: float parameters as Tensors
// (float32 or float64, as the file stores them), integer ones (strides,
// paddings, shapes) as int64. Every node and graph carries Metadata, which
// by NIR's rule a reader may use but must not need.
//
// # File layout
//
// Decode and Encode follow nir/serialization.py: a "version" string
// dataset, and the graph under the group "node" — its "type" ("NIRGraph"),
// a "nodes" group holding one group per node (a "type" string dataset and
// one dataset per field), the (N, 2) string dataset "edges" and an
// optional "metadata" group. Encode stores arrays as gzip-compressed
// chunked datasets and tuples and integers as plain int64 datasets, as
// nir.write does with h5py's defaults, so NIR's nir.read (type checking
// on) reads what Encode writes. Decode reads that and files from any NIR
// exporter: missing optional fields get NIR's defaults (v_reset 0, w_in 1,
// Flatten's start_dim 1 and end_dim -1), window parameters may be one
// integer or a pair, integer parameter arrays become float64, datasets a
// node type does not define are ignored.
//
// # Errors
//
// Malformed HDF5 is an *hdf5.FormatError (byte offset) or an
// *hdf5.UnsupportedError; a graph that breaks NIR's definitions — a missing
// field, a weight of the wrong rank, parameters whose shapes disagree, an
// edge to a missing node — is a *FormatError naming the node path and field;
// an unknown node type is an *UnsupportedError. Decode never panics
// (FuzzDecode).
package nir
