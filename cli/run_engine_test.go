package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/npy"
)

// TestRunEngines runs the LeNet BSNN (with AGMM gates) in both engines:
// the same outputs within the gated tolerance of docs/inference.md, the
// packed engine by default, its plan with --explain and in the JSON, a
// clear error for the step form with --engine packed and a usage error
// for an unknown engine.
func TestRunEngines(t *testing.T) {
	model := lenetBSNN(t)
	in := "../testmodels/fixtures/lenet_op13_keepbn_static/input.npy"
	dir := t.TempDir()
	var outs [2]string
	for i, engine := range []string{"", "float"} {
		args := []string{"run", model, "-i", in, "-o", filepath.Join(dir, itoa(i)), "--json"}
		if engine != "" {
			args = append(args, "--engine", engine)
		}
		r := bsnnctl(t, args...).ok(t)
		var res struct {
			Engine string `json:"engine"`
			Plan   []struct {
				Node   string `json:"node"`
				Packed bool   `json:"packed"`
				Reason string `json:"reason"`
			} `json:"plan"`
			Outputs []struct{ File string } `json:"outputs"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		want := engine
		if want == "" {
			want = "packed"
		}
		if res.Engine != want || (want == "packed") != (len(res.Plan) > 0) {
			t.Fatalf("--engine %q ran %q with a plan of %d layers", engine, res.Engine, len(res.Plan))
		}
		outs[i] = res.Outputs[0].File
	}
	a, err := npy.ReadFile(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := npy.ReadFile(outs[1])
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(a.Floats(), b.Floats()); e > 1e-4 {
		t.Fatalf("packed and float outputs differ by %.3g relative", e)
	}

	r := bsnnctl(t, "run", model, "-i", in, "-o", dir, "--explain").ok(t)
	for _, want := range []string{"packed engine plan: 3 layers packed, 2 float, 0 on the float fallback",
		"conv2/conv", "packed", "binary weights, spike input", "/conv1/Conv", "float weights"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("--explain does not print %q:\n%s", want, r.stdout)
		}
	}

	step := filepath.Join(dir, "step.onnx")
	bsnnctl(t, "export", model, "-o", step, "--profile", "plain", "--plain-form", "step").ok(t)
	line := bsnnctl(t, "run", step, "-i", in, "--engine", "packed", "-o", dir).runtimeError(t)
	if !strings.Contains(line, "step form") || !strings.Contains(line, "--profile portable") {
		t.Fatalf("step form with --engine packed: %s", line)
	}
	if r := bsnnctl(t, "run", model, "-i", in, "--engine", "fast"); r.code != 80 {
		t.Fatalf("--engine fast: exit %d, want 80", r.code)
	}
}
