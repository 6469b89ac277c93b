package spiking_test

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// One neuron (M = 1) over T = 4 steps with the spec defaults: H_t = 0.5*V_{t-1} + X_t, a spike
// when H_t >= 1 (equality included), hard reset to 0.
func ExampleLIFForward() {
	p := spiking.DefaultLIF()
	x := []float32{0.5, 0.75, 0.6, 1.2}
	s := make([]float32, 4)
	vT := make([]float32, 1)
	if err := spiking.LIFForward(p, 4, 1, x, s, vT); err != nil {
		panic(err)
	}
	fmt.Println("S  =", s)
	fmt.Println("V_T =", vT[0])

	// Backward: dL/dS = 1 at the last step only. With the triangle surrogate,
	// t=3: H=1.5, sg=0.5, dX = 0.5, and 0.5*0.5 flows into V_2;
	// t=2: H=0.6, dV/dH = 1 - 0.6*0.6 = 0.64, dX = 0.25*0.64 = 0.16;
	// t=1: H=1 (a spike), dV/dH = 1 - 1 - 1*1 = -1, dX = 0.08*(-1) = -0.08; ...
	gx := make([]float32, 4)
	if err := spiking.LIFBackward(p, 4, 1, x, []float32{0, 0, 0, 1}, nil, gx); err != nil {
		panic(err)
	}
	fmt.Println("dX =", gx)
	// Output:
	// S  = [0 1 0 1]
	// V_T = 0
	// dX = [-0.03 -0.08 0.16 0.5]
}

// A per-output-channel scale on a MatMul weight [in = 2, out = 3]: channelSize 1, the scale
// broadcasts along the last axis.
func ExampleBipolarForward() {
	w := []float32{0.3, -0.2, 0, -1, 2, -0.5}
	scale := make([]float32, 3)
	if err := spiking.MeanAbsPerChannel(w, 1, scale); err != nil {
		panic(err)
	}
	y := make([]float32, len(w))
	if err := spiking.BipolarForward(w, y, scale, 1); err != nil {
		panic(err)
	}
	fmt.Println(scale)
	fmt.Println(y)
	// Output:
	// [0.65 1.1 0.25]
	// [0.65 -1.1 0.25 -0.65 1.1 -0.25]
}
