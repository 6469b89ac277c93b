package opstest_test

import (
	"fmt"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	ot "github.com/bsnnctl/bsnnctl/ops/opstest"
)

// Self-tests of the harness: ops registered in a test-only domain, correct
// and deliberately broken, show that each check passes what it should and
// catches what it must.

const selfDomain = "opstest.selftest"

// square is Y = X*X; its gradient kernel scales dY by factor*X (2 is
// right). badElem >= 0 breaks the gradient of that element only.
type square struct {
	shape   []int
	factor  float32
	badElem int
	// Defects of the forward pass.
	accumulate bool // adds into out instead of overwriting it
	counter    *float32
	outShape   []int // static shape reported to the builder (nil: shape)
}

func (k *square) Name() string    { return fmt.Sprintf("square%v", k.shape) }
func (k *square) OutShape() []int { return k.shape }
func (k *square) Forward(out []float32, in ...[]float32) error {
	for i, v := range in[0] {
		if k.accumulate {
			out[i] += v * v
		} else {
			out[i] = v * v
		}
	}
	if k.counter != nil {
		*k.counter++
		out[0] += *k.counter
	}
	return nil
}
func (k *square) DiffWRT(int) []bool { return []bool{true} }
func (k *square) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := ops.Apply(&squareGrad{f: k}, in[0], grad)
	return G.Nodes{g}, err
}

type squareGrad struct{ f *square }

func (k *squareGrad) Name() string    { return "d" + k.f.Name() }
func (k *squareGrad) OutShape() []int { return k.f.shape }
func (k *squareGrad) Forward(out []float32, in ...[]float32) error {
	for i, v := range in[0] {
		out[i] = k.f.factor * v * in[1][i]
		if i == k.f.badElem {
			out[i] *= 1.1
		}
	}
	return nil
}

func init() {
	reg := func(op string, mk func(shape []int) *square) {
		ops.Register(&ops.Spec{Domain: selfDomain, OpType: op, Since: 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
			Build: func(b *ops.Builder, n *onnx.Node, in []*ops.Value) ([]*ops.Value, error) {
				k := mk(in[0].Shape)
				v, err := b.Apply(k, in[0])
				if err != nil {
					return nil, err
				}
				if k.outShape != nil {
					v.Shape = k.outShape
				}
				return []*ops.Value{v}, nil
			}, Doc: "harness self-test"})
	}
	reg("Square", func(s []int) *square { return &square{shape: s, factor: 2, badElem: -1} })
	reg("SquareHalfGrad", func(s []int) *square { return &square{shape: s, factor: 1, badElem: -1} })
	reg("SquareOneBadElem", func(s []int) *square { return &square{shape: s, factor: 2, badElem: 5} })
	reg("SquareAccumulates", func(s []int) *square { return &square{shape: s, factor: 2, badElem: -1, accumulate: true} })
	reg("SquareCounts", func(s []int) *square { return &square{shape: s, factor: 2, badElem: -1, counter: new(float32)} })
	reg("SquareWrongShape", func(s []int) *square {
		return &square{shape: s, factor: 2, badElem: -1, outShape: append([]int{1}, s...)}
	})
}

func selfCase(op string) *ot.Case {
	return &ot.Case{Name: "self", Domain: selfDomain, OpType: op, Inputs: []ot.Input{{Name: "X", Shape: []int{3, 4}}},
		Outputs: []ot.Output{{Name: "Y", Shape: []int{3, 4}}},
		Want: func(v ot.Values) ([][]float64, error) {
			y := make([]float64, len(v["X"]))
			for i, x := range v["X"] {
				y[i] = float64(x * x)
			}
			return [][]float64{y}, nil
		}}
}

func mustFail(t *testing.T, what string, err error, contains string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: the check passed a broken op", what)
		return
	}
	if !strings.Contains(err.Error(), contains) {
		t.Errorf("%s: failed for another reason: %v (want %q)", what, err, contains)
	}
}

func TestHarnessPassesCorrectOp(t *testing.T) {
	c := selfCase("Square")
	if err := ot.Shapes(c); err != nil {
		t.Error(err)
	}
	if err := ot.Deterministic(c); err != nil {
		t.Error(err)
	}
	rep, err := ot.Gradients(c)
	if err != nil {
		t.Error(err)
	}
	if len(rep.Inputs) != 1 || rep.Inputs[0].Checked != 12 || rep.Inputs[0].Method != "finite differences" {
		t.Errorf("unexpected report %+v", rep.Inputs)
	}
	if err := ot.ValuesMatch(c); err != nil {
		t.Error(err)
	}
}

func TestHarnessCatchesWrongGradient(t *testing.T) {
	_, err := ot.Gradients(selfCase("SquareHalfGrad"))
	mustFail(t, "half gradient", err, "12 of 12 elements")
	rep, err := ot.Gradients(selfCase("SquareOneBadElem"))
	mustFail(t, "one bad element", err, "1 of 12 elements")
	if err != nil && rep.Inputs[0].At != 5 {
		t.Errorf("worst element reported at %d, want 5", rep.Inputs[0].At)
	}
}

func TestHarnessCatchesWrongReference(t *testing.T) {
	c := selfCase("Square")
	c.Grad.NoFD = []string{"X"}
	c.Grad.Reference = func(v ot.Values, w [][]float64) (map[string][]float64, error) {
		g := make([]float64, len(v["X"]))
		for i, x := range v["X"] {
			g[i] = 3 * float64(x) * w[0][i] // wrong on purpose
		}
		return map[string][]float64{"X": g}, nil
	}
	_, err := ot.Gradients(c)
	mustFail(t, "reference", err, "reference over")
	c.Grad.Reference = func(ot.Values, [][]float64) (map[string][]float64, error) { return map[string][]float64{}, nil }
	_, err = ot.Gradients(c)
	mustFail(t, "NoFD without reference", err, "NoFD")
}

func TestHarnessCatchesSkipWithGradient(t *testing.T) {
	c := selfCase("Square")
	c.Grad.Skip = "claims no gradient"
	_, err := ot.Gradients(c)
	mustFail(t, "skip", err, "yet the loss has a gradient")
}

func TestHarnessCatchesNondeterminism(t *testing.T) {
	mustFail(t, "accumulating forward", ot.Deterministic(selfCase("SquareAccumulates")), "differs")
	mustFail(t, "state across runs", ot.Deterministic(selfCase("SquareCounts")), "differs")
}

func TestHarnessCatchesWrongShape(t *testing.T) {
	mustFail(t, "static shape", ot.Shapes(selfCase("SquareWrongShape")), "static shape [1 3 4]")
	c := selfCase("Square")
	c.Outputs[0].Shape = []int{4, 3}
	mustFail(t, "expected shape", ot.Shapes(c), "want [4 3]")
}

func TestHarnessCatchesWrongValues(t *testing.T) {
	c := selfCase("Square")
	want := c.Want
	c.Want = func(v ot.Values) ([][]float64, error) {
		w, err := want(v)
		w[0][7] += 1e-3
		return w, err
	}
	mustFail(t, "values", ot.ValuesMatch(c), "1 of 12 values")
}

func TestHarnessRejection(t *testing.T) {
	c := selfCase("Square")
	c.Attrs = ot.AttrList(ot.Int("unknown_attr", 1))
	c.Rejects = "unknown_attr"
	if err := ot.Rejection(c); err != nil {
		t.Error(err)
	}
	c.Attrs = nil
	mustFail(t, "accepted model", ot.Rejection(c), "accepts the model")
}

func TestHarnessCoverage(t *testing.T) {
	var mine []*ops.Spec
	for _, s := range ops.Specs() {
		if s.Domain == selfDomain {
			mine = append(mine, s)
		}
	}
	cases := []*ot.Case{selfCase("Square"), {Name: "orphan", Domain: selfDomain, OpType: "NoSuchOp"}}
	by, missing, orphans := ot.Coverage(mine, cases)
	if len(by) != 1 || len(missing) != len(mine)-1 || len(orphans) != 1 {
		t.Errorf("coverage: %d covered, %d missing, %d orphans; want 1, %d, 1", len(by), len(missing), len(orphans), len(mine)-1)
	}
}
