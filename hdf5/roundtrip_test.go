package hdf5

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// sampleTrees are the trees the writer tests encode: every kind, rank and
// storage, string arrays, attributes, deep and wide groups, shared objects,
// soft links, and a NIR graph as the nir package will build it.
func sampleTrees() map[string]*Group {
	return map[string]*Group{
		"kinds":   kindsTree(),
		"storage": storageTree(),
		"groups":  groupsTree(),
		"nir":     nirTree(),
	}
}

// sampleData returns n deterministic elements of kind k, including the
// extremes of the type.
func sampleData(k Kind, n, seed int) any {
	f := func(i int) float64 { return (float64(i) - float64(n)/2) * 0.37 * float64(seed+1) }
	switch k {
	case Float32:
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(f(i))
		}
		if n > 3 {
			d[0], d[1], d[2] = math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1))
		}
		return d
	case Float64:
		d := make([]float64, n)
		for i := range d {
			d[i] = f(i)
		}
		if n > 3 {
			d[0], d[1], d[2] = -math.MaxFloat64, math.SmallestNonzeroFloat64, 1.0/3
		}
		return d
	case Bool:
		d := make([]bool, n)
		for i := range d {
			d[i] = (i+seed)%3 == 0
		}
		return d
	case String:
		words := []string{"in", "lif\u00e9", "", "out", "\u00b11 weight", "x"}
		d := make([]string, n)
		for i := range d {
			d[i] = words[(i+seed)%len(words)]
		}
		return d
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i*7 + seed)
	}
	ints := map[Kind]any{
		Int8: convert(v, func(x int64) int8 { return int8(x) }), Int16: convert(v, func(x int64) int16 { return int16(x) }),
		Int32: convert(v, func(x int64) int32 { return int32(x) }), Int64: v,
		Uint8: convert(v, func(x int64) uint8 { return uint8(x) }), Uint16: convert(v, func(x int64) uint16 { return uint16(x) }),
		Uint32: convert(v, func(x int64) uint32 { return uint32(x) }), Uint64: convert(v, func(x int64) uint64 { return uint64(x) }),
	}
	d := ints[k]
	if n > 2 {
		switch d := d.(type) {
		case []int8:
			d[0], d[1] = math.MinInt8, math.MaxInt8
		case []int16:
			d[0], d[1] = math.MinInt16, math.MaxInt16
		case []int32:
			d[0], d[1] = math.MinInt32, math.MaxInt32
		case []int64:
			d[0], d[1] = math.MinInt64, math.MaxInt64
		case []uint8:
			d[1] = math.MaxUint8
		case []uint16:
			d[1] = math.MaxUint16
		case []uint32:
			d[1] = math.MaxUint32
		case []uint64:
			d[1] = math.MaxUint64
		}
	}
	return d
}

func sampleArray(k Kind, shape []int, seed int) Array {
	n, _ := elemCount(shape)
	return Array{Shape: shape, Data: sampleData(k, int(n), seed)}
}

func kindsTree() *Group {
	root := NewGroup()
	shapes := map[string][]int{"scalar": nil, "vec": {5}, "mat": {2, 3}, "rank3": {2, 1, 4}, "empty": {0, 3}}
	for k := Int8; k <= String; k++ {
		g := root.CreateGroup(k.String())
		for name, shape := range shapes {
			g.Set(name, &Dataset{Array: sampleArray(k, shape, int(k))})
		}
		g.Attrs.Set("scalar", sampleArray(k, nil, 1))
		g.Attrs.Set("vec", sampleArray(k, []int{4}, 2))
	}
	return root
}

func storageTree() *Group {
	root := NewGroup()
	set := func(name string, a Array, s Storage) { root.Set(name, &Dataset{Array: a, Storage: s}) }
	set("compact_f4", sampleArray(Float32, []int{3, 2}, 1), Storage{Layout: Compact})
	set("compact_scalar", sampleArray(Float64, nil, 2), Storage{Layout: Compact})
	set("compact_strings", sampleArray(String, []int{4}, 3), Storage{Layout: Compact})
	set("chunked_auto", sampleArray(Float32, []int{4, 3}, 4), Storage{Layout: Chunked, Deflate: 4})
	set("chunked_edges", sampleArray(Int32, []int{7, 5}, 5), Storage{Layout: Chunked, Chunks: []int{3, 2}})
	set("shuffle_deflate", sampleArray(Int16, []int{40, 30}, 6), Storage{Layout: Chunked, Chunks: []int{7, 9}, Deflate: 9, Shuffle: true})
	set("shuffle_only", sampleArray(Float64, []int{10}, 7), Storage{Layout: Chunked, Chunks: []int{4}, Shuffle: true})
	set("many_chunks", sampleArray(Float32, []int{120, 100}, 8), Storage{Layout: Chunked, Chunks: []int{10, 10}, Deflate: 1})
	set("big_auto", sampleArray(Float64, []int{400, 400}, 9), Storage{Layout: Chunked, Deflate: 1})
	set("chunked_strings", sampleArray(String, []int{5, 2}, 10), Storage{Layout: Chunked, Chunks: []int{2, 2}, Deflate: 4})
	set("chunked_bool", sampleArray(Bool, []int{9}, 11), Storage{Layout: Chunked, Deflate: 4})
	set("chunked_empty", sampleArray(Float32, []int{0, 3}, 12), Storage{Layout: Chunked})
	set("contiguous_empty", sampleArray(Uint8, []int{0}, 13), Storage{})
	return root
}

func groupsTree() *Group {
	root := NewGroup()
	root.Attrs.Set("title", Scalar("groups \u00e9"))
	root.Attrs.Set("count", Scalar(int64(300)))
	deep := root
	for i := range 12 {
		deep = deep.CreateGroup(fmt.Sprintf("level%d", i))
		deep.Attrs.Set("depth", Scalar(int32(i)))
	}
	deep.Set("leaf", ScalarDataset(1.5))
	wide := root.CreateGroup("wide") // 300 links: a two-level group B-tree
	for i := range 300 {
		wide.Set(fmt.Sprintf("d%03d", i), ScalarDataset(int16(i)))
	}
	shared := NewDataset([]int{3}, []float32{1, -1, 1})
	shared.Attrs.Set("binary", Scalar(true))
	root.Set("shared_a", shared)
	wide.Set("shared_b", shared)
	sub := root.CreateGroup("shared_group")
	sub.Set("x", ScalarDataset("in a group linked twice"))
	root.Set("shared_group_again", sub)
	root.SetSoftLink("soft", "/shared_a")
	root.SetSoftLink("dangling", "/no/such/object")
	root.CreateGroup("empty")
	return root
}

// nirTree is a small NIR graph laid out as nir.write lays it out.
func nirTree() *Group {
	root := NewGroup()
	root.Set("version", ScalarDataset("1.0.6"))
	node := root.CreateGroup("node")
	node.Set("type", ScalarDataset("NIRGraph"))
	node.Set("edges", NewDataset([]int{3, 2}, []string{"input", "fc", "fc", "lif", "lif", "output"}))
	node.CreateGroup("metadata").Set("dt", ScalarDataset(1e-3))
	nodes := node.CreateGroup("nodes")
	gz := Storage{Layout: Chunked, Deflate: 4}
	in := nodes.CreateGroup("input")
	in.Set("type", ScalarDataset("Input"))
	in.Set("shape", &Dataset{Array: Array{Shape: []int{1}, Data: []int64{4}}, Storage: gz})
	fc := nodes.CreateGroup("fc")
	fc.Set("type", ScalarDataset("Affine"))
	fc.Set("weight", &Dataset{Array: Array{Shape: []int{3, 4}, Data: []float32{1, -1, 1, 1, -1, -1, 1, -1, 1, 1, 1, -1}}, Storage: gz})
	fc.Set("bias", &Dataset{Array: sampleArray(Float32, []int{3}, 2), Storage: gz})
	meta := fc.CreateGroup("metadata")
	meta.Set("bsnn.binary", ScalarDataset(int64(1)))
	meta.Set("scale", ScalarDataset(0.25))
	lif := nodes.CreateGroup("lif")
	lif.Set("type", ScalarDataset("LIF"))
	for name, v := range map[string]float64{"tau": 0.02, "r": 1, "v_leak": 0, "v_reset": 0, "v_threshold": 1} {
		lif.Set(name, &Dataset{Array: Array{Shape: []int{3}, Data: []float64{v, v, v}}, Storage: gz})
	}
	out := nodes.CreateGroup("output")
	out.Set("type", ScalarDataset("Output"))
	out.Set("shape", &Dataset{Array: Array{Shape: []int{1}, Data: []int64{3}}, Storage: gz})
	return root
}

// manifestOf describes a Go tree the way describe() describes a file, so
// that diffManifest can compare two trees.
func manifestOf(root *Group) *manifest {
	m := &manifest{}
	ids := map[Object]uint64{}
	arr := func(a Array) manifestArray {
		ma := manifestArray{Dtype: a.Kind().String(), Shape: a.Shape}
		if ma.Shape == nil {
			ma.Shape = []int{}
		}
		for i, s := range canonical(a.Data) {
			switch a.Kind() {
			case Bool:
				ma.Data = append(ma.Data, a.Data.([]bool)[i])
			case String:
				ma.Data = append(ma.Data, s)
			default:
				ma.Data = append(ma.Data, json.Number(s))
			}
		}
		return ma
	}
	attrs := func(as Attributes) map[string]manifestArray {
		out := map[string]manifestArray{}
		for _, a := range as {
			out[a.Name] = arr(a.Array)
		}
		return out
	}
	for _, l := range listTree(root) {
		o := manifestObject{Path: l.path, Kind: l.kind, Target: l.target}
		if l.obj != nil {
			if _, ok := ids[l.obj]; !ok {
				ids[l.obj] = uint64(len(ids) + 1)
			}
			o.Addr = ids[l.obj]
		}
		switch obj := l.obj.(type) {
		case *Group:
			o.Attrs = attrs(obj.Attrs)
		case *Dataset:
			o.Attrs = attrs(obj.Attrs)
			o.manifestArray = arr(obj.Array)
			s := obj.Storage
			chunks := s.Chunks
			if s.Layout == Chunked && chunks == nil {
				_, size := encodeDatatype(obj.Kind())
				chunks = autoChunks(obj.Shape, size)
			}
			o.Storage = &manifestStorage{Layout: s.Layout.String(), Chunks: chunks, Deflate: s.Deflate, Shuffle: s.Shuffle}
		}
		m.Objects = append(m.Objects, o)
	}
	return m
}

func encodeBytes(t *testing.T, root *Group) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, root); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

func decodeBytes(t *testing.T, b []byte) *Group {
	t.Helper()
	g, err := Decode(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return g
}

// TestRoundTrip encodes and decodes every sample tree: same objects, values,
// attributes, sharing and storage; and re-encoding the decoded tree gives
// the same bytes (the output is a function of the tree alone).
func TestRoundTrip(t *testing.T) {
	for name, root := range sampleTrees() {
		t.Run(name, func(t *testing.T) {
			b := encodeBytes(t, root)
			got := decodeBytes(t, b)
			for _, d := range diffManifest(got, manifestOf(root), true) {
				t.Error(d)
			}
			if again := encodeBytes(t, root); !bytes.Equal(again, b) {
				t.Error("encoding the same tree twice gave different bytes")
			}
			if re := encodeBytes(t, got); !bytes.Equal(re, b) {
				t.Errorf("re-encoding the decoded tree gave different bytes (%d vs %d)", len(re), len(b))
			}
		})
	}
}

// TestRoundTripBits checks that float payloads survive bit for bit: NaNs
// with payloads, infinities, negative zero, subnormals.
func TestRoundTripBits(t *testing.T) {
	f32 := []float32{math.Float32frombits(0x7fc00001), math.Float32frombits(0xffa00000), float32(math.Inf(-1)),
		float32(math.Copysign(0, -1)), math.Float32frombits(1)}
	f64 := []float64{math.Float64frombits(0x7ff8000000000123), math.Inf(1), math.Copysign(0, -1), math.Float64frombits(1)}
	root := NewGroup()
	root.Set("f32", &Dataset{Array: Array{Shape: []int{len(f32)}, Data: f32}, Storage: Storage{Layout: Chunked, Deflate: 1, Shuffle: true}})
	root.Set("f64", NewDataset([]int{len(f64)}, f64))
	root.Attrs.Set("f32", Array{Shape: []int{len(f32)}, Data: f32})
	got := decodeBytes(t, encodeBytes(t, root))
	d32, _ := got.Dataset("f32")
	d64, _ := got.Dataset("f64")
	a32, _ := got.Attrs.Get("f32")
	for i, v := range f32 {
		for _, g := range []float32{d32.Data.([]float32)[i], a32.Data.([]float32)[i]} {
			if math.Float32bits(g) != math.Float32bits(v) {
				t.Errorf("float32 %d: %#x, want %#x", i, math.Float32bits(g), math.Float32bits(v))
			}
		}
	}
	for i, v := range f64 {
		if g := d64.Data.([]float64)[i]; math.Float64bits(g) != math.Float64bits(v) {
			t.Errorf("float64 %d: %#x, want %#x", i, math.Float64bits(g), math.Float64bits(v))
		}
	}
}

// TestEncodeErrors feeds invalid trees to Encode: each is refused with an
// error naming the path and the problem.
func TestEncodeErrors(t *testing.T) {
	cyclic := NewGroup()
	cyclic.CreateGroup("a").Set("back", cyclic)
	cases := []struct {
		name string
		root *Group
		want string
	}{
		{"nil root", nil, "nil root"},
		{"cycle", cyclic, "/a/back: group cycle"},
		{"slash in name", groupWith("a/b", ScalarDataset(1.0)), `contains "/"`},
		{"dot name", groupWith(".", ScalarDataset(1.0)), `is "."`},
		{"empty name", groupWith("", ScalarDataset(1.0)), "empty name"},
		{"duplicate names", &Group{Links: []Link{{Name: "x", Object: NewGroup()}, {Name: "x", Object: NewGroup()}}}, `two links named "x"`},
		{"shape mismatch", groupWith("x", NewDataset([]int{2, 2}, []float32{1, 2, 3})), "/x: shape [2 2] needs 4 elements, data has 3"},
		{"negative dim", groupWith("x", NewDataset([]int{-1}, []float32{})), "invalid shape"},
		{"bad type", groupWith("x", NewDataset(nil, []int{1})), "unsupported data type []int"},
		{"nil data", groupWith("x", NewDataset(nil, nil)), "unsupported data type <nil>"},
		{"chunked scalar", groupWith("x", &Dataset{Array: Scalar(1.0), Storage: Storage{Layout: Chunked}}), "scalar dataset cannot be chunked"},
		{"deflate contiguous", groupWith("x", &Dataset{Array: sampleArray(Float32, []int{3}, 0), Storage: Storage{Deflate: 4}}), "need the chunked layout"},
		{"deflate level", groupWith("x", &Dataset{Array: sampleArray(Float32, []int{3}, 0), Storage: Storage{Layout: Chunked, Deflate: 10}}), "deflate level 10"},
		{"chunk rank", groupWith("x", &Dataset{Array: sampleArray(Float32, []int{3}, 0), Storage: Storage{Layout: Chunked, Chunks: []int{1, 1}}}), "chunk shape [1 1]"},
		{"chunk too big", groupWith("x", &Dataset{Array: sampleArray(Float32, []int{3}, 0), Storage: Storage{Layout: Chunked, Chunks: []int{4}}}), "chunk shape [4]"},
		{"compact too big", groupWith("x", &Dataset{Array: sampleArray(Float64, []int{9000}, 0), Storage: Storage{Layout: Compact}}), "compact data of 72000 bytes"},
		{"unknown layout", groupWith("x", &Dataset{Array: Scalar(1.0), Storage: Storage{Layout: 7}}), "unknown layout Layout(7)"},
		{"bad utf8", groupWith("x", NewDataset(nil, []string{"\xff"})), "string 0 is not NUL-free UTF-8"},
		{"nul in string", groupWith("x", NewDataset(nil, []string{"a\x00b"})), "string 0 is not NUL-free UTF-8"},
		{"attr too big", attrGroup("big", sampleArray(Float64, []int{9000}, 0)), `attribute "big" takes`},
		{"attr empty name", attrGroup("", Scalar(1.0)), "attribute: empty name"},
		{"attr shape", attrGroup("a", Array{Shape: []int{2}, Data: []float32{1}}), `attribute "a": shape [2] needs 2 elements`},
		{"soft link without target", &Group{Links: []Link{{Name: "s"}}}, "soft link with an empty or invalid target"},
		{"nil dataset", &Group{Links: []Link{{Name: "d", Object: (*Dataset)(nil)}}}, "/d: nil dataset"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Encode(&bytes.Buffer{}, c.root)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Encode: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func groupWith(name string, o Object) *Group {
	g := NewGroup()
	g.Set(name, o)
	return g
}

func attrGroup(name string, a Array) *Group {
	g := NewGroup()
	g.Attrs = append(g.Attrs, Attribute{Name: name, Array: a})
	return g
}

// TestScalarUnsupported: Scalar never panics; Encode names the bad type.
func TestScalarUnsupported(t *testing.T) {
	root := NewGroup()
	root.Set("x", &Dataset{Array: Scalar(42)}) // int: no HDF5 width
	err := Encode(&bytes.Buffer{}, root)
	if err == nil || !strings.Contains(err.Error(), "/x: unsupported data type int") {
		t.Fatalf("Encode: %v", err)
	}
}
