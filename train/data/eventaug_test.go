package data

import (
	"slices"
	"testing"
)

// tinyEvents is an EventDataset of n samples of T frames [2, h, w] whose count at flat
// index k of sample i is (i*7 + k) % 5, stored wide (2 bytes) for odd i.
func tinyEvents(n, T, h, w int) *EventDataset {
	d := &EventDataset{Kind: NMNIST, N: n, T: T, H: h, W: w, NumClasses: 10, counts: make([][]byte, n),
		Labels: make([]int, n), Samples: make([]string, n)}
	for i := range n {
		c := make([]uint16, d.SampleLen())
		for k := range c {
			c[k] = uint16((i*7 + k) % 5)
		}
		if i%2 == 1 {
			c[0] = 300 // forces two bytes per count
		}
		d.counts[i] = packCounts(c)
		d.Labels[i] = i % 10
	}
	return d
}

func TestEventSampleFlipRoll(t *testing.T) {
	d := tinyEvents(2, 2, 3, 4)
	for i := range 2 {
		c := make([]uint16, d.SampleLen())
		if err := d.Counts(i, c); err != nil {
			t.Fatal(err)
		}
		if wide := len(d.counts[i]) == 2*d.SampleLen(); wide != (i == 1) {
			t.Fatalf("sample %d stored wide=%v", i, wide)
		}
		at := func(t, ch, y, x int) float32 { return float32(c[((t*2+ch)*3+y)*4+x]) }
		for _, a := range []EventAug{{}, {Flip: true}, {DY: 1}, {DX: -1}, {Flip: true, DY: -2, DX: 5}} {
			got := make([]float32, d.SampleLen())
			if err := d.Sample(i, got, FrameCounts, a); err != nil {
				t.Fatal(err)
			}
			for tt := range 2 {
				for ch := range 2 {
					for y := range 3 {
						for x := range 4 {
							// torch.roll(torch.flip(f, [-1]), (DY, DX), (-2, -1)):
							// out[y][x] = flipped[(y-DY) mod 3][(x-DX) mod 4].
							sy, sx := mod(y-a.DY, 3), mod(x-a.DX, 4)
							if a.Flip {
								sx = 3 - sx
							}
							if g, w := got[((tt*2+ch)*3+y)*4+x], at(tt, ch, sy, sx); g != w {
								t.Fatalf("sample %d aug %+v: [%d %d %d %d] = %v, want %v", i, a, tt, ch, y, x, g, w)
							}
						}
					}
				}
			}
		}
		bin := make([]float32, d.SampleLen())
		if err := d.Sample(i, bin, FrameBinary, EventAug{}); err != nil {
			t.Fatal(err)
		}
		for k, v := range bin {
			if want := float32(min(c[k], 1)); v != want {
				t.Fatalf("binary value %d = %v, want %v", k, v, want)
			}
		}
	}
	// Hand-computed: one frame row [1 2 3 4], flipped [4 3 2 1], rolled by 1: [1 4 3 2].
	one := &EventDataset{N: 1, T: 1, H: 1, W: 4, counts: [][]byte{{1, 2, 3, 4, 0, 0, 0, 9}}}
	got := make([]float32, 8)
	if err := one.Sample(0, got, FrameCounts, EventAug{Flip: true, DX: 1}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 4, 3, 2, 0, 9, 0, 0}; !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if err := one.Sample(1, got, FrameCounts, EventAug{}); err == nil {
		t.Error("sample out of range accepted")
	}
	if err := one.Sample(0, got[:3], FrameCounts, EventAug{}); err == nil {
		t.Error("short dst accepted")
	}
	if err := one.Sample(0, got, FrameValues(5), EventAug{}); err == nil {
		t.Error("bad values accepted")
	}
	if err := one.Counts(0, make([]uint16, 2)); err == nil {
		t.Error("Counts with short dst accepted")
	}
}

func TestEventAugmentDraw(t *testing.T) {
	if (EventAugment{}).Draw(1, 2, 3) != (EventAug{}) {
		t.Fatal("zero EventAugment draws")
	}
	a := EventAugment{Roll: 5, HFlip: true}
	seen := map[int]bool{}
	flips := 0
	for i := range 2000 {
		g := a.Draw(7, 1, i)
		if g != a.Draw(7, 1, i) {
			t.Fatal("Draw is not deterministic")
		}
		if g.DY < -5 || g.DY > 5 || g.DX < -5 || g.DX > 5 {
			t.Fatalf("draw %+v out of range", g)
		}
		seen[g.DY] = true
		seen[100+g.DX] = true
		if g.Flip {
			flips++
		}
	}
	if len(seen) != 22 {
		t.Errorf("saw %d of the 22 shift values", len(seen))
	}
	if flips < 900 || flips > 1100 {
		t.Errorf("%d flips in 2000 draws", flips)
	}
	same := 0
	for i := range 200 {
		if a.Draw(7, 1, i) == a.Draw(7, 2, i) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("epochs 1 and 2 share %d of 200 draws", same)
	}
	// The stream is separate from the image augmentation's: same seed, different draws.
	img := Augment{Pad: 5, HFlip: true}
	differ := 0
	for i := range 200 {
		ig, eg := img.Draw(7, 1, i), a.Draw(7, 1, i)
		if ig.DY-5 != eg.DY || ig.DX-5 != eg.DX {
			differ++
		}
	}
	if differ < 150 {
		t.Errorf("only %d of 200 event draws differ from the image draws", differ)
	}
	// Raw-output draws never change across Go releases: pinned values.
	for _, c := range []struct {
		seed         uint64
		epoch, index int
		want         EventAug
	}{
		{1, 0, 0, EventAug{Flip: true, DY: 0, DX: 4}},
		{1, 0, 1, EventAug{Flip: true, DY: -3, DX: 0}},
		{2, 3, 4, EventAug{Flip: true, DY: -2, DX: 5}},
		{3, 1, 2, EventAug{Flip: true, DY: 5, DX: -2}},
		{3, 1, 3, EventAug{Flip: false, DY: 2, DX: -2}},
	} {
		if g := a.Draw(c.seed, c.epoch, c.index); g != c.want {
			t.Errorf("Draw(%d, %d, %d) = %#v, want %#v", c.seed, c.epoch, c.index, g, c.want)
		}
	}
}
