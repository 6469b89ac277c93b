package hdf5

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
)

// The h5py side lives in testdata/h5py_fixtures.py: "make" writes files the
// way h5py does by default and in other ways (gzip, shuffle, fletcher32,
// compact, libver='latest', big-endian, fill values, NIR's nir.write), each
// with a JSON description of what h5py reads back; "describe" describes any
// file. Decoded trees are compared with those descriptions.

func fixtureScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "h5py_fixtures.py"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// describeWithH5py returns h5py's description of each file, by path.
func describeWithH5py(t *testing.T, paths ...string) map[string]*manifest {
	t.Helper()
	out, err := interop.RunPython(fixtureScript(t), append([]string{"describe"}, paths...)...)
	if err != nil {
		t.Fatalf("h5py cannot read our files: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("describe: %v", err)
	}
	ms := map[string]*manifest{}
	for p, b := range raw {
		if ms[p], err = parseManifest(b); err != nil {
			t.Fatalf("describe %s: %v", p, err)
		}
	}
	return ms
}

// TestDecodeH5pyFiles decodes files that h5py writes at test time and
// compares every object, value and storage setting with what h5py reads.
func TestDecodeH5pyFiles(t *testing.T) {
	interop.NeedH5py(t)
	dir := t.TempDir()
	if _, err := interop.RunPython(fixtureScript(t), "make", dir); err != nil {
		t.Fatalf("h5py_fixtures.py make: %v", err)
	}
	manifests, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(manifests) < 7 {
		t.Fatalf("h5py_fixtures.py made %d files", len(manifests))
	}
	for _, mpath := range manifests {
		name := strings.TrimSuffix(filepath.Base(mpath), ".json")
		t.Run(name, func(t *testing.T) {
			checkAgainstManifest(t, strings.TrimSuffix(mpath, ".json")+".h5", mpath)
		})
	}
	refusals, _ := filepath.Glob(filepath.Join(dir, "*.unsupported"))
	for _, rpath := range refusals {
		t.Run(strings.TrimSuffix(filepath.Base(rpath), ".unsupported"), func(t *testing.T) {
			checkRefusal(t, strings.TrimSuffix(rpath, ".unsupported")+".h5", rpath)
		})
	}
}

func checkAgainstManifest(t *testing.T, h5, mpath string) {
	t.Helper()
	m, err := readManifest(mpath)
	if err != nil {
		t.Fatal(err)
	}
	root, err := ReadFile(h5)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	for _, d := range diffManifest(root, m, true) {
		t.Error(d)
	}
}

// checkRefusal expects an *UnsupportedError naming the feature.
func checkRefusal(t *testing.T, h5, rpath string) {
	t.Helper()
	feature, err := os.ReadFile(rpath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(h5)
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), string(feature)) {
		t.Fatalf("decode %s: %v, want an UnsupportedError naming %q", filepath.Base(h5), err, feature)
	}
}

// TestH5pyReadsOurFiles writes every sample tree and checks that h5py
// reads back the same objects, dtypes, shapes, values, attributes, links
// and storage.
func TestH5pyReadsOurFiles(t *testing.T) {
	interop.NeedH5py(t)
	dir := t.TempDir()
	trees := sampleTrees()
	paths := map[string]string{}
	var all []string
	for name, root := range trees {
		paths[name] = filepath.Join(dir, name+".h5")
		if err := WriteFile(paths[name], root); err != nil {
			t.Fatal(err)
		}
		all = append(all, paths[name])
	}
	described := describeWithH5py(t, all...) // one Python start for all files
	for name, root := range trees {
		t.Run(name, func(t *testing.T) {
			m := described[paths[name]]
			if m == nil {
				t.Fatal("h5py described no such file")
			}
			for _, d := range diffManifest(root, m, true) {
				t.Error(d)
			}
		})
	}
}

// TestH5dumpReadsOurFiles runs the HDF5 library's h5dump on every sample
// tree: it must succeed without a word on stderr (the library reports
// format problems there, even when it carries on).
func TestH5dumpReadsOurFiles(t *testing.T) {
	interop.NeedH5dump(t)
	dir := t.TempDir()
	for name, root := range sampleTrees() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".h5")
			if err := WriteFile(path, root); err != nil {
				t.Fatal(err)
			}
			// -p: also print storage layout and filters.
			stdout, stderr, err := interop.RunH5dump("-p", path)
			if err != nil {
				t.Fatal(err)
			}
			if len(stderr) > 0 {
				t.Fatalf("h5dump warned:\n%s", stderr)
			}
			if !strings.Contains(string(stdout), `GROUP "/"`) {
				t.Fatalf("h5dump printed no root group:\n%.500s", stdout)
			}
		})
	}
}

// TestH5pyModifiesOurFiles lets h5py (the HDF5 library) change a file we
// wrote — new groups that split the group B-tree and grow its local heap,
// attributes that grow object headers, a deleted link — and reads the
// result back, with this package and with h5dump.
func TestH5pyModifiesOurFiles(t *testing.T) {
	interop.NeedH5py(t)
	path := filepath.Join(t.TempDir(), "nir.h5")
	if err := WriteFile(path, nirTree()); err != nil {
		t.Fatal(err)
	}
	if _, err := interop.RunPython(fixtureScript(t), "modify", path); err != nil {
		t.Fatalf("h5py cannot modify our file: %v", err)
	}
	root, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := root.Group("node/nodes")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(nodes.Links); n != 3+40 || nodes.Get("lif") != nil {
		t.Errorf("node/nodes has %d members %v, want fc, input, output and extra00…extra39", n, nodes.Names())
	}
	if x, err := root.Dataset("node/nodes/extra39/x"); err != nil || x.Len() != 40 {
		t.Errorf("extra39/x: %v", err)
	}
	if w, err := root.Dataset("node/nodes/fc/weight"); err != nil {
		t.Error(err)
	} else if a, ok := w.Attrs.Get("added"); !ok || a.Kind() != String || a.Data.([]string)[0] != "by h5py" {
		t.Errorf("weight attributes %v", w.Attrs)
	}
	if err := interop.H5dumpAvailable(); err == nil {
		if _, stderr, err := interop.RunH5dump(path); err != nil || len(stderr) > 0 {
			t.Errorf("h5dump: %v %s", err, stderr)
		}
	}
}
