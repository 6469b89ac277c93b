// Package runcmp compares two fine-tuning runs (RUNDIRs of bsnnctl
// finetune) for the tests that check that a data-parallel run, or a resumed
// one, is the same training run as one uninterrupted process: the loss of
// every step line of metrics.jsonl and the float tensors of the final
// model.
package runcmp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Tol is the tolerance the tests use: relative difference of each step's
// loss, and relative L2 difference ‖a−b‖/‖b‖ of each final tensor.
const Tol = 1e-5

// StepLosses returns the loss of every step line of RUNDIR/metrics.jsonl.
func StepLosses(dir string) ([]float64, error) {
	path := filepath.Join(dir, "metrics.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		var l struct {
			Kind string   `json:"kind"`
			Loss *float64 `json:"loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if l.Kind == "step" && l.Loss != nil {
			out = append(out, *l.Loss)
		}
	}
	return out, sc.Err()
}

// Runs compares the run in got with the reference run in want: the losses
// of their step lines and the float initializers of their final.onnx, each
// within tol. Tensors listed in skip are not compared. It returns every
// difference found, and an error when a file cannot be read.
func Runs(got, want string, tol float64, skip map[string]bool) ([]string, error) {
	a, err := StepLosses(got)
	if err != nil {
		return nil, err
	}
	b, err := StepLosses(want)
	if err != nil {
		return nil, err
	}
	var diffs []string
	if len(a) != len(b) || len(b) == 0 {
		return append(diffs, fmt.Sprintf("%d step lines, the reference has %d", len(a), len(b))), nil
	}
	for i := range a {
		if d := math.Abs(a[i]-b[i]) / math.Abs(b[i]); !(d <= tol) {
			diffs = append(diffs, fmt.Sprintf("step line %d: loss %v, reference %v (relative difference %.2g)", i+1, a[i], b[i], d))
		}
	}
	ma, err := onnx.DecodeFile(filepath.Join(got, "final.onnx"))
	if err != nil {
		return nil, err
	}
	mb, err := onnx.DecodeFile(filepath.Join(want, "final.onnx"))
	if err != nil {
		return nil, err
	}
	return append(diffs, Weights(ma, mb, tol, skip)...), nil
}

// Check fails t with every difference between the run in got and the
// reference run in want (Runs, within Tol), leaving out the tensors of
// model that only rounding noise moves (GradientFree).
func Check(t testing.TB, got, want string, model *onnx.Model) {
	t.Helper()
	skip, err := GradientFree(model)
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := Runs(got, want, Tol, skip)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

// Weights compares the float initializers of got and want: the relative L2
// difference of each must be at most tol.
func Weights(got, want *onnx.Model, tol float64, skip map[string]bool) []string {
	var diffs []string
	n := 0
	for _, ini := range want.Proto.GetGraph().GetInitializer() {
		name := ini.GetName()
		wt, err := want.Initializer(name)
		if err != nil || wt.Type != onnx.Float || skip[name] {
			continue
		}
		gt, err := got.Initializer(name)
		if err != nil || gt.Type != onnx.Float || len(gt.Floats()) != len(wt.Floats()) {
			diffs = append(diffs, fmt.Sprintf("%q is missing or of another type or size", name))
			continue
		}
		n++
		if d := RelL2(gt.Floats(), wt.Floats()); !(d <= tol) {
			diffs = append(diffs, fmt.Sprintf("%q differs by %.2g (relative L2)", name, d))
		}
	}
	if n == 0 {
		diffs = append(diffs, "no float initializer to compare")
	}
	return diffs
}

// RelL2 is ‖a−b‖₂ / ‖b‖₂ (‖a−b‖₂ when b is zero).
func RelL2(a, b []float32) float64 {
	var d, s float64
	for i := range b {
		x := float64(a[i]) - float64(b[i])
		d += x * x
		s += float64(b[i]) * float64(b[i])
	}
	if s == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / s)
}

// GradientFree lists the tensors whose training is driven by rounding
// noise alone: the bias of a Conv or Gemm whose output only a
// BatchNormalization reads (in training mode BatchNormalization subtracts
// the batch mean, so the bias's gradient is zero but for rounding), and
// that BatchNormalization's running mean, which follows the bias. SGD
// leaves such a bias about where it is; Adam divides its noise by its own
// size and moves it by about the learning rate every step, differently in
// runs that add the same numbers in another order (several ranks against
// one process), so such tensors are not comparable between those runs.
func GradientFree(m *onnx.Model) (map[string]bool, error) {
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range g.Nodes {
		if (n.OpType != "Conv" && n.OpType != "Gemm") || len(n.Inputs) < 3 || !g.IsInitializer(n.Inputs[2]) {
			continue
		}
		cs := g.Consumers(n.Outputs[0])
		if len(cs) != 1 || cs[0].OpType != "BatchNormalization" || cs[0].Inputs[0] != n.Outputs[0] {
			continue
		}
		out[n.Inputs[2]] = true
		if len(cs[0].Inputs) > 3 {
			out[cs[0].Inputs[3]] = true
		}
	}
	return out, nil
}
