package data

import (
	"testing"
	"testing/fstest"
)

// FuzzOpenIDX: arbitrary image and label files never panic; a success is consistent.
func FuzzOpenIDX(f *testing.F) {
	s := randIDXSet(1, 3, 2, 2)
	f.Add(s.imageFile(), s.labelFile())
	f.Add(gzipBytes(f, s.imageFile()), s.labelFile())
	f.Add(s.imageFile()[:20], s.labelFile()[:9])
	f.Fuzz(func(t *testing.T, img, lbl []byte) {
		fsys := fstest.MapFS{
			"train-images-idx3-ubyte": {Data: img},
			"train-labels-idx1-ubyte": {Data: lbl},
		}
		d, err := OpenFS(fsys, Spec{Kind: MNIST}, Train)
		if err != nil {
			return
		}
		if len(d.Pixels) != d.N*d.C*d.H*d.W || len(d.Labels) != d.N {
			t.Fatalf("inconsistent dataset N=%d shape %v", d.N, d.Shape())
		}
	})
}

// FuzzOpenCIFAR100: arbitrary train.bin contents never panic.
func FuzzOpenCIFAR100(f *testing.F) {
	good, _, _ := cifarRecords(1, 2, 2, 100)
	f.Add(good)
	f.Add(good[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := OpenFS(fstest.MapFS{"train.bin": {Data: b}}, Spec{Kind: CIFAR100}, Train)
		if err == nil && d.N*3074 != len(b) {
			t.Fatalf("N=%d for %d bytes", d.N, len(b))
		}
	})
}
