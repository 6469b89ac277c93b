package convert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// fixture is one entry of testmodels/*/manifest.json.
type fixture struct {
	Name       string `json:"name"`
	Arch       string `json:"arch"`
	Opset      int    `json:"opset"`
	BN         string `json:"bn"`
	Batch      string `json:"batch"`
	InputShape []int  `json:"input_shape"`
	dir        string
}

func (f fixture) model() string { return filepath.Join(f.dir, "model.onnx") }

// loadFixtures reads the committed fixtures and, when present, the
// generated large ones (a name present in both is taken once).
func loadFixtures(t testing.TB) []fixture {
	var out []fixture
	seen := map[string]bool{}
	for _, root := range []string{"../testmodels/fixtures", "../testmodels/generated"} {
		b, err := os.ReadFile(filepath.Join(root, "manifest.json"))
		if err != nil {
			continue
		}
		var m struct {
			Fixtures []fixture `json:"fixtures"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		for _, f := range m.Fixtures {
			if seen[f.Name] {
				continue
			}
			seen[f.Name] = true
			f.dir = filepath.Join(root, f.Name)
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		t.Fatal("no fixtures in testmodels/fixtures (the committed set must be there)")
	}
	return out
}

// skipLargeInShort skips the generated (224x224) fixtures under -short.
func skipLargeInShort(t *testing.T, f fixture) {
	if testing.Short() && filepath.Base(filepath.Dir(f.dir)) == "generated" {
		t.Skip("short: large generated fixture")
	}
}

func findFixture(t testing.TB, name string) fixture {
	for _, f := range loadFixtures(t) {
		if f.Name == name {
			return f
		}
	}
	t.Skipf("fixture %s not present (testmodels/make_fixtures.py --large --out testmodels/generated makes it)", name)
	return fixture{}
}

func decode(t testing.TB, path string) *onnx.Model {
	t.Helper()
	m, err := onnx.DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustConvert(t testing.TB, m *onnx.Model, o Options) *Result {
	t.Helper()
	r, err := Convert(m, o)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	return r
}

// srcLayer is a compute layer of a source graph, found independently of
// the converter: a Conv, Gemm or MatMul whose weight is an initializer.
type srcLayer struct {
	node        *onnx.Node
	weight      string
	first, last bool
	depthwise   bool
}

// sourceLayers finds the compute layers of a source model and their roles
// by walking the graph: first = reached from the input through non-compute
// nodes, last = reaching the output through non-compute nodes.
func sourceLayers(t testing.TB, m *onnx.Model) []*srcLayer {
	t.Helper()
	g, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[*onnx.Node]*srcLayer{}
	var out []*srcLayer
	for _, n := range g.Nodes {
		switch n.OpType {
		case "Conv", "Gemm", "MatMul":
		default:
			continue
		}
		if !g.IsInitializer(n.Input(1)) {
			continue
		}
		l := &srcLayer{node: n, weight: n.Input(1)}
		if n.OpType == "Conv" {
			w := g.Initializers[l.weight]
			l.depthwise = n.Int("group", 1) > 1 && w.Dims[1] == 1
		}
		byNode[n] = l
		out = append(out, l)
	}
	// runtime: tensors computed from the graph input.
	runtime := map[string]bool{g.Inputs[0].Name: true}
	for _, n := range g.Nodes {
		if n.OpType == "Shape" {
			continue
		}
		for _, in := range n.Inputs {
			if runtime[in] {
				for _, o := range n.Outputs {
					runtime[o] = true
				}
			}
		}
	}
	queue := []string{g.Inputs[0].Name}
	seen := map[*onnx.Node]bool{}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, c := range g.Consumers(v) {
			if l := byNode[c]; l != nil {
				l.first = true
				continue
			}
			if !seen[c] && c.OpType != "Shape" {
				seen[c] = true
				queue = append(queue, c.Outputs...)
			}
		}
	}
	queue = []string{g.Outputs[0].Name}
	seen = map[*onnx.Node]bool{}
	for len(queue) > 0 {
		p := g.Producer(queue[0])
		queue = queue[1:]
		if p == nil || seen[p] {
			continue
		}
		seen[p] = true
		if l := byNode[p]; l != nil {
			l.last = true
			continue
		}
		for _, in := range p.Inputs {
			if runtime[in] {
				queue = append(queue, in)
			}
		}
	}
	return out
}

func initFloats(t testing.TB, m *onnx.Model, name string) ([]float32, []int64) {
	t.Helper()
	tv, err := m.Initializer(name)
	if err != nil {
		t.Fatal(err)
	}
	return tv.Floats(), tv.Dims
}

// relErr is max|a-b| / max(max|b|, tiny).
func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	return num / math.Max(den, 1e-12)
}

// fixtureIO reads a fixture's input and PyTorch output.
func fixtureIO(t testing.TB, f fixture) (in, out *onnx.Tensor) {
	t.Helper()
	in, err := npy.ReadFile(filepath.Join(f.dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	out, err = npy.ReadFile(filepath.Join(f.dir, "output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return in, out
}

// runORT writes m to a temporary file and runs it in onnxruntime.
func runORT(t testing.TB, m *onnx.Model, input string, in *onnx.Tensor) interop.Tensor {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnx.EncodeFile(path, m); err != nil {
		t.Fatal(err)
	}
	shape := make([]int64, len(in.Dims))
	copy(shape, in.Dims)
	res, err := interop.RunORT(path, map[string]interop.Tensor{input: {Shape: shape, Float: in.Floats()}}, nil)
	if err != nil {
		t.Fatalf("onnxruntime: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("onnxruntime returned %d outputs", len(res))
	}
	for _, v := range res {
		return v
	}
	return interop.Tensor{}
}

// runEngine runs m in the toolkit's engine (ops.NewBuilder + Compile(nil)).
func runEngine(t testing.TB, m *onnx.Model, input string, in *onnx.Tensor) []float32 {
	t.Helper()
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{input: in.Shape()}})
	if err != nil {
		t.Fatalf("engine cannot build %s: %v", m.Proto.GetProducerName(), err)
	}
	p, err := b.Compile(nil)
	if err != nil {
		t.Fatalf("engine compile: %v", err)
	}
	defer p.Close()
	if err := p.SetInput(input, in.Floats()); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatalf("engine run: %v", err)
	}
	return append([]float32(nil), p.Output(0).Float32...)
}

// customOps lists the custom ops a converted BSNN uses.
var customOps = [][2]string{
	{bsnn.DomainQONNX, "BipolarQuant"},
	{bsnn.DomainSNN, "LIF"},
	{bsnn.DomainSNN, "AGMMGate"},
}
