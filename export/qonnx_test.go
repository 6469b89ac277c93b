package export

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// qonnxCleanup does to a model what QONNX's cleanup does to its names and
// order (github.com/fastmachinelearning/qonnx,
// src/qonnx/transformation/general.py): GiveUniqueNodeNames,
// GiveReadableTensorNames (which starts with GiveUniqueTensorNames) and
// SortGraph. Renames go through renameTensor, which replicates
// ModelWrapper.rename_tensor.
func qonnxCleanup(mp *onnxpb.ModelProto) *onnxpb.ModelProto {
	c := proto.Clone(mp).(*onnxpb.ModelProto)
	g := c.Graph
	// GiveUniqueNodeNames: <op type>_<k>, counted per op type.
	count := map[string]int{}
	for _, n := range g.Node {
		n.Name = proto.String(fmt.Sprintf("%s_%d", n.GetOpType(), count[n.GetOpType()]))
		count[n.GetOpType()]++
	}
	// GiveUniqueTensorNames: the value_info, input and output names.
	var names []string
	for _, list := range [][]*onnxpb.ValueInfoProto{g.ValueInfo, g.Input, g.Output} {
		for _, v := range list {
			names = append(names, v.GetName())
		}
	}
	for i, name := range names {
		renameTensor(g, name, fmt.Sprintf("tensor_%d", i))
	}
	// GiveReadableTensorNames: node outputs <node>_out<k>, initializer
	// inputs <node>_param<k>, in node order; the graph's inputs and outputs
	// global_in(_k) and global_out(_k).
	for _, n := range g.Node {
		for k := range n.Output {
			renameTensor(g, n.Output[k], fmt.Sprintf("%s_out%d", n.GetName(), k))
		}
		params := 0
		for k := range n.Input {
			if isInit(g, n.Input[k]) {
				renameTensor(g, n.Input[k], fmt.Sprintf("%s_param%d", n.GetName(), params))
				params++
			}
		}
	}
	for i, v := range g.Input {
		renameTensor(g, v.GetName(), suffixed("global_in", i))
	}
	for i, v := range g.Output {
		renameTensor(g, v.GetName(), suffixed("global_out", i))
	}
	qonnxSort(g)
	return c
}

func suffixed(base string, i int) string {
	if i == 0 {
		return base
	}
	return fmt.Sprintf("%s_%d", base, i)
}

func isInit(g *onnxpb.GraphProto, name string) bool {
	return slices.ContainsFunc(g.Initializer, func(t *onnxpb.TensorProto) bool { return t.GetName() == name })
}

// renameTensor is ModelWrapper.rename_tensor: the name changes in the graph
// inputs, outputs, value_info, initializers and quantization annotations,
// and in each node's inputs and outputs at the first occurrence only. The
// empty name is renamed like any other.
func renameTensor(g *onnxpb.GraphProto, old, new string) {
	for _, list := range [][]*onnxpb.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
		if i := slices.IndexFunc(list, func(v *onnxpb.ValueInfoProto) bool { return v.GetName() == old }); i >= 0 {
			list[i].Name = proto.String(new)
		}
	}
	if i := slices.IndexFunc(g.Initializer, func(t *onnxpb.TensorProto) bool { return t.GetName() == old }); i >= 0 {
		g.Initializer[i].Name = proto.String(new)
	}
	if i := slices.IndexFunc(g.QuantizationAnnotation, func(a *onnxpb.TensorAnnotation) bool { return a.GetTensorName() == old }); i >= 0 {
		g.QuantizationAnnotation[i].TensorName = proto.String(new)
	}
	for _, n := range g.Node {
		if i := slices.Index(n.Input, old); i >= 0 {
			n.Input[i] = new
		}
		if i := slices.Index(n.Output, old); i >= 0 {
			n.Output[i] = new
		}
	}
}

// qonnxSort is SortGraph: each node depends on the first producer of each
// of its inputs; nodes are emitted level by level (toposort_flatten, each
// level in file order); a node with no producer whose inputs are neither
// initializers nor graph inputs, and that no node depends on, is dropped.
func qonnxSort(g *onnxpb.GraphProto) {
	if len(g.Node) <= 1 {
		return
	}
	producer := func(t string) int {
		return slices.IndexFunc(g.Node, func(n *onnxpb.NodeProto) bool { return slices.Contains(n.Output, t) })
	}
	graphIn := func(t string) bool {
		return isInit(g, t) || slices.ContainsFunc(g.Input, func(v *onnxpb.ValueInfoProto) bool { return v.GetName() == t })
	}
	deps := map[int]map[int]bool{}
	for i, n := range g.Node {
		pred := map[int]bool{}
		for _, in := range n.Input {
			if p := producer(in); p >= 0 {
				pred[p] = true
			}
		}
		if len(pred) == 0 {
			if slices.ContainsFunc(n.Input, graphIn) {
				deps[i] = pred
			}
			continue
		}
		deps[i] = pred
		for p := range pred {
			if _, ok := deps[p]; !ok {
				deps[p] = map[int]bool{}
			}
		}
	}
	var order []int
	for len(deps) > 0 {
		var level []int
		for i, d := range deps {
			if len(d) == 0 {
				level = append(level, i)
			}
		}
		if len(level) == 0 {
			panic("qonnxSort: circular dependency")
		}
		slices.Sort(level)
		for _, i := range level {
			delete(deps, i)
		}
		for _, d := range deps {
			for _, i := range level {
				delete(d, i)
			}
		}
		order = append(order, level...)
	}
	nodes := make([]*onnxpb.NodeProto, len(order))
	for k, i := range order {
		nodes[k] = g.Node[i]
	}
	g.Node = nodes
}

// TestQONNXCleanupKeepsFiles does QONNX's cleanup to every profile of
// LeNet and ResNet-20: the renamed file is a valid graph that obeys the
// naming rules, onnx 1.12's strict shape inference and full checker accept
// it, onnxruntime and our engine give exactly the original's outputs, and
// the exporter still finds every binary layer, neuron and gate.
func TestQONNXCleanupKeepsFiles(t *testing.T) {
	dir := t.TempDir()
	var cleaned []string
	for _, name := range []string{"lenet_op13_folded_dynamic", "resnet20_op13_folded_dynamic", eventFixture} {
		f := loadBSNN(t, name)
		for _, v := range variants {
			orig := exportOK(t, f.model, v)
			c := &onnx.Model{Proto: qonnxCleanup(orig.Proto)}
			tag := name + "_" + v.String()
			if v.profile == bsnn.ProfileTrain {
				staleTrainingInfo(t, tag, c)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("%s: the renamed graph is malformed: %v", tag, err)
			}
			if err := bsnn.CheckNames(c.Proto.Graph); err != nil {
				t.Fatalf("%s: %v", tag, err)
			}
			origPath := writeModel(t, dir, tag+".onnx", orig)
			path := writeModel(t, dir, tag+".qonnx.onnx", c)
			cleaned = append(cleaned, path)
			sameStructure(t, tag, orig, c)
			sameOutputs(t, tag, f, v, orig, c, origPath, path)
		}
	}
	interop.NeedPythonONNX(t)
	if err := interop.InferShapesStrict(cleaned...); err != nil {
		t.Errorf("onnx 1.12 after the cleanup: %v", err)
	}
}

// staleTrainingInfo: QONNX's renaming does not visit training_info, so
// in a train-profile file the optimizer state still names the initializers
// it renamed, and such a file is refused (a FormatError naming the
// dangling tensor); the rest of the file survives, and c is left without
// the state.
func staleTrainingInfo(t *testing.T, tag string, c *onnx.Model) {
	t.Helper()
	var fe *onnx.FormatError
	if err := c.Validate(); !errors.As(err, &fe) || !strings.Contains(err.Error(), "agmm_optimizer_step") {
		t.Errorf("%s: the cleaned file's training_info: %v, want a FormatError naming the optimizer step", tag, err)
	}
	c.Proto.TrainingInfo = nil
}

// sameStructure: Recognize finds the same layers, neurons and gates, and
// the finn_datatype annotations followed the renamed tensors.
func sameStructure(t *testing.T, tag string, orig, c *onnx.Model) {
	t.Helper()
	a, err := Recognize(orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Recognize(c)
	if err != nil {
		t.Fatalf("%s: recognizing the renamed file: %v", tag, err)
	}
	want := a.Profile
	if want == bsnn.ProfileTrain {
		want = bsnn.ProfilePortable // without its (stale) optimizer state
	}
	if len(a.Layers) != len(b.Layers) || len(a.Neurons) != len(b.Neurons) || len(a.Gates) != len(b.Gates) || b.Profile != want {
		t.Errorf("%s: renamed file has %d layers, %d neurons, %d gates (%s); the original %d, %d, %d (%s)", tag,
			len(b.Layers), len(b.Neurons), len(b.Gates), b.Profile, len(a.Layers), len(a.Neurons), len(a.Gates), a.Profile)
	}
	count := func(m *onnx.Model) map[string]int {
		out := map[string]int{}
		for _, kv := range m.Annotations() {
			out[kv[bsnn.AnnotationDatatype]]++
		}
		return out
	}
	if ca, cb := count(orig), count(c); !maps.Equal(ca, cb) {
		t.Errorf("%s: finn_datatype annotations %v after the cleanup, %v before", tag, cb, ca)
	}
}

// sameOutputs runs the original and the renamed file (inputs and outputs
// matched by position) in onnxruntime and in our engine: every output must
// be identical.
func sameOutputs(t *testing.T, tag string, f *bsnnFixture, v variant, orig, c *onnx.Model, origPath, path string) {
	t.Helper()
	in := feeds{orig.Proto.Graph.Input[0].GetName(): f.input}
	if v.form == bsnn.PlainStep {
		info, err := Recognize(orig)
		if err != nil {
			t.Fatal(err)
		}
		in = stepFeeds(t, info, stepInput(t, orig, f.input, 1), 1, nil, batchOf(t, orig, f.input), orig)
		for _, n := range info.Neurons { // call 1: any membrane will do
			in[n.State] = in[n.State]
		}
	}
	renamed := feeds{}
	for i, vi := range orig.Proto.Graph.Input {
		renamed[c.Proto.Graph.Input[i].GetName()] = in[vi.GetName()]
	}
	interop.NeedORT(t)
	for _, engine := range []string{"onnxruntime", "engine"} {
		var a, b run
		if engine == "onnxruntime" {
			a, b = ortRun(t, origPath, in, nil), ortRun(t, path, renamed, nil)
		} else {
			a, b = newEngine(t, orig, in).run(t, in), newEngine(t, c, renamed).run(t, renamed)
		}
		for i, o := range orig.Proto.Graph.Output {
			x, y := a[o.GetName()], b[c.Proto.Graph.Output[i].GetName()]
			if len(x) == 0 || !slices.Equal(x, y) {
				t.Errorf("%s: %s: output %d (%s) differs after the cleanup (%d values vs %d)", tag, engine, i, o.GetName(), len(x), len(y))
			}
		}
	}
}

// TestQONNXCleanupBreaksOldFiles: the same cleanup on a file written
// before the naming rules (export/testdata) breaks it, as it broke the
// quickstart's exports (issue 16): QONNX renames the LIFs' "" outputs into
// one tensor and only the first of the Concat's four input slots.
func TestQONNXCleanupBreaksOldFiles(t *testing.T) {
	m, err := onnx.DecodeFile(filepath.Join("testdata", "v1_mlp_portable.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var ne *bsnn.NameError
	if err := bsnn.CheckNames(m.Proto.Graph); !errors.As(err, &ne) {
		t.Fatalf("the old file obeys the naming rules (%v): not a file from before them", err)
	}
	c := &onnx.Model{Proto: qonnxCleanup(m.Proto)}
	err = c.Validate()
	var fe *onnx.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("the renamed old file is a valid graph (%v): qonnxCleanup does not do what QONNX does", err)
	}
	if !strings.Contains(err.Error(), "also produced by") && !strings.Contains(err.Error(), "nothing produces") {
		t.Errorf("the renamed old file is broken, but not by the renaming: %v", err)
	}
	// Exporting the old file gives one the cleanup keeps intact.
	out, err := Export(m, bsnn.ProfilePortable, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&onnx.Model{Proto: qonnxCleanup(out.Proto)}).Validate(); err != nil {
		t.Errorf("the old file exported anew does not survive the cleanup: %v", err)
	}
}

// TestOldFileStillRead: a file written before the naming rules is still
// recognised, run (by our engine and onnxruntime) and exported; every
// export obeys the rules and computes what the old file computes.
func TestOldFileStillRead(t *testing.T) {
	path := filepath.Join("testdata", "v1_mlp_portable.onnx")
	m, err := onnx.DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Recognize(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Layers) != 1 || len(info.Neurons) != 2 || len(info.Gates) != 1 || info.TimeSteps != 4 {
		t.Fatalf("old file: %d layers, %d neurons, %d gates, T=%d; want 1, 2, 1, 4", len(info.Layers), len(info.Neurons), len(info.Gates), info.TimeSteps)
	}
	x := &onnx.Tensor{Type: onnx.Float, Dims: []int64{2, 1, 28, 28}, Float32: make([]float32, 2*28*28)}
	for i := range x.Float32 {
		x.Float32[i] = float32(i%17)/8 - 1
	}
	in := feeds{"input": x}
	want := newEngine(t, m, in).run(t, in)["output"]
	interop.NeedORT(t)
	if got := ortRun(t, path, in, nil)["output"]; maxDiff(got, want) > logitTol(want) {
		t.Errorf("onnxruntime on the old file differs from our engine by %g", maxDiff(got, want))
	}
	dir := t.TempDir()
	for _, v := range variants {
		out := exportOK(t, m, v)
		if err := bsnn.CheckNames(out.Proto.Graph); err != nil {
			t.Errorf("%s export of the old file: %v", v, err)
		}
		if v.form == bsnn.PlainStep {
			continue // one call computes one time step, not the model output
		}
		got := newEngine(t, out, in).run(t, in)["output"]
		if !slices.Equal(got, want) {
			t.Errorf("%s export of the old file: output differs by %g", v, maxDiff(got, want))
		}
		p := writeModel(t, dir, v.String()+".onnx", out)
		if got := ortRun(t, p, in, nil)["output"]; maxDiff(got, want) > logitTol(want) {
			t.Errorf("%s export of the old file: onnxruntime differs by %g", v, maxDiff(got, want))
		}
	}
}
