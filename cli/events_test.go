package cli_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

const dvsnetANN = "../testmodels/events/dvsnet.onnx"

// TestEventPipeline runs the event-camera pipeline on a synthetic N-MNIST
// folder in the real format: import --input events, finetune with the
// event flags, eval in both engines, export every profile (and NIR) and
// run them, run --batch.
func TestEventPipeline(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "nmnist")
	if err := eventtest.WriteNMNIST(data, eventtest.NMNISTConfig{Train: 8, Test: 3, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "dvs_bsnn.onnx")
	r := bsnnctl(t, "import", dvsnetANN, "-o", model, "--input", "events", "--json").ok(t)
	var imp struct {
		Verification struct {
			CrossChecked bool  `json:"cross_checked"`
			ProbeShape   []int `json:"probe_shape"`
		} `json:"verification"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &imp); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if !imp.Verification.CrossChecked || !slices.Equal(imp.Verification.ProbeShape, []int{2, 2, 34, 34}) {
		t.Errorf("verification %+v: want the ANN cross-checked on a [2 2 34 34] probe", imp.Verification)
	}
	m, err := onnx.DecodeFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := m.Graph(); g.Inputs[0].Shape.String() != "[4,N,2,34,34]" || m.Metadata()[bsnn.MetaInputEncoding] != "events" {
		t.Fatalf("import --input events wrote input %s, %s %q", g.Inputs[0].Shape, bsnn.MetaInputEncoding, m.Metadata()[bsnn.MetaInputEncoding])
	}

	// finetune: 10 steps with every event flag.
	run := filepath.Join(dir, "run")
	cache := filepath.Join(dir, "cache")
	r = bsnnctl(t, "finetune", model, "--data", "nmnist:"+data, "--out", run, "--epochs", "2", "--batch", "16",
		"--optimizer", "adam", "--lr", "3e-3", "--aug-roll", "1", "--aug-flip", "--bin", "time", "--frame-size", "34",
		"--frame-values", "binary", "--frame-cache", cache, "--threads", "1", "--json").ok(t)
	var sum struct {
		Steps      int    `json:"steps"`
		FinalModel string `json:"final_model"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if sum.Steps != 10 {
		t.Errorf("finetune ran %d steps, want 10", sum.Steps)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 2 {
		t.Errorf("the frame cache holds %d files, want the 2 splits'", len(ents))
	}

	// eval: the packed engine evaluates as the float engine does.
	res := map[string]evalJSON{}
	for _, engine := range []string{"packed", "float"} {
		r := bsnnctl(t, "eval", sum.FinalModel, "--data", "nmnist:"+data, "--engine", engine, "--bin", "time",
			"--frame-values", "binary", "--frame-cache", cache, "--batch", "16", "--json").ok(t)
		var e evalJSON
		if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		if e.Engine != engine || e.Samples != 30 {
			t.Fatalf("--engine %s: engine %q, %d samples", engine, e.Engine, e.Samples)
		}
		res[engine] = e
	}
	p, f := res["packed"], res["float"]
	if p.Accuracy != f.Accuracy || p.SOPs != f.SOPs || math.Abs(p.Loss-f.Loss) > 1e-5*math.Max(1, f.Loss) || len(p.LIF) != 4 {
		t.Errorf("packed engine %+v\nfloat engine %+v", p, f)
	}
	for i := range p.LIF {
		if p.LIF[i].Rate != f.LIF[i].Rate {
			t.Errorf("LIF %s fires at %v, float engine %v", p.LIF[i].Node, p.LIF[i].Rate, f.LIF[i].Rate)
		}
	}

	// Frames to run: 3 samples [4, 3, 2, 34, 34].
	x, _, err := eventtest.NMNISTFrames(3, 4, 9)
	if err != nil {
		t.Fatal(err)
	}
	frames := filepath.Join(dir, "frames.npy")
	if err := npy.WriteFile(frames, &onnx.Tensor{Type: onnx.Float, Dims: []int64{4, 3, 2, 34, 34}, Float32: x}); err != nil {
		t.Fatal(err)
	}
	ref := runOutput(t, sum.FinalModel, frames, filepath.Join(dir, "ref"), "--engine", "float")
	for _, args := range [][]string{{"--engine", "packed"}, {"--engine", "float", "--batch", "2"}, {"--engine", "packed", "--batch", "2"}} {
		if got := runOutput(t, sum.FinalModel, frames, filepath.Join(dir, strings.Join(args, "")), args...); !slices.Equal(got, ref) {
			t.Errorf("run %v: output %v, want %v", args, got, ref)
		}
	}
	for _, prof := range [][]string{{"portable"}, {"plain"}, {"packed"}, {"train"}} {
		out := filepath.Join(dir, prof[0]+".onnx")
		bsnnctl(t, append([]string{"export", sum.FinalModel, "-o", out, "--profile"}, prof...)...).ok(t)
		got := runOutput(t, out, frames, filepath.Join(dir, prof[0]+".out"))
		if d := maxAbsDiff(got, ref); d > 1e-5 {
			t.Errorf("%s profile: output differs by %g", prof[0], d)
		}
	}
	step := filepath.Join(dir, "step.onnx")
	bsnnctl(t, "export", sum.FinalModel, "-o", step, "--profile", "plain", "--plain-form", "step").ok(t)
	if sm, err := onnx.DecodeFile(step); err != nil {
		t.Fatal(err)
	} else if g, _ := sm.Graph(); g.Inputs[0].Shape.String() != "[1,N,2,34,34]" {
		t.Errorf("the step form's input is %s, want one frame [1,N,2,34,34]", g.Inputs[0].Shape)
	}

	// NIR: an event model without gates goes to NIR and back.
	nogate := filepath.Join(dir, "nogate.onnx")
	bsnnctl(t, "import", dvsnetANN, "-o", nogate, "--input", "events", "--no-agmm").ok(t)
	nirFile := filepath.Join(dir, "dvs.nir")
	r = bsnnctl(t, "export", nogate, "-o", nirFile, "--profile", "nir").ok(t)
	if !strings.Contains(r.stdout, "input events, one frame per step") {
		t.Errorf("export --profile nir does not report the event input:\n%s", r.stdout)
	}
	back := filepath.Join(dir, "back.onnx")
	bsnnctl(t, "import", nirFile, "-o", back).ok(t)
	a := runOutput(t, nogate, frames, filepath.Join(dir, "nogate.out"), "--engine", "float")
	b := runOutput(t, back, frames, filepath.Join(dir, "back.out"), "--engine", "float")
	if d := maxAbsDiff(a, b); d > 1e-5 {
		t.Errorf("NIR round trip: output differs by %g", d)
	}
}

// runOutput runs model on the input file and returns its output.
func runOutput(t *testing.T, model, input, out string, args ...string) []float32 {
	t.Helper()
	bsnnctl(t, append([]string{"run", model, "-i", input, "-o", out}, args...)...).ok(t)
	o, err := npy.ReadFile(filepath.Join(out, "output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Dims, []int64{3, 10}) {
		t.Fatalf("%s: output shape %v", model, o.Dims)
	}
	return o.Floats()
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestEventDataMismatch: an event data set for a model that reads images,
// and images for an event-input model, are one error line each.
func TestEventDataMismatch(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "nmnist")
	if err := eventtest.WriteNMNIST(data, eventtest.NMNISTConfig{Train: 1, Test: 1, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.onnx")
	bsnnctl(t, "import", dvsnetANN, "-o", events, "--input", "events").ok(t)
	direct := lenetBSNN(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", direct, "--data", "nmnist:" + data},
			"nmnist is an event data set, but the model reads images (input \"input\" [N, 1, 28, 28]): convert the ANN with `bsnnctl import --input events`"},
		{[]string{"finetune", direct, "--data", "nmnist:" + data, "--out", filepath.Join(dir, "r1")},
			"nmnist is an event data set, but the model reads images"},
		{[]string{"eval", events, "--data", "mnist:" + filepath.Join(dir, "no-such-folder")},
			`the model reads event frames (input "input" [T=4, N, 2, 34, 34], bsnn.input_encoding "events"), but mnist is an image data set: give an event data set (nmnist:DIR, dvsgesture:DIR or cifar10dvs:DIR)`},
		{[]string{"finetune", events, "--data", "cifar10:" + dir, "--out", filepath.Join(dir, "r2")},
			"but cifar10 is an image data set"},
		{[]string{"eval", events, "--data", "nmnist:" + data, "--frame-size", "17x17"},
			`frame size 17x17, but the model's input "input" takes 34x34 frames`},
		{[]string{"finetune", events, "--data", "nmnist:" + data, "--out", filepath.Join(dir, "r3"), "--aug-pad", "4"},
			"random crops apply to images"},
	} {
		line := bsnnctl(t, c.args...).runtimeError(t)
		if !strings.Contains(line, c.want) {
			t.Errorf("%v:\n%s\nwant it to contain %s", c.args, line, c.want)
		}
	}
}

// TestEventFlagsParse: bad event flags are usage errors (exit 80).
func TestEventFlagsParse(t *testing.T) {
	for _, args := range [][]string{
		{"import", "a.onnx", "-o", "b.onnx", "--input", "frames"},
		{"import", "a.nir", "-o", "b.onnx", "--input", "events", "--nir-input-encoding", "direct"},
		{"finetune", "m.onnx", "--data", "nmnist:d", "--out", "r", "--frame-size", "0x3"},
		{"finetune", "m.onnx", "--data", "nmnist:d", "--out", "r", "--aug-roll=-1"},
		{"finetune", "m.onnx", "--data", "nmnist:d", "--out", "r", "--bin", "sideways"},
		{"eval", "m.onnx", "--data", "nmnist:d", "--frame-values", "float"},
		{"eval", "m.onnx", "--data", "nmnist:d", "--frame-size", "big"},
	} {
		if r := bsnnctl(t, args...); r.code != 80 {
			t.Errorf("%v: exit %d, want 80\n%s", args, r.code, r.stderr)
		}
	}
}
