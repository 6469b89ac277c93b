package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Slice and Pad (constant mode). Both fold at compile time on constants
// and are strided copies at run time (see copyPlan), with gradients that
// are the reverse copies.

// sliceKernel extracts a strided window of its input.
type sliceKernel struct {
	in, out       []int
	starts, steps []int
	fwd, bwd      *copyPlan
}

func (k *sliceKernel) Name() string {
	return fmt.Sprintf("Slice(starts=%v,steps=%v)%v->%v", k.starts, k.steps, k.in, k.out)
}
func (k *sliceKernel) OutShape() []int { return k.out }
func (k *sliceKernel) Forward(out []float32, in ...[]float32) error {
	copyStrided(k.fwd, out, in[0])
	return nil
}
func (k *sliceKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *sliceKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&sliceGradKernel{f: k, plan: k.bwd}, grad)
	return G.Nodes{g}, err
}

// sliceGradKernel: input dY; output dX (zero outside the window).
type sliceGradKernel struct {
	f    *sliceKernel
	plan *copyPlan
}

func (k *sliceGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *sliceGradKernel) OutShape() []int { return k.f.in }
func (k *sliceGradKernel) Forward(out []float32, in ...[]float32) error {
	clear(out)
	copyStrided(k.plan, out, in[0])
	return nil
}

// sliceRange resolves one axis of Slice per ONNX (numpy) rules: negative
// starts and ends count from the end, then they are clamped to the axis
// ([0, dim] for positive steps, [0, dim-1] and [-1, dim-1] for negative
// ones). It returns the first index and the element count.
func sliceRange(start, end, step int64, dim int) (int, int) {
	d := int64(dim)
	// A step longer than the axis takes at most one element: clamping it
	// keeps the arithmetic below from overflowing.
	lim := max(d, 1)
	step = min(max(step, -lim), lim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	var count int64
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
		if end > start {
			count = (end-start-1)/step + 1
		}
	} else {
		start = min(max(start, 0), d-1)
		end = min(max(end, -1), d-1)
		if start > end {
			count = (start-end-1)/(-step) + 1
		}
	}
	return int(start), int(count)
}

// sliceArgs reads starts, ends, axes and steps: attributes before opset
// 10, constant inputs from opset 10.
func sliceArgs(b *Builder, n *onnx.Node, in []*Value) (starts, ends, axes, steps []int64, err error) {
	if b.Opset(n) < 10 {
		starts, ends, axes = n.Ints("starts", nil), n.Ints("ends", nil), n.Ints("axes", nil)
	} else {
		get := func(i int, what string) ([]int64, error) {
			if i >= len(in) || in[i] == nil {
				return nil, nil
			}
			t, err := needConst(in[i], "Slice "+what)
			if err != nil {
				return nil, err
			}
			return t.Ints(), nil
		}
		if starts, err = get(1, "starts"); err != nil {
			return
		}
		if ends, err = get(2, "ends"); err != nil {
			return
		}
		if axes, err = get(3, "axes"); err != nil {
			return
		}
		if steps, err = get(4, "steps"); err != nil {
			return
		}
	}
	if len(starts) != len(ends) {
		err = fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
		return
	}
	if axes == nil {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		err = fmt.Errorf("starts, ends, axes, steps have lengths %d, %d, %d, %d", len(starts), len(ends), len(axes), len(steps))
	}
	return
}

func buildSlice(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x := in[0]
	r := len(x.Shape)
	starts, ends, axes, steps, err := sliceArgs(b, n, in)
	if err != nil {
		return nil, err
	}
	first := make([]int, r)
	step := make([]int, r)
	out := append([]int(nil), x.Shape...)
	for i := range step {
		step[i] = 1
	}
	seen := make([]bool, r)
	for i, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d repeated in %v", ax, axes)
		}
		seen[ax] = true
		if steps[i] == 0 {
			return nil, fmt.Errorf("step 0 on axis %d", ax)
		}
		first[ax], out[ax] = sliceRange(starts[i], ends[i], steps[i], x.Shape[ax])
		// A step longer than the axis takes at most one element; clamp it
		// so that strides cannot overflow.
		lim := int64(max(x.Shape[ax], 1))
		step[ax] = int(min(max(steps[i], -lim), lim))
	}
	inSt := rowStrides(x.Shape)
	ss := make([]int, r)
	base := 0
	for i := range ss {
		ss[i] = inSt[i] * step[i]
		base += first[i] * inSt[i]
	}
	plan := newCopyPlan(out, rowStrides(out), ss, 0, base)
	if x.Node != nil && prod(out) == 0 {
		// An empty result carries no data (and Gorgonia cannot run
		// zero-sized tensors): a constant.
		return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Float, Dims: dims64(out), Float32: []float32{}})}, nil
	}
	if x.Node == nil {
		return []*Value{ConstValue(constCopy(x.Const, out, plan, 0))}, nil
	}
	k := &sliceKernel{in: x.Shape, out: out, starts: first, steps: step, fwd: plan, bwd: plan.swapped()}
	v, err := b.Apply(k, x)
	return []*Value{v}, err
}

// padKernel pads (or, with negative pads, crops) its input with a
// constant.
type padKernel struct {
	in, out  []int
	pads     []int
	value    float32
	fwd, bwd *copyPlan
	fill     bool // the output has padding to fill
	cropped  bool // some input elements are cropped away
}

func (k *padKernel) Name() string {
	return fmt.Sprintf("Pad(%v,value=%g)%v->%v", k.pads, k.value, k.in, k.out)
}
func (k *padKernel) OutShape() []int { return k.out }
func (k *padKernel) Forward(out []float32, in ...[]float32) error {
	if k.fill {
		for i := range out {
			out[i] = k.value
		}
	}
	copyStrided(k.fwd, out, in[0])
	return nil
}
func (k *padKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *padKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&padGradKernel{f: k, plan: k.bwd}, grad)
	return G.Nodes{g}, err
}

// padGradKernel: input dY; output dX, the unpadded part of dY.
type padGradKernel struct {
	f    *padKernel
	plan *copyPlan
}

func (k *padGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *padGradKernel) OutShape() []int { return k.f.in }
func (k *padGradKernel) Forward(out []float32, in ...[]float32) error {
	if k.f.cropped {
		clear(out)
	}
	copyStrided(k.plan, out, in[0])
	return nil
}

func padModeCheck(n *onnx.Node) string {
	if m := n.String("mode", "constant"); m != "constant" {
		return fmt.Sprintf("Pad mode %q is not supported (only constant)", m)
	}
	return ""
}

func buildPad(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x := in[0]
	r := len(x.Shape)
	var pads []int64
	var value float64
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if b.Opset(n) < 11 {
		pads = n.Ints("pads", nil)
		value = float64(n.Float("value", 0))
	} else {
		t, err := needConst(in[1], "Pad pads")
		if err != nil {
			return nil, err
		}
		pads = t.Ints()
		if len(in) > 2 && in[2] != nil {
			c, err := needConst(in[2], "Pad constant_value")
			if err != nil {
				return nil, err
			}
			if c.Len() != 1 {
				return nil, fmt.Errorf("constant_value has %d values, want 1", c.Len())
			}
			if c.Int64 != nil {
				value = float64(c.Int64[0])
			} else {
				value = float64(c.Floats()[0])
			}
		}
		if len(in) > 3 && in[3] != nil {
			t, err := needConst(in[3], "Pad axes")
			if err != nil {
				return nil, err
			}
			axes = axes[:0]
			seen := make([]bool, r)
			for _, a := range t.Ints() {
				ax, err := normAxis(a, r)
				if err != nil {
					return nil, err
				}
				if seen[ax] {
					return nil, fmt.Errorf("axis %d repeated in %v", ax, t.Ints())
				}
				seen[ax] = true
				axes = append(axes, ax)
			}
		}
	}
	if len(pads) != 2*len(axes) {
		return nil, fmt.Errorf("pads %v: want %d values (begin and end for %d axes)", pads, 2*len(axes), len(axes))
	}
	begin, end := make([]int, r), make([]int, r)
	for i, a := range axes {
		begin[a], end[a] = int(pads[i]), int(pads[len(axes)+i])
	}
	out := make([]int, r)
	region := make([]int, r)
	inSt := rowStrides(x.Shape)
	var outSt []int
	fill, cropped := false, false
	for i, d := range x.Shape {
		out[i] = d + begin[i] + end[i]
		if out[i] < 0 {
			return nil, fmt.Errorf("pads %v leave axis %d of size %d negative", pads, i, d)
		}
		fill = fill || begin[i] > 0 || end[i] > 0
		cropped = cropped || begin[i] < 0 || end[i] < 0
		region[i] = max(0, d-max(0, -begin[i])-max(0, -end[i]))
	}
	if prod(region) == 0 {
		fill = true
	}
	outSt = rowStrides(out)
	dbase, sbase := 0, 0
	for i := range out {
		dbase += max(0, begin[i]) * outSt[i]
		sbase += max(0, -begin[i]) * inSt[i]
	}
	plan := newCopyPlan(region, outSt, inSt, dbase, sbase)
	if x.Node != nil && prod(out) == 0 {
		return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Float, Dims: dims64(out), Float32: []float32{}})}, nil
	}
	if x.Node == nil {
		return []*Value{ConstValue(constCopy(x.Const, out, plan, value))}, nil
	}
	pd := make([]int, 0, 2*r)
	pd = append(append(pd, begin...), end...)
	k := &padKernel{in: x.Shape, out: out, pads: pd, value: float32(value), fwd: plan, bwd: plan.swapped(),
		fill: fill, cropped: cropped}
	v, err := b.Apply(k, x)
	return []*Value{v}, err
}

func init() {
	Register(&Spec{OpType: "Slice", Since: 1, Until: 9, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{{Name: "starts", Type: AttrInts, Required: true}, {Name: "ends", Type: AttrInts, Required: true},
			{Name: "axes", Type: AttrInts, Doc: "default: the first len(starts) axes"}},
		Build: buildSlice, Doc: "strided window (attributes)"})
	Register(&Spec{OpType: "Slice", Since: 10, MinInputs: 3, MaxInputs: 5, MinOutputs: 1, MaxOutputs: 1,
		Build: buildSlice, Doc: "strided window (constant starts/ends/axes/steps inputs, any nonzero step)"})
	mode := AttrSpec{Name: "mode", Type: AttrString, Default: "constant", Supported: padModeCheck}
	Register(&Spec{OpType: "Pad", Since: 2, Until: 10, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{mode, {Name: "pads", Type: AttrInts, Required: true}, {Name: "value", Type: AttrFloat, Default: float32(0)}},
		Build: buildPad, Doc: "constant padding (negative pads crop)"})
	Register(&Spec{OpType: "Pad", Since: 11, MinInputs: 2, MaxInputs: 4, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{mode}, Build: buildPad, Doc: "constant padding (constant pads/constant_value/axes inputs; negative pads crop)"})
}
