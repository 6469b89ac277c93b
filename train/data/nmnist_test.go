package data_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

func TestOpenNMNIST(t *testing.T) {
	dir := t.TempDir()
	if err := eventtest.WriteNMNIST(dir, eventtest.NMNISTConfig{Train: 3, Test: 2, Events: 150, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		split data.Split
		sub   string
		per   int
	}{{data.Train, "Train", 3}, {data.Test, "Test", 2}} {
		for _, mode := range []data.BinMode{data.BinByCount, data.BinByTime} {
			d := openEvents(t, data.NMNIST, dir, c.split, data.EventOptions{T: 4, Bin: mode, NoCache: true})
			if d.N != 10*c.per || d.T != 4 || d.H != 34 || d.W != 34 || d.NumClasses != 10 || d.Sensor != data.NMNISTSensor {
				t.Fatalf("%v: N=%d T=%d %dx%d classes %d", c.split, d.N, d.T, d.H, d.W, d.NumClasses)
			}
			if d.Cache.Parsed != d.N || d.Cache.Hit || d.Cache.Path != "" {
				t.Errorf("cache info %+v without a cache", d.Cache)
			}
			for i := range d.N {
				if d.Labels[i] != i/c.per {
					t.Fatalf("sample %d label %d, want %d", i, d.Labels[i], i/c.per)
				}
				if want := fmt.Sprintf("%s/%d/", c.sub, i/c.per); !strings.HasPrefix(d.Samples[i], want) || !strings.HasSuffix(d.Samples[i], ".bin") {
					t.Fatalf("sample %d named %q", i, d.Samples[i])
				}
				ev, err := data.DecodeNMNIST(mustRead(t, filepath.Join(dir, d.Samples[i])))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(countsOf(t, d, i), binned(t, ev, data.NMNISTSensor, 4, mode, data.FrameSize{})) {
					t.Fatalf("sample %d frames differ from BinEvents of its file", i)
				}
			}
		}
	}
	// Files are in natural order within a class.
	d := openEvents(t, data.NMNIST, dir, data.Train, data.EventOptions{T: 1, NoCache: true})
	if !slices.IsSortedFunc(d.Samples[:3], strings.Compare) {
		t.Errorf("samples %v not sorted", d.Samples[:3])
	}
}

func TestOpenNMNISTErrors(t *testing.T) {
	write := func(t *testing.T) string {
		dir := t.TempDir()
		if err := eventtest.WriteNMNIST(dir, eventtest.NMNISTConfig{Train: 1, Test: 1, Events: 20, Seed: 2}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	open := func(dir string, opt data.EventOptions) error {
		opt.Log, _ = testLog()
		if opt.T == 0 {
			opt.T = 2
		}
		_, err := data.OpenEvents(data.Spec{Kind: data.NMNIST, Dir: dir}, data.Train, opt)
		return err
	}

	t.Run("truncated file", func(t *testing.T) {
		dir := write(t)
		f := filepath.Join(dir, "Train", "4", "00005.bin")
		b := mustRead(t, f)
		mustWrite(t, f, b[:len(b)-2])
		err := open(dir, data.EventOptions{})
		var fe *data.EventFormatError
		if !errors.As(err, &fe) || fe.File != f || fe.Offset != int64(len(b)-5) {
			t.Fatalf("error %v, want an EventFormatError for %s at %d", err, f, len(b)-5)
		}
		if !strings.Contains(err.Error(), f+": byte offset "+fmt.Sprint(len(b)-5)+": truncated") {
			t.Errorf("message %q", err)
		}
	})
	t.Run("event outside the sensor", func(t *testing.T) {
		dir := write(t)
		f := filepath.Join(dir, "Train", "7", "00008.bin")
		b := mustRead(t, f)
		b[10] = 200
		mustWrite(t, f, b)
		err := open(dir, data.EventOptions{})
		if err == nil || !strings.Contains(err.Error(), f+": byte offset 10: event at x=200") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("layout", func(t *testing.T) {
		dir := write(t)
		if err := os.RemoveAll(filepath.Join(dir, "Train", "3")); err != nil {
			t.Fatal(err)
		}
		if err := open(dir, data.EventOptions{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join("Train", "3")) {
			t.Errorf("missing class: %v", err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "Train", "3"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := open(dir, data.EventOptions{}); err == nil || !strings.Contains(err.Error(), "no .bin files") {
			t.Errorf("empty class: %v", err)
		}
		if err := open(t.TempDir(), data.EventOptions{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no Train/") {
			t.Errorf("no Train folder: %v", err)
		}
	})
	t.Run("options", func(t *testing.T) {
		dir := write(t)
		for _, c := range []struct {
			opt  data.EventOptions
			want string
		}{
			{data.EventOptions{T: -1}, "-1 frames per sample"},
			{data.EventOptions{T: 2, Bin: 3}, "invalid BinMode(3)"},
			{data.EventOptions{T: 2, Size: data.FrameSize{H: 48, W: 48}}, "never upsampling"},
		} {
			if err := open(dir, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: %v, want %q", c.opt, err, c.want)
			}
		}
		if _, err := data.OpenEvents(data.Spec{Kind: data.MNIST, Dir: dir}, data.Train, data.EventOptions{T: 2}); err == nil {
			t.Error("OpenEvents accepted mnist")
		}
		if _, err := data.Open(data.Spec{Kind: data.NMNIST, Dir: dir}, data.Train); err == nil || !strings.Contains(err.Error(), "event dataset") {
			t.Errorf("Open(nmnist): %v", err)
		}
	})
}
