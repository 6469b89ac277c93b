package bitkern

import (
	"testing"

	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// The test helpers the external tests (package bitkern_test) use: those
// import ops, which uses this package, so they cannot be internal tests.

var (
	Layouts      = layouts
	RandSpikes   = randSpikes
	RandWeights  = randWeights
	Sq           = sq
	NewTestConv  = newTestConv
	BNParams     = bnParams
	FirstBitDiff = firstBitDiff
)

// The test cases are small: spread them over threads anyway, so that the
// threaded paths are what the tests run.
func init() { minParallelMACs = 0 }

// EachKernel runs f with every tile kernel of this CPU selected in turn,
// with the kernel's name.
func EachKernel(t testing.TB, f func(t testing.TB, kernel string)) {
	eachKernel(t, func(t testing.TB, k *tileKernel) { f(t, k.name) })
}

// A LIFVariant is one of the LIF parameter sets the tests run.
type LIFVariant struct {
	Name string
	P    spiking.LIFParams
}

// LIFVariants returns lifVariants.
func LIFVariants() []LIFVariant {
	var vs []LIFVariant
	for _, v := range lifVariants {
		vs = append(vs, LIFVariant{v.name, v.p})
	}
	return vs
}
