package spiking

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestParseSTE(t *testing.T) {
	for _, s := range []STE{STEClipped, STEIdentity} {
		if got, err := ParseSTE(s.String()); err != nil || got != s {
			t.Errorf("ParseSTE(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseSTE("tanh"); !errors.Is(err, ErrParam) {
		t.Errorf("ParseSTE(tanh): err = %v", err)
	}
	if STE(0) != STEClipped {
		t.Error("the zero STE is not the clipped default")
	}
}

func TestBipolarForwardSignOfZero(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	x := []float32{0, negZero, 1e-45, -1e-45, 3, -3, inf, -inf, nan}
	want := []float32{1, 1, 1, -1, 1, -1, 1, -1, -1}
	y := make([]float32, len(x))
	must(t, BipolarForward(x, y, []float32{1}, 0))
	sameBits(t, "scale 1", y, want)
	must(t, BipolarForward(x, y, []float32{0.25}, 7)) // channelSize ignored for a scalar
	for i := range want {
		want[i] *= 0.25
	}
	sameBits(t, "scale 0.25", y, want)
}

// refBipolarScale returns the scale of element i for the documented layout.
func refBipolarScale(i int, scale []float32, channelSize int) float64 {
	if len(scale) == 1 {
		return float64(scale[0])
	}
	return float64(scale[(i/channelSize)%len(scale)])
}

func TestBipolarPerChannel(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	layouts := []struct {
		name              string
		n, C, channelSize int
	}{
		{"scalar", 60, 1, 0},
		{"conv [6,2,3,3]", 108, 6, 18},
		{"matmul [10,7]", 70, 7, 1},
		{"[3, 4, 5]", 60, 4, 5},
		{"matmul [3,300]", 900, 300, 1}, // more channels than MeanAbsPerChannel's block
	}
	for _, l := range layouts {
		x := randVec(rng, l.n, -2, 2)
		x[0] = 0
		scale := randVec(rng, l.C, 0.1, 1)
		y := make([]float32, l.n)
		must(t, BipolarForward(x, y, scale, l.channelSize))
		for i := range x {
			want := refBipolarScale(i, scale, l.channelSize)
			if x[i] < 0 {
				want = -want
			}
			if float64(y[i]) != want {
				t.Fatalf("%s: y[%d] = %v, want %v", l.name, i, y[i], want)
			}
		}
		for _, ste := range []STE{STEClipped, STEIdentity} {
			gy := randVec(rng, l.n, -1, 1)
			x[1], x[2], x[3] = 1, -1, float32(math.Nextafter32(1, 2))
			gx := make([]float32, l.n)
			must(t, BipolarBackward(x, gy, gx, scale, l.channelSize, ste))
			for i := range x {
				want := float64(gy[i]) * refBipolarScale(i, scale, l.channelSize)
				if ste == STEClipped && math.Abs(float64(x[i])) > 1 {
					want = 0
				}
				if math.Abs(float64(gx[i])-want) > 1e-7 {
					t.Fatalf("%s %v: gx[%d] = %v, want %v (x = %v)", l.name, ste, i, gx[i], want, x[i])
				}
			}
			buf := append([]float32(nil), gy...)
			must(t, BipolarBackward(x, buf, buf, scale, l.channelSize, ste))
			sameBits(t, l.name+" gx=gy", buf, gx)
		}
		// MeanAbsPerChannel against a direct sum.
		got := make([]float32, l.C)
		must(t, MeanAbsPerChannel(x, l.channelSize, got))
		sums, counts := make([]float64, l.C), make([]float64, l.C)
		for i, v := range x {
			c := 0
			if l.C > 1 {
				c = (i / l.channelSize) % l.C
			}
			sums[c] += math.Abs(float64(v))
			counts[c]++
		}
		for c := range got {
			if want := sums[c] / counts[c]; math.Abs(float64(got[c])-want) > 1e-7*want {
				t.Fatalf("%s: mean|w|[%d] = %v, want %v", l.name, c, got[c], want)
			}
		}
	}
}

func TestBipolarInPlace(t *testing.T) {
	x := []float32{-1, 0, 2, -0.5}
	must(t, BipolarForward(x, x, []float32{0.5}, 1))
	sameBits(t, "y=x", x, []float32{-0.5, 0.5, 0.5, -0.5})
	x = []float32{-1, 0.5, 2, -3}
	must(t, BipolarBackward(x, []float32{1, 1, 1, 1}, x, []float32{2}, 0, STEClipped))
	sameBits(t, "gx=x", x, []float32{2, 2, 0, 0})
}

func TestBipolarErrors(t *testing.T) {
	f := func(n int) []float32 { return make([]float32, n) }
	cases := []struct {
		name      string
		err, want error
	}{
		{"y len", BipolarForward(f(4), f(3), f(1), 0), ErrShape},
		{"empty scale", BipolarForward(f(4), f(4), nil, 0), ErrShape},
		{"not a multiple", BipolarForward(f(10), f(10), f(3), 1), ErrShape},
		{"channelSize 0", BipolarForward(f(6), f(6), f(3), 0), ErrShape},
		{"channelSize misfit", BipolarForward(f(12), f(12), f(3), 3), ErrShape},
		{"gy len", BipolarBackward(f(4), f(3), f(4), f(1), 0, STEClipped), ErrShape},
		{"gx len", BipolarBackward(f(4), f(4), f(5), f(1), 0, STEClipped), ErrShape},
		{"bad ste", BipolarBackward(f(4), f(4), f(4), f(1), 0, STE(5)), ErrParam},
		{"mean empty w", MeanAbsPerChannel(nil, 1, f(1)), ErrShape},
		{"mean misfit", MeanAbsPerChannel(f(10), 3, f(3)), ErrShape},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
}
