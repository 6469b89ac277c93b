package hdf5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDecodeMalformed breaks valid files in targeted ways; each must give
// the right typed error, at an offset inside the file, with a message
// naming the problem.
func TestDecodeMalformed(t *testing.T) {
	ours := readTestdata(t, "ours.h5")                // superblock 0, our writer
	latest := readTestdata(t, "h5py_latest_small.h5") // superblock 3, h5py
	nir := readTestdata(t, "nir_write.nir")           // gzip chunks, nir.write
	rootAddr := binary.LittleEndian.Uint64(ours[0x40:])
	cases := []struct {
		name        string
		file        []byte
		unsupported bool
		want        string
	}{
		{"not HDF5", []byte("hello, world"), false, "no HDF5 signature"},
		{"empty", nil, false, "no HDF5 signature"},
		{"truncated", ours[:300], false, "file truncated"},
		{"superblock version", patched(ours, 8, 9), true, "superblock version 9"},
		{"offset size", patched(ours, 13, 3), false, "size of offsets 3"},
		{"root outside the file", patched(ours, 0x40, le64(1<<40)...), false, "outside the file"},
		{"superblock checksum", flipped(latest, 20), false, "superblock checksum mismatch"},
		{"object header checksum", flipped(latest, index(t, latest, "OHDR", 0)+8), false, "object header checksum mismatch"},
		{"B-tree signature", patched(ours, index(t, ours, "TREE", 0), 'T', 'R', 'X', 'E'), false, `signature "TRXE"`},
		{"B-tree loop", btreeLoop(t, ours), false, "B-tree node reached twice"},
		{"name outside the local heap", patched(ours, index(t, ours, "SNOD", 0)+8, le64(1<<30)...), false, "beyond the"},
		{"missing string", patched(ours, index(t, ours, "GCOL", 0)+16, 0xe7, 0x03), false, "global heap object 1 missing"},
		{"hard-link cycle", patched(ours, index(t, ours, "SNOD", 0)+16, le64(rootAddr)...), true, "hard-link cycle"},
		{"corrupt deflate data", corruptDeflate(t, nir), false, "deflate chunk"},
		{"fixed array checksum", flipped(latest, index(t, latest, "FADB", 0)+6), false, "fixed array data block checksum mismatch"},
		{"fractal heap checksum", flipped(latest, index(t, latest, "FRHP", 0)+12), false, "fractal heap header checksum mismatch"},
		{"v2 B-tree node checksum", flipped(latest, index(t, latest, "BTLF", 0)+7), false, "v2 B-tree node checksum mismatch"},
		{"huge unwritten dataset", hugeDataset(t), false, "decoded data would exceed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(c.file), int64(len(c.file)))
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			checkDecodeError(t, err, len(c.file))
			var ue *UnsupportedError
			if errors.As(err, &ue) != c.unsupported || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Decode: %v (%T), want a %s naming %q", err, err,
					map[bool]string{true: "UnsupportedError", false: "FormatError"}[c.unsupported], c.want)
			}
		})
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// index returns the offset of the nth occurrence of sig.
func index(t *testing.T, b []byte, sig string, nth int) int {
	t.Helper()
	off := 0
	for i := 0; ; i++ {
		j := bytes.Index(b[off:], []byte(sig))
		if j < 0 {
			t.Fatalf("no %q number %d in the file", sig, nth)
		}
		if i == nth {
			return off + j
		}
		off += j + 1
	}
}

func patched(b []byte, off int, p ...byte) []byte {
	out := bytes.Clone(b)
	copy(out[off:], p)
	return out
}

func flipped(b []byte, off int) []byte {
	out := bytes.Clone(b)
	out[off] ^= 0x40
	return out
}

// btreeLoop turns the first group B-tree node into a level-1 node whose
// first child is the node itself.
func btreeLoop(t *testing.T, b []byte) []byte {
	at := index(t, b, "TREE\x00", 0)                  // node type 0: a group's
	out := patched(b, at+5, 1)                        // level 1
	return patched(out, at+24+8, le64(uint64(at))...) // child 0: itself
}

// corruptDeflate garbles the first deflate stream after its zlib header.
func corruptDeflate(t *testing.T, b []byte) []byte {
	at := index(t, b, "\x78\x5e", 0)
	return patched(b, at+2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
}

// hugeDataset claims 2^40 unwritten elements for an empty dataset.
func hugeDataset(t *testing.T) []byte {
	t.Helper()
	root := NewGroup()
	root.Set("e", NewDataset([]int{0}, []float64{}))
	b := encodeBytes(t, root)
	space := encodeDataspace([]int{0})
	at := bytes.Index(b, space)
	if at < 0 {
		t.Fatal("dataspace message not found")
	}
	return patched(b, at, encodeDataspace([]int{1 << 40})...)
}

// TestEncodeDepthLimit: Encode refuses what Decode would refuse.
func TestEncodeDepthLimit(t *testing.T) {
	root := NewGroup()
	g := root
	for range maxDepth + 1 {
		g = g.CreateGroup("g")
	}
	err := Encode(&bytes.Buffer{}, root)
	if err == nil || !strings.Contains(err.Error(), "nested deeper than 64") {
		t.Fatalf("Encode: %v, want a nesting error", err)
	}
}

// TestDecodeLimits: the decoded-data and reread budgets stop a decode with
// a FormatError (their slack makes them unreachable with small files, so
// the test lowers them).
func TestDecodeLimits(t *testing.T) {
	b := readTestdata(t, "h5py_default.h5")
	for _, c := range []struct {
		name  string
		lower func(d *decoder)
		want  string
	}{
		{"decoded data", func(d *decoder) { d.budget = 100 }, "decoded data would exceed"},
		{"rereading", func(d *decoder) { d.reads = 1000 }, "refer to the same bytes over and over"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDecoder(bytes.NewReader(b), int64(len(b)))
			c.lower(d)
			_, err := d.decode()
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("decode: %v, want a FormatError naming %q", err, c.want)
			}
		})
	}
}
