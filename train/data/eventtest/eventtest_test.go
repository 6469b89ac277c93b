package eventtest_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// The encoders round-trip through package data's decoders, overflows included.
func TestEncodersRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ev := eventtest.ClassEvents(2, 10, data.NMNISTSensor, 500, 20_000_000, rng) // past 2^23 µs
	b, err := eventtest.EncodeNMNIST(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := data.DecodeNMNIST(b); err != nil || !slices.Equal(got, ev) {
		t.Fatalf("N-MNIST: %v", err)
	}
	ev = eventtest.ClassEvents(5, 11, data.DVSGestureSensor, 500, 1<<32, rng) // past 2^31 µs
	b, err = eventtest.EncodeAEDAT3(ev, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := data.DecodeAEDAT3(b, data.DVSGestureSensor); err != nil || !slices.Equal(got, ev) {
		t.Fatalf("AEDAT 3: %v", err)
	}
	ev = eventtest.ClassEvents(9, 10, data.CIFAR10DVSSensor, 500, 1_000_000, rng)
	b, err = eventtest.EncodeCIFAR10DVS(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := data.DecodeCIFAR10DVS(b); err != nil || !slices.Equal(got, ev) {
		t.Fatalf("CIFAR10-DVS: %v", err)
	}
	for _, bad := range [][]data.Event{{{X: 34}}, {{T: 5}, {T: 4}}, {{P: 2}}} {
		if _, err := eventtest.EncodeNMNIST(bad); err == nil {
			t.Errorf("EncodeNMNIST accepted %+v", bad)
		}
	}
}

// ClassEvents encodes the class: summed over time, the patch of the sample's own class
// holds far more events than any other class's patch.
func TestClassEventsSeparable(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	s := data.NMNISTSensor
	patchCount := func(ev []data.Event, c int) int {
		ref := eventtest.ClassEvents(c, 10, s, 2000, 1, rand.New(rand.NewPCG(3, 3)))
		cells := map[[2]uint16]int{}
		for _, e := range ref {
			cells[[2]uint16{e.X, e.Y}]++
		}
		n := 0
		for _, e := range ev {
			if cells[[2]uint16{e.X, e.Y}] > 20 {
				n++
			}
		}
		return n
	}
	for c := range 10 {
		ev := eventtest.ClassEvents(c, 10, s, 400, 300_000, rng)
		own := patchCount(ev, c)
		for o := range 10 {
			if o != c && patchCount(ev, o) >= own/2 {
				t.Errorf("class %d: %d events in its own patch, %d in class %d's", c, own, patchCount(ev, o), o)
			}
		}
		if !slices.IsSortedFunc(ev, func(a, b data.Event) int { return int(a.T - b.T) }) {
			t.Errorf("class %d events not in time order", c)
		}
	}
}
