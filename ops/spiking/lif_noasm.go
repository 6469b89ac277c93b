//go:build !amd64 || purego

package spiking

func fireRowAsm(c *lifConsts, x, v, s []float32, affine bool, a, b float32, r []float32) (done, spikes int) {
	return 0, 0
}
func chargeRowAsm(c *lifConsts, x, v, h []float32, affine bool, a, b float32, r []float32) int {
	return 0
}
func backRowAsm(c *lifConsts, h, gs, gv []float32) int { return 0 }
