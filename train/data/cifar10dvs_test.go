package data_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

func TestOpenCIFAR10DVS(t *testing.T) {
	dir := t.TempDir()
	// 21 files per class: ceil(21/10) = 3 test files, cifar10_<class>_0, _1, _2 in natural
	// order (a byte-order sort would pick _0, _1, _10).
	if err := eventtest.WriteCIFAR10DVS(dir, eventtest.CIFAR10DVSConfig{PerClass: 21, Events: 300, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "__MACOSX", "junk.aedat"), []byte("x")) // ignored
	mustWrite(t, filepath.Join(dir, "cat", "README.txt"), []byte("x"))      // ignored
	size := data.FrameSize{H: 48, W: 48}
	te := openEvents(t, data.CIFAR10DVS, dir, data.Test, data.EventOptions{T: 10, Size: size, NoCache: true})
	tr := openEvents(t, data.CIFAR10DVS, dir, data.Train, data.EventOptions{T: 10, Size: size, NoCache: true})
	if te.N != 30 || tr.N != 180 || te.H != 48 || te.W != 48 || te.Sensor != data.CIFAR10DVSSensor || te.ClassNames[3] != "cat" {
		t.Fatalf("test N=%d train N=%d %dx%d", te.N, tr.N, te.H, te.W)
	}
	for i := range te.N {
		class := te.ClassNames[i/3]
		if want := fmt.Sprintf("%s/cifar10_%s_%d.aedat", class, class, i%3); te.Samples[i] != want || te.Labels[i] != i/3 {
			t.Fatalf("test sample %d: %s label %d, want %s", i, te.Samples[i], te.Labels[i], want)
		}
	}
	if tr.Samples[0] != "airplane/cifar10_airplane_3.aedat" || tr.Samples[7] != "airplane/cifar10_airplane_10.aedat" {
		t.Errorf("train order %v", tr.Samples[:8])
	}
	for _, d := range []*data.EventDataset{te, tr} {
		for _, i := range []int{0, d.N / 2, d.N - 1} {
			ev, err := data.DecodeCIFAR10DVS(mustRead(t, filepath.Join(dir, d.Samples[i])))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(countsOf(t, d, i), binned(t, ev, data.CIFAR10DVSSensor, 10, data.BinByCount, size)) {
				t.Fatalf("%s: frames differ from BinEvents of the file", d.Samples[i])
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "horse")); err != nil {
		t.Fatal(err)
	}
	log, _ := testLog()
	_, err := data.OpenEvents(data.Spec{Kind: data.CIFAR10DVS, Dir: dir}, data.Train, data.EventOptions{T: 2, Log: log})
	if err == nil || !strings.Contains(err.Error(), "class folder "+filepath.Join(dir, "horse")+" is missing") {
		t.Errorf("missing class: %v", err)
	}
}
