package data_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// cut returns the events with start <= t < end, in order.
func cut(ev []data.Event, start, end int64) []data.Event {
	var out []data.Event
	for _, e := range ev {
		if e.T >= start && e.T < end {
			out = append(out, e)
		}
	}
	return out
}

func TestOpenDVSGesture(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	// user01: three gestures, the second crossing the 2^31 µs time-stamp overflow.
	a := eventtest.SyntheticRecording("user01_fluorescent", []int{1, 5, 11}, 300, 1<<31-2_500_000, rng)
	// user02: overlapping label ranges (as in the real user22_led_labels.csv), a range
	// running past the last event (kept) and one after all events (dropped).
	b := eventtest.SyntheticRecording("user02_led", []int{2, 3}, 200, 5_000_000, rng)
	last := b.Events[len(b.Events)-1].T
	b.Gestures = []eventtest.Gesture{
		{Class: 2, Start: 5_500_000, End: 6_700_000},
		{Class: 3, Start: 6_400_000, End: 8_000_000},
		{Class: 4, Start: 8_200_000, End: last + 500},
		{Class: 7, Start: last + 1000, End: last + 2000},
	}
	c := eventtest.SyntheticRecording("user24_natural", []int{8, 9}, 250, 0, rng)
	dir := t.TempDir()
	if err := eventtest.WriteDVSGesture(filepath.Join(dir, "DvsGesture"), []eventtest.Recording{a, b}, []eventtest.Recording{c}, 64); err != nil {
		t.Fatal(err)
	}

	log, logs := testLog()
	size := data.FrameSize{H: 32, W: 32}
	d := openEvents(t, data.DVSGesture, dir, data.Train, data.EventOptions{T: 5, Bin: data.BinByTime, Size: size, Log: log})
	type want struct {
		name  string
		label int
		ev    []data.Event
	}
	var wants []want
	for k, g := range a.Gestures {
		wants = append(wants, want{"DvsGesture/user01_fluorescent.aedat#" + string(rune('0'+k)), g.Class - 1, cut(a.Events, g.Start, g.End)})
	}
	for k, g := range b.Gestures[:3] {
		wants = append(wants, want{"DvsGesture/user02_led.aedat#" + string(rune('0'+k)), g.Class - 1, cut(b.Events, g.Start, g.End)})
	}
	if d.N != len(wants) || d.NumClasses != 11 || d.ClassNames[10] != "other_gestures" {
		t.Fatalf("N=%d classes %d, want %d samples", d.N, d.NumClasses, len(wants))
	}
	if ev := wants[1].ev; len(ev) == 0 || ev[0].T >= 1<<31 || ev[len(ev)-1].T < 1<<31 {
		t.Fatal("the second gesture does not cross the time-stamp overflow")
	}
	for i, w := range wants {
		if d.Samples[i] != w.name || d.Labels[i] != w.label {
			t.Errorf("sample %d: %s label %d, want %s label %d", i, d.Samples[i], d.Labels[i], w.name, w.label)
		}
		if !slices.Equal(countsOf(t, d, i), binned(t, w.ev, data.DVSGestureSensor, 5, data.BinByTime, size)) {
			t.Errorf("sample %d (%s): frames differ from its label range's events", i, w.name)
		}
	}
	// The overlap is in both samples.
	if n := len(cut(b.Events, 6_400_000, 6_500_000)); n == 0 {
		t.Fatal("no events in the overlap")
	}

	// Two rows reported, with file and row: one kept, one dropped.
	if len(d.Issues) != 2 {
		t.Fatalf("issues %+v, want 2", d.Issues)
	}
	kept, dropped := d.Issues[0], d.Issues[1]
	if kept.File != "DvsGesture/user02_led_labels.csv" || kept.Row != 2 || !kept.Kept || kept.Events == 0 || kept.Last != last ||
		dropped.Row != 3 || dropped.Kept || dropped.Events != 0 || dropped.Class != 6 {
		t.Errorf("issues %+v", d.Issues)
	}
	if !strings.Contains(kept.String(), "row 2 (line 4, class 4)") || !strings.Contains(dropped.String(), "dropped: no events") {
		t.Errorf("issue texts %q / %q", kept, dropped)
	}
	out := logs.String()
	csv := filepath.Join(dir, "DvsGesture", "user02_led_labels.csv")
	if strings.Count(out, "level=WARN msg=\"DVS128 Gesture label range outside the recording's events\" file="+csv) != 2 ||
		!strings.Contains(out, "row=3 line=5 class=7") {
		t.Errorf("log:\n%s", out)
	}

	te := openEvents(t, data.DVSGesture, dir, data.Test, data.EventOptions{T: 2})
	if te.N != 2 || te.Labels[0] != 7 || te.Labels[1] != 8 || len(te.Issues) != 0 || te.H != 128 {
		t.Fatalf("test split: N=%d labels %v issues %v", te.N, te.Labels, te.Issues)
	}

	// The second open reads the cache, with the issues, and logs them again.
	log2, logs2 := testLog()
	d2 := openEvents(t, data.DVSGesture, dir, data.Train, data.EventOptions{T: 5, Bin: data.BinByTime, Size: size, Log: log2})
	if !d2.Cache.Hit || !slices.Equal(d2.Issues, d.Issues) || !slices.Equal(d2.Samples, d.Samples) {
		t.Fatalf("cached: %+v issues %v", d2.Cache, d2.Issues)
	}
	if strings.Count(logs2.String(), "label range outside") != 2 {
		t.Errorf("cached open did not report the issues:\n%s", logs2)
	}
}

func TestOpenDVSGestureErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		r := eventtest.SyntheticRecording("user01_lab", []int{1, 2}, 50, 0, rng)
		if err := eventtest.WriteDVSGesture(dir, []eventtest.Recording{r}, []eventtest.Recording{r}, 16); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	open := func(dir string) error {
		log, _ := testLog()
		_, err := data.OpenEvents(data.Spec{Kind: data.DVSGesture, Dir: dir}, data.Train, data.EventOptions{T: 2, Log: log})
		return err
	}
	t.Run("truncated recording", func(t *testing.T) {
		dir := setup(t)
		f := filepath.Join(dir, "user01_lab.aedat")
		b := mustRead(t, f)
		mustWrite(t, f, b[:len(b)-3])
		err := open(dir)
		var fe *data.EventFormatError
		if !errors.As(err, &fe) || fe.File != f || !strings.Contains(err.Error(), "truncated packet") {
			t.Fatalf("error %v", err)
		}
		// The last packet starts 28 bytes of header and its events before the old end.
		if fe.Offset <= int64(len(eventtest.AEDAT3Header)) || fe.Offset >= int64(len(b)) {
			t.Errorf("offset %d", fe.Offset)
		}
	})
	t.Run("bad label row", func(t *testing.T) {
		dir := setup(t)
		mustWrite(t, filepath.Join(dir, "user01_lab_labels.csv"), []byte("class,startTime_usec,endTime_usec\n1,0,10\n0,5,9\n"))
		err := open(dir)
		var fe *data.FormatError
		if !errors.As(err, &fe) || fe.Record != 1 || !strings.Contains(err.Error(), "user01_lab_labels.csv: record 1: line 3: class 0 out of range") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("missing files", func(t *testing.T) {
		dir := setup(t)
		mustWrite(t, filepath.Join(dir, "trials_to_train.txt"), []byte("user01_lab.aedat\nuser09_led.aedat\n"))
		if err := open(dir); err == nil || !strings.Contains(err.Error(), "lists "+filepath.Join(dir, "user09_led.aedat")+", which is missing") {
			t.Errorf("missing recording: %v", err)
		}
		mustWrite(t, filepath.Join(dir, "trials_to_train.txt"), []byte("user01_lab\n"))
		if err := os.Remove(filepath.Join(dir, "user01_lab_labels.csv")); err != nil {
			t.Fatal(err)
		}
		if err := open(dir); err == nil || !strings.Contains(err.Error(), "user01_lab_labels.csv") {
			t.Errorf("missing labels: %v", err)
		}
		if err := open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no trials_to_train.txt") {
			t.Errorf("no list: %v", err)
		}
		mustWrite(t, filepath.Join(dir, "trials_to_train.txt"), []byte("../x.aedat\n"))
		if err := open(dir); err == nil || !strings.Contains(err.Error(), "is not a file name") {
			t.Errorf("path in list: %v", err)
		}
	})
}
