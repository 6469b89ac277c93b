package nirbsnn

import (
	"fmt"
	"slices"

	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// constInts reads an integer constant input (a shape, axes).
func (e *exporter) constInts(name string) ([]int64, error) {
	t := e.constant(name)
	if t == nil {
		return nil, fmt.Errorf("input %q is not a constant", name)
	}
	return t.Ints(), nil
}

// axes reads a node's axes: the attribute (older opsets) or the second
// input.
func (e *exporter) axes(n *onnx.Node) ([]int64, error) {
	if axes := n.Ints("axes", nil); axes != nil || n.Input(1) == "" {
		return axes, nil
	}
	return e.constInts(n.Input(1))
}

// encoder passes the direct encoding's repetition of the input over time
// (Concat of T copies, or Unsqueeze -> Expand) through: NIR presents the
// input at every step itself.
func (e *exporter) encoder(n *onnx.Node) error {
	x, err := e.signal(n.Input(0))
	if err != nil {
		return err
	}
	out := x.view()
	switch n.OpType {
	case "Concat":
		for _, in := range n.Inputs {
			if in != n.Input(0) {
				return fmt.Errorf("joins different tensors; only the repetition of the input over time is read")
			}
		}
		if n.Int("axis", 0) != 0 || x.lead != 1 {
			return fmt.Errorf("only the repetition of the input along axis 0 is read")
		}
	case "Unsqueeze":
		axes, err := e.axes(n)
		if err != nil {
			return err
		}
		if !slices.Equal(axes, []int64{0}) {
			return fmt.Errorf("axes %v; only a new leading time axis is read", axes)
		}
		out.lead++
	case "Expand":
		shape, err := e.constInts(n.Input(1))
		if err != nil {
			return err
		}
		if len(shape) != x.lead+len(x.feat) {
			return fmt.Errorf("to shape %v changes the rank", shape)
		}
		for i, d := range shape[x.lead:] {
			if d != 1 && d != x.feat[i] {
				return fmt.Errorf("to shape %v repeats features; only repetition over time is read", shape)
			}
		}
	}
	e.sigs[n.Outputs[0]] = out
	return nil
}

// decoder reads the mean over time that makes the model output.
func (e *exporter) decoder(n *onnx.Node) error {
	x, err := e.signal(n.Input(0))
	if err != nil {
		return err
	}
	axes, err := e.axes(n)
	if err != nil {
		return err
	}
	if x.lead != 2 || !slices.Equal(axes, []int64{0}) || n.Int("keepdims", 1) != 0 {
		return fmt.Errorf("only the mean over the time axis of a [T, N, ...] tensor (the output decoding) is read")
	}
	out := x.view()
	out.lead, out.decoded = 1, true
	e.sigs[n.Outputs[0]] = out
	return nil
}

// reshape reads Reshape and Flatten: a change of the leading axes
// ([T*N, ...] to [T, N, ...] and back) is no node in NIR; merging feature
// axes is NIR's Flatten.
func (e *exporter) reshape(n *onnx.Node) error {
	x, err := e.signal(n.Input(0))
	if err != nil {
		return err
	}
	lead := x.lead
	var target []int64
	if n.OpType == "Flatten" {
		if axis := n.Int("axis", 1); axis != int64(x.lead) {
			return fmt.Errorf("axis %d; only flattening all features (axis %d) is read", axis, x.lead)
		}
		target = []int64{prod(x.feat)}
	} else {
		s, err := e.constInts(n.Input(1))
		if err != nil {
			return err
		}
		if lead, target, err = splitReshape(x, s, int64(e.info.TimeSteps)); err != nil {
			return err
		}
	}
	out := x.view()
	out.lead = lead
	if slices.Equal(target, x.feat) {
		e.sigs[n.Outputs[0]] = out
		return nil
	}
	start, end, ok := mergedRange(x.feat, target)
	if !ok || lead != x.lead {
		return fmt.Errorf("reshapes per-sample shape %v to %v; NIR's Flatten only merges adjacent axes", x.feat, target)
	}
	name := e.fresh(n.Label())
	e.add(name, &nir.Flatten{InputType: slices.Clone(x.feat), StartDim: start, EndDim: end}, x.srcs)
	out.srcs, out.feat = []string{name}, target
	e.sigs[n.Outputs[0]] = out
	return nil
}

// splitReshape splits a Reshape target s into leading axes (1: [T*N, ...],
// 2: [T, N, ...]) and the per-sample shape; a 0 copies the input's
// dimension, a -1 in the per-sample part takes what the others leave.
func splitReshape(x *signal, s []int64, T int64) (int, []int64, error) {
	resolve := func(k int) ([]int64, bool) {
		if len(s) <= k {
			return nil, false
		}
		tail := slices.Clone(s[k:])
		free := -1
		known := int64(1)
		for i, d := range tail {
			switch {
			case d == 0 && k+i >= x.lead && k+i-x.lead < len(x.feat):
				tail[i] = x.feat[k+i-x.lead]
			case d == -1 && free < 0:
				free = i
				continue
			case d < 1:
				return nil, false
			}
			known *= tail[i]
		}
		if free >= 0 {
			if known == 0 || prod(x.feat)%known != 0 {
				return nil, false
			}
			tail[free] = prod(x.feat) / known
		}
		return tail, prod(tail) == prod(x.feat)
	}
	leadOK := func(k int) bool {
		if k == 2 {
			return s[0] == T || (s[0] == 0 && x.lead == 2)
		}
		return true
	}
	for _, k := range []int{1, 2} {
		if t, ok := resolve(k); ok && leadOK(k) && slices.Equal(t, x.feat) {
			return k, t, nil
		}
	}
	if t, ok := resolve(x.lead); ok && leadOK(x.lead) {
		return x.lead, t, nil
	}
	return 0, nil, fmt.Errorf("reshape to %v of per-sample shape %v: neither a change of the time/batch axes nor a flatten", s, x.feat)
}

// mergedRange finds the axes start..end of in that out merges into one
// (end = -1 when they run to the last axis, as NIR's exporters write it).
func mergedRange(in, out []int64) (start, end int64, ok bool) {
	r := len(in) - len(out) + 1
	if r < 1 {
		return 0, 0, false
	}
	for i := range out {
		if slices.Equal(in[:i], out[:i]) && slices.Equal(in[i+r:], out[i+1:]) && prod(in[i:i+r]) == out[i] {
			end := int64(i + r - 1)
			if int(end) == len(in)-1 {
				end = -1
			}
			return int64(i), end, true
		}
	}
	return 0, 0, false
}

func prod(s []int64) int64 {
	p := int64(1)
	for _, d := range s {
		p *= d
	}
	return p
}

// window reads a 2-D pooling window; global pools cover the whole input.
func window(n *onnx.Node, feat []int64) (k, s, p [2]int64, err error) {
	if len(feat) != 3 {
		return k, s, p, fmt.Errorf("pooling of per-sample shape %v; NIR pools 2-D [C, H, W] inputs", feat)
	}
	if n.OpType == "GlobalAveragePool" || n.OpType == "GlobalMaxPool" {
		k = [2]int64{feat[1], feat[2]}
		return k, k, p, nil
	}
	ks := n.Ints("kernel_shape", nil)
	st := n.Ints("strides", []int64{1, 1})
	pd := n.Ints("pads", []int64{0, 0, 0, 0})
	dl := n.Ints("dilations", []int64{1, 1})
	switch ap := n.String("auto_pad", "NOTSET"); ap {
	case "NOTSET":
	case "VALID":
		pd = []int64{0, 0, 0, 0}
	default:
		return k, s, p, fmt.Errorf("auto_pad %s is not written out (NIR pads both sides equally)", ap)
	}
	switch {
	case len(ks) != 2 || len(st) != 2 || len(pd) != 4 || len(dl) != 2:
		return k, s, p, fmt.Errorf("kernel %v, strides %v, pads %v: not a 2-D window", ks, st, pd)
	case pd[0] != pd[2] || pd[1] != pd[3]:
		return k, s, p, fmt.Errorf("asymmetric padding %v; NIR pads both sides of an axis equally", pd)
	case dl[0] != 1 || dl[1] != 1:
		return k, s, p, fmt.Errorf("dilations %v; NIR's pooling has none", dl)
	case n.Int("ceil_mode", 0) != 0:
		return k, s, p, fmt.Errorf("ceil_mode 1; NIR's pooling rounds the output size down")
	}
	return [2]int64{ks[0], ks[1]}, [2]int64{st[0], st[1]}, [2]int64{pd[0], pd[1]}, nil
}

// maxPool writes a max pooling of spikes: the window's sum (SumPool2d) into
// an IF neuron with threshold 0.5 and dt·r = 1, whose membrane is the count
// at every step (it starts at 0 and every spike resets it to 0), so it
// fires exactly when some input in the window spiked: the maximum of 0/1
// values.
func (e *exporter) maxPool(n *onnx.Node) error {
	x, err := e.signal(n.Input(0))
	if err != nil {
		return err
	}
	if !x.spikes {
		return fmt.Errorf("max pooling of values other than spikes has no NIR equivalent (of spikes it is a sum pooling into an IF neuron)")
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" && len(e.g.Consumers(n.Outputs[1])) > 0 {
		return fmt.Errorf("the indices output is used")
	}
	k, s, p, err := window(n, x.feat)
	if err != nil {
		return err
	}
	var meta nir.Metadata
	meta.Set(MetaOp, "MaxPool")
	sum := &nir.SumPool2d{KernelSize: k, Stride: s, Padding: p, Metadata: meta}
	feat, err := nir.OutputShape(sum, x.feat)
	if err != nil {
		return err
	}
	sname := e.fresh(n.Label() + ".sum")
	e.add(sname, sum, x.srcs)
	shape := ints(feat)
	or := &nir.IF{R: nir.Full(shape, 1/e.opts.DT), VThreshold: nir.Full(shape, 0.5), VReset: nir.Full(shape, 0), Metadata: meta}
	name := e.fresh(n.Label())
	e.add(name, or, []string{sname})
	e.sigs[n.Outputs[0]] = &signal{srcs: []string{name}, feat: feat, lead: 1, spikes: true}
	return nil
}

func (e *exporter) avgPool(n *onnx.Node) error {
	x, err := e.signal(n.Input(0))
	if err != nil {
		return err
	}
	k, s, p, err := window(n, x.feat)
	if err != nil {
		return err
	}
	if (p[0] != 0 || p[1] != 0) && n.Int("count_include_pad", 0) == 0 {
		return fmt.Errorf("padding left out of the average (count_include_pad 0); NIR's AvgPool2d counts it, as PyTorch does by default")
	}
	pool := &nir.AvgPool2d{KernelSize: k, Stride: s, Padding: p}
	feat, err := nir.OutputShape(pool, x.feat)
	if err != nil {
		return err
	}
	name := e.fresh(n.Label())
	e.add(name, pool, x.srcs)
	e.sigs[n.Outputs[0]] = &signal{srcs: []string{name}, feat: feat, lead: 1}
	return nil
}
