package infer

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// eventFixture converts testmodels/events/dvsnet.onnx into an event-input
// BSNN of T steps and returns it with n synthetic N-MNIST samples,
// frame-major [T, n, 2, 34, 34] event counts.
func eventFixture(t *testing.T, agmm bool, T, n int) (*onnx.Model, *onnx.Tensor) {
	t.Helper()
	ann, err := onnx.DecodeFile(filepath.Join("..", "testmodels", "events", "dvsnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	o := convert.DefaultOptions()
	o.AGMM, o.TimeSteps, o.InputEncoding = agmm, T, bsnn.EncodingEvents
	res, err := convert.Convert(ann, o)
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := eventtest.NMNISTFrames(n, T, 7)
	if err != nil {
		t.Fatal(err)
	}
	return res.Model, &onnx.Tensor{Type: onnx.Float, Dims: []int64{int64(T), int64(n), 2, 34, 34}, Float32: x}
}

// TestEventInputMatchesFloatEngine: an event-input BSNN, input [T, N, 2,
// 34, 34] of event counts, runs its float first layer on the T*N frames
// and its binary layers packed; without gates every spike is the float
// engine's, bit for bit, and the outputs agree within 1e-5; with gates at
// least 99.99% of the spikes.
func TestEventInputMatchesFloatEngine(t *testing.T) {
	for _, T := range []int{1, 4} {
		m, x := eventFixture(t, false, T, 3)
		eachKernel(t, func(t *testing.T) {
			e := compareEngines(t, m, x, 1, 1e-5)
			if e.TimeSteps() != T {
				t.Errorf("T = %d, want %d", e.TimeSteps(), T)
			}
			if n := packedLayers(e.Plan()); n != 3 {
				t.Errorf("%d layers packed, want the 3 binary ones: %+v", n, e.Plan())
			}
			for _, l := range e.Plan() {
				if l.Fallback {
					t.Errorf("%s (%s) falls back: %s", l.Node, l.Op, l.Reason)
				}
			}
		})
	}
	m, x := eventFixture(t, true, 4, 3)
	compareEngines(t, m, x, 0.9999, 1e-4)
}

// TestEventInputShape: the samples of an event input are on axis 1.
func TestEventInputShape(t *testing.T) {
	m, x := eventFixture(t, false, 4, 2)
	e, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := e.InputShape(5); err != nil || !slices.Equal(s, []int{4, 5, 2, 34, 34}) {
		t.Errorf("InputShape(5) = %v, %v; want [4 5 2 34 34]", s, err)
	}
	if _, err := e.Run(x.Floats(), []int{2, 4, 2, 34, 34}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("an input with T and N swapped: %v", err)
	}
	// Probes count spikes per time step of the frames.
	pr := &Probes{NonZero: spikeValues(m)[:1]}
	if _, err := e.RunProbed(x.Floats(), x.Shape(), pr); err != nil {
		t.Fatal(err)
	}
	if c := pr.Counts[pr.NonZero[0]]; len(c) != 4 || c[0] == 0 {
		t.Errorf("spike counts per step %v", c)
	}
}

// TestEventInputStepForm: the step form of an event-input BSNN is refused
// like any step form (TestEveryProfileRunsTheSame runs the other
// profiles).
func TestEventInputStepForm(t *testing.T) {
	m, _ := eventFixture(t, true, 4, 3)
	step, err := export.Export(m, bsnn.ProfilePlain, export.Options{PlainForm: bsnn.PlainStep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(step, Options{}); !errors.Is(err, ErrStepForm) {
		t.Fatalf("Compile of the step form: %v, want ErrStepForm", err)
	}
}
