package cli_test

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
)

// evalJSON is the part of `eval --json` the engine test compares.
type evalJSON struct {
	Engine   string  `json:"engine"`
	Samples  int     `json:"samples"`
	Accuracy float64 `json:"accuracy"`
	Loss     float64 `json:"loss"`
	LIF      []struct {
		Node string  `json:"node"`
		Rate float64 `json:"rate"`
	} `json:"lif"`
	SOPs float64 `json:"sops"`
	Plan []struct {
		Packed bool `json:"packed"`
	} `json:"plan"`
}

// TestEvalEnginesAgree fine-tunes the embedded LeNet briefly (a short
// quickstart) and evaluates its packed-profile export on 512 test images
// in both engines: the same accuracy, the loss and the firing rates within
// the AGMM-gated tolerance of docs/inference.md, and the synaptic operations
// of its portable export (a packed file's binary layers count as binary).
func TestEvalEnginesAgree(t *testing.T) {
	dir := t.TempDir()
	bsnnctl(t, "quickstart", "--out", dir, "--epochs", "1", "--train-limit", "512", "--test-limit", "256").ok(t)
	res := map[string]evalJSON{}
	for _, engine := range []string{"packed", "float", "portable"} {
		model := filepath.Join(dir, "bsnn_packed.onnx")
		if engine == "portable" { // the portable export, in the float engine
			model, engine = filepath.Join(dir, "bsnn_portable.onnx"), "float"
		}
		r := bsnnctl(t, "eval", model, "--data", "fashion-mnist", "--limit", "512", "--batch", "200", "--engine", engine, "--json").ok(t)
		var e evalJSON
		if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		if e.Engine != engine || e.Samples != 512 {
			t.Fatalf("--engine %s: engine %q, %d samples", engine, e.Engine, e.Samples)
		}
		res[filepath.Base(model)+" "+engine] = e
	}
	p, f, portable := res["bsnn_packed.onnx packed"], res["bsnn_packed.onnx float"], res["bsnn_portable.onnx float"]
	if portable.SOPs == 0 || f.SOPs != portable.SOPs || math.Abs(p.SOPs-f.SOPs) > 1e-3*f.SOPs {
		t.Errorf("SOPs per sample: packed file %v (packed engine), %v (float engine); portable file %v", p.SOPs, f.SOPs, portable.SOPs)
	}
	packed := 0
	for _, l := range p.Plan {
		if l.Packed {
			packed++
		}
	}
	if packed == 0 {
		t.Fatalf("the packed engine packed no layer: %+v", p.Plan)
	}
	if p.Accuracy != f.Accuracy || math.Abs(p.Loss-f.Loss) > 1e-4*math.Abs(f.Loss) {
		t.Fatalf("packed engine: accuracy %v, loss %v; float engine: accuracy %v, loss %v", p.Accuracy, p.Loss, f.Accuracy, f.Loss)
	}
	if len(p.LIF) != len(f.LIF) || len(p.LIF) == 0 {
		t.Fatalf("%d LIF layers, float engine %d", len(p.LIF), len(f.LIF))
	}
	for i := range p.LIF {
		if math.Abs(p.LIF[i].Rate-f.LIF[i].Rate) > 1e-4 {
			t.Fatalf("LIF %s fires at %v, float engine %v", p.LIF[i].Node, p.LIF[i].Rate, f.LIF[i].Rate)
		}
	}
	t.Logf("accuracy %.4f, loss %.6f (float %.6f), SOPs %.0f (float %.0f)", p.Accuracy, p.Loss, f.Loss, p.SOPs, f.SOPs)
}
