package bitkern

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// TestLIFChannelsLastMatchesLIFForward checks LIFChannelsLast and LIFNCHW.
func TestLIFChannelsLastMatchesLIFForward(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const T, N, C, H, W = 4, 2, 65, 3, 2
	for _, lv := range lifVariants {
		for _, repeated := range []bool{false, true} {
			steps := T
			if repeated {
				steps = 1
			}
			x := make([]float32, steps*N*C*H*W)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			// Infinities and NaN: the assembly resets keep H where the
			// float engine's H - 0*x is NaN; no spike may differ.
			inf := float32(math.Inf(1))
			for i, v := range []float32{inf, -inf, float32(math.NaN()), -inf, inf} {
				x[i*7] = v
			}
			full := x
			if repeated {
				full = slices.Repeat(x, T)
			}
			want := make([]float32, len(full))
			if err := spiking.LIFForward(lv.p, T, N*C*H*W, full, want, nil); err != nil {
				t.Fatal(err)
			}
			// Channels last with a padded channel stride.
			const ldc = 80
			xl := make([]float32, steps*N*H*W*ldc)
			for i := range steps * N {
				for c := range C {
					for p := range H * W {
						xl[(i*H*W+p)*ldc+c] = x[(i*C+c)*H*W+p]
					}
				}
			}
			eachKernel(t, func(t testing.TB, k *tileKernel) {
				for _, threads := range []int{1, 2} {
					out := make([]uint64, T*N*H*W*Words(C))
					if err := LIFChannelsLast(lv.p, T, N, H*W, C, ldc, xl, repeated, out, threads); err != nil {
						t.Fatal(err)
					}
					got := make([]float32, len(want))
					UnpackNCHW(T*N, C, H, W, out, got)
					if i := firstBitDiff(got, want); i >= 0 {
						t.Fatalf("%s repeated=%v kernel %s: spike %d is %v, LIFForward %v", lv.name, repeated, k.name, i, got[i], want[i])
					}
					clear(out)
					if err := LIFNCHW(lv.p, T, N, H*W, C, x, repeated, out, threads); err != nil {
						t.Fatal(err)
					}
					UnpackNCHW(T*N, C, H, W, out, got)
					if i := firstBitDiff(got, want); i >= 0 {
						t.Fatalf("LIFNCHW %s repeated=%v kernel %s: spike %d is %v, LIFForward %v", lv.name, repeated, k.name, i, got[i], want[i])
					}
				}
			})
		}
	}
}

func TestMaxPoolIsOR(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, kp := range []kernels.PoolParams{
		{N: 2, C: 6, H: 28, W: 28, KH: 2, KW: 2, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1},
		{N: 1, C: 65, H: 7, W: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 1, DilH: 1, DilW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 0},
		{N: 3, C: 16, H: 5, W: 5, KH: 2, KW: 2, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, CeilMode: true},
	} {
		x := randSpikes(r, kp.N*kp.C*kp.H*kp.W, 0.2)
		want := make([]float32, kp.N*kp.C*kp.OutH()*kp.OutW())
		kernels.MaxPoolForward(kp, x, want, nil)
		xp := make([]uint64, kp.N*kp.H*kp.W*Words(kp.C))
		if err := PackNCHW(kp.N, kp.C, kp.H, kp.W, x, xp); err != nil {
			t.Fatal(err)
		}
		out := make([]uint64, kp.N*kp.OutH()*kp.OutW()*Words(kp.C))
		MaxPool(kp, xp, out)
		got := make([]float32, len(want))
		UnpackNCHW(kp.N, kp.C, kp.OutH(), kp.OutW(), out, got)
		if i := firstBitDiff(got, want); i >= 0 {
			t.Fatalf("%+v: output %d is %v, MaxPoolForward %v", kp, i, got[i], want[i])
		}
	}
}

func TestChannelCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const N, C, P = 3, 130, 7
	x := randSpikes(r, N*C*P, 0.3)
	xp := make([]uint64, N*P*Words(C))
	if err := PackNCHW(N, C, 1, P, x, xp); err != nil {
		t.Fatal(err)
	}
	got := make([]int32, N*C)
	ChannelCounts(N, C, P, xp, got)
	for i := range N * C {
		if want := int32(sum(x[i*P : (i+1)*P])); got[i] != want {
			t.Fatalf("count %d = %d, want %d", i, got[i], want)
		}
	}
}
