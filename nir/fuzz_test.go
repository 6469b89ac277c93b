package nir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bsnnctl/bsnnctl/hdf5"
)

// typedError reports whether err is one of the errors Decode documents.
func typedError(err error) bool {
	var (
		fe  *FormatError
		ue  *UnsupportedError
		hfe *hdf5.FormatError
		hue *hdf5.UnsupportedError
	)
	return errors.As(err, &fe) || errors.As(err, &ue) || errors.As(err, &hfe) || errors.As(err, &hue)
}

// checkDecoded is the property both fuzz tests check: an error is typed; a
// decoded graph type-checks or says why, and encodes again.
func checkDecoded(t *testing.T, g *Graph, err error) {
	if err != nil {
		if !typedError(err) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		return
	}
	if _, err := g.InferTypes(); err != nil && !typedError(err) {
		t.Fatalf("InferTypes: untyped error %T: %v", err, err)
	}
	if err := Encode(&bytes.Buffer{}, g); err != nil {
		t.Fatalf("a decoded graph does not encode: %v", err)
	}
}

// FuzzDecode feeds arbitrary bytes to Decode.
func FuzzDecode(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "nir_write.nir"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	var buf bytes.Buffer
	if err := Encode(&buf, everyNode()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(bytes.NewReader(data), int64(len(data)))
		checkDecoded(t, g, err)
	})
}

// FuzzStructure edits a valid NIR tree by a program of 3-byte
// instructions (which member of which node, what to put there) and decodes
// it: malformed NIR structure in well-formed HDF5.
func FuzzStructure(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{5, 0, 7, 9, 1, 2, 200, 3, 4})
	f.Add([]byte{3, 1, 6, 3, 2, 6, 3, 3, 6})
	f.Fuzz(func(t *testing.T, prog []byte) {
		root, err := encodeTree(everyNode())
		if err != nil {
			t.Fatal(err)
		}
		nodes, _ := root.Group("node/nodes")
		for i := 0; i+2 < len(prog); i += 3 {
			target := nodes
			if prog[i]%8 != 0 && len(nodes.Links) > 0 { // mostly a node; sometimes the graph group itself
				l := nodes.Links[int(prog[i])%len(nodes.Links)]
				if g, ok := l.Object.(*hdf5.Group); ok {
					target = g
				}
			}
			if len(target.Links) == 0 {
				continue
			}
			name := target.Links[int(prog[i+1])%len(target.Links)].Name
			replace(target, name, prog[i+2])
		}
		g, err := decodeTree(root)
		checkDecoded(t, g, err)
	})
}

// replace puts a value of kind k%10 under name (or removes it).
func replace(g *hdf5.Group, name string, k byte) {
	v := int64(k) - 128
	switch k % 10 {
	case 0:
		for i, l := range g.Links {
			if l.Name == name {
				g.Links = append(g.Links[:i], g.Links[i+1:]...)
				return
			}
		}
	case 1:
		g.Set(name, hdf5.ScalarDataset(v))
	case 2:
		g.Set(name, hdf5.ScalarDataset(float64(v)/7))
	case 3:
		g.Set(name, hdf5.ScalarDataset("LIF"))
	case 4:
		g.Set(name, hdf5.NewDataset([]int{int(k % 5)}, make([]float32, k%5)))
	case 5:
		g.Set(name, hdf5.NewDataset([]int{2}, []int64{v, -v}))
	case 6:
		g.Set(name, hdf5.NewGroup())
	case 7:
		g.Set(name, hdf5.NewDataset([]int{1, 2}, []string{"input", "x"}))
	case 8:
		g.Set(name, hdf5.NewDataset([]int{2, 2}, []float64{1, 0, 0, 1}))
	case 9:
		g.Set(name, hdf5.ScalarDataset(true))
	}
}
