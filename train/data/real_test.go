package data

import (
	"os"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
)

// TestRealFashionMNIST opens the Fashion-MNIST files installed on the machine, if any.
func TestRealFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir()); err != nil {
		interop.Need(t, "Fashion-MNIST (Debian's dataset-fashion-mnist)", err)
	}
	spec, err := ParseSpec("fashion-mnist")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		split    Split
		n, class int
	}{{Train, 60000, 6000}, {Test, 10000, 1000}} {
		d, err := Open(spec, c.split)
		if err != nil {
			t.Fatal(err)
		}
		if d.N != c.n || d.C != 1 || d.H != 28 || d.W != 28 || len(d.Pixels) != c.n*784 {
			t.Fatalf("%v: N=%d shape %v", c.split, d.N, d.Shape())
		}
		hist := make([]int, d.NumClasses)
		for _, l := range d.Labels {
			hist[l]++
		}
		for k, v := range hist {
			if v != c.class {
				t.Errorf("%v: class %d (%s) has %d images, want %d", c.split, k, d.ClassNames[k], v, c.class)
			}
		}
		if c.split == Train {
			// The published statistics behind DefaultNorm.
			n := ComputeNorm(d)
			if d := n.Mean[0] - 0.2860; d > 5e-4 || d < -5e-4 {
				t.Errorf("train mean %v, want about 0.2860", n.Mean[0])
			}
			if d := n.Std[0] - 0.3530; d > 5e-4 || d < -5e-4 {
				t.Errorf("train std %v, want about 0.3530", n.Std[0])
			}
		}
	}
}
