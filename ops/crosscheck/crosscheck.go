// Package crosscheck runs a float ONNX model in our engine (package ops)
// and in an independent reference — onnx-go's gorgonnx backend (Check) or
// onnxruntime (CheckORT) — and compares their outputs. Tests use it to
// cross-check the engine, and `bsnnctl import` uses it to verify a model
// before converting it. A NaN or an infinity in either engine's outputs is
// a disagreement, never an agreement.
//
// onnx-go (v0.5.0, archived) supports fewer ops and features than ours: no
// dynamic dimensions, no opset-13 Squeeze/Unsqueeze, no Clip, Pad or
// AveragePool, and it panics on some inputs. Check hands it a copy of the
// model with concrete input shapes, recovers its panics, and reports a
// model it cannot run as Report.ReferenceErr instead of failing.
package crosscheck

import (
	"bytes"
	"fmt"
	"math"

	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"github.com/bsnnctl/bsnnctl/internal/ort"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
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

// Run runs m (a float model with one input) on input in our engine only.
func Run(m *onnx.Model, input *onnx.Tensor) ([]*onnx.Tensor, error) {
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("model has %d inputs; crosscheck handles one", len(g.Inputs))
	}
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{g.Inputs[0].Name: input.Shape()}})
	if err != nil {
		return nil, err
	}
	p, err := b.Compile(nil)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if err := p.SetInput(g.Inputs[0].Name, input.Floats()); err != nil {
		return nil, err
	}
	if err := p.Run(); err != nil {
		return nil, err
	}
	out := make([]*onnx.Tensor, len(b.Outputs))
	for i := range out {
		out[i] = p.Output(i)
	}
	return out, nil
}

// Check runs m on input in our engine and in onnx-go and compares them. An
// error means our engine failed; onnx-go's failures go to ReferenceErr.
func Check(m *onnx.Model, input *onnx.Tensor) (*Report, error) {
	ours, err := Run(m, input)
	if err != nil {
		return nil, err
	}
	r := &Report{Ours: ours, Reference: OnnxGo}
	ref, err := Reference(m, input)
	if err != nil {
		r.ReferenceErr = err
		return r, nil
	}
	r.compare(ref)
	return r, nil
}

// CheckORT compares our engine's outputs ours (from Run on the same input)
// with onnxruntime's on the model file at path (m is the decoded file).
// onnxruntime's failures, its absence included, go to ReferenceErr.
func CheckORT(path string, m *onnx.Model, input *onnx.Tensor, ours []*onnx.Tensor) *Report {
	r := &Report{Ours: ours, Reference: Onnxruntime}
	g, err := m.Graph()
	if err != nil {
		r.ReferenceErr = err
		return r
	}
	if len(g.Inputs) != 1 {
		r.ReferenceErr = fmt.Errorf("model has %d inputs; crosscheck handles one", len(g.Inputs))
		return r
	}
	var names []string
	for _, o := range g.Outputs {
		names = append(names, o.Name)
	}
	res, err := ort.Run(path, map[string]ort.Tensor{g.Inputs[0].Name: {Shape: input.Dims, Float: input.Floats()}}, names)
	if err != nil {
		r.ReferenceErr = err
		return r
	}
	ref := make([][]float32, len(names))
	for i, n := range names {
		if res[n].Float == nil && res[n].NumElements() != 0 {
			r.ReferenceErr = fmt.Errorf("onnxruntime output %q is not float32", n)
			return r
		}
		ref[i] = res[n].Float
	}
	r.compare(ref)
	return r
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

// Reference runs m on input in onnx-go's gorgonnx backend and returns its
// outputs as float32 slices.
func Reference(m *onnx.Model, input *onnx.Tensor) (out [][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("onnx-go panicked: %v", r)
		}
	}()
	data, err := staticCopy(m, input.Dims)
	if err != nil {
		return nil, err
	}
	backend := gorgonnx.NewGraph()
	model := onnxgo.NewModel(backend)
	if err := model.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("onnx-go cannot decode the model: %w", err)
	}
	in := tensor.New(tensor.WithShape(input.Shape()...), tensor.WithBacking(append([]float32(nil), input.Floats()...)))
	if err := model.SetInput(0, in); err != nil {
		return nil, fmt.Errorf("onnx-go: %w", err)
	}
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
		out = append(out, append([]float32(nil), d...))
	}
	return out, nil
}

// staticCopy returns m's serialization for onnx-go: the graph input's
// symbolic dimensions replaced by the concrete ones (onnx-go drops symbolic
// dims), and every shape computation (Shape -> Gather -> Unsqueeze ->
// Concat -> Reshape, as PyTorch exports x.view(x.size(0), -1)) replaced by
// its value, which our builder knows at compile time: onnx-go has no Shape
// op.
func staticCopy(m *onnx.Model, dims []int64) ([]byte, error) {
	c := m.Clone()
	g := c.Proto.Graph
	inits := map[string]bool{}
	for _, t := range g.Initializer {
		inits[t.GetName()] = true
	}
	var inName string
	for _, in := range g.Input {
		if inits[in.GetName()] {
			continue
		}
		tt := in.GetType().GetTensorType()
		if tt == nil || tt.Shape == nil || len(tt.Shape.Dim) != len(dims) {
			return nil, fmt.Errorf("graph input %q does not have rank %d", in.GetName(), len(dims))
		}
		for i, d := range tt.Shape.Dim {
			d.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: dims[i]}
		}
		inName = in.GetName()
		break
	}
	shape := make([]int, len(dims))
	for i, d := range dims {
		shape[i] = int(d)
	}
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{inName: shape}})
	if err != nil {
		return nil, err
	}
	for _, n := range g.Node {
		if n.GetOpType() != "Reshape" || len(n.Input) < 2 || inits[n.Input[1]] {
			continue
		}
		v := b.Value(n.Input[1])
		if v == nil || v.Const == nil {
			continue
		}
		name := n.Input[1] + "_static"
		g.Initializer = append(g.Initializer, onnx.Int64Tensor(name, []int64{int64(len(v.Const.Ints()))}, v.Const.Ints()))
		inits[name] = true
		n.Input[1] = name
	}
	removeDeadNodes(g)
	var buf bytes.Buffer
	if err := onnx.Encode(&buf, c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// removeDeadNodes drops nodes none of whose outputs is read.
func removeDeadNodes(g *onnxpb.GraphProto) {
	for {
		used := map[string]bool{}
		for _, o := range g.Output {
			used[o.GetName()] = true
		}
		for _, n := range g.Node {
			for _, in := range n.Input {
				used[in] = true
			}
		}
		kept := g.Node[:0]
		for _, n := range g.Node {
			live := false
			for _, o := range n.Output {
				if used[o] {
					live = true
				}
			}
			if live {
				kept = append(kept, n)
			}
		}
		if len(kept) == len(g.Node) {
			return
		}
		g.Node = kept
	}
}
