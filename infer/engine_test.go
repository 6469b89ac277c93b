package infer

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/bsnnctl/bsnnctl/bsnn"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
	"google.golang.org/protobuf/proto"
)

// fixture converts the ANN fixture dir of testmodels/fixtures into a BSNN
// and returns it with the fixture's input.
func fixture(t *testing.T, dir string, agmm bool, T int) (*onnx.Model, *onnx.Tensor) {
	t.Helper()
	return convertFixture(t, filepath.Join("..", "testmodels", "fixtures", dir), agmm, T)
}

// convertFixture converts the ANN of a fixture folder (model.onnx and
// input.npy) into a BSNN; a missing folder skips the test.
func convertFixture(t *testing.T, root string, agmm bool, T int) (*onnx.Model, *onnx.Tensor) {
	t.Helper()
	ann, err := onnx.DecodeFile(filepath.Join(root, "model.onnx"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("no fixture", root)
	}
	if err != nil {
		t.Fatal(err)
	}
	o := convert.DefaultOptions()
	o.AGMM = agmm
	o.TimeSteps = T
	res, err := convert.Convert(ann, o)
	if err != nil {
		t.Fatal(err)
	}
	x, err := npy.ReadFile(filepath.Join(root, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return res.Model, x
}

// floatRun runs m in the float engine and returns every value the names
// ask for, after the run.
func floatRun(t *testing.T, m *onnx.Model, input string, x *onnx.Tensor, names []string) map[string][]float32 {
	t.Helper()
	// Every value keeps its memory, to be read after the run.
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{input: x.Shape()}, NoMemoryReuse: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetInput(input, x.Floats()); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, n := range names {
		v := b.Value(n)
		if v == nil {
			t.Fatalf("float engine has no value %q", n)
		}
		out[n] = slices.Clone(ops.ValueData(v))
	}
	return out
}

// spikeValues lists the spike outputs of the model's LIF nodes.
func spikeValues(m *onnx.Model) []string {
	g, _ := m.Graph()
	var s []string
	for _, n := range g.Nodes {
		if n.Domain == bsnn.DomainSNN && n.OpType == "LIF" {
			s = append(s, n.Outputs[0])
		}
	}
	return s
}

// packedValues runs the engine and returns the named values as NCHW
// floats.
func packedValues(t *testing.T, e *Engine, x *onnx.Tensor, names []string) ([]Output, map[string][]float32) {
	t.Helper()
	outs, err := e.Run(x.Floats(), x.Shape())
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.program(x.Shape())
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string][]float32{}
	for _, n := range names {
		v, ok := p.vals[n]
		if !ok {
			t.Fatalf("packed engine has no value %q", n)
		}
		d := make([]float32, numel(v.shape))
		materialize(v, d)
		vals[n] = d
	}
	return outs, vals
}

// compareEngines runs m in both engines and checks that every LIF's
// spikes agree (all of them, or at least minSame of them) and the outputs
// within rtol relative to the largest output magnitude.
func compareEngines(t *testing.T, m *onnx.Model, x *onnx.Tensor, minSame float64, rtol float64) *Engine {
	t.Helper()
	return compareEnginesOn(t, m, x, minSame, rtol, false)
}

// compareEnginesOn is compareEngines; with anyFiring it also accepts a
// model whose neurons all fire or none do (random models of the fuzz
// test).
func compareEnginesOn(t *testing.T, m *onnx.Model, x *onnx.Tensor, minSame float64, rtol float64, anyFiring bool) *Engine {
	t.Helper()
	e, err := Compile(m, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := m.Graph()
	names := spikeValues(m)
	var outNames []string
	for _, o := range g.Outputs {
		outNames = append(outNames, o.Name)
	}
	want := floatRun(t, m, e.InputName(), x, append(slices.Clone(names), outNames...))
	outs, got := packedValues(t, e, x, names)
	total, same, fired := 0, 0, 0
	for _, n := range names {
		a, b := got[n], want[n]
		if len(a) != len(b) {
			t.Fatalf("%s: %d spikes, float engine %d", n, len(a), len(b))
		}
		for i := range a {
			total++
			if a[i] == b[i] {
				same++
			}
			if b[i] != 0 {
				fired++
			}
		}
		if minSame == 1 {
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("%s: spike %d is %v, float engine %v", n, i, a[i], b[i])
				}
			}
		}
	}
	if frac := float64(same) / float64(total); frac < minSame {
		t.Fatalf("%d of %d spikes agree (%.6f), want at least %v", same, total, frac, minSame)
	}
	if !anyFiring && (fired == 0 || fired == total) {
		t.Fatalf("degenerate model: %d of %d neurons fire", fired, total)
	}
	t.Logf("%d LIF layers, %d neurons, %d fire, %d differ from the float engine", len(names), total, fired, total-same)
	for _, o := range outs {
		w := want[o.Name]
		scale := 0.0
		for _, v := range w {
			scale = max(scale, math.Abs(float64(v)))
		}
		for i, v := range o.Data {
			if d := math.Abs(float64(v) - float64(w[i])); d > rtol*scale {
				t.Fatalf("output %s[%d] = %v, float engine %v (|diff| %.3g > %.0e * %.3g)", o.Name, i, v, w[i], d, rtol, scale)
			}
		}
	}
	return e
}

// eachKernel runs f once per bitkern micro-kernel this CPU has: the
// assembly ones and the portable Go one.
func eachKernel(t *testing.T, f func(t *testing.T)) {
	for _, k := range bitkern.Kernels() {
		t.Run(k, func(t *testing.T) {
			restore, err := bitkern.UseKernel(k)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			f(t)
		})
	}
}

func TestLeNetMatchesFloatEngine(t *testing.T) {
	for _, T := range []int{1, 4, 8} {
		m, x := fixture(t, "lenet_op13_folded_dynamic", false, T)
		eachKernel(t, func(t *testing.T) { compareEngines(t, m, x, 1, 1e-5) })
	}
}

func TestResNet20MatchesFloatEngine(t *testing.T) {
	m, x := fixture(t, "resnet20_op13_folded_dynamic", false, 4)
	eachKernel(t, func(t *testing.T) { compareEngines(t, m, x, 1, 1e-5) })
}

func TestGatedModelsNearlyMatchFloatEngine(t *testing.T) {
	for _, dir := range []string{"lenet_op13_folded_dynamic", "resnet20_op13_folded_dynamic"} {
		t.Run(dir, func(t *testing.T) {
			m, x := fixture(t, dir, true, 4)
			eachKernel(t, func(t *testing.T) { compareEngines(t, m, x, 0.9999, 1e-4) })
		})
	}
}

// TestEveryProfileRunsTheSame compiles the plain and packed exports of a
// BSNN, direct-encoded and event-input (rewritten to portable by Compile),
// and checks that they compute the portable model's outputs bit for bit.
func TestEveryProfileRunsTheSame(t *testing.T) {
	lenet, lx := fixture(t, "lenet_op13_folded_dynamic", true, 4)
	events, ex := eventFixture(t, true, 4, 3)
	for _, c := range []struct {
		m *onnx.Model
		x *onnx.Tensor
	}{{lenet, lx}, {events, ex}} {
		m, x := c.m, c.x
		ref, err := Compile(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Run(x.Floats(), x.Shape())
		if err != nil {
			t.Fatal(err)
		}
		for _, prof := range []bsnn.Profile{bsnn.ProfilePlain, bsnn.ProfilePacked} {
			em, err := export.Export(m, prof, export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e, err := Compile(em, Options{})
			if err != nil {
				t.Fatalf("%s: %v", prof, err)
			}
			got, err := e.Run(x.Floats(), x.Shape())
			if err != nil {
				t.Fatalf("%s: %v", prof, err)
			}
			if i := firstBitDiff(got[0].Data, want[0].Data); i >= 0 || len(got) != len(want) {
				t.Fatalf("%s: output differs from the portable model's at %d", prof, i)
			}
			if n := packedLayers(e.Plan()); n != packedLayers(ref.Plan()) || n == 0 {
				t.Fatalf("%s: %d packed layers, portable %d", prof, n, packedLayers(ref.Plan()))
			}
		}
	}
}

func packedLayers(p []LayerPlan) int {
	n := 0
	for _, l := range p {
		if l.Packed {
			n++
		}
	}
	return n
}

func firstBitDiff(a, b []float32) int {
	for i := range min(len(a), len(b)) {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestGeneratedModelsMatchFloatEngine runs the large fixtures of
// testmodels/generated when they are present (make_fixtures.py --large):
// VGG-11, MobileNetV2 (its depthwise layers stay float; with AGMM gates,
// the gates on its float block inputs run on the float fallback),
// ResNet-18, without and with gates.
func TestGeneratedModelsMatchFloatEngine(t *testing.T) {
	for _, dir := range []string{"vgg11_bn_op13_keepbn_static", "mobilenet_v2_op13_folded_static", "resnet18_op13_folded_static"} {
		for _, gates := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s_gates_%v", dir, gates), func(t *testing.T) {
				m, x := convertFixture(t, filepath.Join("..", "testmodels", "generated", dir), gates, 4)
				if gates {
					compareEngines(t, m, x, 0.9999, 1e-4)
				} else {
					compareEngines(t, m, x, 1, 1e-5)
				}
			})
		}
	}
}

// TestWeightsStayPacked checks that a compiled ResNet-20 keeps no more
// than twice the bytes of its packed-profile file (1 bit a binary weight).
func TestWeightsStayPacked(t *testing.T) {
	m, x := fixture(t, "resnet20_op13_folded_dynamic", true, 4)
	packed, err := export.Export(m, bsnn.ProfilePacked, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := onnx.Encode(&buf, packed); err != nil {
		t.Fatal(err)
	}
	e, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(x.Floats(), x.Shape()); err != nil {
		t.Fatal(err)
	}
	got, file := e.WeightBytes(), buf.Len()
	t.Logf("engine keeps %d bytes of parameters; the packed file has %d bytes", got, file)
	if got > 2*file {
		t.Fatalf("engine keeps %d bytes of parameters, more than twice the packed file (%d bytes)", got, file)
	}
}

// TestUnsupportedNodesAreListed checks that Compile names every node the
// engine cannot run, at once.
func TestUnsupportedNodesAreListed(t *testing.T) {
	m, _ := fixture(t, "lenet_op13_folded_dynamic", false, 4)
	g := m.Proto.Graph
	out := g.Output[0].GetName()
	g.Node = append(g.Node,
		&onnxpb.NodeProto{Name: proto.String("soft"), OpType: proto.String("Softmax"), Input: []string{out}, Output: []string{"p"}},
		&onnxpb.NodeProto{Name: proto.String("log"), OpType: proto.String("Log"), Input: []string{"p"}, Output: []string{"lp"}},
		&onnxpb.NodeProto{Name: proto.String("exp"), OpType: proto.String("Exp"), Input: []string{out}, Output: []string{"e"}})
	g.Output = append(g.Output, onnx.ValueInfoProto("lp", onnx.Float, nil), onnx.ValueInfoProto("e", onnx.Float, nil))
	_, err := Compile(m, Options{})
	var u *onnx.UnsupportedError
	if !errors.As(err, &u) {
		t.Fatalf("Compile: %v, want an *onnx.UnsupportedError", err)
	}
	var nodes []string
	for _, it := range u.Items {
		nodes = append(nodes, it.Node)
	}
	// Softmax runs on the float fallback; Log and Exp are not ops of the
	// float engine either.
	if !slices.Equal(nodes, []string{"log", "exp"}) {
		t.Fatalf("unsupported nodes %v, want [log exp] (%v)", nodes, err)
	}
}

// TestEveryFixtureMatchesFloatEngine converts every committed fixture
// (LeNet, MLP and ResNet-20 exports of opsets 9 to 17, BatchNormalization
// folded or kept, static or dynamic batch) with import's defaults (AGMM
// gates on) and compares the engines. (Tiny MLPs may have layers where no
// neuron fires on the fixture's two samples.)
func TestEveryFixtureMatchesFloatEngine(t *testing.T) {
	root := filepath.Join("..", "testmodels", "fixtures")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			m, x := convertFixture(t, filepath.Join(root, d.Name()), true, 4)
			compareEnginesOn(t, m, x, 0.9999, 1e-4, true)
		})
	}
	if n == 0 {
		t.Fatal("no fixtures")
	}
}

// TestDirectEncoderRunsOnce checks that the converter's direct encoder
// (Unsqueeze, Expand to [T, N, ...], Reshape) is recognised as the input
// repeated T times: no node falls back to the float engine, and the float
// first layer computes one copy of the input, not T.
func TestDirectEncoderRunsOnce(t *testing.T) {
	for _, name := range []string{"lenet_op13_folded_dynamic", "resnet20_op13_folded_dynamic"} {
		m, x := fixture(t, name, false, 4)
		e, err := Compile(m, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Run(x.Floats(), x.Shape()); err != nil {
			t.Fatal(err)
		}
		if e.T != 4 {
			t.Errorf("%s: the engine found T = %d, want 4 (the encoder was not recognised)", name, e.T)
		}
		for _, l := range e.Plan() {
			if l.Fallback {
				t.Errorf("%s: %s (%s) falls back: %s", name, l.Node, l.Op, l.Reason)
			}
		}
	}
}
