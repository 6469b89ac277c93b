package bitkern

import (
	"fmt"
	"math/bits"

	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// LIFPack runs the multi-step LIF neuron on float32 inputs and packs the
// spikes: x holds T steps of N images of C channels and H*W pixels, NCHW
// (x[((t*N+n)*C+c)*H*W+p]), or, when repeated is set, one step (N images)
// that every step receives (a directly encoded input). out receives T*N
// packed images. The operations are spiking.LIFForward's, so the spikes are
// identical to it.
func LIFPack(lif spiking.LIFParams, T, N, C, H, W int, x []float32, repeated bool, out []uint64) error {
	if err := lif.Validate(); err != nil {
		return err
	}
	hw, cw := H*W, Words(C)
	steps := T
	if repeated {
		steps = 1
	}
	if len(x) < steps*N*C*hw || len(out) < T*N*hw*cw {
		return fmt.Errorf("bitkern: LIFPack: x has %d values and out %d words, want %d and %d", len(x), len(out), steps*N*C*hw, T*N*hw*cw)
	}
	clear(out[:T*N*hw*cw])
	c := newLIFConsts(lif)
	for n := range N {
		for ch := range C {
			word, bit := ch>>6, uint64(1)<<(ch&63)
			for p := range hw {
				v := c.vr
				for t := range T {
					i := t*N + n
					if repeated {
						i = n
					}
					var fired bool
					fired, v = c.step(v, x[(i*C+ch)*hw+p])
					if fired {
						out[((t*N+n)*hw+p)*cw+word] |= bit
					}
				}
			}
		}
	}
	return nil
}

// PoolParams describes a max pooling of N packed images of C channels and
// H x W pixels, with the ONNX MaxPool attributes (see
// ops/kernels.PoolParams, which gives OutH and OutW).
type PoolParams struct {
	N, C, H, W                           int
	KH, KW                               int
	StrideH, StrideW                     int
	DilH, DilW                           int
	PadTop, PadLeft, PadBottom, PadRight int
	OutH, OutW                           int
}

// MaxPool computes a max pooling of packed spikes: the maximum of 0/1
// values is their OR, and the padding (which ONNX fills with -inf) adds
// nothing to it. x holds N images, out receives N images of OutH x OutW.
func MaxPool(p PoolParams, x, out []uint64) {
	cw := Words(p.C)
	mustLen("MaxPool", "x", len(x), p.N*p.H*p.W*cw)
	mustLen("MaxPool", "out", len(out), p.N*p.OutH*p.OutW*cw)
	for n := range p.N {
		img := x[n*p.H*p.W*cw:][:p.H*p.W*cw]
		dst := out[n*p.OutH*p.OutW*cw:][:p.OutH*p.OutW*cw]
		for oy := range p.OutH {
			for ox := range p.OutW {
				d := dst[(oy*p.OutW+ox)*cw:][:cw]
				clear(d)
				for i := range p.KH {
					iy := oy*p.StrideH - p.PadTop + i*p.DilH
					if iy < 0 || iy >= p.H {
						continue
					}
					for j := range p.KW {
						ix := ox*p.StrideW - p.PadLeft + j*p.DilW
						if ix < 0 || ix >= p.W {
							continue
						}
						for k, v := range img[(iy*p.W+ix)*cw:][:cw] {
							d[k] |= v
						}
					}
				}
			}
		}
	}
}

// ChannelCounts writes, for each of N packed images of C channels and P
// pixels, the number of spikes of every channel: counts[n*C+c].
func ChannelCounts(N, C, P int, x []uint64, counts []int32) {
	cw := Words(C)
	mustLen("ChannelCounts", "x", len(x), N*P*cw)
	mustLen("ChannelCounts", "counts", len(counts), N*C)
	clear(counts[:N*C])
	for n := range N {
		cnt := counts[n*C:][:C]
		for p := range P {
			for k, v := range x[(n*P+p)*cw:][:cw] {
				for v != 0 {
					cnt[k*64+bits.TrailingZeros64(v)]++
					v &= v - 1
				}
			}
		}
	}
}
