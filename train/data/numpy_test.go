package data_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// TestEventFramesMatchNumpy: the frame tensor of a synthetic sample of each dataset, as
// EventDataset.Sample gives it to a model, equals what testdata/event_frames.py (numpy,
// decoding the same file itself) computes, for both binning modes and with downsampling.
// The samples cross the formats' time-stamp overflows (N-MNIST's y = 240 markers,
// AEDAT 3's eventTSOverflow).
func TestEventFramesMatchNumpy(t *testing.T) {
	interop.NeedPythonNumpy(t)
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(8, 8))

	// N-MNIST: one sample per digit; digit 3's file lasts 9 s, past the 23-bit clock.
	nm := filepath.Join(root, "nmnist")
	if err := eventtest.WriteNMNIST(nm, eventtest.NMNISTConfig{Train: 1, Test: 1, Events: 200, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	long := eventtest.ClassEvents(3, 10, data.NMNISTSensor, 3000, 9_000_000, rng)
	b, err := eventtest.EncodeNMNIST(long)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\x00\xf0\x00\x00\x00") {
		t.Fatal("the long sample has no overflow marker")
	}
	mustWrite(t, filepath.Join(nm, "Train", "3", "00004.bin"), b)

	// CIFAR10-DVS: two files per class.
	cd := filepath.Join(root, "cifar10dvs")
	if err := eventtest.WriteCIFAR10DVS(cd, eventtest.CIFAR10DVSConfig{PerClass: 2, Events: 3000, Seed: 10}); err != nil {
		t.Fatal(err)
	}

	// DVS128 Gesture: a recording whose second gesture crosses 2^31 µs.
	dg := filepath.Join(root, "dvsgesture")
	rec := eventtest.SyntheticRecording("user01_lab", []int{4, 9}, 2000, 1<<31-2_500_000, rng)
	if err := eventtest.WriteDVSGesture(dg, []eventtest.Recording{rec}, []eventtest.Recording{rec}, 300); err != nil {
		t.Fatal(err)
	}

	type job struct {
		Format     string `json:"format"`
		Path       string `json:"path"`
		T          int    `json:"T"`
		Bin        string `json:"bin"`
		H          int    `json:"H"`
		W          int    `json:"W"`
		Start      int64  `json:"start"`
		End        int64  `json:"end"`
		Out        string `json:"out"`
		ds         *data.EventDataset
		sample     int
		size, name string
	}
	var jobs []job
	add := func(kind data.Kind, dir string, split data.Split, size data.FrameSize, pick func(*data.EventDataset) (int, string, int64, int64)) {
		for _, mode := range []data.BinMode{data.BinByCount, data.BinByTime} {
			d := openEvents(t, kind, dir, split, data.EventOptions{T: 7, Bin: mode, Size: size, NoCache: true})
			i, file, start, end := pick(d)
			jobs = append(jobs, job{Format: string(kind), Path: file, T: 7, Bin: mode.String(), H: d.H, W: d.W,
				Start: start, End: end, Out: filepath.Join(root, fmt.Sprintf("ref%d.npy", len(jobs))),
				ds: d, sample: i, name: fmt.Sprintf("%s %s bin=%v size=%v", kind, d.Samples[i], mode, size)})
		}
	}
	// file picks the sample read from dir/name, as a whole.
	file := func(dir, name string) func(*data.EventDataset) (int, string, int64, int64) {
		return func(d *data.EventDataset) (int, string, int64, int64) {
			i := slices.Index(d.Samples, name)
			if i < 0 {
				t.Fatalf("no sample %s in %v", name, d.Samples)
			}
			return i, filepath.Join(dir, filepath.FromSlash(name)), -1, -1
		}
	}
	add(data.NMNIST, nm, data.Train, data.FrameSize{}, file(nm, "Train/3/00004.bin"))
	add(data.NMNIST, nm, data.Test, data.FrameSize{H: 17, W: 12}, file(nm, "Test/8/00019.bin"))
	add(data.CIFAR10DVS, cd, data.Train, data.FrameSize{H: 48, W: 48}, file(cd, "ship/cifar10_ship_1.aedat"))
	add(data.DVSGesture, dg, data.Train, data.FrameSize{H: 32, W: 32}, func(d *data.EventDataset) (int, string, int64, int64) {
		if d.Samples[1] != "user01_lab.aedat#1" {
			t.Fatalf("samples %v", d.Samples)
		}
		g := rec.Gestures[1]
		return 1, filepath.Join(dg, "user01_lab.aedat"), g.Start, g.End
	})

	spec, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	jobsFile := filepath.Join(root, "jobs.json")
	mustWrite(t, jobsFile, spec)
	script, err := os.ReadFile(filepath.Join("testdata", "event_frames.py"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := interop.RunPython(string(script), jobsFile); err != nil {
		t.Fatalf("numpy reference: %v", err)
	}
	for _, j := range jobs {
		ref, err := npy.ReadFile(j.Out)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{7, 2, j.H, j.W}; !slices.Equal(ref.Shape(), want) {
			t.Fatalf("%s: numpy shape %v, want %v", j.name, ref.Shape(), want)
		}
		got := make([]float32, j.ds.SampleLen())
		if err := j.ds.Sample(j.sample, got, data.FrameCounts, data.EventAug{}); err != nil {
			t.Fatal(err)
		}
		want := ref.Floats()
		var sum float32
		for k := range got {
			sum += want[k]
			if got[k] != want[k] {
				t.Fatalf("%s: value %d (frame %d) is %v, numpy %v", j.name, k, k/(2*j.H*j.W), got[k], want[k])
			}
		}
		if sum == 0 {
			t.Fatalf("%s: empty sample", j.name)
		}
	}
}
