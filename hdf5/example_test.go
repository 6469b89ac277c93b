package hdf5_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/bsnnctl/bsnnctl/hdf5"
)

// A NIR-style file: a version string, a graph group with an edge list, and
// a node whose parameters are gzip-compressed as nir.write compresses them.
func Example() {
	root := hdf5.NewGroup()
	root.Set("version", hdf5.ScalarDataset("0.5.0"))
	node := root.CreateGroup("node")
	node.Set("edges", hdf5.NewDataset([]int{2, 2}, []string{"input", "lif", "lif", "output"}))
	lif := node.CreateGroup("nodes").CreateGroup("lif")
	lif.Set("type", hdf5.ScalarDataset("LIF"))
	tau := hdf5.NewDataset([]int{3}, []float32{0.02, 0.02, 0.025})
	tau.Storage = hdf5.Storage{Layout: hdf5.Chunked, Deflate: 4}
	lif.Set("tau", tau)

	var file bytes.Buffer // hdf5.WriteFile writes a file atomically
	if err := hdf5.Encode(&file, root); err != nil {
		log.Fatal(err)
	}
	got, err := hdf5.Decode(bytes.NewReader(file.Bytes()), int64(file.Len()))
	if err != nil {
		log.Fatal(err)
	}
	got.Walk(func(path string, o hdf5.Object) error {
		if ds, ok := o.(*hdf5.Dataset); ok {
			fmt.Println(path, ds.Kind(), ds.Shape, ds.Data, ds.Storage.Layout)
		}
		return nil
	})
	// Output:
	// node/edges string [2 2] [input lif lif output] contiguous
	// node/nodes/lif/tau float32 [3] [0.02 0.02 0.025] chunked
	// node/nodes/lif/type string [] [LIF] contiguous
	// version string [] [0.5.0] contiguous
}

// Reading a NIR parameter whatever its stored dtype, and a string.
func ExampleArray_Float64s() {
	root := hdf5.NewGroup()
	lif := root.CreateGroup("lif")
	lif.Set("type", hdf5.ScalarDataset("LIF"))
	lif.Set("v_threshold", hdf5.NewDataset([]int{2}, []float32{1, 0.5}))

	ds, err := root.Dataset("lif/v_threshold")
	if err != nil {
		log.Fatal(err)
	}
	v, err := ds.Float64s()
	if err != nil {
		log.Fatal(err)
	}
	typ, _ := root.Dataset("lif/type")
	s, _ := typ.StringValue()
	_, err = root.Dataset("lif/tau")
	fmt.Println(s, v, err)
	// Output:
	// LIF [1 0.5] hdf5: no dataset "lif/tau"
}
