package bitkern

import (
	"math/rand/v2"
	"testing"
)

// FuzzConv compares Conv.Int32 with refConv on random small shapes, for
// every kernel and layout:
//
//	go test ./infer/bitkern -run '^$' -fuzz FuzzConv -fuzztime 1m
func FuzzConv(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(5), uint8(16), uint8(3), uint8(0x11), uint8(0x11), uint8(0x55))
	f.Add(uint64(2), uint8(65), uint8(4), uint8(3), uint8(1), uint8(0x21), uint8(0x12), uint8(0x1b))
	f.Add(uint64(3), uint8(130), uint8(3), uint8(17), uint8(2), uint8(0x22), uint8(0x22), uint8(0xa0))
	f.Fuzz(func(t *testing.T, seed uint64, c, hw, m, k, strides, dils uint8, pads uint8) {
		p := ConvParams{
			N: 1 + int(seed%3), C: 1 + int(c)%160, H: 1 + int(hw)%9, W: 1 + int(hw/16)%9, M: 1 + int(m)%40,
			KH: 1 + int(k)%4, KW: 1 + int(k/4)%4,
			StrideH: 1 + int(strides)%3, StrideW: 1 + int(strides>>4)%3,
			DilH: 1 + int(dils)%3, DilW: 1 + int(dils>>4)%3,
			PadTop: int(pads) % 3, PadLeft: int(pads>>2) % 3, PadBottom: int(pads>>4) % 3, PadRight: int(pads>>6) % 3,
		}
		if p.Validate() != nil {
			return
		}
		r := rand.New(rand.NewPCG(seed, 99))
		x := randSpikes(r, p.N*p.C*p.H*p.W, r.Float64())
		w := randWeights(r, p.M*p.C*p.KH*p.KW)
		want := refConv(p, x, w)
		eachKernel(t, func(t testing.TB, k *tileKernel) {
			for _, l := range layouts {
				got := runConv(t, p, l, x, w, 1+int(seed%2))
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("%v %v kernel %s: out[%d] = %d, want %d", p, l, k.name, i, got[i], want[i])
				}
			}
		})
	})
}
