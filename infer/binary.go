package infer

import (
	"errors"
	"fmt"
	"github.com/bsnnctl/bsnnctl/bsnn"
	"slices"

	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// binaryConv returns the packed convolution of the binary layer n (Conv,
// or MatMul as a whole-image convolution) on the packed input x, with the
// geometry and ONNX shape of its output.
func (b *binder) binaryConv(n *onnx.Node, x *tensor) (*bitkern.Conv, geo, []int, error) {
	w := b.e.binary[n.Inputs[1]]
	g := x.geo
	var p bitkern.ConvParams
	var shape []int
	dense := n.OpType == "MatMul"
	if dense {
		if len(x.shape) != 2 || x.shape[0] != g.imgs || x.shape[1] != g.perImage() || len(w.dims) != 2 || w.dims[0] != x.shape[1] {
			return nil, geo{}, nil, fmt.Errorf("input shape %v and weight shape %v are not a product of [N, K] spikes", x.shape, w.dims)
		}
		p = bitkern.DenseParams(g.imgs, g.c, g.h, g.w, w.dims[1])
		shape = []int{g.imgs, w.dims[1]}
	} else {
		h, wd, err := spatial(x.shape)
		if err != nil {
			return nil, geo{}, nil, err
		}
		if x.shape[0] != g.imgs || x.shape[1] != g.c || h != g.h || wd != g.w || len(w.dims) != len(x.shape) || w.dims[1] != g.c {
			return nil, geo{}, nil, fmt.Errorf("input shape %v (packed as %d images of %dx%dx%d) does not fit weight shape %v",
				x.shape, g.imgs, g.c, g.h, g.w, w.dims)
		}
		win, err := readWindow(n, x.shape[2:], w.dims[2:])
		if err != nil {
			return nil, geo{}, nil, err
		}
		p = bitkern.ConvParams{N: g.imgs, C: g.c, H: g.h, W: g.w, M: w.dims[0], KH: win.kh, KW: win.kw,
			StrideH: win.sh, StrideW: win.sw, DilH: win.dh, DilW: win.dw, PadTop: win.pt, PadLeft: win.pl, PadBottom: win.pb, PadRight: win.pr}
		if err := p.Validate(); err != nil {
			return nil, geo{}, nil, err
		}
		shape = []int{g.imgs, p.M, p.OutH(), p.OutW()}
		if len(x.shape) == 3 {
			shape = []int{g.imgs, p.M, p.OutW()}
		}
	}
	pw, err := b.e.packedWeights(n, p, dense)
	if err != nil {
		return nil, geo{}, nil, err
	}
	c, err := bitkern.NewConv(p, pw)
	if err != nil {
		return nil, geo{}, nil, err
	}
	return c, geo{imgs: g.imgs, c: p.M, h: p.OutH(), w: p.OutW()}, shape, nil
}

// packedWeights packs the binary weights of layer n once (they do not
// depend on the batch size).
func (e *Engine) packedWeights(n *onnx.Node, p bitkern.ConvParams, dense bool) (*bitkern.Weights, error) {
	if w, ok := e.packed[n]; ok {
		return w, nil
	}
	bw := e.binary[n.Inputs[1]]
	var w *bitkern.Weights
	var err error
	if dense {
		w, err = bitkern.PackDenseWeights(p, bitkern.ChooseLayout(p), bw.values)
	} else {
		w, err = bitkern.PackConvWeights(p, bitkern.ChooseLayout(p), bw.values)
	}
	if err != nil {
		return nil, err
	}
	if e.packed == nil {
		e.packed = map[*onnx.Node]*bitkern.Weights{}
	}
	e.packed[n] = w
	return w, nil
}

// binaryLayer binds a binary layer that nothing is fused with: the exact
// sums (times the gate of the input, if any), as float channels last.
func (b *binder) binaryLayer(n *onnx.Node, x *tensor) error {
	c, g, shape, err := b.binaryConv(n, x)
	if err != nil {
		return err
	}
	reason := "binary weights, spike input"
	if why := b.unfused[n]; why != "" {
		reason += "; not fused with what follows: " + why
	}
	b.layer(LayerPlan{Node: n.Label(), Op: n.OpType, Packed: true, Reason: reason})
	out := &tensor{kind: kindNHWC, shape: shape, geo: g, f: make([]float32, g.imgs*g.perImage())}
	ep := &bitkern.Epilogue{Gate: x.gate}
	b.add(n, func() error { return c.Float32(x.bits, ep, out.f, b.threads()) })
	b.set(n.Outputs[0], out)
	return nil
}

// fusionOrNodes binds a fusion, or its nodes one by one when the fused
// path cannot run it: the layer does not read spikes, or the fused path
// refuses the pattern (the reason goes to the layer's plan).
func (b *binder) fusionOrNodes(f *fusion) error {
	m := b.mark()
	err := b.fusion(f)
	if err == nil {
		return nil
	}
	b.rollback(m)
	if err != errNotSpikes {
		b.unfused[f.layer] = err.Error()
	}
	for _, n := range []*onnx.Node{f.layer, f.bn, f.add, f.reshape, f.lif} {
		if n != nil {
			if err := b.node(n); err != nil {
				return fmt.Errorf("node %s: %w", n.Label(), err)
			}
		}
	}
	return nil
}

// errNotSpikes: a binary layer's input is not spikes.
var errNotSpikes = errors.New("the input is not spikes")

// fusion binds a binary layer with the nodes fused with it.
func (b *binder) fusion(f *fusion) error {
	x, err := b.val(f.layer.Inputs[0])
	if err != nil {
		return err
	}
	if x.kind != kindSpikes {
		return errNotSpikes
	}
	c, g, shape, err := b.binaryConv(f.layer, x)
	if err != nil {
		return err
	}
	affine, err := b.e.batchNormAffine(f.bn)
	if err != nil {
		return fmt.Errorf("node %s: %w", f.bn.Label(), err)
	}
	if len(affine.Scale) != g.c {
		return fmt.Errorf("node %s has %d channels, the layer %d", f.bn.Label(), len(affine.Scale), g.c)
	}
	b.layer(LayerPlan{Node: f.layer.Label(), Op: f.layer.OpType, Packed: true, Fused: f.nodes(), Reason: "binary weights, spike input"})
	ep := &bitkern.Epilogue{Affine: affine, Gate: x.gate}
	if f.affine {
		out := &tensor{kind: kindNHWC, shape: shape, geo: g, f: make([]float32, g.imgs*g.perImage())}
		b.add(f.bn, func() error { return c.Float32(x.bits, ep, out.f, b.threads()) })
		b.set(f.bn.Outputs[0], out)
		return nil
	}
	if f.add != nil {
		if err := b.residual(f, shape, g, ep); err != nil {
			return err
		}
	}
	lshape := shape
	if f.reshape != nil {
		t, err := b.constant(f.reshape.Inputs[1])
		if err != nil {
			return fmt.Errorf("node %s: the target shape must be a constant: %w", f.reshape.Label(), err)
		}
		if lshape, err = resolveShape(shape, t.Ints(), f.reshape.Int("allowzero", 0) != 0); err != nil {
			return fmt.Errorf("node %s: %w", f.reshape.Label(), err)
		}
	}
	if len(lshape) < 3 || lshape[0]*lshape[1] != g.imgs || numel(lshape[2:]) != g.perImage() {
		return fmt.Errorf("node %s: input shape %v is not [T, N, ...] of the layer's %d images", f.lif.Label(), lshape, g.imgs)
	}
	if ep.LIF, err = bsnn.ParseLIF(f.lif); err != nil {
		return fmt.Errorf("node %s: %w", f.lif.Label(), err)
	}
	T := lshape[0]
	out := &tensor{kind: kindSpikes, shape: slices.Clone(lshape), geo: g, bits: make([]uint64, g.imgs*g.h*g.w*bitkern.Words(g.c))}
	b.add(f.lif, func() error { return c.Spikes(T, x.bits, ep, out.bits, b.threads()) })
	b.set(f.lif.Outputs[0], out)
	return nil
}

// residual sets the epilogue's residual from the fused Add's other
// operand: packed spikes or channels-last floats as they are, other floats
// transposed.
func (b *binder) residual(f *fusion, shape []int, g geo, ep *bitkern.Epilogue) error {
	r, err := b.val(f.residual)
	if err != nil {
		return err
	}
	if !slices.Equal(r.shape, shape) {
		return fmt.Errorf("node %s: adds %v to %v (broadcasting is not supported)", f.add.Label(), r.shape, shape)
	}
	switch {
	case r.kind == kindSpikes && r.gate == nil && r.geo == g:
		ep.ResidualSpikes = r.bits
	case r.kind == kindNHWC && r.geo == g:
		ep.Residual = r.f
	default:
		src := r
		buf := make([]float32, g.imgs*g.perImage())
		var tmp []float32
		if r.kind != kindFloat {
			tmp = make([]float32, len(buf))
		}
		b.add(f.add, func() error {
			data := src.f
			if tmp != nil {
				materialize(src, tmp)
				data = tmp
			}
			nchwToNHWC(g, data, buf)
			return nil
		})
		ep.Residual = buf
	}
	return nil
}
