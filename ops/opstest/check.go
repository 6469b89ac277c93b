package opstest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Shapes checks static shape inference: for every output, the builder's
// static shape (ops.Value.Shape) equals the length and the runtime shape of
// the tensor the program computes, and the case's expected shape when
// given; for every input the loss is differentiated with respect to, the
// gradient has the input's size (and, for parameters, shape).
func Shapes(c *Case) (err error) {
	defer protect(&err, "shapes")
	if c.Rejected() {
		return nil
	}
	x, err := c.Build(nil, false)
	if err != nil {
		return err
	}
	defer x.Close()
	outs, err := x.Run()
	if err != nil {
		return err
	}
	var errs []error
	present := 0
	for i, o := range c.Outputs {
		v := x.Output(i)
		if v == nil {
			continue
		}
		present++
		if o.Shape != nil && !slices.Equal(v.Shape, o.Shape) {
			errs = append(errs, fmt.Errorf("output %q: static shape %v, want %v", o.Name, v.Shape, o.Shape))
		}
		if len(outs[i]) != static.Prod(v.Shape) {
			errs = append(errs, fmt.Errorf("output %q: static shape %v (%d elements) but %d values computed",
				o.Name, v.Shape, static.Prod(v.Shape), len(outs[i])))
		}
		if v.Node != nil && v.Node.Value() != nil {
			if rs := valueShape(v.Node.Value()); !slices.Equal(rs, v.Shape) {
				errs = append(errs, fmt.Errorf("output %q: static shape %v but the runtime tensor is %v", o.Name, v.Shape, rs))
			}
		}
		if v.Const != nil && v.Node == nil && !slices.Equal(v.Const.Shape(), v.Shape) {
			errs = append(errs, fmt.Errorf("output %q: static shape %v but the constant is %v", o.Name, v.Shape, v.Const.Shape()))
		}
	}
	if present != len(x.B.Outputs) {
		errs = append(errs, fmt.Errorf("the builder has %d outputs, the case %d", len(x.B.Outputs), present))
	}
	if c.Grad.Skip != "" {
		return errors.Join(errs...)
	}
	xl, err := c.Build(x.Values, true)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	defer xl.Close()
	if _, err := xl.Run(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	grads := xl.Gradients()
	for _, name := range xl.Diff() {
		g := grads[name]
		if g == nil {
			continue
		}
		if want := len(x.Values[name]); len(g) != want {
			errs = append(errs, fmt.Errorf("gradient of %q has %d values, the input %d", name, len(g), want))
		}
		if rs, ok := xl.gradNodeShape(name); ok {
			if want := inputShape(c, name); !slices.Equal(rs, want) {
				errs = append(errs, fmt.Errorf("gradient of parameter %q has shape %v, the parameter %v", name, rs, want))
			}
		}
	}
	return errors.Join(errs...)
}

func inputShape(c *Case, name string) []int {
	for _, in := range c.Inputs {
		if in.Name == name {
			if in.Shape == nil {
				return []int{}
			}
			return in.Shape
		}
	}
	return nil
}

// Deterministic checks that the compiled programs are pure functions of
// their inputs: the same program run repeatedly (repeatRuns times) gives
// bit-identical outputs and gradients, also after a run on other inputs in
// between (no state leaks from one run into the next through reused
// buffers), and the forward-only and the training program compute
// identical outputs. Outputs marked Stateful are skipped.
func Deterministic(c *Case) (err error) {
	defer protect(&err, "determinism")
	if c.Rejected() {
		return nil
	}
	in, err := c.Values()
	if err != nil {
		return err
	}
	other := c.Draw(1)
	if c.Accept != nil {
		for try := 1; try < 100 && !c.Accept(other); try++ {
			other = c.Draw(try + 1)
		}
	}
	var errs []error
	type result struct {
		outs  [][]float32
		grads map[string][]float32
	}
	run := func(x *Instance, what string) *result {
		outs, err := x.Run()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			return nil
		}
		return &result{outs, x.Gradients()}
	}
	compare := func(a, b *result, what string) {
		if a == nil || b == nil {
			return
		}
		for i, o := range c.Outputs {
			if o.Stateful || a.outs[i] == nil {
				continue
			}
			if j, ok := sameBits(a.outs[i], b.outs[i]); !ok {
				errs = append(errs, fmt.Errorf("%s: output %q differs at %d: %v vs %v (%d of %d elements differ)",
					what, o.Name, j, at(a.outs[i], j), at(b.outs[i], j), countDiff(a.outs[i], b.outs[i]), len(a.outs[i])))
			}
		}
		for _, name := range sortedKeys(a.grads) {
			g := a.grads[name]
			if j, ok := sameBits(g, b.grads[name]); !ok {
				errs = append(errs, fmt.Errorf("%s: gradient of %q differs at %d: %v vs %v (%d of %d elements differ)",
					what, name, j, at(g, j), at(b.grads[name], j), countDiff(g, b.grads[name]), len(g)))
			}
		}
	}
	for _, withLoss := range []bool{false, true} {
		if withLoss && c.Grad.Skip != "" {
			continue
		}
		kind := "forward program"
		if withLoss {
			kind = "training program"
		}
		x, err := c.Build(in, withLoss)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r1 := run(x, kind+" run 1")
		// Several repetitions: a reduction whose order depends on thread
		// scheduling differs on some runs only.
		for k := 2; k <= repeatRuns; k++ {
			rk := run(x, fmt.Sprintf("%s run %d", kind, k))
			n := len(errs)
			compare(r1, rk, fmt.Sprintf("%s: run %d vs run 1", kind, k))
			if len(errs) > n {
				break
			}
		}
		if err := x.SetValues(other); err != nil {
			errs = append(errs, err)
		} else {
			run(x, kind+" on other inputs")
			if err := x.SetValues(in); err != nil {
				errs = append(errs, err)
			} else {
				r3 := run(x, kind+" after other inputs")
				compare(r1, r3, kind+": run after a run on other inputs vs run 1")
			}
		}
		x.Close()
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Forward-only vs training program.
	xf, err := c.Build(in, false)
	if err != nil {
		return err
	}
	defer xf.Close()
	rf := run(xf, "forward program")
	if c.Grad.Skip == "" {
		xt, err := c.Build(in, true)
		if err != nil {
			return err
		}
		defer xt.Close()
		rt := run(xt, "training program")
		if rf != nil && rt != nil {
			rt.grads, rf.grads = nil, nil
			compare(rf, rt, "training program vs forward program")
		}
	}
	return errors.Join(errs...)
}

// repeatRuns is how many times Deterministic runs each program on the
// same inputs.
const repeatRuns = 6

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func countDiff(a, b []float32) int {
	if len(a) != len(b) {
		return max(len(a), len(b))
	}
	n := 0
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			n++
		}
	}
	return n
}

func at(s []float32, i int) any {
	if i < 0 || i >= len(s) {
		return fmt.Sprintf("<%d values>", len(s))
	}
	return s[i]
}

// InputReport is the gradient check of one input.
type InputReport struct {
	Name string
	// Method is "finite differences" or "reference" (closed form).
	Method string
	// Checked is how many elements were compared, of Size.
	Checked, Size int
	// MaxAbs is the largest |analytic - reference|; Worst is the largest
	// ratio |a-r| / (Atol + Rtol*|r|) (passing needs <= 1), at element At
	// with analytic value A and reference R.
	MaxAbs, Worst float64
	At            int
	A, R          float64
	// NoGradient is set when the engine gives no gradient and none is
	// expected (the reference is zero).
	NoGradient bool
	Err        error
}

func (r InputReport) String() string {
	if r.NoGradient {
		return fmt.Sprintf("%s: no gradient (%s: all zero over %d/%d elements)", r.Name, r.Method, r.Checked, r.Size)
	}
	s := fmt.Sprintf("%s: %s over %d/%d elements, max |a-r| %.3g, worst ratio %.3g at %d (a=%.6g r=%.6g)",
		r.Name, r.Method, r.Checked, r.Size, r.MaxAbs, r.Worst, r.At, r.A, r.R)
	if r.Err != nil {
		s += ": FAIL: " + r.Err.Error()
	}
	return s
}

// GradReport is the result of Gradients.
type GradReport struct {
	Case   string
	Inputs []InputReport
	Eps    float64
	Atol   float64
	Rtol   float64
}

// Gradients compares the engine's analytic gradients (ops.Program.Grad and
// InputGrad after one training run) of the case's random weighted-sum loss
// with central finite differences, or with GradCheck.Reference for the
// inputs it names. The error lists every input that fails.
func Gradients(c *Case) (rep *GradReport, err error) {
	defer protect(&err, "gradients")
	g := c.Grad
	rep = &GradReport{Case: c.Label(), Eps: c.gradEps(), Atol: g.Atol, Rtol: g.Rtol}
	if rep.Atol == 0 {
		rep.Atol = 2e-4
	}
	if rep.Rtol == 0 {
		rep.Rtol = 2e-3
	}
	if c.Rejected() {
		return rep, nil
	}
	in, err := c.Values()
	if err != nil {
		return rep, err
	}
	xa, err := c.Build(in, true)
	if err != nil {
		return rep, err
	}
	defer xa.Close()
	if _, err := xa.Run(); err != nil {
		return rep, err
	}
	analytic := xa.Gradients()
	if g.Skip != "" {
		var errs []error
		for name, d := range analytic {
			if d != nil {
				errs = append(errs, fmt.Errorf("the case says %q, yet the loss has a gradient with respect to %q", g.Skip, name))
			}
		}
		return rep, errors.Join(errs...)
	}
	diff := xa.Diff()
	if len(diff) == 0 {
		return rep, fmt.Errorf("no input to differentiate: give the case a float graph input or parameter, or set Grad.Skip")
	}
	var ref map[string][]float64
	if g.Reference != nil {
		if ref, err = g.Reference(in.Clone(), xa.Weights); err != nil {
			return rep, fmt.Errorf("reference: %w", err)
		}
		for name := range ref {
			if !slices.Contains(diff, name) {
				return rep, fmt.Errorf("the reference gives a gradient for %q, which is not a differentiable input (have %v)", name, diff)
			}
		}
	}
	for _, name := range g.NoFD {
		if _, ok := ref[name]; !ok {
			return rep, fmt.Errorf("input %q is marked NoFD but the reference gives no gradient for it", name)
		}
	}
	var xf *Instance
	var errs []error
	for _, name := range diff {
		n := len(in[name])
		r := InputReport{Name: name, Size: n}
		var want []float64
		var idx []int
		if rv, ok := ref[name]; ok {
			r.Method = "reference"
			if len(rv) != n {
				r.Err = fmt.Errorf("the reference has %d values, the input %d", len(rv), n)
				rep.Inputs = append(rep.Inputs, r)
				errs = append(errs, fmt.Errorf("%s", r))
				continue
			}
			want = rv
			idx = make([]int, n)
			for i := range idx {
				idx[i] = i
			}
		} else {
			r.Method = "finite differences"
			if xf == nil {
				if xf, err = c.Build(in, false); err != nil {
					return rep, err
				}
				defer xf.Close()
			}
			idx = sampleIdx(c, name, n, g.MaxElems)
			d, err := xf.fd(name, idx, rep.Eps)
			if err != nil {
				return rep, err
			}
			if g.Richardson {
				r.Method = "finite differences (Richardson)"
				dh, err := xf.fd(name, idx, rep.Eps/2)
				if err != nil {
					return rep, err
				}
				for k := range d {
					d[k] = (4*dh[k] - d[k]) / 3
				}
			}
			want = make([]float64, n)
			for k, j := range idx {
				want[j] = d[k]
			}
		}
		r.Checked = len(idx)
		a := analytic[name]
		if a == nil {
			var mx float64
			for _, j := range idx {
				mx = math.Max(mx, math.Abs(want[j]))
			}
			if mx <= rep.Atol {
				r.NoGradient = true
			} else {
				r.Err = fmt.Errorf("the engine gives no gradient but the %s reach %.3g", r.Method, mx)
				errs = append(errs, fmt.Errorf("%s", r))
			}
			rep.Inputs = append(rep.Inputs, r)
			continue
		}
		if len(a) != n {
			r.Err = fmt.Errorf("the analytic gradient has %d values, the input %d", len(a), n)
			rep.Inputs = append(rep.Inputs, r)
			errs = append(errs, fmt.Errorf("%s", r))
			continue
		}
		bad := 0
		for _, j := range idx {
			d := math.Abs(float64(a[j]) - want[j])
			ratio := d / (rep.Atol + rep.Rtol*math.Abs(want[j]))
			if math.IsNaN(d) {
				ratio = math.Inf(1)
			}
			r.MaxAbs = math.Max(r.MaxAbs, d)
			if ratio > r.Worst || (j == idx[0] && r.Worst == 0) {
				r.Worst, r.At, r.A, r.R = ratio, j, float64(a[j]), want[j]
			}
			if !(ratio <= 1) {
				bad++
			}
		}
		if bad > 0 {
			r.Err = fmt.Errorf("%d of %d elements outside |a-r| <= %g + %g*|r|", bad, len(idx), rep.Atol, rep.Rtol)
			errs = append(errs, fmt.Errorf("%s", r))
		}
		rep.Inputs = append(rep.Inputs, r)
	}
	return rep, errors.Join(errs...)
}

// sampleIdx returns the elements of an input the finite differences
// perturb: all of them, or a seeded sample of max of them.
func sampleIdx(c *Case, name string, n, max int) []int {
	if max <= 0 {
		max = 256
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if n <= max {
		return idx
	}
	r := c.rng(0, "fd-sample:"+name)
	r.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	idx = idx[:max]
	sort.Ints(idx)
	return idx
}

// ValuesMatch compares the outputs of one forward run with the case's
// reference forward pass Want (|a-b| <= tol + tol*|b|, or exactly when
// ValueTol < 0; tolerance 1e-5 when ValueTol is 0).
func ValuesMatch(c *Case) (err error) {
	defer protect(&err, "values")
	if c.Want == nil || c.Rejected() {
		return nil
	}
	in, err := c.Values()
	if err != nil {
		return err
	}
	x, err := c.Build(in, false)
	if err != nil {
		return err
	}
	defer x.Close()
	outs, err := x.Run()
	if err != nil {
		return err
	}
	want, err := c.Want(in.Clone())
	if err != nil {
		return fmt.Errorf("reference forward: %w", err)
	}
	tol := c.ValueTol
	if tol == 0 {
		tol = 1e-5
	}
	var errs []error
	for i, o := range c.Outputs {
		if i >= len(want) || want[i] == nil || outs[i] == nil {
			continue
		}
		if len(want[i]) != len(outs[i]) {
			errs = append(errs, fmt.Errorf("output %q: %d values, the reference %d", o.Name, len(outs[i]), len(want[i])))
			continue
		}
		bad, worst := 0, -1
		var worstD float64
		for j, b := range want[i] {
			a := float64(outs[i][j])
			d := math.Abs(a - b)
			ok := d <= tol+tol*math.Abs(b)
			if tol < 0 {
				ok = a == b
			}
			if math.IsNaN(a) && math.IsNaN(b) {
				ok = true
			}
			if !ok {
				bad++
				if worst < 0 || d > worstD {
					worst, worstD = j, d
				}
			}
		}
		if bad > 0 {
			errs = append(errs, fmt.Errorf("output %q: %d of %d values differ from the reference; worst at %d: %v vs %v",
				o.Name, bad, len(want[i]), worst, outs[i][worst], want[i][worst]))
		}
	}
	return errors.Join(errs...)
}

// Rejected reports whether the case is a rejection case (Rejects set).
func (c *Case) Rejected() bool { return c.Rejects != "" }

// Rejection checks a rejection case: the registry must refuse the model
// (ops.CheckModel) with a reason mentioning c.Rejects, so that unsupported
// attribute values are reported up front instead of computing something
// else.
func Rejection(c *Case) (err error) {
	defer protect(&err, "rejection")
	if !c.Rejected() {
		return nil
	}
	m, err := c.Model(nil)
	if err != nil {
		return err
	}
	err = ops.CheckModel(m)
	if err == nil {
		return fmt.Errorf("the registry accepts the model; want it rejected (%q)", c.Rejects)
	}
	if !strings.Contains(err.Error(), c.Rejects) {
		return fmt.Errorf("rejected for another reason: %v (want %q)", err, c.Rejects)
	}
	if _, err := ops.NewBuilder(m, c.Options); err == nil {
		return fmt.Errorf("CheckModel rejects the model but NewBuilder builds it")
	}
	return nil
}

// CheckShapes runs Shapes as a test.
func CheckShapes(t testing.TB, c *Case) {
	t.Helper()
	if err := Shapes(c); err != nil {
		t.Errorf("%s: shapes: %v", c.Label(), err)
	}
}

// CheckDeterministic runs Deterministic as a test.
func CheckDeterministic(t testing.TB, c *Case) {
	t.Helper()
	if err := Deterministic(c); err != nil {
		t.Errorf("%s: determinism: %v", c.Label(), err)
	}
}

// CheckGradients runs Gradients as a test, logging one line per input.
func CheckGradients(t testing.TB, c *Case) {
	t.Helper()
	rep, err := Gradients(c)
	if c.Grad.Skip != "" && err == nil {
		t.Logf("%s: no gradient check: %s", c.Label(), c.Grad.Skip)
		return
	}
	if rep != nil {
		for _, r := range rep.Inputs {
			t.Logf("%s: grad %s", c.Label(), r)
		}
	}
	if err != nil {
		t.Errorf("%s: gradients (eps %g, atol %g, rtol %g): %v", c.Label(), rep.Eps, rep.Atol, rep.Rtol, err)
	}
}

// CheckValues runs ValuesMatch as a test.
func CheckValues(t testing.TB, c *Case) {
	t.Helper()
	if err := ValuesMatch(c); err != nil {
		t.Errorf("%s: values: %v", c.Label(), err)
	}
}

// CheckCase runs every check of the contract on one case, as subtests:
// shapes, determinism, gradients and, when the case has a reference forward
// pass, values; a rejection case runs the rejection check only.
func CheckCase(t *testing.T, c *Case) {
	t.Helper()
	if c.Rejected() {
		if err := Rejection(c); err != nil {
			t.Errorf("%s: rejection: %v", c.Label(), err)
		}
		return
	}
	t.Run("shapes", func(t *testing.T) { CheckShapes(t, c) })
	t.Run("deterministic", func(t *testing.T) { CheckDeterministic(t, c) })
	t.Run("gradients", func(t *testing.T) { CheckGradients(t, c) })
	if c.Want != nil {
		t.Run("values", func(t *testing.T) { CheckValues(t, c) })
	}
}

// CheckOp runs the contract for one registry entry: each case must exercise
// spec (ops.Lookup of its domain, op type and opset gives spec), at least
// one of them must build a model (not only rejection cases), and every case
// passes CheckCase.
func CheckOp(t *testing.T, spec *ops.Spec, cases ...*Case) {
	t.Helper()
	built := 0
	for _, c := range cases {
		if !c.Covers(spec) {
			t.Errorf("case %s does not exercise %s", c.Label(), SpecLabel(spec))
			continue
		}
		if !c.Rejected() {
			built++
		}
		t.Run(c.Name, func(t *testing.T) { CheckCase(t, c) })
	}
	if built == 0 {
		t.Errorf("%s has no contract case that builds a model", SpecLabel(spec))
	}
}

// SpecLabel names a registry entry: "Domain::OpType[since-until]".
func SpecLabel(s *ops.Spec) string {
	op := s.OpType
	if s.Domain != "" {
		op = s.Domain + "::" + op
	}
	if s.Until == 0 {
		return fmt.Sprintf("%s[%d+]", op, s.Since)
	}
	return fmt.Sprintf("%s[%d-%d]", op, s.Since, s.Until)
}

// Coverage groups cases by the registry entry they exercise. Cases that
// exercise no entry (an op or opset the registry does not have) are
// returned in orphans, and entries with no case in missing.
func Coverage(specs []*ops.Spec, cases []*Case) (by map[*ops.Spec][]*Case, missing []*ops.Spec, orphans []*Case) {
	by = map[*ops.Spec][]*Case{}
	for _, c := range cases {
		s, err := c.Spec()
		if err != nil {
			orphans = append(orphans, c)
			continue
		}
		by[s] = append(by[s], c)
	}
	for _, s := range specs {
		if len(by[s]) == 0 {
			missing = append(missing, s)
		}
	}
	return by, missing, orphans
}

// CheckRegistry runs the contract over the whole registry: every entry of
// ops.Specs() must have at least one case (so that a new op cannot slip in
// untested), every case must exercise a registered entry, case labels must
// be unique, and each entry runs CheckOp with its cases as a subtest named
// by SpecLabel. It logs, per entry, the cases and the schema attributes no
// case sets.
func CheckRegistry(t *testing.T, cases []*Case) {
	t.Helper()
	specs := ops.Specs()
	by, missing, orphans := Coverage(specs, cases)
	for _, s := range missing {
		t.Errorf("registry entry %s has no contract case", SpecLabel(s))
	}
	for _, c := range orphans {
		_, err := c.Spec()
		t.Errorf("case %s exercises no registry entry: %v", c.Label(), err)
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.Label()] {
			t.Errorf("duplicate case %s", c.Label())
		}
		seen[c.Label()] = true
	}
	for _, s := range specs {
		cs := by[s]
		if len(cs) == 0 {
			continue
		}
		var names []string
		set := map[string]bool{}
		for _, c := range cs {
			names = append(names, c.Name)
			for _, a := range c.Attrs {
				set[a.GetName()] = true
			}
			for _, n := range c.Nodes {
				if n.OpType == s.OpType && sameDomain(n.Domain, s.Domain) {
					for _, a := range n.Attrs {
						set[a.GetName()] = true
					}
				}
			}
		}
		var unset []string
		for _, a := range s.Attrs {
			if !set[a.Name] {
				unset = append(unset, a.Name)
			}
		}
		line := fmt.Sprintf("coverage %s: %d cases %v", SpecLabel(s), len(cs), names)
		if len(unset) > 0 {
			line += fmt.Sprintf("; attributes no case sets: %v", unset)
		}
		t.Log(line)
		t.Run(strings.NewReplacer("::", ".", "[", "_", "]", "", "+", "up").Replace(SpecLabel(s)), func(t *testing.T) {
			CheckOp(t, s, cs...)
		})
	}
}
