package crosscheck

import (
	"math"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// TestFixturesAgreeWithOnnxGo runs every float fixture in both engines.
// Every fixture our engine runs must match PyTorch's output (1e-4); where
// onnx-go runs it too, the two engines must agree within 1e-4 relative.
// Fixtures onnx-go cannot run are listed with its reason.
func TestFixturesAgreeWithOnnxGo(t *testing.T) {
	var dirs []string
	for _, p := range []string{"../../testmodels/fixtures/*/model.onnx", "../../testmodels/generated/*/model.onnx"} {
		m, _ := filepath.Glob(p)
		for _, f := range m {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	if len(dirs) == 0 {
		t.Fatal("no model.onnx under testmodels/fixtures (committed fixtures)")
	}
	sort.Strings(dirs)
	agreed, refused := 0, map[string]string{}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if testing.Short() && filepath.Base(filepath.Dir(dir)) == "generated" {
			continue
		}
		m, err := onnx.DecodeFile(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		in, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := npy.ReadFile(filepath.Join(dir, "output.npy"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Check(m, in)
		if err != nil {
			t.Errorf("%s: our engine: %v", name, err)
			continue
		}
		var num, den float64
		for i, v := range want.Floats() {
			d := float64(r.Ours[0].Float32[i] - v)
			if d < 0 {
				d = -d
			}
			num = max(num, d)
			den = max(den, abs(float64(v)))
		}
		if num/den > 1e-4 {
			t.Errorf("%s: our output differs from PyTorch's by %.3g relative", name, num/den)
		}
		if r.ReferenceErr != nil {
			refused[name] = r.ReferenceErr.Error()
			continue
		}
		if r.MaxRelDiff > 1e-4 {
			t.Errorf("%s: our engine and onnx-go differ by %.3g relative", name, r.MaxRelDiff)
			continue
		}
		agreed++
	}
	t.Logf("%d fixtures agree with onnx-go; %d are beyond onnx-go:", agreed, len(refused))
	for _, n := range sortedKeys(refused) {
		t.Logf("  %s: %s", n, refused[n])
	}
	if agreed == 0 {
		t.Error("onnx-go ran no fixture: the cross-check checked nothing")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// TestCompareNonFinite: a NaN or an infinity in either engine's outputs is
// a disagreement, whatever the other values.
func TestCompareNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		name      string
		ours, ref []float32
		agree     bool
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, true},
		{"close", []float32{1, 2}, []float32{1, 2.00001}, true},
		{"different", []float32{1, 2}, []float32{1, 3}, false},
		{"NaN in ours", []float32{nan, 2}, []float32{1, 2}, false},
		{"NaN in both", []float32{nan, 2}, []float32{nan, 2}, false},
		{"Inf in the reference", []float32{1, 2}, []float32{1, inf}, false},
		{"-Inf in both", []float32{-inf}, []float32{-inf}, false},
	} {
		r := &Report{Ours: []*onnx.Tensor{{Type: onnx.Float, Dims: []int64{int64(len(c.ours))}, Float32: c.ours}}, Reference: OnnxGo}
		r.compare([][]float32{c.ref})
		if r.Agrees(1e-4) != c.agree || !r.Compared() {
			t.Errorf("%s: Agrees = %v (MaxRelDiff %g, NonFinite %v), want %v", c.name, r.Agrees(1e-4), r.MaxRelDiff, r.NonFinite, c.agree)
		}
		if nonFinite := !c.agree && c.name != "different"; r.NonFinite != nonFinite || nonFinite && !math.IsInf(r.MaxRelDiff, 1) {
			t.Errorf("%s: NonFinite %v, MaxRelDiff %g", c.name, r.NonFinite, r.MaxRelDiff)
		}
	}
	r := &Report{Ours: []*onnx.Tensor{{Type: onnx.Float, Dims: []int64{1}, Float32: []float32{1}}}, Reference: OnnxGo}
	r.compare([][]float32{{1}, {2}})
	if r.Compared() {
		t.Error("a reference with more outputs than the model was compared")
	}
}

// TestCheckORT compares a fixture with onnxruntime.
func TestCheckORT(t *testing.T) {
	interop.NeedORT(t)
	dir := filepath.Join("..", "..", "testmodels", "fixtures", "lenet_op13_folded_dynamic")
	path := filepath.Join(dir, "model.onnx")
	m, err := onnx.DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := RunOurs(m, in)
	if err != nil {
		t.Fatal(err)
	}
	r := ours.ORT(path)
	if !r.Agrees(1e-4) || r.Reference != Onnxruntime {
		t.Errorf("our engine and onnxruntime: %+v", r)
	}
	if r := ours.ORT(filepath.Join(t.TempDir(), "missing.onnx")); r.Compared() {
		t.Error("ORT on a missing file compared something")
	}
}

// resnet20 is the residual network fixture and its input.
func resnet20(t *testing.T) (*onnx.Model, *onnx.Tensor) {
	t.Helper()
	dir := filepath.Join("..", "..", "testmodels", "fixtures", "resnet20_op13_folded_dynamic")
	m, err := onnx.DecodeFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return m, in
}

// TestPieces: onnx-go's pieces of a residual network cover its live nodes
// once and in order; a piece reads only the graph input and what earlier
// pieces write, and no piece reads a tensor it writes for later pieces
// (onnx-go would have reused its memory).
func TestPieces(t *testing.T) {
	m, in := resnet20(t)
	ours, err := RunOurs(m, in)
	if err != nil {
		t.Fatal(err)
	}
	r := ours.ref
	if len(r.pieces) < 20 {
		t.Errorf("%d pieces for %d nodes", len(r.pieces), len(r.nodes))
	}
	written := map[string]bool{ours.inputName: true}
	next := 0
	for k, p := range r.pieces {
		if p.first != next || p.end <= p.first {
			t.Fatalf("piece %d is nodes [%d, %d), want it to start at %d", k, p.first, p.end, next)
		}
		next = p.end
		for _, name := range p.inputs {
			if !written[name] {
				t.Errorf("piece %d reads %q, which no earlier piece writes", k, name)
			}
		}
		for _, n := range r.nodes[p.first:p.end] {
			for _, name := range n.Input {
				if slices.Contains(p.outputs, name) {
					t.Errorf("piece %d reads its own output %q", k, name)
				}
			}
		}
		for _, name := range p.outputs {
			written[name] = true
		}
	}
	if next != len(r.nodes) {
		t.Errorf("the pieces end at node %d of %d", next, len(r.nodes))
	}
	if rep := ours.OnnxGo(); !rep.Agrees(1e-4) {
		t.Errorf("our engine and onnx-go by pieces: %+v", rep)
	}
	if rep := ours.OnnxGo(); rep.Compared() {
		t.Error("onnx-go ran twice")
	}
}

// TestRunBesideOnnxGo: onnx-go run beside our engine compares as it does
// run after it, and Close stops it: OnnxGo then reports it as not run.
func TestRunBesideOnnxGo(t *testing.T) {
	m, in := resnet20(t)
	after, err := RunOurs(m, in)
	if err != nil {
		t.Fatal(err)
	}
	want := after.OnnxGo()
	beside, err := RunBesideOnnxGo(m, in)
	if err != nil {
		t.Fatal(err)
	}
	got := beside.OnnxGo()
	if !got.Agrees(1e-4) || got.MaxRelDiff != want.MaxRelDiff || got.Reference != OnnxGo {
		t.Errorf("onnx-go beside our engine: %+v, after it: %+v", got, want)
	}
	beside.Close() // after OnnxGo: nothing to stop

	stopped, err := RunBesideOnnxGo(m, in)
	if err != nil {
		t.Fatal(err)
	}
	stopped.Close()
	stopped.Close()
	if r := stopped.OnnxGo(); r.Compared() {
		t.Errorf("onnx-go compared after Close: %+v", r)
	}
}

// TestCutKeepsReadOutputsInside: a piece cannot end where a tensor it
// writes for later is also read inside it (onnx-go would have reused its
// memory), nor where an integer shape value is live.
func TestCutKeepsReadOutputsInside(t *testing.T) {
	node := func(op string, in []string, out string) *onnxpb.NodeProto {
		return onnx.NewNode(out, op, "", in, []string{out})
	}
	r := &refGraph{
		m: &onnx.Model{Proto: &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
			Input: []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("x", onnx.Float, onnx.Shape{{Value: 2}})}}}},
		nodes: []*onnxpb.NodeProto{
			node("Relu", []string{"x"}, "a"),
			node("Shape", []string{"a"}, "s"), // an integer value: no cut while it is live
			node("Neg", []string{"a"}, "b"),
			node("Reshape", []string{"b", "s"}, "c"), // reads b, which d reads too
			node("Add", []string{"c", "b"}, "d"),
		},
		shapes: map[string][]int64{"x": {2}, "a": {2}, "b": {2}, "c": {2}, "d": {2}},
	}
	r.cut([]string{"d"})
	var got [][2]int
	for _, p := range r.pieces {
		got = append(got, [2]int{p.first, p.end})
	}
	if want := [][2]int{{0, 1}, {1, 5}}; !slices.Equal(got, want) {
		t.Errorf("pieces %v, want %v", got, want)
	}
}
