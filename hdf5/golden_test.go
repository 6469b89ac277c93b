package hdf5

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/ours.h5")

// goldenFiles returns the committed files that have a description (.json).
func goldenFiles(t testing.TB) []string {
	manifests, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no golden descriptions in testdata: %v", err)
	}
	var files []string
	for _, m := range manifests {
		base := strings.TrimSuffix(m, ".json")
		for _, ext := range []string{".h5", ".nir"} {
			if _, err := os.Stat(base + ext); err == nil {
				files = append(files, base+ext)
			}
		}
	}
	return files
}

// TestDecodeGoldens decodes the committed h5py and nir.write files and
// compares them with h5py's descriptions, without needing Python.
func TestDecodeGoldens(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ext := filepath.Ext(path)
			checkAgainstManifest(t, path, strings.TrimSuffix(path, ext)+".json")
		})
	}
}

// goldenTree covers every structure the writer emits except deflate (whose
// bytes may change between Go releases): all kinds, compact, contiguous
// and chunked data with edge chunks and shuffle, strings in the global heap,
// attributes, a multi-node group B-tree, shared objects and soft links.
func goldenTree() *Group {
	root := NewGroup()
	root.Attrs.Set("title", Scalar("golden"))
	kinds := root.CreateGroup("kinds")
	for k := Int8; k <= String; k++ {
		kinds.Set(k.String(), &Dataset{Array: sampleArray(k, []int{2, 3}, int(k))})
		kinds.Attrs.Set(k.String(), sampleArray(k, nil, int(k)))
	}
	root.Set("compact", &Dataset{Array: sampleArray(Float32, []int{4}, 1), Storage: Storage{Layout: Compact}})
	root.Set("chunked", &Dataset{Array: sampleArray(Int16, []int{5, 3}, 2), Storage: Storage{Layout: Chunked, Chunks: []int{2, 2}, Shuffle: true}})
	root.Set("empty", NewDataset([]int{0}, []float64{}))
	wide := root.CreateGroup("wide")
	for i := range 20 {
		wide.Set(string(rune('a'+i)), ScalarDataset(uint8(i)))
	}
	root.Set("shared", wide.Get("a"))
	root.SetSoftLink("soft", "/wide/b")
	return root
}

// TestEncodeGolden pins the writer's output byte for byte.
func TestEncodeGolden(t *testing.T) {
	got := encodeBytes(t, goldenTree())
	path := filepath.Join("testdata", "ours.h5")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode(goldenTree()) differs from %s (%d vs %d bytes); if the change is intended, "+
			"check the file with h5dump and rerun with -update", path, len(got), len(want))
	}
	for _, d := range diffManifest(decodeBytes(t, want), manifestOf(goldenTree()), true) {
		t.Error(d)
	}
}
