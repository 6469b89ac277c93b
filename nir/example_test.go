package nir_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/bsnnctl/bsnnctl/nir"
)

// A two-layer spiking network: Input -> Affine -> LIF -> Output, written
// and read back, with the shapes NIR's type inference gives.
func Example() {
	g := nir.NewGraph()
	g.Metadata.Set("dt", 1e-4)
	g.Add("input", &nir.Input{Shape: []int64{3}})
	g.Add("fc", &nir.Affine{
		Weight: nir.F32([]int{2, 3}, []float32{1, -1, 1, -1, 1, 1}),
		Bias:   nir.F32([]int{2}, []float32{0, 0.5}),
	}, "input")
	g.Add("lif", &nir.LIF{
		Tau: nir.Full([]int{2}, 2e-4), R: nir.Full([]int{2}, 2), VLeak: nir.Full([]int{2}, 0),
		VThreshold: nir.Full([]int{2}, 1), VReset: nir.Full([]int{2}, 0),
	}, "fc")
	g.Add("output", &nir.Output{Shape: []int64{2}}, "lif")

	var file bytes.Buffer // nir.WriteFile writes a file atomically
	if err := nir.Encode(&file, g); err != nil {
		log.Fatal(err)
	}
	back, err := nir.Decode(bytes.NewReader(file.Bytes()), int64(file.Len()))
	if err != nil {
		log.Fatal(err)
	}
	types, err := back.InferTypes()
	if err != nil {
		log.Fatal(err)
	}
	dt, _ := back.Metadata.Float("dt")
	fmt.Println("version", back.Version, "dt", dt)
	for _, name := range back.Names() {
		fmt.Println(name, back.Nodes[name].Type(), types[name].In, "->", types[name].Out)
	}
	// Output:
	// version 1.0.7 dt 0.0001
	// fc Affine [3] -> [2]
	// input Input [3] -> [3]
	// lif LIF [2] -> [2]
	// output Output [2] -> [2]
}
