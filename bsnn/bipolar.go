package bsnn

import (
	"fmt"
	"slices"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// BipolarScale lays out BipolarQuant's scale (values scale, shape s) for a
// weight of shape x in the form spiking.BipolarForward takes: a scalar, one
// value per leading (output) channel of x, or any other scale that
// broadcasts to x (a MatMul weight [in, out] scaled per output column),
// expanded to one value per element. It returns the scale and the channel
// size to pass to the kernel.
func BipolarScale(x, s []int64, scale []float32) ([]float32, int, error) {
	n, _ := static.Numel(x)
	switch {
	case len(scale) == 1:
		return scale, int(n), nil
	case len(x) > 0 && int64(len(scale)) == x[0] && (len(s) <= 1 || s[0] == x[0]):
		return scale, int(n / x[0]), nil
	}
	full, err := static.Broadcast(x, s)
	if err != nil || !slices.Equal(full, x) {
		return nil, 0, fmt.Errorf("scale of shape %v does not broadcast to the weight's shape %v", s, x)
	}
	expanded := make([]float32, n)
	pw := static.NewPairwise(static.Ints(x), static.Ints(s), static.Ints(x))
	pw.Each(func(o, _, ib int) {
		for i := range pw.InnerLen {
			expanded[o+i] = scale[ib+i*pw.InnerB]
		}
	})
	return expanded, 1, nil
}

// FoldBipolarQuant computes BipolarQuant on constants: where(latent >= 0,
// +1, -1) * scale (sign(0) = +1), float32.
func FoldBipolarQuant(latent, scale *onnx.Tensor) (*onnx.Tensor, error) {
	sc, channel, err := BipolarScale(latent.Dims, scale.Dims, scale.Floats())
	if err != nil {
		return nil, err
	}
	x := latent.Floats()
	y := make([]float32, len(x))
	if err := spiking.BipolarForward(x, y, sc, channel); err != nil {
		return nil, err
	}
	return &onnx.Tensor{Type: onnx.Float, Dims: slices.Clone(latent.Dims), Float32: y}, nil
}
