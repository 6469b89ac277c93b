package data_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/train/data"
)

type eventBatch struct {
	x          []float32
	y, indices []int
	n          int
}

func eventEpoch(t *testing.T, l *data.Loader, epoch, k int) []eventBatch {
	t.Helper()
	it, err := l.Start(context.Background(), epoch, k)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []eventBatch
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, eventBatch{slices.Clone(b.X), slices.Clone(b.Y), slices.Clone(b.Indices), b.N})
		b.Release()
	}
}

// TestEventLoaderLayout: batches are [T, N, 2, H, W], frame t of sample i at
// X[(t*N+i)*2*H*W:], each sample as EventDataset.Sample writes it with its drawn
// augmentation; labels and indices follow the epoch order.
func TestEventLoaderLayout(t *testing.T) {
	d := openEvents(t, data.NMNIST, nmnistDir(t), data.Train, data.EventOptions{T: 3, NoCache: true})
	in := data.EventInput{Augment: data.EventAugment{Roll: 5, HFlip: true}}
	cfg := data.LoaderConfig{BatchSize: 6, Shuffle: true, Seed: 11, Workers: 3}
	l, err := data.NewEventLoader(d, in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.Frames() != 3 || l.Shape() != (data.Shape{C: 2, H: 34, W: 34}) || l.Len() != 4 || l.Samples() != 20 || l.EventDataset() != d || l.Dataset() != nil {
		t.Fatalf("frames %d shape %v len %d samples %d", l.Frames(), l.Shape(), l.Len(), l.Samples())
	}
	frame := 2 * 34 * 34
	order := data.Permutation(11, 1, 20)
	batches := eventEpoch(t, l, 1, 0)
	seen := 0
	for k, b := range batches {
		if len(b.x) != 3*b.n*frame {
			t.Fatalf("batch %d: %d values for N=%d", k, len(b.x), b.n)
		}
		for i, idx := range b.indices {
			if idx != order[k*6+i] || b.y[i] != d.Labels[idx] {
				t.Fatalf("batch %d sample %d: index %d label %d", k, i, idx, b.y[i])
			}
			want := make([]float32, d.SampleLen())
			if err := d.Sample(idx, want, data.FrameCounts, in.Augment.Draw(11, 1, idx)); err != nil {
				t.Fatal(err)
			}
			for tt := range 3 {
				got := b.x[(tt*b.n+i)*frame : (tt*b.n+i+1)*frame]
				if !slices.Equal(got, want[tt*frame:(tt+1)*frame]) {
					t.Fatalf("batch %d sample %d frame %d differs from Sample", k, i, tt)
				}
			}
			seen++
		}
	}
	if seen != 20 || batches[3].n != 2 {
		t.Fatalf("saw %d samples, last batch %d", seen, batches[3].n)
	}
	// Augmentation happened: some sample differs from its plain frames.
	plain, err := data.NewEventLoader(d, data.EventInput{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if pb := eventEpoch(t, plain, 1, 0); slices.Equal(pb[0].x, batches[0].x) {
		t.Error("augmentation changed nothing")
	}
}

// TestEventLoaderDeterminism: the batches depend only on the seed, not on workers, and an
// epoch resumed at batch k yields the batches an uninterrupted run would have.
func TestEventLoaderDeterminism(t *testing.T) {
	d := openEvents(t, data.NMNIST, nmnistDir(t), data.Train, data.EventOptions{T: 2, Size: data.FrameSize{H: 17, W: 17}, NoCache: true})
	in := data.EventInput{Values: data.FrameBinary, Augment: data.EventAugment{Roll: 3, HFlip: true}}
	mk := func(workers int, seed uint64) *data.Loader {
		l, err := data.NewEventLoader(d, in, data.LoaderConfig{BatchSize: 4, Shuffle: true, DropLast: true, Seed: seed, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := eventEpoch(t, mk(1, 5), 2, 0)
	b := eventEpoch(t, mk(4, 5), 2, 0)
	c := eventEpoch(t, mk(2, 5), 2, 3)
	other := eventEpoch(t, mk(1, 6), 2, 0)
	if len(a) != 5 || len(c) != 2 {
		t.Fatalf("%d batches, %d resumed", len(a), len(c))
	}
	for k := range a {
		if !slices.Equal(a[k].x, b[k].x) || !slices.Equal(a[k].indices, b[k].indices) {
			t.Fatalf("batch %d depends on the worker count", k)
		}
		if k >= 3 && (!slices.Equal(a[k].x, c[k-3].x) || !slices.Equal(a[k].y, c[k-3].y)) {
			t.Fatalf("resumed batch %d differs", k)
		}
		for _, v := range a[k].x {
			if v != 0 && v != 1 {
				t.Fatalf("binary frames hold %v", v)
			}
		}
	}
	if slices.Equal(a[0].x, other[0].x) {
		t.Error("another seed gives the same first batch")
	}
	// BatchAt is the same batch, built synchronously.
	bt, err := mk(1, 5).BatchAt(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bt.X, a[1].x) {
		t.Error("BatchAt differs from the iterator's batch")
	}
}

func TestNewEventLoaderErrors(t *testing.T) {
	d := openEvents(t, data.NMNIST, nmnistDir(t), data.Test, data.EventOptions{T: 1, NoCache: true})
	for _, c := range []struct {
		in   data.EventInput
		cfg  data.LoaderConfig
		want string
	}{
		{data.EventInput{}, data.LoaderConfig{BatchSize: 2, Augment: data.Augment{Pad: 2}}, "does not apply to event frames"},
		{data.EventInput{Augment: data.EventAugment{Roll: -1}}, data.LoaderConfig{BatchSize: 2}, "roll -1"},
		{data.EventInput{Values: 9}, data.LoaderConfig{BatchSize: 2}, "FrameValues(9)"},
		{data.EventInput{}, data.LoaderConfig{BatchSize: 0}, "batch size 0"},
		{data.EventInput{}, data.LoaderConfig{BatchSize: 11, DropLast: true}, "leaves no batch of the 10 samples"},
	} {
		if _, err := data.NewEventLoader(d, c.in, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v %+v: %v, want %q", c.in, c.cfg, err, c.want)
		}
	}
	if _, err := data.NewEventLoader(nil, data.EventInput{}, data.LoaderConfig{BatchSize: 1}); err == nil {
		t.Error("nil dataset accepted")
	}
	s, err := d.Slice(2, 5)
	if err != nil || s.N != 3 || s.Labels[0] != d.Labels[2] || !slices.Equal(countsOf(t, s, 0), countsOf(t, d, 2)) {
		t.Fatalf("Slice: %v", err)
	}
	if _, err := d.Slice(3, 11); err == nil {
		t.Error("Slice out of range accepted")
	}
}
