package nirbsnn

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/testmodels"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// A bsnnCase is a converted BSNN and an input batch for it.
type bsnnCase struct {
	name  string
	model *onnx.Model
	x     *onnx.Tensor
}

// convertANN converts a float ANN (no AGMM gates: NIR cannot express
// gates in forward mode) with T = 4.
func convertANN(t *testing.T, ann *onnx.Model) *onnx.Model {
	t.Helper()
	o := convert.DefaultOptions()
	o.AGMM = false
	o.TimeSteps = 4
	res, err := convert.Convert(ann, o)
	if err != nil {
		t.Fatal(err)
	}
	return res.Model
}

// fixtureCase converts the ANN fixture dir of testmodels/fixtures.
func fixtureCase(t *testing.T, dir string) bsnnCase {
	t.Helper()
	root := filepath.Join("..", "..", "testmodels", "fixtures", dir)
	ann, err := onnx.DecodeFile(filepath.Join(root, "model.onnx"))
	if err != nil { // the fixtures are committed: a missing one is a failure
		t.Fatal(err)
	}
	x, err := npy.ReadFile(filepath.Join(root, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return bsnnCase{name: dir, model: convertANN(t, ann), x: x}
}

// quickstartCase converts the quickstart's trained LeNet (Fashion-MNIST)
// and takes n test images, normalised as it was trained: its spikes reach
// every layer, unlike the random-weight fixtures'.
func quickstartCase(t *testing.T, n int) bsnnCase {
	t.Helper()
	ann, err := onnx.Decode(bytes.NewReader(testmodels.DefaultModel()))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.OpenFS(testmodels.FashionMNISTSlice(), data.Spec{Kind: data.FashionMNIST}, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	x := &onnx.Tensor{Type: onnx.Float, Dims: []int64{int64(n), 1, 28, 28}}
	for i := 0; i < n; i++ {
		for _, p := range ds.Image(i) {
			x.Float32 = append(x.Float32, (float32(p)/255-0.286)/0.353)
		}
	}
	return bsnnCase{name: "quickstart-lenet", model: convertANN(t, ann), x: x}
}

// engineRun is a model's output and every LIF's spikes (by LIF node name)
// in our float engine.
type engineRun struct {
	out    []float32
	spikes map[string][]float32
}

func run(t *testing.T, m *onnx.Model, x *onnx.Tensor) engineRun {
	t.Helper()
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	in, out := g.Inputs[0].Name, g.Outputs[0].Name
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{in: x.Shape()}, NoMemoryReuse: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetInput(in, x.Floats()); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	r := engineRun{out: slices.Clone(ops.ValueData(b.Value(out))), spikes: map[string][]float32{}}
	for _, n := range g.Nodes {
		if n.OpType == "LIF" {
			r.spikes[n.Name] = slices.Clone(ops.ValueData(b.Value(n.Outputs[0])))
		}
	}
	return r
}

// exportNIR exports m and returns the graph as a file reads it back.
func exportNIR(t *testing.T, m *onnx.Model, opts ExportOptions) (*nir.Graph, []byte) {
	t.Helper()
	g, err := Export(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := nir.Encode(&buf, g); err != nil {
		t.Fatal(err)
	}
	back, err := nir.Decode(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return back, buf.Bytes()
}

// maxAbsDiff is max |a - b|.
func maxAbsDiff(t *testing.T, a, b []float32) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d values against %d", len(a), len(b))
	}
	d := 0.0
	for i := range a {
		d = max(d, abs64(float64(a[i])-float64(b[i])))
	}
	return d
}

func abs64(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// maxAbs is max |a|.
func maxAbs(a []float32) float64 {
	m := 0.0
	for _, v := range a {
		m = max(m, abs64(float64(v)))
	}
	return m
}
