package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// This file holds Conv (1-D and 2-D, on ops/kernels) and the helpers that
// Conv and the pooling ops share: the spatial attributes (kernel_shape,
// strides, dilations, pads, auto_pad) and wantGrad.

// wantGrad reports whether the loss may need the gradient with respect to
// v: true for parameters and computed values, for graph inputs only when
// Options.InputGrads is set, never for constants. Kernels use it for their
// DiffWRT so that no gradient is computed (every node of the graph runs on
// each step) for inputs nobody asks about, such as the image fed to the
// first convolution.
func wantGrad(b *Builder, v *Value) bool {
	n := b.Node(v)
	for _, in := range b.Inputs {
		if in.Node == n {
			return b.Opts.InputGrads
		}
	}
	if n.Op() == nil {
		return b.Param(v.Name) != nil // a parameter, not a frozen weight
	}
	_, isConst := n.Op().(interface{ Value() G.Value })
	return !isConst
}

// diffFlags turns wanted-gradient flags into a DiffWRT answer of the given
// arity (missing flags are false).
func diffFlags(arity int, want ...bool) []bool {
	d := make([]bool, arity)
	copy(d, want)
	return d
}

// autoPadCheck is the Supported check of auto_pad.
func autoPadCheck(n *onnx.Node) string {
	switch s := n.String("auto_pad", "NOTSET"); s {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
		return ""
	default:
		return fmt.Sprintf("auto_pad %q is not supported (NOTSET, VALID, SAME_UPPER or SAME_LOWER)", s)
	}
}

// spatialRankCheck returns a Supported check rejecting kernel_shape,
// strides, dilations or pads attributes of more than two spatial axes.
func spatialRankCheck(op string) func(n *onnx.Node) string {
	return func(n *onnx.Node) string {
		for _, a := range []struct {
			name string
			per  int
		}{{"kernel_shape", 1}, {"strides", 1}, {"dilations", 1}, {"pads", 2}} {
			if v := n.Ints(a.name, nil); len(v) > 2*a.per {
				return fmt.Sprintf("%s with %d spatial axes: only 1-D and 2-D %s are supported", op, len(v)/a.per, op)
			}
		}
		return ""
	}
}

// spatialRank checks that x is [N, C, L] or [N, C, H, W] and returns the
// number of spatial axes.
func spatialRank(op string, x *Value) (int, error) {
	if r := len(x.Shape); r != 3 && r != 4 {
		return 0, fmt.Errorf("%s on a rank-%d input %v: only 1-D ([N,C,L]) and 2-D ([N,C,H,W]) are supported", op, r, x.Shape)
	}
	return len(x.Shape) - 2, nil
}

// to2D returns the (H, W) form of per-axis values: 1-D windows run as 2-D
// ones of height 1 (hv is the value used for the H axis then).
func to2D(v []int64, hv int) (int, int) {
	if len(v) == 1 {
		return hv, int(v[0])
	}
	return int(v[0]), int(v[1])
}

// setWindow fills a 2-D kernel's input size (h, w) and hands its window
// geometry to set, from the spatial input size and the window resolved by
// ops/static (1-D windows run as 2-D ones of height 1).
func setWindow(h, w *int, spatial []int, win *static.Window, set func(kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int)) {
	*h, *w = to2D(dims64(spatial), 1)
	kh, kw := to2D(win.Kernel, 1)
	sh, sw := to2D(win.Stride, 1)
	dh, dw := to2D(win.Dilation, 1)
	pt, pl := to2D(win.PadBegin, 0)
	pb, pr := to2D(win.PadEnd, 0)
	set(kh, kw, sh, sw, dh, dw, pt, pl, pb, pr)
}

// sameWindow checks that a kernel computes the output size ops/static
// inferred (a kernel computes it on its own to validate its parameters).
func sameWindow(out []int64, h, w int) error {
	gh, gw := to2D(out[2:], 1)
	if gh != h || gw != w {
		return fmt.Errorf("internal error: the kernel's output %dx%d differs from the inferred shape %v", h, w, out)
	}
	return nil
}

// convKernel is Conv: inputs X, W and optionally B. bin, when set, runs
// the forward pass on packed spikes (binconv.go): the weights are
// BipolarQuant's ±scale.
type convKernel struct {
	p                   kernels.ConvParams
	out                 []int
	bias                bool
	wantX, wantW, wantB bool
	bin                 *binaryConv
}

func (k *convKernel) Name() string {
	p := k.p
	return fmt.Sprintf("Conv(N=%d,C=%d,%dx%d,M=%d,k=%dx%d,s=%d,%d,d=%d,%d,p=%d,%d,%d,%d,g=%d,bias=%v)",
		p.N, p.C, p.H, p.W, p.M, p.KH, p.KW, p.StrideH, p.StrideW, p.DilH, p.DilW,
		p.PadTop, p.PadLeft, p.PadBottom, p.PadRight, p.Groups, k.bias)
}
func (k *convKernel) OutShape() []int { return k.out }

func (k *convKernel) Forward(out []float32, in ...[]float32) error {
	var bias []float32
	if k.bias {
		bias = in[2]
	}
	if k.bin != nil {
		return k.bin.forward(k.p, in[0], in[1], bias, out)
	}
	kernels.ConvForward(k.p, in[0], in[1], bias, out)
	return nil
}

func (k *convKernel) DiffWRT(arity int) []bool { return diffFlags(arity, k.wantX, k.wantW, k.wantB) }

func (k *convKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	gs := make(G.Nodes, len(in))
	var err error
	if k.wantX {
		if gs[0], err = Apply(&convDataGradKernel{f: k}, in[1], grad); err != nil {
			return nil, err
		}
	}
	if k.wantW {
		if gs[1], err = Apply(&convFilterGradKernel{f: k}, in[0], grad); err != nil {
			return nil, err
		}
	}
	if k.bias && k.wantB {
		if gs[2], err = Apply(&convBiasGradKernel{f: k}, grad); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// convDataGradKernel: inputs W, dY; output dX.
type convDataGradKernel struct{ f *convKernel }

func (k *convDataGradKernel) Name() string    { return "dX/" + k.f.Name() }
func (k *convDataGradKernel) OutShape() []int { return k.f.xShape() }
func (k *convDataGradKernel) Forward(out []float32, in ...[]float32) error {
	kernels.ConvBackwardData(k.f.p, in[1], in[0], out)
	return nil
}

// convFilterGradKernel: inputs X, dY; output dW.
type convFilterGradKernel struct{ f *convKernel }

func (k *convFilterGradKernel) Name() string    { return "dW/" + k.f.Name() }
func (k *convFilterGradKernel) OutShape() []int { return k.f.wShape() }
func (k *convFilterGradKernel) Forward(out []float32, in ...[]float32) error {
	kernels.ConvBackwardFilter(k.f.p, in[0], in[1], out)
	return nil
}

// convBiasGradKernel: input dY; output dB.
type convBiasGradKernel struct{ f *convKernel }

func (k *convBiasGradKernel) Name() string    { return "dB/" + k.f.Name() }
func (k *convBiasGradKernel) OutShape() []int { return []int{k.f.p.M} }
func (k *convBiasGradKernel) Forward(out []float32, in ...[]float32) error {
	kernels.ConvBackwardBias(k.f.p, in[0], out)
	return nil
}

// macs is the number of multiply-adds of the forward convolution; the data
// and filter gradients do as many.
func (k *convKernel) macs() float64 {
	p := k.p
	return float64(p.N*p.M*p.OutH()*p.OutW()) * float64(p.C/p.Groups*p.KH*p.KW)
}

func (k *convKernel) Flops() float64           { return 2 * k.macs() }
func (k *convDataGradKernel) Flops() float64   { return 2 * k.f.macs() }
func (k *convFilterGradKernel) Flops() float64 { return 2 * k.f.macs() }

// xShape and wShape give the ONNX shapes (1-D convolutions keep rank 3).
func (k *convKernel) xShape() []int {
	p := k.p
	if len(k.out) == 3 {
		return []int{p.N, p.C, p.W}
	}
	return []int{p.N, p.C, p.H, p.W}
}

func (k *convKernel) wShape() []int {
	p := k.p
	if len(k.out) == 3 {
		return []int{p.M, p.C / p.Groups, p.KW}
	}
	return []int{p.M, p.C / p.Groups, p.KH, p.KW}
}

func buildConv(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x, w := in[0], in[1]
	var bias *Value
	if len(in) > 2 {
		bias = in[2]
	}
	if _, err := spatialRank("Conv", x); err != nil {
		return nil, err
	}
	out, win, err := static.Conv(n, dims64(x.Shape), dims64(w.Shape))
	if err != nil {
		return nil, err
	}
	N, C, M := x.Shape[0], x.Shape[1], w.Shape[0]
	p := kernels.ConvParams{N: N, C: C, M: M, Groups: int(n.Int("group", 1))}
	setWindow(&p.H, &p.W, x.Shape[2:], win, func(kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int) {
		p.KH, p.KW, p.StrideH, p.StrideW, p.DilH, p.DilW = kh, kw, sh, sw, dh, dw
		p.PadTop, p.PadLeft, p.PadBottom, p.PadRight = pt, pl, pb, pr
	})
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := sameWindow(out, p.OutH(), p.OutW()); err != nil {
		return nil, err
	}
	k := &convKernel{p: p, out: ints(out)}
	args := []*Value{x, w}
	if bias != nil {
		if bias.Len() != M || len(bias.Shape) != 1 {
			return nil, fmt.Errorf("bias shape %v, want [%d]", bias.Shape, M)
		}
		k.bias = true
		args = append(args, bias)
	}
	k.wantX, k.wantW = wantGrad(b, x), wantGrad(b, w) // in input order: parameters are made in order
	if bias != nil {
		k.wantB = wantGrad(b, bias)
	}
	if w.Node != nil {
		if bq, ok := KernelOf(w.Node).(*bipolarKernel); ok && bq.channelSize*len(bq.scale) == w.Len() {
			if k.bin, err = newBinaryConv(p, bq.scale); err != nil {
				return nil, err
			}
		}
	}
	if src, T, ok := repeatedInput(b, n.Inputs[0]); ok && N%T == 0 && src.Shape[0] == N/T {
		// The same images T times (direct encoding): convolve them once.
		k.p.N = N / T
		k.out = append([]int{N / T}, k.out[1:]...)
		k.wantX = wantGrad(b, src)
		args[0] = src
		once, err := b.Apply(k, args...)
		if err != nil {
			return nil, err
		}
		v, err := b.Apply(&repeatKernel{T: T, shape: append([]int{N}, k.out[1:]...)}, once)
		return []*Value{v}, err
	}
	v, err := b.Apply(k, args...)
	return []*Value{v}, err
}

func init() {
	Register(&Spec{OpType: "Conv", Since: 1, MinInputs: 2, MaxInputs: 3, MinOutputs: 1, MaxOutputs: 1,
		Attrs: []AttrSpec{
			{Name: "auto_pad", Type: AttrString, Default: "NOTSET", Supported: autoPadCheck},
			{Name: "dilations", Type: AttrInts, Doc: "default 1 per spatial axis"},
			{Name: "group", Type: AttrInt, Default: int64(1)},
			{Name: "kernel_shape", Type: AttrInts, Doc: "default: the weight's spatial shape", Supported: spatialRankCheck("Conv")},
			{Name: "pads", Type: AttrInts, Doc: "[begin..., end...], default 0"},
			{Name: "strides", Type: AttrInts, Doc: "default 1 per spatial axis"},
		},
		Build: buildConv, Doc: "1-D/2-D convolution: groups (depthwise), dilations, strides, asymmetric pads, auto_pad, optional bias"})
}
