package cli_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
)

// relErr is max|a-b| / max|b|.
func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	return num / math.Max(den, 1e-12)
}

// checkOutput compares OUTDIR/output.npy with the fixture's output.npy.
func checkOutput(t testing.TB, file, wantFile string) {
	t.Helper()
	got, err := npy.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(wantFile)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Shape(), want.Shape()) {
		t.Fatalf("%s has shape %v, want %v", file, got.Shape(), want.Shape())
	}
	if e := relErr(got.Floats(), want.Floats()); e > 1e-4 {
		t.Errorf("%s differs from %s: relative error %.3g > 1e-4", file, wantFile, e)
	}
}

// writePB writes t as a serialized ONNX TensorProto.
func writePB(t testing.TB, path string, name string, tensor *onnx.Tensor) {
	t.Helper()
	var tp *onnxpb.TensorProto
	switch {
	case tensor.Float32 != nil:
		tp = onnx.FloatTensor(name, tensor.Dims, tensor.Float32)
	case tensor.Int64 != nil:
		tp = onnx.Int64Tensor(name, tensor.Dims, tensor.Int64)
	default:
		t.Fatalf("writePB: unsupported tensor type %s", tensor.Type)
	}
	b, err := proto.Marshal(tp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runJSON is the `run --json` output.
type runJSON struct {
	Outputs []struct {
		Name           string
		Shape          []int
		File           string
		Min, Max, Mean *float64
	}
}

func decodeRun(t testing.TB, stdout string) runJSON {
	t.Helper()
	var out runJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("run --json output: %v\n%s", err, stdout)
	}
	return out
}

// unsupportedOps returns the op types of the model the registry cannot run
// yet (nil when it can run all of them).
func unsupportedOps(t testing.TB, model string) []string {
	t.Helper()
	m, err := onnx.DecodeFile(model)
	if err != nil {
		t.Fatal(err)
	}
	err = ops.CheckModel(m)
	var ue *onnx.UnsupportedError
	if errors.As(err, &ue) {
		return ue.OpTypes()
	}
	if err != nil {
		t.Fatal(err)
	}
	return nil
}

// TestRunFixtures runs every MLP and LeNet fixture from an .npy input and
// from a TensorProto .pb input (named and bare) and compares the written
// output with PyTorch's. Fixtures using ops the engine does not have yet are
// skipped (the ops package's own fixture test reports those), but each arch
// must have at least one fixture that ran.
func TestRunFixtures(t *testing.T) {
	ran := map[string]int{}
	for _, f := range loadManifest(t) {
		if f.Arch != "mlp" && f.Arch != "lenet" {
			continue
		}
		ran[f.Arch] += 0
		t.Run(f.Name, func(t *testing.T) {
			dir := filepath.Join(fixturesDir, f.Name)
			model := filepath.Join(dir, "model.onnx")
			if missing := unsupportedOps(t, model); missing != nil {
				t.Fatalf("the engine does not run %v", missing)
			}
			inName := f.Summary["inputs"].([]any)[0].(map[string]any)["name"].(string)
			wantFile := filepath.Join(dir, "output.npy")

			out := t.TempDir()
			r := bsnnctl(t, "run", model, "--input", inName+"="+filepath.Join(dir, "input.npy"), "-o", out).ok(t)
			checkOutput(t, filepath.Join(out, "output.npy"), wantFile)
			if !strings.Contains(r.stdout, "output") || !strings.Contains(r.stdout, "[2,10]") {
				t.Errorf("the table does not show the output and its shape:\n%s", r.stdout)
			}

			in, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
			if err != nil {
				t.Fatal(err)
			}
			pb := filepath.Join(t.TempDir(), "input_0.pb")
			writePB(t, pb, inName, in)
			for _, spec := range []string{inName + "=" + pb, pb} {
				out := t.TempDir()
				r := bsnnctl(t, "run", model, "--input", spec, "-o", out, "--json").ok(t)
				checkOutput(t, filepath.Join(out, "output.npy"), wantFile)
				got := decodeRun(t, r.stdout)
				if len(got.Outputs) != 1 || got.Outputs[0].Name != "output" ||
					got.Outputs[0].File != filepath.Join(out, "output.npy") ||
					!reflect.DeepEqual(got.Outputs[0].Shape, []int{2, 10}) {
					t.Errorf("run --json: %s", r.stdout)
				}
			}
			ran[f.Arch]++
		})
	}
	for arch, n := range ran {
		if n == 0 {
			t.Errorf("no %s fixture ran", arch)
		}
	}
	if len(ran) != 2 {
		t.Errorf("want mlp and lenet fixtures, found %v", ran)
	}
}

// TestRunJSONStats checks min/max/mean against the written file.
func TestRunJSONStats(t *testing.T) {
	dir := filepath.Join(fixturesDir, "mlp_op13_folded_dynamic")
	out := t.TempDir()
	r := bsnnctl(t, "run", filepath.Join(dir, "model.onnx"), "-i", filepath.Join(dir, "input.npy"), "-o", out, "--json").ok(t)
	got := decodeRun(t, r.stdout)
	if len(got.Outputs) != 1 {
		t.Fatalf("run --json: %s", r.stdout)
	}
	o := got.Outputs[0]
	tensor, err := npy.ReadFile(o.File)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, v := range tensor.Floats() {
		lo, hi, sum = math.Min(lo, float64(v)), math.Max(hi, float64(v)), sum+float64(v)
	}
	mean := sum / float64(tensor.Len())
	if o.Min == nil || o.Max == nil || o.Mean == nil || *o.Min != lo || *o.Max != hi || math.Abs(*o.Mean-mean) > 1e-9 {
		t.Errorf("stats %v %v %v, want %v %v %v", o.Min, o.Max, o.Mean, lo, hi, mean)
	}
}

// TestRunBatch checks that --batch 1 (chunks of one sample) gives what one
// run over the whole input gives, and that a fixed-batch model refuses
// chunks of another size.
func TestRunBatch(t *testing.T) {
	dir := filepath.Join(fixturesDir, "mlp_op11_folded_dynamic")
	model, in := filepath.Join(dir, "model.onnx"), filepath.Join(dir, "input.npy")
	out := t.TempDir()
	bsnnctl(t, "run", model, "-i", in, "-o", out, "--batch", "1").ok(t)
	checkOutput(t, filepath.Join(out, "output.npy"), filepath.Join(dir, "output.npy"))

	// Input of 2 samples in chunks of 3: one chunk of 2.
	out = t.TempDir()
	bsnnctl(t, "run", model, "-i", in, "-o", out, "--batch", "3").ok(t)
	checkOutput(t, filepath.Join(out, "output.npy"), filepath.Join(dir, "output.npy"))

	static := filepath.Join(fixturesDir, "mlp_op11_folded_static")
	line := bsnnctl(t, "run", filepath.Join(static, "model.onnx"), "-i", in, "-o", t.TempDir(), "--batch", "1").runtimeError(t)
	for _, want := range []string{`input "input"`, "[1,1,28,28]", "[2,1,28,28]"} {
		if !strings.Contains(line, want) {
			t.Errorf("stderr %q does not mention %s", line, want)
		}
	}
}

// TestRunFloat64Input checks that float64 inputs are converted.
func TestRunFloat64Input(t *testing.T) {
	dir := filepath.Join(fixturesDir, "mlp_op9_keepbn_dynamic")
	in, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	f64 := &onnx.Tensor{Type: onnx.Double, Dims: in.Dims, Float64: make([]float64, in.Len())}
	for i, v := range in.Floats() {
		f64.Float64[i] = float64(v)
	}
	file := filepath.Join(t.TempDir(), "x64.npy")
	if err := npy.WriteFile(file, f64); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	bsnnctl(t, "run", filepath.Join(dir, "model.onnx"), "-i", "input="+file, "-o", out).ok(t)
	checkOutput(t, filepath.Join(out, "output.npy"), filepath.Join(dir, "output.npy"))
}

func TestRunErrors(t *testing.T) {
	tmp := t.TempDir()
	write := func(name string, tensor *onnx.Tensor) string {
		p := filepath.Join(tmp, name)
		if err := npy.WriteFile(p, tensor); err != nil {
			t.Fatal(err)
		}
		return p
	}
	floats := func(dims ...int64) *onnx.Tensor {
		n, _ := onnx.NumElements(dims)
		return &onnx.Tensor{Type: onnx.Float, Dims: dims, Float32: make([]float32, n)}
	}
	ints := write("ints.npy", &onnx.Tensor{Type: onnx.Int64, Dims: []int64{2, 1, 28, 28}, Int64: make([]int64, 2*28*28)})
	intsPB := filepath.Join(tmp, "ints.pb")
	writePB(t, intsPB, "input", &onnx.Tensor{Type: onnx.Int64, Dims: []int64{2, 1, 28, 28}, Int64: make([]int64, 2*28*28)})
	garbagePB := filepath.Join(tmp, "garbage.pb")
	if err := os.WriteFile(garbagePB, []byte("\xff\xff\xff not a tensor"), 0o644); err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(fixturesDir, "mlp_op17_folded_static", "model.onnx")
	dynamic := filepath.Join(fixturesDir, "mlp_op17_folded_dynamic", "model.onnx")
	good := filepath.Join(fixturesDir, "mlp_op17_folded_static", "input.npy")

	cases := []struct {
		name string
		args []string
		want []string // substrings of the error line
	}{
		{"wrong input name", []string{"run", static, "--input", "pixels=" + good},
			[]string{`no graph input "pixels"`, `"input"`}},
		{"no input", []string{"run", static},
			[]string{static, `not given: "input"`}},
		{"input twice", []string{"run", static, "-i", good, "-i", "input=" + good},
			[]string{`"input" is given twice`}},
		{"wrong batch of a static model", []string{"run", static, "-i", write("b3.npy", floats(3, 1, 28, 28))},
			[]string{`input "input"`, "[3,1,28,28]", "[2,1,28,28]"}},
		{"wrong image size", []string{"run", dynamic, "-i", "input=" + write("s27.npy", floats(2, 1, 27, 28))},
			[]string{`input "input"`, "[2,1,27,28]", "[N,1,28,28]"}},
		{"wrong rank", []string{"run", dynamic, "-i", write("r2.npy", floats(2, 784))},
			[]string{`input "input"`, "[2,784]", "[N,1,28,28]"}},
		{"int npy", []string{"run", static, "-i", "input=" + ints},
			[]string{`input "input"`, "int64", ints}},
		{"int pb", []string{"run", static, "-i", intsPB},
			[]string{`input "input"`, "int64", intsPB}},
		{"missing file", []string{"run", static, "-i", filepath.Join(tmp, "none.npy")},
			[]string{filepath.Join(tmp, "none.npy") + ": no such file or directory"}},
		{"not a tensor", []string{"run", static, "-i", garbagePB},
			[]string{garbagePB, "not an ONNX TensorProto"}},
		{"unknown extension", []string{"run", static, "-i", static},
			[]string{static, `".onnx"`, ".npy or .pb"}},
		{"missing model", []string{"run", filepath.Join(tmp, "m.onnx"), "-i", good},
			[]string{filepath.Join(tmp, "m.onnx") + ": no such file or directory"}},
		{"invalid model", []string{"run", "../onnx/testdata/invalid-cycle.onnx", "-i", good},
			[]string{"../onnx/testdata/invalid-cycle.onnx: onnx: malformed model: "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			r := bsnnctl(t, append(c.args, "-o", out)...)
			line := r.runtimeError(t)
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q does not mention %q", line, w)
				}
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("a failed run left files in the output folder: %v", entries)
			}
		})
	}
}

// TestRunOutputNames runs a model with two outputs whose names are not file
// names and checks the files, their contents and the JSON.
func TestRunOutputNames(t *testing.T) {
	tmp := t.TempDir()
	model := filepath.Join(tmp, "two.onnx")
	s := func(v string) *string { return &v }
	i64 := func(v int64) *int64 { return &v }
	shape := onnx.Shape{{Param: "N"}, {Value: 3}}
	m := &onnx.Model{Proto: &onnxpb.ModelProto{
		IrVersion:   i64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: i64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: s("g"),
			Node: []*onnxpb.NodeProto{
				{Name: s("relu"), OpType: s("Relu"), Input: []string{"x"}, Output: []string{"/block/relu:0"}},
				{Name: s("neg"), OpType: s("Neg"), Input: []string{"x"}, Output: []string{"../neg"}},
			},
			Input:  []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("x", onnx.Float, shape)},
			Output: []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("/block/relu:0", onnx.Float, shape), onnx.ValueInfoProto("../neg", onnx.Float, shape)},
		},
	}}
	if err := onnx.EncodeFile(model, m); err != nil {
		t.Fatal(err)
	}
	if missing := unsupportedOps(t, model); missing != nil {
		t.Fatalf("the engine does not run %v", missing)
	}
	x := []float32{-1, 2, -3, 4, 0, -0.5}
	in := filepath.Join(tmp, "x.npy")
	if err := npy.WriteFile(in, &onnx.Tensor{Type: onnx.Float, Dims: []int64{2, 3}, Float32: x}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out", "nested") // created by run
	r := bsnnctl(t, "run", model, "-i", in, "-o", out, "--json").ok(t)
	got := decodeRun(t, r.stdout)

	wantFiles := map[string]string{"/block/relu:0": "_block_relu_0.npy", "../neg": "_._neg.npy"}
	wantData := map[string][]float32{"/block/relu:0": {0, 2, 0, 4, 0, 0}, "../neg": {1, -2, 3, -4, 0, 0.5}}
	if len(got.Outputs) != 2 {
		t.Fatalf("run --json: %s", r.stdout)
	}
	for i, name := range []string{"/block/relu:0", "../neg"} {
		o := got.Outputs[i]
		if o.Name != name || o.File != filepath.Join(out, wantFiles[name]) || !reflect.DeepEqual(o.Shape, []int{2, 3}) {
			t.Errorf("output %d: %+v, want %q in %s", i, o, name, wantFiles[name])
			continue
		}
		tensor, err := npy.ReadFile(o.File)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(tensor.Floats(), wantData[name]) {
			t.Errorf("%s holds %v, want %v", o.File, tensor.Floats(), wantData[name])
		}
	}
	// Only the two outputs: no temporary files left behind.
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if want := []string{"_._neg.npy", "_block_relu_0.npy"}; !reflect.DeepEqual(names, want) {
		t.Errorf("output folder holds %v, want %v", names, want)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 3 { // two.onnx, x.npy, out
		t.Errorf("run wrote outside the output folder: %v", entries)
	}
}
