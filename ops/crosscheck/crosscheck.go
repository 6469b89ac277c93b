// Package crosscheck runs a float ONNX model in our engine (package ops)
// and in an independent reference — onnx-go's gorgonnx backend or
// onnxruntime — and compares their outputs. Tests use it to cross-check
// the engine, and `bsnnctl import` uses it to verify a model before
// converting it. A NaN or an infinity in either engine's outputs is a
// disagreement, never an agreement.
//
//	ours, err := crosscheck.RunOurs(m, probe) // our engine, weights read in place
//	m = nil                                   // the references need only ours
//	r := ours.OnnxGo()                        // or ours.ORT(path)
//
// RunBesideOnnxGo runs onnx-go at the same time as our engine, on another
// core (Check does).
//
// onnx-go (v0.5.0, archived) supports fewer ops and features than ours: no
// dynamic dimensions, no opset-13 Squeeze/Unsqueeze, no Clip, Pad or
// AveragePool, and it panics on some inputs. It is handed a serialized
// copy of the model with concrete input shapes, its panics are recovered,
// and a model it cannot run is reported as Report.ReferenceErr instead of
// failing.
package crosscheck

import (
	"context"
	"fmt"
	"math"
	"runtime"

	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/bsnnctl/bsnnctl/internal/ort"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// References an engine can be checked against (Report.Reference).
const (
	OnnxGo      = "onnx-go"
	Onnxruntime = "onnxruntime"
)

// A Report compares the engine with a reference on one input.
type Report struct {
	// Ours holds our engine's outputs.
	Ours []*onnx.Tensor
	// Reference names the reference engine (OnnxGo or Onnxruntime).
	Reference string
	// ReferenceErr is why the reference could not run the model (nil if it
	// did); for onnxruntime it wraps ort.ErrUnavailable when the library is
	// not there.
	ReferenceErr error
	// MaxRelDiff is max|ours - ref| / max|ref| over all outputs (when the
	// reference ran); +Inf when NonFinite.
	MaxRelDiff float64
	// NonFinite: an output of either engine holds a NaN or an infinity.
	NonFinite bool
}

// Compared reports whether the reference ran, so that the outputs were
// compared.
func (r *Report) Compared() bool { return r.ReferenceErr == nil }

// Agrees reports whether the reference ran and agreed within tol, with
// finite outputs on both sides.
func (r *Report) Agrees(tol float64) bool { return r.Compared() && !r.NonFinite && r.MaxRelDiff <= tol }

// Ours is our engine's run of a model on one input, with what the
// references need to check it. Until OnnxGo ran it holds the model: onnx-go
// runs it one piece at a time (see refGraph), so that it holds little
// beside it; onnxruntime reads the model's file itself.
type Ours struct {
	// Input is the input the model ran on, Outputs our engine's outputs.
	Input   *onnx.Tensor
	Outputs []*onnx.Tensor

	inputName   string
	outputNames []string
	ref         *refGraph
	onnxGo      *onnxGoRun // begun by RunBesideOnnxGo
}

// An onnxGoRun is onnx-go's run of a model in a goroutine of its own.
type onnxGoRun struct {
	cancel context.CancelFunc
	done   chan onnxGoResult // receives once
}

// onnxGoResult is what onnx-go's run of the whole model returned.
type onnxGoResult struct {
	outputs [][]float32
	err     error
}

// What run prepares besides our engine's run.
type refMode int

const (
	noRefs      refMode = iota // our engine only
	prepareRefs                // the references' checks, run later
	startOnnxGo                // onnx-go's run, begun beside ours
)

// Run runs m (a float model with one input) on input in our engine only.
func Run(m *onnx.Model, input *onnx.Tensor) ([]*onnx.Tensor, error) {
	o, err := run(m, input, noRefs)
	if err != nil {
		return nil, err
	}
	return o.Outputs, nil
}

// RunOurs runs m on input in our engine and prepares the references'
// checks. An error means our engine failed.
func RunOurs(m *onnx.Model, input *onnx.Tensor) (*Ours, error) { return run(m, input, prepareRefs) }

// RunBesideOnnxGo runs m on input in our engine while onnx-go runs it on the
// same input in another goroutine; OnnxGo waits for onnx-go's run and
// compares, Close stops it. The two runs share nothing but the model's
// weights, which both only read; run one after the other they leave a core
// idle for much of onnx-go's run, of which only the matrix products use
// more than one. An error means our engine failed; onnx-go's run is then
// stopped.
func RunBesideOnnxGo(m *onnx.Model, input *onnx.Tensor) (*Ours, error) {
	return run(m, input, startOnnxGo)
}

// run runs m in our engine with every initializer frozen, so that the
// weights are read in place from m, never copied (a forward run trains
// nothing); with refs it also prepares the references' pieces, from the
// shapes and values the builder computed, and may start onnx-go's run.
func run(m *onnx.Model, input *onnx.Tensor, refs refMode) (o *Ours, err error) {
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("model has %d inputs; crosscheck handles one", len(g.Inputs))
	}
	frozen := make(map[string]bool, len(g.Initializers))
	for name := range g.Initializers {
		frozen[name] = true
	}
	o = &Ours{Input: input, inputName: g.Inputs[0].Name}
	for _, out := range g.Outputs {
		o.outputNames = append(o.outputNames, out.Name)
	}
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{o.inputName: input.Shape()}, Frozen: frozen})
	if err != nil {
		return nil, err
	}
	p, err := b.Compile(nil)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if refs != noRefs {
		if o.ref, err = newRefGraph(m, b); err != nil {
			return nil, err
		}
	}
	if refs == startOnnxGo {
		o.startOnnxGo()
		defer func() {
			if err != nil {
				o.Close()
			}
		}()
	}
	if err := p.SetInput(o.inputName, input.Floats()); err != nil {
		return nil, err
	}
	if err := p.Run(); err != nil {
		return nil, err
	}
	for i := range b.Outputs {
		o.Outputs = append(o.Outputs, p.Output(i))
	}
	return o, nil
}

// Check runs m on input in our engine and in onnx-go and compares them. An
// error means our engine failed; onnx-go's failures go to ReferenceErr.
func Check(m *onnx.Model, input *onnx.Tensor) (*Report, error) {
	o, err := RunBesideOnnxGo(m, input)
	if err != nil {
		return nil, err
	}
	return o.OnnxGo(), nil
}

// OnnxGo compares our outputs with onnx-go's gorgonnx backend's on the same
// input; onnx-go's failures go to ReferenceErr. It runs once: Ours holds
// the model no more afterwards.
func (o *Ours) OnnxGo() *Report {
	r := &Report{Ours: o.Outputs, Reference: OnnxGo}
	var ref [][]float32
	var err error
	switch {
	case o.onnxGo != nil:
		res := <-o.onnxGo.done
		o.onnxGo.cancel()
		ref, err = res.outputs, res.err
	case o.ref != nil:
		ref, err = o.ref.run(context.Background(), o.Input, o.inputName, o.outputNames)
	default:
		r.ReferenceErr = fmt.Errorf("onnx-go already ran or was stopped")
		return r
	}
	o.ref, o.onnxGo = nil, nil
	if err != nil {
		r.ReferenceErr = err
		return r
	}
	r.compare(ref)
	return r
}

// startOnnxGo begins onnx-go's run of o.ref in a goroutine.
func (o *Ours) startOnnxGo() {
	ctx, cancel := context.WithCancel(context.Background())
	run := &onnxGoRun{cancel: cancel, done: make(chan onnxGoResult, 1)}
	go func(ref *refGraph) {
		out, err := ref.run(ctx, o.Input, o.inputName, o.outputNames)
		run.done <- onnxGoResult{out, err}
	}(o.ref)
	o.onnxGo = run
}

// Close stops onnx-go's run begun by RunBesideOnnxGo, between two pieces,
// and waits for it; OnnxGo then reports it as not run. It is for a caller
// that no longer wants the comparison: OnnxGo needs no Close.
func (o *Ours) Close() {
	if o.onnxGo != nil {
		o.onnxGo.cancel()
		<-o.onnxGo.done
	}
	o.ref, o.onnxGo = nil, nil
}

// ORT compares our outputs with onnxruntime's on the model file at path
// (the file of the model RunOurs ran), which onnxruntime reads itself, in
// a session holding as little memory as it can (ort.SessionOptions
// LowMemory): the caller can drop its own copy of the model meanwhile.
// onnxruntime's failures, its absence included, go to ReferenceErr.
func (o *Ours) ORT(path string) *Report {
	r := &Report{Ours: o.Outputs, Reference: Onnxruntime}
	ref, err := runORT(path, o.Input, o.inputName, o.outputNames)
	if err != nil {
		r.ReferenceErr = err
		return r
	}
	r.compare(ref)
	return r
}

func runORT(path string, input *onnx.Tensor, inputName string, outputs []string) ([][]float32, error) {
	s, err := ort.NewSessionFile(path, []string{inputName}, outputs, ort.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1, LowMemory: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	c, err := s.Prepare(map[string]ort.Tensor{inputName: {Shape: input.Dims, Float: input.Floats()}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Run(); err != nil {
		return nil, err
	}
	res, err := c.Outputs()
	if err != nil {
		return nil, err
	}
	ref := make([][]float32, len(res))
	for i, t := range res {
		if t.Float == nil && t.NumElements() != 0 {
			return nil, fmt.Errorf("onnxruntime output %q is not float32", outputs[i])
		}
		ref[i] = t.Float
	}
	return ref, nil
}

// compare fills MaxRelDiff and NonFinite from the reference's outputs ref,
// or ReferenceErr when they do not line up with ours.
func (r *Report) compare(ref [][]float32) {
	if len(ref) != len(r.Ours) {
		r.ReferenceErr = fmt.Errorf("%s returned %d outputs, the model has %d", r.Reference, len(ref), len(r.Ours))
		return
	}
	for i := range r.Ours {
		a, b := r.Ours[i].Floats(), ref[i]
		if len(a) != len(b) {
			r.ReferenceErr = fmt.Errorf("%s output %d has %d values, ours %d", r.Reference, i, len(b), len(a))
			return
		}
		var num, den float64
		for j := range a {
			x, y := float64(a[j]), float64(b[j])
			if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
				r.NonFinite = true
				continue
			}
			num = math.Max(num, math.Abs(x-y))
			den = math.Max(den, math.Abs(y))
		}
		r.MaxRelDiff = math.Max(r.MaxRelDiff, num/math.Max(den, 1e-12))
	}
	if r.NonFinite {
		r.MaxRelDiff = math.Inf(1)
	}
}

// runOnnxGo runs one piece in onnx-go.
func runOnnxGo(data []byte, in []*onnx.Tensor) (out []*onnx.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("onnx-go panicked: %v", r)
		}
	}()
	backend := gorgonnx.NewGraph()
	model := onnxgo.NewModel(backend)
	if err := model.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("onnx-go cannot decode the model: %w", err)
	}
	for i, t := range in {
		v := tensor.New(tensor.WithShape(t.Shape()...), tensor.WithBacking(append([]float32(nil), t.Floats()...)))
		if err := model.SetInput(i, v); err != nil {
			return nil, fmt.Errorf("onnx-go: %w", err)
		}
	}
	eg, err := backend.GetExprGraph()
	if err != nil {
		return nil, fmt.Errorf("onnx-go cannot run the model: %w", err)
	}
	// Gorgonia's tape machine carries a finalizer (releasing CUDA state),
	// which would keep the piece's every value alive through one more
	// garbage collection after the run: close the machine here and drop
	// the finalizer, so that a piece's memory is free for the next.
	vm := gorgonia.NewTapeMachine(eg)
	defer func() {
		vm.Close()
		runtime.SetFinalizer(vm, nil)
	}()
	backend.SetVM(vm)
	if err := backend.Run(); err != nil {
		return nil, fmt.Errorf("onnx-go cannot run the model: %w", err)
	}
	ts, err := model.GetOutputTensors()
	if err != nil {
		return nil, fmt.Errorf("onnx-go: %w", err)
	}
	for _, t := range ts {
		d, ok := t.Data().([]float32)
		if !ok {
			if f, ok := t.Data().(float32); ok {
				d = []float32{f}
			} else {
				return nil, fmt.Errorf("onnx-go output of type %T", t.Data())
			}
		}
		// The output's memory is the piece's own: nothing reuses it once
		// the machine is closed.
		out = append(out, &onnx.Tensor{Type: onnx.Float, Dims: shape64(t.Shape()), Float32: d})
	}
	return out, nil
}
