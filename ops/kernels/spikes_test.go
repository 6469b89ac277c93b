package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackSpikes packs gated spike images with the assembly (where the CPU
// has it) and the Go loop, and checks them against the definition; images
// with two nonzero values must be refused.
func TestPackSpikes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, sh := range []struct{ C, HW int }{{1, 1}, {5, 13}, {16, 64}, {16, 1024}, {64, 9}, {70, 20}} {
		x := make([]float32, sh.C*sh.HW)
		for i := range x {
			if r.IntN(5) == 0 {
				x[i] = 0.75
			}
		}
		words := (sh.C + 63) / 64
		for _, goOnly := range []bool{false, true} {
			forceGo = goOnly
			dst := make([]uint64, sh.HW*words)
			for i := range dst {
				dst[i] = ^uint64(0) // overwritten
			}
			gate, ok := PackSpikes(x, sh.C, sh.HW, dst)
			if !ok || gate != 0.75 && gate != 0 {
				t.Fatalf("%v go=%v: gate %v, ok %v", sh, goOnly, gate, ok)
			}
			for c := 0; c < sh.C; c++ {
				for p := 0; p < sh.HW; p++ {
					got := dst[p*words+c/64]>>(c%64)&1 == 1
					if want := x[c*sh.HW+p] != 0; got != want {
						t.Fatalf("%v go=%v: channel %d pixel %d: bit %v, want %v", sh, goOnly, c, p, got, want)
					}
				}
			}
			for p := 0; p < sh.HW; p++ {
				if w := dst[p*words+words-1]; sh.C%64 != 0 && w>>(sh.C%64) != 0 {
					t.Fatalf("%v go=%v: bits past C set in pixel %d", sh, goOnly, p)
				}
			}
			bad := append([]float32(nil), x...)
			bad[len(bad)-1] = -2
			if _, ok := PackSpikes(bad, sh.C, sh.HW, dst); ok && len(bad) > 1 {
				t.Errorf("%v go=%v: a second value was not refused", sh, goOnly)
			}
		}
		forceGo = false
	}
}

// TestSpikeConvOutput compares the assembly conversion with the Go loop bit
// for bit.
func TestSpikeConvOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, sh := range []struct{ P, M int }{{64, 16}, {1024, 32}, {5, 3}} {
		src := make([]int32, sh.P*sh.M)
		for i := range src {
			src[i] = int32(r.IntN(300) - 150)
		}
		scale := randSlice(r, sh.M)
		a, g := make([]float32, sh.P*sh.M), make([]float32, sh.P*sh.M)
		SpikeConvOutput(a, src, sh.P, sh.M, 0.3, scale)
		forceGo = true
		SpikeConvOutput(g, src, sh.P, sh.M, 0.3, scale)
		forceGo = false
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(g[i]) {
				t.Fatalf("%v: element %d: %v (asm), %v (Go)", sh, i, a[i], g[i])
			}
		}
		if want := float32(float32(src[1*sh.M+2%sh.M])*0.3) * scale[2%sh.M]; g[(2%sh.M)*sh.P+1] != want {
			t.Fatalf("%v: %v, want %v", sh, g[(2%sh.M)*sh.P+1], want)
		}
	}
}
