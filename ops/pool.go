package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// MaxPool, AveragePool (1-D and 2-D, on ops/kernels), GlobalAveragePool and
// GlobalMaxPool (any spatial rank).

// maxPoolKernel is MaxPool. Its gradient kernel shares the argmax buffer,
// which Forward fills once a gradient has been asked for (the forward runs
// before the backward within a step).
type maxPoolKernel struct {
	p      kernels.PoolParams
	in     []int
	out    []int
	argmax []int32
}

func (k *maxPoolKernel) Name() string {
	return fmt.Sprintf("MaxPool(%s)%v", poolDesc(k.p), k.in)
}
func (k *maxPoolKernel) OutShape() []int { return k.out }
func (k *maxPoolKernel) Forward(out []float32, in ...[]float32) error {
	kernels.MaxPoolForward(k.p, in[0], out, k.argmax)
	return nil
}
func (k *maxPoolKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *maxPoolKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if k.argmax == nil {
		k.argmax = make([]int32, static.Prod(k.out))
	}
	// The output is an input of the gradient only to order it after the
	// forward pass that fills argmax.
	g, err := Apply(&maxPoolGradKernel{f: k}, out, grad)
	return G.Nodes{g}, err
}

// maxPoolGradKernel: inputs Y (unused), dY; output dX.
type maxPoolGradKernel struct{ f *maxPoolKernel }

func (k *maxPoolGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *maxPoolGradKernel) OutShape() []int { return k.f.in }
func (k *maxPoolGradKernel) Forward(out []float32, in ...[]float32) error {
	kernels.MaxPoolBackward(k.f.p, in[1], k.f.argmax, out)
	return nil
}

// avgPoolKernel is AveragePool.
type avgPoolKernel struct {
	p          kernels.PoolParams
	includePad bool
	in, out    []int
}

func (k *avgPoolKernel) Name() string {
	return fmt.Sprintf("AveragePool(%s,includePad=%v)%v", poolDesc(k.p), k.includePad, k.in)
}
func (k *avgPoolKernel) OutShape() []int { return k.out }
func (k *avgPoolKernel) Forward(out []float32, in ...[]float32) error {
	kernels.AvgPoolForward(k.p, k.includePad, in[0], out)
	return nil
}
func (k *avgPoolKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *avgPoolKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&avgPoolGradKernel{f: k}, grad)
	return G.Nodes{g}, err
}

// avgPoolGradKernel: input dY; output dX.
type avgPoolGradKernel struct{ f *avgPoolKernel }

func (k *avgPoolGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *avgPoolGradKernel) OutShape() []int { return k.f.in }
func (k *avgPoolGradKernel) Forward(out []float32, in ...[]float32) error {
	kernels.AvgPoolBackward(k.f.p, k.f.includePad, in[0], out)
	return nil
}

func poolDesc(p kernels.PoolParams) string {
	return fmt.Sprintf("k=%dx%d,s=%d,%d,d=%d,%d,p=%d,%d,%d,%d,ceil=%v",
		p.KH, p.KW, p.StrideH, p.StrideW, p.DilH, p.DilW, p.PadTop, p.PadLeft, p.PadBottom, p.PadRight, p.CeilMode)
}

// poolParams resolves the attributes of MaxPool / AveragePool for input x.
func poolParams(op string, n *onnx.Node, x *Value) (kernels.PoolParams, []int, error) {
	var p kernels.PoolParams
	if _, err := spatialRank(op, x); err != nil {
		return p, nil, err
	}
	out, win, err := static.Pool(n, dims64(x.Shape))
	if err != nil {
		return p, nil, err
	}
	p.N, p.C = x.Shape[0], x.Shape[1]
	setWindow(&p.H, &p.W, x.Shape[2:], win, func(kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int) {
		p.KH, p.KW, p.StrideH, p.StrideW, p.DilH, p.DilW = kh, kw, sh, sw, dh, dw
		p.PadTop, p.PadLeft, p.PadBottom, p.PadRight = pt, pl, pb, pr
	})
	p.CeilMode = n.Int("ceil_mode", 0) != 0
	if err := p.Validate(); err != nil {
		return p, nil, err
	}
	if err := sameWindow(out, p.OutH(), p.OutW()); err != nil {
		return p, nil, err
	}
	return p, ints(out), nil
}

func buildMaxPool(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	p, out, err := poolParams("MaxPool", n, in[0])
	if err != nil {
		return nil, err
	}
	v, err := b.Apply(&maxPoolKernel{p: p, in: in[0].Shape, out: out}, in[0])
	return []*Value{v}, err
}

func buildAveragePool(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	p, out, err := poolParams("AveragePool", n, in[0])
	if err != nil {
		return nil, err
	}
	k := &avgPoolKernel{p: p, includePad: n.Int("count_include_pad", 0) != 0, in: in[0].Shape, out: out}
	v, err := b.Apply(k, in[0])
	return []*Value{v}, err
}

// globalPoolKernel is GlobalAveragePool or GlobalMaxPool over planes of s
// elements.
type globalPoolKernel struct {
	max     bool
	in, out []int
	planes  int
	s       int
	argmax  []int32 // GlobalMaxPool with a gradient
}

func (k *globalPoolKernel) Name() string {
	if k.max {
		return fmt.Sprintf("GlobalMaxPool%v", k.in)
	}
	return fmt.Sprintf("GlobalAveragePool%v", k.in)
}
func (k *globalPoolKernel) OutShape() []int { return k.out }

func (k *globalPoolKernel) Forward(out []float32, in ...[]float32) error {
	x, s := in[0], k.s
	if !k.max {
		inv := 1 / float64(s)
		for i := range out[:k.planes] {
			out[i] = float32(float64(sum32(x[i*s:(i+1)*s])) * inv)
		}
		return nil
	}
	for i := range out[:k.planes] {
		plane := x[i*s : (i+1)*s]
		best, at := plane[0], 0
		for j, v := range plane {
			if v > best || v != v && best == best {
				best, at = v, j
			}
		}
		out[i] = best
		if k.argmax != nil {
			k.argmax[i] = int32(at)
		}
	}
	return nil
}

func (k *globalPoolKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *globalPoolKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if k.max && k.argmax == nil {
		k.argmax = make([]int32, k.planes)
	}
	g, err := Apply(&globalPoolGradKernel{f: k}, out, grad)
	return G.Nodes{g}, err
}

// globalPoolGradKernel: inputs Y (ordering only), dY; output dX.
type globalPoolGradKernel struct{ f *globalPoolKernel }

func (k *globalPoolGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *globalPoolGradKernel) OutShape() []int { return k.f.in }
func (k *globalPoolGradKernel) Forward(out []float32, in ...[]float32) error {
	gy, s := in[1], k.f.s
	if k.f.max {
		clear(out)
		for i, a := range k.f.argmax[:k.f.planes] {
			out[i*s+int(a)] = gy[i]
		}
		return nil
	}
	inv := float32(1 / float64(s))
	for i, g := range gy[:k.f.planes] {
		v := g * inv
		row := out[i*s : (i+1)*s]
		for j := range row {
			row[j] = v
		}
	}
	return nil
}

// sum32 sums x with four float32 accumulators (float64 across them).
func sum32(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return float32(float64(s0) + float64(s1) + float64(s2) + float64(s3))
}

func buildGlobalPool(isMax bool) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		x := in[0]
		o, err := static.GlobalPool(dims64(x.Shape))
		if err != nil {
			return nil, err
		}
		out := ints(o)
		k := &globalPoolKernel{max: isMax, in: x.Shape, out: out, planes: x.Shape[0] * x.Shape[1], s: static.Prod(x.Shape[2:])}
		if k.s == 0 || k.planes == 0 {
			return nil, fmt.Errorf("empty input %v", x.Shape)
		}
		v, err := b.Apply(k, x)
		return []*Value{v}, err
	}
}

// maxPoolOutputsCheck rejects MaxPool's Indices output and accepts
// storage_order only when it does not matter (it only orders Indices).
func maxPoolOutputsCheck(n *onnx.Node) string {
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return "MaxPool's Indices output is not supported (the float engine has no int64 runtime tensors)"
	}
	if so := n.Int("storage_order", 0); so != 0 && so != 1 {
		return fmt.Sprintf("storage_order %d is invalid (0 or 1)", so)
	}
	return ""
}

func init() {
	common := func(op string) []AttrSpec {
		return []AttrSpec{
			{Name: "auto_pad", Type: AttrString, Default: "NOTSET", Supported: autoPadCheck},
			{Name: "ceil_mode", Type: AttrInt, Default: int64(0)},
			{Name: "dilations", Type: AttrInts, Doc: "default 1 per spatial axis"},
			{Name: "kernel_shape", Type: AttrInts, Required: true, Supported: spatialRankCheck(op)},
			{Name: "pads", Type: AttrInts, Doc: "[begin..., end...], default 0"},
			{Name: "strides", Type: AttrInts, Doc: "default 1 per spatial axis"},
		}
	}
	Register(&Spec{OpType: "MaxPool", Since: 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 2,
		Attrs: append(common("MaxPool"), AttrSpec{Name: "storage_order", Type: AttrInt, Default: int64(0),
			Supported: maxPoolOutputsCheck, Doc: "only orders the Indices output, which is not supported"}),
		Build: buildMaxPool, Doc: "1-D/2-D max pooling: strides, pads, dilations, ceil_mode, auto_pad (no Indices output)"})
	Register(&Spec{OpType: "AveragePool", Since: 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Attrs: append(common("AveragePool"), AttrSpec{Name: "count_include_pad", Type: AttrInt, Default: int64(0)}),
		Build: buildAveragePool, Doc: "1-D/2-D average pooling: strides, pads, dilations, ceil_mode, count_include_pad, auto_pad"})
	Register(&Spec{OpType: "GlobalAveragePool", Since: 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Build: buildGlobalPool(false), Doc: "mean over the spatial axes"})
	Register(&Spec{OpType: "GlobalMaxPool", Since: 1, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
		Build: buildGlobalPool(true), Doc: "maximum over the spatial axes"})
}
