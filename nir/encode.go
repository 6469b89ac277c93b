package nir

import (
	"io"

	"github.com/bsnnctl/bsnnctl/hdf5"
)

// deflateLevel is h5py's gzip default, what nir.write gets with
// compression="gzip".
const deflateLevel = 4

// WriteFile encodes g and writes it to path atomically (a temporary file
// renamed into place); on error path is left untouched.
func WriteFile(path string, g *Graph) error {
	root, err := encodeTree(g)
	if err != nil {
		return err
	}
	return hdf5.WriteFile(path, root)
}

// Encode writes g as a NIR file, laid out as NIR's nir.write lays it out:
// the "version" string dataset (g.Version, else Version) and the graph
// under "node": its "type", one group per node under "nodes" with a "type"
// string and one dataset per field, the (N, 2) string dataset "edges", and
// "metadata" groups where metadata is not empty. Arrays (weights, neuron
// parameters, Input/Output shapes, a Flatten's input_type) are gzip-
// compressed chunked datasets as nir.write stores numpy arrays; tuples and
// integers (strides, paddings, groups, a Conv's input_shape) are plain
// int64 datasets. g is checked first (see Graph.Check).
func Encode(w io.Writer, g *Graph) error {
	root, err := encodeTree(g)
	if err != nil {
		return err
	}
	return hdf5.Encode(w, root)
}

func encodeTree(g *Graph) (*hdf5.Group, error) {
	if g == nil {
		return nil, nodeErr("", "", "the graph is nil")
	}
	if err := g.Check(); err != nil {
		return nil, err
	}
	root := hdf5.NewGroup()
	v := g.Version
	if v == "" {
		v = Version
	}
	root.Set("version", hdf5.ScalarDataset(v))
	node, err := encodeNode(g, "")
	if err != nil {
		return nil, err
	}
	root.Set("node", node)
	return root, nil
}

// array is a dataset stored as nir.write stores a numpy array: gzip in
// chunks (an empty array cannot be chunked and stays contiguous).
func array(shape []int, data any) *hdf5.Dataset {
	ds := hdf5.NewDataset(shape, data)
	if numel(shape) > 0 && len(shape) > 0 {
		ds.Storage = hdf5.Storage{Layout: hdf5.Chunked, Deflate: deflateLevel}
	}
	return ds
}

func tensorDataset(t Tensor) *hdf5.Dataset { return array(t.Shape, t.Data) }

// intArray is an int64 numpy array (gzip), intTuple a Python tuple of ints
// (plain).
func intArray(v []int64) *hdf5.Dataset { return array([]int{len(v)}, v) }
func intTuple(v ...int64) *hdf5.Dataset {
	return hdf5.NewDataset([]int{len(v)}, append([]int64{}, v...))
}
func intScalar(v int64) *hdf5.Dataset { return hdf5.ScalarDataset(v) }

// fields lists a node's datasets in NIR's field names.
func fields(n Node) map[string]*hdf5.Dataset {
	switch n := n.(type) {
	case *Input:
		return map[string]*hdf5.Dataset{"shape": intArray(n.Shape)}
	case *Output:
		return map[string]*hdf5.Dataset{"shape": intArray(n.Shape)}
	case *Affine:
		return map[string]*hdf5.Dataset{"weight": tensorDataset(n.Weight), "bias": tensorDataset(n.Bias)}
	case *Linear:
		return map[string]*hdf5.Dataset{"weight": tensorDataset(n.Weight)}
	case *Scale:
		return map[string]*hdf5.Dataset{"scale": tensorDataset(n.Scale)}
	case *Conv1d:
		f := map[string]*hdf5.Dataset{"weight": tensorDataset(n.Weight), "bias": tensorDataset(n.Bias),
			"stride": intScalar(n.Stride), "dilation": intScalar(n.Dilation), "groups": intScalar(n.Groups),
			"padding": intScalar(n.Padding)}
		if n.PaddingMode != "" {
			f["padding"] = hdf5.ScalarDataset(n.PaddingMode)
		}
		if n.InputShape != nil {
			f["input_shape"] = intScalar(n.InputShape[0])
		}
		return f
	case *Conv2d:
		f := map[string]*hdf5.Dataset{"weight": tensorDataset(n.Weight), "bias": tensorDataset(n.Bias),
			"stride": intTuple(n.Stride[:]...), "dilation": intTuple(n.Dilation[:]...), "groups": intScalar(n.Groups),
			"padding": intTuple(n.Padding[:]...)}
		if n.PaddingMode != "" {
			f["padding"] = hdf5.ScalarDataset(n.PaddingMode)
		}
		if n.InputShape != nil {
			f["input_shape"] = intTuple(n.InputShape...)
		}
		return f
	case *SumPool2d:
		return map[string]*hdf5.Dataset{"kernel_size": intTuple(n.KernelSize[:]...), "stride": intTuple(n.Stride[:]...), "padding": intTuple(n.Padding[:]...)}
	case *AvgPool2d:
		return map[string]*hdf5.Dataset{"kernel_size": intTuple(n.KernelSize[:]...), "stride": intTuple(n.Stride[:]...), "padding": intTuple(n.Padding[:]...)}
	case *Flatten:
		f := map[string]*hdf5.Dataset{"start_dim": intScalar(n.StartDim), "end_dim": intScalar(n.EndDim)}
		if n.InputType != nil {
			f["input_type"] = intArray(n.InputType)
		}
		return f
	case *Delay:
		return map[string]*hdf5.Dataset{"delay": tensorDataset(n.Delay)}
	case *Threshold:
		return map[string]*hdf5.Dataset{"threshold": tensorDataset(n.Threshold)}
	case *I:
		return map[string]*hdf5.Dataset{"r": tensorDataset(n.R)}
	case *IF:
		return map[string]*hdf5.Dataset{"r": tensorDataset(n.R), "v_threshold": tensorDataset(n.VThreshold), "v_reset": tensorDataset(n.VReset)}
	case *LI:
		return map[string]*hdf5.Dataset{"tau": tensorDataset(n.Tau), "r": tensorDataset(n.R), "v_leak": tensorDataset(n.VLeak)}
	case *LIF:
		return map[string]*hdf5.Dataset{"tau": tensorDataset(n.Tau), "r": tensorDataset(n.R), "v_leak": tensorDataset(n.VLeak),
			"v_threshold": tensorDataset(n.VThreshold), "v_reset": tensorDataset(n.VReset)}
	case *CubaLI:
		return map[string]*hdf5.Dataset{"tau_syn": tensorDataset(n.TauSyn), "tau_mem": tensorDataset(n.TauMem), "r": tensorDataset(n.R),
			"v_leak": tensorDataset(n.VLeak), "w_in": tensorDataset(n.WIn)}
	case *CubaLIF:
		return map[string]*hdf5.Dataset{"tau_syn": tensorDataset(n.TauSyn), "tau_mem": tensorDataset(n.TauMem), "r": tensorDataset(n.R),
			"v_leak": tensorDataset(n.VLeak), "v_threshold": tensorDataset(n.VThreshold), "v_reset": tensorDataset(n.VReset),
			"w_in": tensorDataset(n.WIn)}
	}
	return nil
}

func encodeNode(n Node, path string) (*hdf5.Group, error) {
	grp := hdf5.NewGroup()
	grp.Set("type", hdf5.ScalarDataset(n.Type()))
	if g, ok := n.(*Graph); ok {
		nodes := grp.CreateGroup("nodes")
		for _, name := range g.Names() {
			sub, err := encodeNode(g.Nodes[name], joinPath(path, name))
			if err != nil {
				return nil, err
			}
			nodes.Set(name, sub)
		}
		ends := make([]string, 0, 2*len(g.Edges))
		for _, e := range g.Edges {
			ends = append(ends, e.From, e.To)
		}
		grp.Set("edges", hdf5.NewDataset([]int{len(g.Edges), 2}, ends))
	} else {
		for name, ds := range fields(n) {
			grp.Set(name, ds)
		}
	}
	if m := n.Meta(); len(m) > 0 {
		mg, err := encodeMetadata(m, path, "metadata")
		if err != nil {
			return nil, err
		}
		grp.Set("metadata", mg)
	}
	return grp, nil
}

func encodeMetadata(m Metadata, path, field string) (*hdf5.Group, error) {
	g := hdf5.NewGroup()
	for k, v := range m {
		switch v := v.(type) {
		case Metadata:
			sub, err := encodeMetadata(v, path, field+"/"+k)
			if err != nil {
				return nil, err
			}
			g.Set(k, sub)
		case hdf5.Array:
			if len(v.Shape) == 0 || v.Kind() == hdf5.String {
				g.Set(k, &hdf5.Dataset{Array: v})
			} else {
				g.Set(k, array(v.Shape, v.Data))
			}
		default:
			return nil, nodeErr(path, field+"/"+k, "metadata value of type %T; want an hdf5.Array or a Metadata (see Metadata.Set)", v)
		}
	}
	return g, nil
}
