package nirbsnn

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// The Python side is testdata/nir_reference.py: a reader that follows NIR's
// nir.read (field checks, type inference), a forward-Euler simulator and
// nir.write, with Debian's h5py and numpy.

func referenceScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "nir_reference.py"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func python(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := interop.RunPython(referenceScript(t), args...)
	if err != nil {
		t.Fatalf("nir_reference.py %s: %v", args[0], err)
	}
	return out
}

// pySummary is what nir_reference.py check reports for a file.
type pySummary struct {
	Version string      `json:"version"`
	Edges   [][2]string `json:"edges"`
	Nodes   map[string]struct {
		Type   string `json:"type"`
		Fields map[string]struct {
			DType string `json:"dtype"`
			Shape []int  `json:"shape"`
		} `json:"fields"`
		Metadata   []string `json:"metadata"`
		InputType  []int64  `json:"input_type"`
		OutputType []int64  `json:"output_type"`
	} `json:"nodes"`
	Metadata map[string]any `json:"metadata"`
}

// TestPythonReadsExport writes exported BSNNs and checks them with h5dump
// (no warnings) and with a reader that follows NIR's serialization: every
// node and parameter is found with the dtype and shape we wrote, NIR's type
// inference agrees with ours, and nir.read's constructors would take every
// field.
func TestPythonReadsExport(t *testing.T) {
	interop.NeedH5py(t)
	interop.NeedH5dump(t)
	dir := t.TempDir()
	graphs := map[string]*nir.Graph{}
	for _, c := range []struct {
		name string
		mk   func(t *testing.T) bsnnCase
		bn   BatchNorm
	}{
		{"lenet.nir", func(t *testing.T) bsnnCase { return quickstartCase(t, 1) }, BatchNormLayer},
		{"lenet_fold.nir", func(t *testing.T) bsnnCase { return quickstartCase(t, 1) }, BatchNormFold},
		{"resnet20.nir", func(t *testing.T) bsnnCase { return fixtureCase(t, "resnet20_op13_folded_dynamic") }, BatchNormLayer},
	} {
		g, err := Export(c.mk(t).model, ExportOptions{BatchNorm: c.bn})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, c.name)
		if err := nir.WriteFile(path, g); err != nil {
			t.Fatal(err)
		}
		graphs[path] = g
		// The LeNet files are dumped whole (every gzip chunk decoded); the
		// larger ResNet-20 one by its headers.
		args := []string{path}
		if c.name == "resnet20.nir" {
			args = []string{"-H", path}
		}
		_, stderr, err := interop.RunH5dump(args...)
		if err != nil || len(stderr) > 0 {
			t.Errorf("h5dump %s: %v %s", c.name, err, stderr)
		}
	}
	var paths []string
	for p := range graphs {
		paths = append(paths, p)
	}
	var got map[string]pySummary
	if err := json.Unmarshal(python(t, append([]string{"check"}, paths...)...), &got); err != nil {
		t.Fatal(err)
	}
	for path, g := range graphs {
		compareSummary(t, filepath.Base(path), g, got[path])
	}
}

func compareSummary(t *testing.T, file string, g *nir.Graph, s pySummary) {
	t.Helper()
	if s.Version != nir.Version {
		t.Errorf("%s: version %q", file, s.Version)
	}
	var edges [][2]string
	for _, e := range g.Edges {
		edges = append(edges, [2]string{e.From, e.To})
	}
	if !slices.Equal(edges, s.Edges) {
		t.Errorf("%s: edges %v, want %v", file, s.Edges, edges)
	}
	types, err := g.InferTypes()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != len(g.Nodes) {
		t.Errorf("%s: Python found %d nodes, we wrote %d", file, len(s.Nodes), len(g.Nodes))
	}
	for name, n := range g.Nodes {
		pn, ok := s.Nodes[name]
		if !ok {
			t.Errorf("%s: node %s not found", file, name)
			continue
		}
		if pn.Type != n.Type() {
			t.Errorf("%s: node %s is a %s, want %s", file, name, pn.Type, n.Type())
		}
		if !slices.Equal(pn.InputType, types[name].In) || !slices.Equal(pn.OutputType, types[name].Out) {
			t.Errorf("%s: node %s: NIR's types %v -> %v, ours %v -> %v", file, name, pn.InputType, pn.OutputType, types[name].In, types[name].Out)
		}
		for field, want := range wantFields(n) {
			f, ok := pn.Fields[field]
			if !ok {
				t.Errorf("%s: node %s: field %s not found", file, name, field)
				continue
			}
			if f.DType != want.dtype || !slices.Equal(f.Shape, want.shape) {
				t.Errorf("%s: node %s: %s is %s %v, want %s %v", file, name, field, f.DType, f.Shape, want.dtype, want.shape)
			}
		}
		var meta []string
		for k := range n.Meta() {
			meta = append(meta, k)
		}
		slices.Sort(meta)
		if !slices.Equal(meta, pn.Metadata) {
			t.Errorf("%s: node %s: metadata %v, want %v", file, name, pn.Metadata, meta)
		}
	}
	if dt, ok := s.Metadata["dt"].(float64); !ok || dt != DefaultDT {
		t.Errorf("%s: graph metadata dt = %v", file, s.Metadata["dt"])
	}
}

type fieldType struct {
	dtype string
	shape []int
}

// wantFields is each field of a node as Encode writes it.
func wantFields(n nir.Node) map[string]fieldType {
	tensor := func(t nir.Tensor) fieldType {
		d := "float64"
		if t.IsFloat32() {
			d = "float32"
		}
		return fieldType{d, t.Shape}
	}
	ints := func(k int) fieldType { return fieldType{"int64", []int{k}} }
	scalar := fieldType{"int64", []int{}}
	switch n := n.(type) {
	case *nir.Input:
		return map[string]fieldType{"shape": ints(len(n.Shape))}
	case *nir.Output:
		return map[string]fieldType{"shape": ints(len(n.Shape))}
	case *nir.Conv2d:
		return map[string]fieldType{"weight": tensor(n.Weight), "bias": tensor(n.Bias), "stride": ints(2), "padding": ints(2),
			"dilation": ints(2), "groups": scalar, "input_shape": ints(2)}
	case *nir.Affine:
		return map[string]fieldType{"weight": tensor(n.Weight), "bias": tensor(n.Bias)}
	case *nir.Linear:
		return map[string]fieldType{"weight": tensor(n.Weight)}
	case *nir.LIF:
		return map[string]fieldType{"tau": tensor(n.Tau), "r": tensor(n.R), "v_leak": tensor(n.VLeak),
			"v_threshold": tensor(n.VThreshold), "v_reset": tensor(n.VReset)}
	case *nir.IF:
		return map[string]fieldType{"r": tensor(n.R), "v_threshold": tensor(n.VThreshold), "v_reset": tensor(n.VReset)}
	case *nir.SumPool2d:
		return map[string]fieldType{"kernel_size": ints(2), "stride": ints(2), "padding": ints(2)}
	case *nir.AvgPool2d:
		return map[string]fieldType{"kernel_size": ints(2), "stride": ints(2), "padding": ints(2)}
	case *nir.Flatten:
		return map[string]fieldType{"input_type": ints(len(n.InputType)), "start_dim": scalar, "end_dim": scalar}
	}
	return nil
}

// TestReferenceSimulator runs our exported LeNet in a small NIR simulator
// (forward Euler at the graph's dt, as snnTorch's and SpikingJelly's NIR
// import integrate it, float32, strict v > v_threshold) and compares its
// logits with our engine's.
func TestReferenceSimulator(t *testing.T) {
	interop.NeedH5py(t)
	c := quickstartCase(t, 16)
	dir := t.TempDir()
	g, err := Export(c.model, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path, in, out := filepath.Join(dir, "lenet.nir"), filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := nir.WriteFile(path, g); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(in, c.x); err != nil {
		t.Fatal(err)
	}
	python(t, "simulate", path, in, out)
	y, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := run(t, c.model, c.x)
	if d := maxAbsDiff(t, y.Floats(), want.out); d > 1e-4 {
		t.Errorf("the NIR simulator's logits differ from our engine's by %g (largest logit %g)", d, maxAbs(want.out))
	}
}

// TestImportNIRWriteFiles imports files h5py wrote the way nir.write does
// (gzip-compressed chunked arrays, string datasets, NIR's dtypes): our
// export read and rewritten by Python gives the same model, and a network
// written as snnTorch and SpikingJelly export one runs in our engine as the
// reference simulator runs it.
func TestImportNIRWriteFiles(t *testing.T) {
	interop.NeedH5py(t)
	dir := t.TempDir()

	c := quickstartCase(t, 4)
	g, err := Export(c.model, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ours, rewritten := filepath.Join(dir, "ours.nir"), filepath.Join(dir, "rewritten.nir")
	if err := nir.WriteFile(ours, g); err != nil {
		t.Fatal(err)
	}
	python(t, "rewrite", ours, rewritten)
	back, err := nir.ReadFile(rewritten)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(back, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, got := run(t, c.model, c.x), run(t, res.Model, c.x)
	if d := maxAbsDiff(t, got.out, want.out); d > 1e-5 {
		t.Errorf("rewritten by nir.write: logits differ by %g", d)
	}

	foreign := filepath.Join(dir, "foreign.nir")
	python(t, "foreign", foreign)
	fg, err := nir.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}
	fres, err := Import(fg, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fres.TimeSteps != DefaultTimeSteps || fres.DT != DefaultDT || fres.InputEncoding != "direct" {
		t.Errorf("settings of a file without metadata: T %d, dt %g, %s", fres.TimeSteps, fres.DT, fres.InputEncoding)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x := &onnx.Tensor{Type: onnx.Float, Dims: []int64{6, 1, 8, 8}}
	for range 6 * 64 {
		x.Float32 = append(x.Float32, float32(rng.NormFloat64()))
	}
	in, out := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := npy.WriteFile(in, x); err != nil {
		t.Fatal(err)
	}
	python(t, "simulate", foreign, in, out)
	y, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	fr := run(t, fres.Model, x)
	if d := maxAbsDiff(t, fr.out, y.Floats()); d > 1e-4 {
		t.Errorf("foreign network: our engine and the NIR simulator differ by %g", d)
	}
	if maxAbs(fr.out) == 0 {
		t.Error("foreign network: no output spike at all; the comparison proves nothing")
	}
	// The imported network is a BSNN like any other: it exports to NIR again.
	if _, err := Export(fres.Model, ExportOptions{}); err != nil {
		t.Errorf("exporting the imported foreign network: %v", err)
	}
}
