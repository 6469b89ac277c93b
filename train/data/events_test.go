package data

import (
	"slices"
	"strings"
	"testing"
)

// frames builds [T, 2, H, W] counts from a list of (t, p, y, x) cells, each +1.
func frames(t, h, w int, cells ...[4]int) []uint16 {
	f := make([]uint16, t*2*h*w)
	for _, c := range cells {
		f[((c[0]*2+c[1])*h+c[2])*w+c[3]]++
	}
	return f
}

func binOrFail(t *testing.T, ev []Event, sensor Sensor, T int, mode BinMode, size FrameSize) []uint16 {
	t.Helper()
	h, w, err := size.resolve(sensor)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]uint16, T*2*h*w)
	for i := range dst {
		dst[i] = 7 // BinEvents overwrites
	}
	if err := BinEvents(dst, ev, sensor, T, mode, size); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestBinEventsByCount(t *testing.T) {
	s := Sensor{W: 4, H: 2}
	// 7 events, T = 3: k = 7/3 = 2 events per frame, the last frame takes the rest:
	// events 0,1 -> frame 0; 2,3 -> frame 1; 4,5,6 -> frame 2.
	ev := []Event{
		{T: 10, X: 0, Y: 0, P: 1},
		{T: 11, X: 3, Y: 1, P: 0},
		{T: 12, X: 3, Y: 1, P: 0},
		{T: 500, X: 1, Y: 0, P: 1},
		{T: 501, X: 2, Y: 1, P: 1},
		{T: 502, X: 2, Y: 1, P: 1},
		{T: 9000, X: 0, Y: 1, P: 0},
	}
	got := binOrFail(t, ev, s, 3, BinByCount, FrameSize{})
	want := frames(3, 2, 4,
		[4]int{0, 1, 0, 0}, [4]int{0, 0, 1, 3},
		[4]int{1, 0, 1, 3}, [4]int{1, 1, 0, 1},
		[4]int{2, 1, 1, 2}, [4]int{2, 1, 1, 2}, [4]int{2, 0, 1, 0})
	if !slices.Equal(got, want) {
		t.Fatalf("by count:\n got %v\nwant %v", got, want)
	}
	// Fewer events than frames: one event per frame, the rest empty.
	got = binOrFail(t, ev[:2], s, 3, BinByCount, FrameSize{})
	want = frames(3, 2, 4, [4]int{0, 1, 0, 0}, [4]int{1, 0, 1, 3})
	if !slices.Equal(got, want) {
		t.Fatalf("2 events in 3 frames:\n got %v\nwant %v", got, want)
	}
	// No events: all zero.
	if got := binOrFail(t, nil, s, 3, BinByCount, FrameSize{}); slices.Max(got) != 0 {
		t.Fatal("no events should give zero frames")
	}
}

func TestBinEventsByTime(t *testing.T) {
	s := Sensor{W: 3, H: 1}
	// t0 = 100, t1 = 1000, T = 3: dt = 300; frames [100, 400), [400, 700), [700, ...).
	// The event at 50 (out of order) lands in frame 0.
	ev := []Event{
		{T: 100, X: 0, P: 0},
		{T: 399, X: 1, P: 0},
		{T: 50, X: 2, P: 1},
		{T: 400, X: 0, P: 1},
		{T: 699, X: 1, P: 1},
		{T: 700, X: 2, P: 0},
		{T: 1000, X: 2, P: 0},
	}
	got := binOrFail(t, ev, s, 3, BinByTime, FrameSize{})
	want := frames(3, 1, 3,
		[4]int{0, 0, 0, 0}, [4]int{0, 0, 0, 1}, [4]int{0, 1, 0, 2},
		[4]int{1, 1, 0, 0}, [4]int{1, 1, 0, 1},
		[4]int{2, 0, 0, 2}, [4]int{2, 0, 0, 2})
	if !slices.Equal(got, want) {
		t.Fatalf("by time:\n got %v\nwant %v", got, want)
	}
	// A duration shorter than T µs: dt = 1, event at t0+k in frame k (the last takes the rest).
	ev = []Event{{T: 5, X: 0}, {T: 6, X: 1}, {T: 9, X: 2}}
	got = binOrFail(t, ev, s, 4, BinByTime, FrameSize{})
	want = frames(4, 1, 3, [4]int{0, 0, 0, 0}, [4]int{1, 0, 0, 1}, [4]int{3, 0, 0, 2})
	if !slices.Equal(got, want) {
		t.Fatalf("short duration:\n got %v\nwant %v", got, want)
	}
}

func TestBinEventsDownsample(t *testing.T) {
	s := Sensor{W: 128, H: 128}
	// x' = x*48/128 (floor): 0->0, 2->0, 3->1, 5->1, 6->2, 127->47; y likewise.
	ev := []Event{
		{X: 0, Y: 127, P: 1}, {X: 2, Y: 3, P: 1}, {X: 3, Y: 5, P: 0}, {X: 5, Y: 6, P: 0}, {X: 6, Y: 0, P: 1}, {X: 127, Y: 2, P: 1},
	}
	got := binOrFail(t, ev, s, 1, BinByCount, FrameSize{H: 48, W: 48})
	want := frames(1, 48, 48,
		[4]int{0, 1, 47, 0}, [4]int{0, 1, 1, 0}, [4]int{0, 0, 1, 1}, [4]int{0, 0, 2, 1}, [4]int{0, 1, 0, 2}, [4]int{0, 1, 0, 47})
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("cell %d: got %d want %d", i, got[i], want[i])
			}
		}
		t.FailNow()
	}
	// Every 48-cell column gathers 2 or 3 of the 128 sensor columns.
	per := make([]int, 48)
	for x := range 128 {
		per[x*48/128]++
	}
	for c, n := range per {
		if n != 2 && n != 3 {
			t.Errorf("cell column %d gathers %d sensor columns", c, n)
		}
	}
	// Non-square: 34x34 -> 17 rows x 10 columns.
	got = binOrFail(t, []Event{{X: 33, Y: 33, P: 1}, {X: 4, Y: 1}}, Sensor{W: 34, H: 34}, 1, BinByCount, FrameSize{H: 17, W: 10})
	want = frames(1, 17, 10, [4]int{0, 1, 16, 9}, [4]int{0, 0, 0, 1})
	if !slices.Equal(got, want) {
		t.Fatalf("34x34 -> 17x10:\n got %v\nwant %v", got, want)
	}
}

func TestBinEventsSaturates(t *testing.T) {
	ev := make([]Event, 70000)
	got := binOrFail(t, ev, Sensor{W: 1, H: 1}, 1, BinByCount, FrameSize{})
	if got[0] != 65535 || got[1] != 0 {
		t.Fatalf("got %v, want [65535 0]", got)
	}
}

func TestBinEventsErrors(t *testing.T) {
	s := Sensor{W: 4, H: 4}
	dst := make([]uint16, 2*2*4*4)
	cases := []struct {
		ev   []Event
		t    int
		mode BinMode
		size FrameSize
		dst  []uint16
		want string
	}{
		{[]Event{{X: 4}}, 2, BinByCount, FrameSize{}, dst, "outside the 4x4 sensor"},
		{[]Event{{Y: 9}}, 2, BinByCount, FrameSize{}, dst, "outside"},
		{[]Event{{P: 2}}, 2, BinByCount, FrameSize{}, dst, "p=2"},
		{nil, 0, BinByCount, FrameSize{}, dst, "0 frames"},
		{nil, 2, BinMode(7), FrameSize{}, dst, "invalid BinMode(7)"},
		{nil, 2, BinByCount, FrameSize{H: 8, W: 8}, dst, "never upsampling"},
		{nil, 2, BinByCount, FrameSize{H: 2, W: 0}, dst, "frame size 2x0"},
		{nil, 2, BinByCount, FrameSize{}, dst[:5], "dst has 5 values, want 64"},
	}
	for _, c := range cases {
		err := BinEvents(c.dst, c.ev, s, c.t, c.mode, c.size)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c, err, c.want)
		}
	}
}

func TestEventOptionTypesText(t *testing.T) {
	for _, s := range []string{"count", "time"} {
		var m BinMode
		if err := m.UnmarshalText([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if b, _ := m.MarshalText(); string(b) != s {
			t.Errorf("BinMode round trip %q -> %q", s, b)
		}
	}
	for _, s := range []string{"counts", "binary"} {
		var v FrameValues
		if err := v.UnmarshalText([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if b, _ := v.MarshalText(); string(b) != s {
			t.Errorf("FrameValues round trip %q -> %q", s, b)
		}
	}
	for in, want := range map[string]FrameSize{"48": {48, 48}, "32x64": {32, 64}, "sensor": {}, "": {}} {
		var s FrameSize
		if err := s.UnmarshalText([]byte(in)); err != nil || s != want {
			t.Errorf("FrameSize %q -> %v, %v; want %v", in, s, err, want)
		}
	}
	var m BinMode
	var v FrameValues
	var s FrameSize
	for _, err := range []error{m.UnmarshalText([]byte("spikes")), v.UnmarshalText([]byte("float")),
		s.UnmarshalText([]byte("0x4")), s.UnmarshalText([]byte("4x")), s.UnmarshalText([]byte("big"))} {
		if err == nil {
			t.Error("bad text accepted")
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	names := []string{"cifar10_cat_10.aedat", "cifar10_cat_2.aedat", "cifar10_cat_1.aedat", "cifar10_cat_0.aedat",
		"cifar10_cat_100.aedat", "cifar10_cat_02.aedat", "a", "a1"}
	slices.SortFunc(names, naturalCompare)
	want := []string{"a", "a1", "cifar10_cat_0.aedat", "cifar10_cat_1.aedat", "cifar10_cat_02.aedat",
		"cifar10_cat_2.aedat", "cifar10_cat_10.aedat", "cifar10_cat_100.aedat"}
	if !slices.Equal(names, want) {
		t.Fatalf("got %v\nwant %v", names, want)
	}
}
