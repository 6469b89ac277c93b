package opstest_test

import (
	"fmt"
	"testing"

	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/opstest"
)

// A case for the registry's Conv: a convolution with a trainable weight and
// bias (float initializers) on a graph input, checked for shape inference
// and against finite differences.
func Example() {
	c := &opstest.Case{
		Name:   "strided_pads",
		OpType: "Conv",
		Opset:  13,
		Attrs:  opstest.AttrList(opstest.Ints("strides", 2, 2), opstest.Ints("pads", 1, 1, 1, 1)),
		Inputs: []opstest.Input{
			{Name: "X", Shape: []int{1, 2, 5, 5}},
			{Name: "W", Shape: []int{3, 2, 3, 3}, Init: true},
			{Name: "B", Shape: []int{3}, Init: true},
		},
		Outputs: []opstest.Output{{Name: "Y", Shape: []int{1, 3, 3, 3}}},
	}
	fmt.Println("shapes:", opstest.Shapes(c))
	fmt.Println("deterministic:", opstest.Deterministic(c))
	rep, err := opstest.Gradients(c)
	for _, r := range rep.Inputs {
		fmt.Printf("d/d%s: %s, %d of %d elements\n", r.Name, r.Method, r.Checked, r.Size)
	}
	fmt.Println("gradients:", err)
	// Output:
	// shapes: <nil>
	// deterministic: <nil>
	// d/dX: finite differences, 50 of 50 elements
	// d/dW: finite differences, 54 of 54 elements
	// d/dB: finite differences, 3 of 3 elements
	// gradients: <nil>
}

// In a test, CheckOp runs the whole contract on the cases of one registry
// entry (CheckRegistry does it for every entry of ops.Specs()).
func ExampleCheckOp() {
	var t *testing.T // the test's *testing.T
	spec, _ := ops.Lookup("", "Relu", 14)
	opstest.CheckOp(t, spec, &opstest.Case{
		Name: "kinks_avoided", OpType: "Relu", Opset: 14,
		// Values at least 0.05 away from the kink, so that a step of 0.01
		// never crosses it.
		Inputs:  []opstest.Input{{Name: "X", Shape: []int{2, 8}, Gen: opstest.AwayFrom(-1, 1, 0.05, 0)}},
		Outputs: []opstest.Output{{Name: "Y", Shape: []int{2, 8}}},
	})
}
