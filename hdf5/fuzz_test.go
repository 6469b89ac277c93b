package hdf5

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode, starting from the committed
// files (h5py's, nir.write's and ours). Decode must return a tree or a
// *FormatError / *UnsupportedError with an offset inside the file — never
// panic, hang or exhaust memory. A tree that Encode accepts must survive
// an encode/decode round trip unchanged.
//
//	go test ./hdf5 -run XXX -fuzz FuzzDecode -fuzztime 5m
func FuzzDecode(f *testing.F) {
	seeds := append(goldenFiles(f), filepath.Join("testdata", "ours.h5"))
	for _, path := range seeds {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, root := range []*Group{nirTree(), storageTreeSmall()} {
		var buf bytes.Buffer
		if err := Encode(&buf, root); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Decode(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			checkDecodeError(t, err, len(b))
			return
		}
		if treeElements(g) > 1<<16 {
			return // round-tripping fill-valued giants would only slow the fuzzer
		}
		var buf bytes.Buffer
		if Encode(&buf, g) != nil {
			return // valid HDF5 that the writer refuses, e.g. a non-UTF-8 name
		}
		again, err := Decode(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("decoding our own encoding: %v", err)
		}
		for _, d := range diffManifest(again, manifestOf(g), true) {
			t.Error(d)
		}
	})
}

// checkDecodeError accepts only the package's typed errors, with offsets
// inside the file.
func checkDecodeError(t *testing.T, err error, size int) {
	t.Helper()
	var fe *FormatError
	var ue *UnsupportedError
	switch {
	case errors.As(err, &fe):
		if fe.Offset < -1 || fe.Offset > int64(size) {
			t.Fatalf("FormatError offset %d outside the %d-byte input: %v", fe.Offset, size, err)
		}
	case errors.As(err, &ue):
		if ue.Offset < -1 || ue.Offset > int64(size) {
			t.Fatalf("UnsupportedError offset %d outside the %d-byte input: %v", ue.Offset, size, err)
		}
	default:
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// storageTreeSmall is a small tree with every layout, for a fuzz seed.
func storageTreeSmall() *Group {
	root := NewGroup()
	root.Set("compact", &Dataset{Array: sampleArray(Float32, []int{3}, 1), Storage: Storage{Layout: Compact}})
	root.Set("chunked", &Dataset{Array: sampleArray(Int16, []int{5, 3}, 2),
		Storage: Storage{Layout: Chunked, Chunks: []int{2, 2}, Deflate: 1, Shuffle: true}})
	root.Set("strings", &Dataset{Array: sampleArray(String, []int{3}, 3), Storage: Storage{Layout: Chunked, Chunks: []int{2}}})
	root.Attrs.Set("a", sampleArray(Uint64, []int{2}, 4))
	return root
}

// treeElements counts the elements and chunks of every dataset and
// attribute in a tree.
func treeElements(g *Group) int {
	n := 0
	g.Walk(func(_ string, o Object) error {
		var attrs Attributes
		switch o := o.(type) {
		case *Group:
			attrs = o.Attrs
		case *Dataset:
			attrs = o.Attrs
			n += o.Len()
			if o.Storage.Layout == Chunked {
				chunks := uint64(1)
				for i, c := range o.Storage.Chunks {
					chunks *= uint64(o.Shape[i]/max(c, 1) + 1)
				}
				n += int(min(chunks, 1<<30))
			}
		}
		for _, a := range attrs {
			n += a.Len()
		}
		return nil
	})
	return n
}
