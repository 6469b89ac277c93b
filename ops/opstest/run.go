package opstest

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// An Instance is a case compiled by the engine for given input values:
// forward only, or with the case's weighted-sum loss and its gradients
// (with respect to the parameters and, through Options.InputGrads, the
// graph inputs).
type Instance struct {
	Case   *Case
	Values Values
	Model  *onnx.Model
	B      *ops.Builder
	P      *ops.Program
	// Weights are the loss weights, one slice per case output (nil for
	// absent and NoLoss outputs); set for forward-only instances too, so
	// that the loss can be evaluated from the outputs.
	Weights [][]float64
	// outIdx maps case output i to the builder's output index (-1 if
	// absent).
	outIdx []int
}

// Build compiles the case for the values in (nil: c.Values()). With
// withLoss the program also computes the gradients of
// sum_o sum_i Weights[o][i]*out_o[i] (built with ops.Builder.WeightedSum).
func (c *Case) Build(in Values, withLoss bool) (x *Instance, err error) {
	defer protect(&err, c.Label()+": build")
	if in == nil {
		if in, err = c.Values(); err != nil {
			return nil, err
		}
	}
	m, err := c.Model(in)
	if err != nil {
		return nil, err
	}
	opts := c.Options
	opts.InputGrads = withLoss
	opts.Frozen = map[string]bool{}
	for k, v := range c.Options.Frozen {
		opts.Frozen[k] = v
	}
	for _, x := range c.Inputs {
		if x.Frozen {
			opts.Frozen[x.Name] = true
		}
	}
	b, err := ops.NewBuilder(m, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: build: %w", c.Label(), err)
	}
	if err := checkRunnable(b); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Label(), err)
	}
	x = &Instance{Case: c, Values: in, Model: m, B: b}
	j := 0
	var sizes []int
	for _, o := range c.Outputs {
		if o.Absent {
			x.outIdx = append(x.outIdx, -1)
			sizes = append(sizes, 0)
			continue
		}
		if j >= len(b.Outputs) {
			return nil, fmt.Errorf("%s: the builder has %d outputs, the case %d", c.Label(), len(b.Outputs), j+1)
		}
		x.outIdx = append(x.outIdx, j)
		sizes = append(sizes, b.Outputs[j].Len())
		j++
	}
	x.Weights = c.weights(sizes)
	var loss *G.Node
	if withLoss {
		for i, w := range x.Weights {
			if w == nil {
				continue
			}
			v := b.Outputs[x.outIdx[i]]
			if v.Node == nil {
				continue // a compile-time constant: nothing to differentiate
			}
			w32 := make([]float32, len(w))
			for k, f := range w {
				w32[k] = float32(f)
			}
			l, err := b.WeightedSum(v, w32)
			if err != nil {
				return nil, fmt.Errorf("%s: loss on output %q: %w", c.Label(), c.Outputs[i].Name, err)
			}
			if loss == nil {
				loss = l
			} else if loss, err = G.Add(loss, l); err != nil {
				return nil, fmt.Errorf("%s: loss: %w", c.Label(), err)
			}
		}
	}
	p, err := b.Compile(loss)
	if err != nil {
		return nil, fmt.Errorf("%s: compile: %w", c.Label(), err)
	}
	x.P = p
	if err := x.SetValues(in); err != nil {
		p.Close()
		return nil, err
	}
	return x, nil
}

// Close releases the program.
func (x *Instance) Close() { x.P.Close() }

// Output returns the builder's value of case output i (nil if absent).
func (x *Instance) Output(i int) *ops.Value {
	if x.outIdx[i] < 0 {
		return nil
	}
	return x.B.Outputs[x.outIdx[i]]
}

// SetValues loads values into the graph inputs and the parameters (values
// of other inputs, compile-time constants, are ignored).
func (x *Instance) SetValues(in Values) (err error) {
	defer protect(&err, x.Case.Label()+": set values")
	for _, v := range x.B.Inputs {
		d, ok := in[v.Name]
		if !ok {
			return fmt.Errorf("%s: no value for graph input %q", x.Case.Label(), v.Name)
		}
		if err := x.P.SetInput(v.Name, d); err != nil {
			return err
		}
	}
	for _, p := range x.B.Params {
		d, ok := in[p.Name]
		if !ok {
			continue
		}
		dst := p.Data()
		if len(dst) != len(d) {
			return fmt.Errorf("%s: parameter %q has %d values, got %d", x.Case.Label(), p.Name, len(dst), len(d))
		}
		copy(dst, d)
	}
	return nil
}

// Run runs the program once and returns a copy of every case output (nil
// for absent ones).
func (x *Instance) Run() (outs [][]float32, err error) {
	defer protect(&err, x.Case.Label()+": run")
	if err := x.P.Run(); err != nil {
		return nil, fmt.Errorf("%s: run: %w", x.Case.Label(), err)
	}
	outs = make([][]float32, len(x.Case.Outputs))
	for i := range outs {
		if v := x.Output(i); v != nil {
			outs[i] = append([]float32(nil), ops.ValueData(v)...)
		}
	}
	return outs, nil
}

// Loss evaluates the weighted-sum loss from outputs, accumulating in
// float64.
func (x *Instance) Loss(outs [][]float32) float64 {
	var s float64
	for i, w := range x.Weights {
		for j, v := range w {
			s += v * float64(outs[i][j])
		}
	}
	return s
}

// Diff lists the inputs the gradient is taken with respect to: graph
// inputs (float) and parameters, in the case's input order.
func (x *Instance) Diff() []string {
	set := map[string]bool{}
	for _, v := range x.B.Inputs {
		set[v.Name] = true
	}
	for _, p := range x.B.Params {
		set[p.Name] = true
	}
	var names []string
	for _, in := range x.Case.Inputs {
		if set[in.Name] {
			names = append(names, in.Name)
			delete(set, in.Name)
		}
	}
	for _, v := range x.B.Inputs { // inputs of few-node models not among the case's (none today)
		if set[v.Name] {
			names = append(names, v.Name)
		}
	}
	for _, p := range x.B.Params {
		if set[p.Name] {
			names = append(names, p.Name)
		}
	}
	return names
}

// Gradients returns copies of the analytic gradients after Run (a nil
// slice for an input the loss does not depend on).
func (x *Instance) Gradients() map[string][]float32 {
	out := map[string][]float32{}
	for _, v := range x.B.Inputs {
		out[v.Name] = append([]float32(nil), x.P.InputGrad(v.Name)...)
		if x.P.InputGrad(v.Name) == nil {
			out[v.Name] = nil
		}
	}
	for _, p := range x.B.Params {
		g := x.P.Grad(p)
		if g == nil {
			out[p.Name] = nil
			continue
		}
		out[p.Name] = append([]float32(nil), g...)
	}
	return out
}

// gradNodeShape returns the runtime shape of the gradient node of input
// name, or nil if there is none.
func (x *Instance) gradNodeShape(name string) ([]int, bool) {
	for _, p := range x.B.Params {
		if p.Name == name {
			n, ok := x.P.Grads[p]
			if !ok || n.Value() == nil {
				return nil, false
			}
			return valueShape(n.Value()), true
		}
	}
	return nil, false
}

// valueShape returns the shape of a runtime value ([] for a scalar).
func valueShape(v G.Value) []int {
	switch t := v.(type) {
	case *tensor.Dense:
		if t.Shape().IsScalar() {
			return []int{}
		}
		return append([]int{}, t.Shape()...)
	case G.Scalar:
		return []int{}
	}
	return append([]int{}, v.Shape()...)
}

// fd computes central finite differences of the loss with respect to the
// elements idx of input name, on a forward-only instance: x_j is set to
// float32(x_j+eps) and float32(x_j-eps), and the difference quotient uses
// the actual float64 distance between the two, with the loss accumulated
// in float64.
func (x *Instance) fd(name string, idx []int, eps float64) (_ []float64, err error) {
	defer protect(&err, x.Case.Label()+": finite differences")
	var data []float32
	var set func() error
	for _, v := range x.B.Inputs {
		if v.Name == name {
			data = append([]float32(nil), x.Values[name]...)
			set = func() error { return x.P.SetInput(name, data) }
		}
	}
	for _, p := range x.B.Params {
		if p.Name == name {
			data = p.Data()
			set = func() error { return nil }
		}
	}
	if set == nil {
		return nil, fmt.Errorf("%s: %q is neither a graph input nor a parameter", x.Case.Label(), name)
	}
	out := make([]float64, len(idx))
	for k, j := range idx {
		orig := data[j]
		xp, xm := float32(float64(orig)+eps), float32(float64(orig)-eps)
		data[j] = xp
		if err := set(); err != nil {
			return nil, err
		}
		op, err := x.Run()
		if err != nil {
			return nil, err
		}
		data[j] = xm
		if err := set(); err != nil {
			return nil, err
		}
		om, err := x.Run()
		if err != nil {
			return nil, err
		}
		data[j] = orig
		out[k] = (x.Loss(op) - x.Loss(om)) / (float64(xp) - float64(xm))
	}
	if err := set(); err != nil {
		return nil, err
	}
	return out, nil
}

// FiniteDiff returns the central finite-difference gradient (every
// element, step eps; 0 means GradCheck.Eps or 1e-2) of the case's loss with
// weights w with respect to each differentiable input, for input values
// in. References of gradient-only ops use it on a sibling case (AGMMGate
// grad_only's backward is exactly the forward mode's gradient).
func (c *Case) FiniteDiff(in Values, w [][]float64, eps float64) (map[string][]float64, error) {
	if eps == 0 {
		eps = c.gradEps()
	}
	x, err := c.Build(in, false)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	if w != nil {
		x.Weights = w
	}
	out := map[string][]float64{}
	for _, name := range x.Diff() {
		n := len(in[name])
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		d, err := x.fd(name, idx, eps)
		if err != nil {
			return nil, err
		}
		out[name] = d
	}
	return out, nil
}

func (c *Case) gradEps() float64 {
	if c.Grad.Eps > 0 {
		return c.Grad.Eps
	}
	return 1e-2
}

// checkRunnable refuses graphs the engine cannot run without crashing the
// process: a zero-sized runtime tensor makes gorgonia's TapeMachine panic
// in a goroutine of its own (RunAll), where no caller can recover it.
func checkRunnable(b *ops.Builder) error {
	for _, n := range b.G.AllNodes() {
		for _, d := range n.Shape() {
			if d == 0 {
				return fmt.Errorf("runtime tensor %q has shape %v: the engine cannot run zero-sized tensors "+
					"(gorgonia's TapeMachine panics in its own goroutine and kills the process); not run", n.Name(), n.Shape())
			}
		}
	}
	return nil
}

// protect turns a panic of the engine into an error: a contract failure
// of the case, not a crash of the suite (the project's rule is that no
// panic escapes a package API).
func protect(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: engine panicked: %v", what, r)
	}
}

// sameBits reports whether two float32 slices are bit-identical (NaNs with
// the same payload are equal).
func sameBits(a, b []float32) (int, bool) {
	if len(a) != len(b) {
		return -1, false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i, false
		}
	}
	return 0, true
}
