package nir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/hdf5"
)

// TestDecodeNIRWrite reads a file NIR's own nir.write wrote (NIR 1.0.6
// sources; see ../hdf5/testdata/README.md): gzip-compressed arrays, float64
// neuron parameters, metadata of three types.
func TestDecodeNIRWrite(t *testing.T) {
	g, err := ReadFile(filepath.Join("testdata", "nir_write.nir"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Version != "1.0.6" {
		t.Errorf("version %q", g.Version)
	}
	want := []Edge{{"in", "lin"}, {"lin", "lif"}, {"lif", "out"}}
	if !slices.Equal(g.Edges, want) {
		t.Errorf("edges %v", g.Edges)
	}
	lin := g.Nodes["lin"].(*Linear)
	if !reflect.DeepEqual(lin.Weight, F32([]int{3, 2}, []float32{1, 1, 1, 1, 1, 1})) {
		t.Errorf("lin.weight %+v", lin.Weight)
	}
	lif := g.Nodes["lif"].(*LIF)
	if !reflect.DeepEqual(lif.Tau, F64([]int{3}, []float64{1, 1, 1})) || !reflect.DeepEqual(lif.VReset, F64([]int{3}, []float64{0, 0, 0})) {
		t.Errorf("lif %+v", lif)
	}
	if v, _ := lif.Metadata.Int("bsnn.binary"); v != 1 {
		t.Errorf("metadata bsnn.binary = %v", lif.Metadata["bsnn.binary"])
	}
	if s, _ := lif.Metadata.String("note"); s != "x" {
		t.Errorf("metadata note = %v", lif.Metadata["note"])
	}
	if a, _ := lif.Metadata.Array("flag"); !reflect.DeepEqual(a.Data, []bool{true}) {
		t.Errorf("metadata flag = %v", lif.Metadata["flag"])
	}
	if in := g.Nodes["in"].(*Input); !slices.Equal(in.Shape, []int64{2}) {
		t.Errorf("input shape %v", in.Shape)
	}
	types, err := g.InferTypes()
	if err != nil || !slices.Equal(types["lif"].In, []int64{3}) {
		t.Errorf("types %v, %v", types, err)
	}
}

// everyNode is a graph with each primitive.
func everyNode() *Graph {
	v := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(i) - 2.5
		}
		return out
	}
	f := func(shape ...int) Tensor { return F32(shape, v(numel(shape))) }
	d := func(shape ...int) Tensor { return Full(shape, 0.25) }
	g := NewGraph()
	g.Metadata.Set("dt", 1e-4)
	var meta Metadata
	meta.Set("note", "x")
	meta.Set("nested", Metadata{"k": hdf5.Scalar(int64(3))})
	meta.Set("array", []float32{1, 2})
	g.Add("input", &Input{Shape: []int64{2, 6, 6}, Metadata: meta})
	g.Add("conv", &Conv2d{InputShape: []int64{6, 6}, Weight: f(4, 2, 3, 3), Bias: f(4), Stride: [2]int64{1, 1},
		Padding: [2]int64{1, 1}, Dilation: [2]int64{1, 1}, Groups: 1}, "input")
	g.Add("same", &Conv2d{Weight: f(4, 2, 3, 3), Bias: f(4), Stride: [2]int64{1, 1}, PaddingMode: "same",
		Dilation: [2]int64{1, 1}, Groups: 2}, "conv")
	g.Add("lif", &LIF{Tau: d(4, 6, 6), R: d(4, 6, 6), VLeak: d(4, 6, 6), VThreshold: d(4, 6, 6), VReset: d(4, 6, 6)}, "same")
	g.Add("sum", &SumPool2d{KernelSize: [2]int64{2, 2}, Stride: [2]int64{2, 2}}, "lif")
	g.Add("avg", &AvgPool2d{KernelSize: [2]int64{3, 3}, Stride: [2]int64{1, 1}, Padding: [2]int64{1, 1}}, "sum")
	g.Add("if", &IF{R: d(4, 3, 3), VThreshold: d(4, 3, 3), VReset: d(4, 3, 3)}, "avg")
	g.Add("flat", &Flatten{InputType: []int64{4, 3, 3}, StartDim: 1, EndDim: -1}, "if")
	g.Add("c1", &Conv1d{InputShape: []int64{9}, Weight: f(2, 4, 3), Bias: f(2), Stride: 2, Padding: 1, Dilation: 1, Groups: 1}, "flat")
	g.Add("flat2", &Flatten{StartDim: 0, EndDim: -1}, "c1")
	g.Add("aff", &Affine{Weight: f(5, 10), Bias: f(5)}, "flat2")
	g.Add("lin", &Linear{Weight: f(5, 5)}, "aff")
	g.Add("scale", &Scale{Scale: f(5)}, "lin")
	g.Add("delay", &Delay{Delay: d(5)}, "scale")
	g.Add("thr", &Threshold{Threshold: d(5)}, "delay")
	g.Add("i", &I{R: d(5)}, "thr")
	g.Add("li", &LI{Tau: d(5), R: d(5), VLeak: d(5)}, "i")
	g.Add("culi", &CubaLI{TauSyn: d(5), TauMem: d(5), R: d(5), VLeak: d(5), WIn: d(5)}, "li")
	g.Add("culif", &CubaLIF{TauSyn: d(5), TauMem: d(5), R: d(5), VLeak: d(5), VThreshold: d(5), VReset: d(5), WIn: d(5)}, "culi")
	sub := NewGraph()
	sub.Add("in", &Input{Shape: []int64{5}})
	sub.Add("l", &LIF{Tau: d(5), R: d(5), VLeak: d(5), VThreshold: d(5), VReset: d(5)}, "in")
	sub.Add("w", &Linear{Weight: f(5, 5)}, "l")
	sub.Edges = append(sub.Edges, Edge{"w", "l"})
	sub.Add("out", &Output{Shape: []int64{5}}, "l")
	g.Add("rnn", sub, "culif")
	g.Add("output", &Output{Shape: []int64{5}}, "rnn")
	return g
}

// TestRoundTrip encodes a graph with every primitive and decodes it back
// unchanged; the file lays arrays out as nir.write does.
func TestRoundTrip(t *testing.T) {
	g := everyNode()
	var buf bytes.Buffer
	if err := Encode(&buf, g); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != Version {
		t.Errorf("version %q", back.Version)
	}
	back.Version = ""
	if !reflect.DeepEqual(back, g) {
		for _, name := range g.Names() {
			if !reflect.DeepEqual(back.Nodes[name], g.Nodes[name]) {
				t.Errorf("node %s:\n got %#v\nwant %#v", name, back.Nodes[name], g.Nodes[name])
			}
		}
		if !reflect.DeepEqual(back.Metadata, g.Metadata) || !slices.Equal(back.Edges, g.Edges) {
			t.Errorf("graph metadata or edges differ: %v %v", back.Metadata, back.Edges)
		}
	}
	if _, err := g.InferTypes(); err != nil {
		t.Fatal(err)
	}
	root, err := hdf5.Decode(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]hdf5.Layout{
		"node/nodes/conv/weight": hdf5.Chunked, "node/nodes/input/shape": hdf5.Chunked, "node/nodes/flat/input_type": hdf5.Chunked,
		"node/nodes/conv/stride": hdf5.Contiguous, "node/nodes/conv/groups": hdf5.Contiguous, "node/edges": hdf5.Contiguous,
	} {
		ds, err := root.Dataset(path)
		if err != nil {
			t.Fatal(err)
		}
		if ds.Storage.Layout != want || (want == hdf5.Chunked && ds.Storage.Deflate != deflateLevel) {
			t.Errorf("%s stored %+v, want %s (gzip for arrays)", path, ds.Storage, want)
		}
	}
}

// TestInferTypes checks shapes through convolutions, pooling and flatten,
// and that a mismatch names the node.
func TestInferTypes(t *testing.T) {
	types, err := everyNode().InferTypes()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]NodeType{
		"same":  {In: []int64{4, 6, 6}, Out: []int64{4, 6, 6}}, // grouped: 2 channels per group, 2 groups
		"sum":   {In: []int64{4, 6, 6}, Out: []int64{4, 3, 3}},
		"avg":   {In: []int64{4, 3, 3}, Out: []int64{4, 3, 3}},
		"flat":  {In: []int64{4, 3, 3}, Out: []int64{4, 9}},
		"c1":    {In: []int64{4, 9}, Out: []int64{2, 5}},
		"flat2": {In: []int64{2, 5}, Out: []int64{10}},
		"rnn":   {In: []int64{5}, Out: []int64{5}},
	} {
		if got := types[name]; !slices.Equal(got.In, want.In) || !slices.Equal(got.Out, want.Out) {
			t.Errorf("%s: %v -> %v, want %v -> %v", name, got.In, got.Out, want.In, want.Out)
		}
	}
	g := everyNode()
	g.Nodes["aff"] = &Affine{Weight: F32([]int{5, 11}, make([]float32, 55)), Bias: F32([]int{5}, make([]float32, 5))}
	var fe *FormatError
	if _, err := g.InferTypes(); !errors.As(err, &fe) || fe.Node != "aff" {
		t.Errorf("mismatch: %v", err)
	}
}

// TestMalformed: broken structure gives a typed error naming the node and
// field; nothing panics.
func TestMalformed(t *testing.T) {
	valid := func() *hdf5.Group {
		root, err := encodeTree(everyNode())
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	node := func(root *hdf5.Group, path string) *hdf5.Group {
		g, err := root.Group("node/nodes/" + path)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	cases := []struct {
		name        string
		edit        func(root *hdf5.Group)
		node, field string
		unsupported bool
	}{
		{"no graph", func(r *hdf5.Group) {
			r.Links = slices.DeleteFunc(r.Links, func(l hdf5.Link) bool { return l.Name == "node" })
		}, "", "node", false},
		{"no type", func(r *hdf5.Group) {
			g := node(r, "lif")
			g.Links = slices.DeleteFunc(g.Links, func(l hdf5.Link) bool { return l.Name == "type" })
		}, "lif", "type", false},
		{"numeric type", func(r *hdf5.Group) { node(r, "lif").Set("type", hdf5.ScalarDataset(int64(3))) }, "lif", "type", false},
		{"unknown type", func(r *hdf5.Group) { node(r, "lif").Set("type", hdf5.ScalarDataset("Resonator")) }, "lif", "", true},
		{"missing weight", func(r *hdf5.Group) {
			g := node(r, "aff")
			g.Links = slices.DeleteFunc(g.Links, func(l hdf5.Link) bool { return l.Name == "weight" })
		}, "aff", "weight", false},
		{"string weight", func(r *hdf5.Group) { node(r, "aff").Set("weight", hdf5.NewDataset([]int{1}, []string{"w"})) }, "aff", "weight", false},
		{"weight rank", func(r *hdf5.Group) { node(r, "conv").Set("weight", hdf5.NewDataset([]int{4, 2}, make([]float32, 8))) }, "conv", "weight", false},
		{"bias shape", func(r *hdf5.Group) { node(r, "conv").Set("bias", hdf5.NewDataset([]int{3}, make([]float32, 3))) }, "conv", "bias", false},
		{"groups", func(r *hdf5.Group) { node(r, "conv").Set("groups", hdf5.ScalarDataset(int64(3))) }, "conv", "groups", false},
		{"stride values", func(r *hdf5.Group) { node(r, "conv").Set("stride", hdf5.NewDataset([]int{3}, []int64{1, 1, 1})) }, "conv", "stride", false},
		{"fractional stride", func(r *hdf5.Group) { node(r, "conv").Set("stride", hdf5.NewDataset([]int{2}, []float64{1, 1.5})) }, "conv", "stride", false},
		{"padding string", func(r *hdf5.Group) { node(r, "conv").Set("padding", hdf5.ScalarDataset("full")) }, "conv", "padding", false},
		{"zero kernel", func(r *hdf5.Group) {
			node(r, "sum").Set("kernel_size", hdf5.NewDataset([]int{2}, []int64{0, 2}))
		}, "sum", "kernel_size", false},
		{"neuron shapes", func(r *hdf5.Group) { node(r, "lif").Set("r", hdf5.NewDataset([]int{4}, make([]float64, 4))) }, "lif", "r", false},
		{"edges shape", func(r *hdf5.Group) {
			g, _ := r.Group("node")
			g.Set("edges", hdf5.NewDataset([]int{3}, []string{"a", "b", "c"}))
		}, "", "edges", false},
		{"edge to nowhere", func(r *hdf5.Group) {
			g, _ := r.Group("node")
			g.Set("edges", hdf5.NewDataset([]int{1, 2}, []string{"input", "ghost"}))
		}, "", "edges[0]", false},
		{"node not a group", func(r *hdf5.Group) {
			g, _ := r.Group("node/nodes")
			g.Set("lif", hdf5.ScalarDataset("LIF"))
		}, "lif", "", false},
		{"nested graph without nodes", func(r *hdf5.Group) {
			g := node(r, "rnn")
			g.Links = slices.DeleteFunc(g.Links, func(l hdf5.Link) bool { return l.Name == "nodes" })
		}, "rnn", "nodes", false},
		{"metadata dataset", func(r *hdf5.Group) { node(r, "lif").Set("metadata", hdf5.ScalarDataset("x")) }, "lif", "metadata", false},
		{"top node not a graph", func(r *hdf5.Group) {
			g, _ := r.Group("node")
			g.Set("type", hdf5.ScalarDataset("LIF"))
		}, "", "tau", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := valid()
			c.edit(root)
			var buf bytes.Buffer
			if err := hdf5.Encode(&buf, root); err != nil {
				t.Fatal(err)
			}
			_, err := Decode(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if c.unsupported {
				var ue *UnsupportedError
				if !errors.As(err, &ue) || ue.Node != c.node {
					t.Fatalf("got %v, want an *UnsupportedError for node %q", err, c.node)
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Node != c.node || fe.Field != c.field {
				t.Fatalf("got %#v (%v), want a *FormatError for node %q field %q", fe, err, c.node, c.field)
			}
		})
	}
}

// TestEncodeRefuses: Encode checks the graph first.
func TestEncodeRefuses(t *testing.T) {
	for name, edit := range map[string]func(g *Graph){
		"slash in name":  func(g *Graph) { g.Nodes["a/b"] = &Scale{Scale: F32([]int{1}, []float32{1})} },
		"nil node":       func(g *Graph) { g.Nodes["x"] = nil },
		"bad tensor":     func(g *Graph) { g.Nodes["scale"] = &Scale{Scale: Tensor{Shape: []int{2}, Data: []float32{1}}} },
		"int tensor":     func(g *Graph) { g.Nodes["scale"] = &Scale{Scale: Tensor{Shape: []int{1}, Data: []int64{1}}} },
		"dangling edge":  func(g *Graph) { g.Edges = append(g.Edges, Edge{"scale", "nowhere"}) },
		"metadata value": func(g *Graph) { g.Metadata["x"] = struct{}{} },
	} {
		g := everyNode()
		edit(g)
		var buf bytes.Buffer
		var fe *FormatError
		if err := Encode(&buf, g); !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a *FormatError", name, err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.nir")
	if err := WriteFile(path, &Graph{Nodes: map[string]Node{"x": nil}}); err == nil {
		t.Error("WriteFile wrote a nil node")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a failed WriteFile left a file")
	}
}
