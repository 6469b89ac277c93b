package nirbsnn

import (
	"fmt"
	"slices"

	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// weights are a compute layer's weight in its ONNX layout.
type weights struct {
	dims   []int64
	values []float32 // ±1 for a binary layer
	binary bool
	// scale is a binary layer's BipolarQuant scale (nil: 1).
	scale *onnx.Tensor
}

// weight reads a layer's weight input: an initializer, or the output of a
// binary layer's BipolarQuant (then values are the signs, sign(0) = +1).
func (e *exporter) weight(name string) (weights, error) {
	if l := e.binary[name]; l != nil {
		w := weights{dims: slices.Clone(l.Dims), binary: true, values: make([]float32, len(l.Values))}
		src := l.Values
		if l.Source == export.SourceBipolarQuant {
			lat := e.constant(l.Latent)
			if lat == nil {
				return weights{}, fmt.Errorf("latent weight %q is not an initializer", l.Latent)
			}
			src = lat.Floats()
			w.scale = e.constant(l.Scale)
		} else if !l.UnitScale {
			return weights{}, fmt.Errorf("binary weight %q has a scale other than 1 and no BipolarQuant", name)
		}
		for i, v := range src {
			w.values[i] = -1
			if v >= 0 {
				w.values[i] = 1
			}
		}
		return w, nil
	}
	t := e.constant(name)
	if t == nil {
		return weights{}, fmt.Errorf("weight %q is not a constant", name)
	}
	return weights{dims: slices.Clone(t.Dims), values: t.Floats()}, nil
}

// alpha returns a binary layer's scale per output channel, or nil when it
// is 1 everywhere.
func (w weights) alpha(cout int) ([]float32, error) {
	if w.scale == nil {
		return nil, nil
	}
	s := w.scale.Floats()
	out := make([]float32, cout)
	unit := true
	for c := range out {
		switch len(s) {
		case 1:
			out[c] = s[0]
		case cout:
			out[c] = s[c]
		default:
			return nil, fmt.Errorf("BipolarQuant scale has %d values for %d output channels", len(s), cout)
		}
		unit = unit && out[c] == 1
	}
	if unit {
		return nil, nil
	}
	return out, nil
}

// layerMeta names the ONNX node a layer comes from and marks a binary
// layer with its scale.
func (w weights) layerMeta(node string) nir.Metadata {
	var m nir.Metadata
	m.Set(MetaONNXNode, node)
	if !w.binary {
		return m
	}
	m.Set(MetaBinary, int64(1))
	s := []float32{1}
	var shape []int
	if w.scale != nil {
		s, shape = w.scale.Floats(), ints(w.scale.Dims)
	}
	m.Set(MetaWeightScale, float32Array(shape, s))
	return m
}

// layerInputs reads a compute node's data input and weight.
func (e *exporter) layerInputs(n *onnx.Node) (*signal, weights, error) {
	x, err := e.signal(n.Input(0))
	if err != nil {
		return nil, weights{}, err
	}
	w, err := e.weight(n.Input(1))
	return x, w, err
}

// layerName is the bsnn.layers name of a compute node, else its own.
func (e *exporter) layerName(n *onnx.Node) string {
	if s := e.layerNames[n.Name]; s != "" {
		return e.fresh(s)
	}
	return e.fresh(n.Label())
}

// finishLayer records a layer's output signal; a binary layer with a scale
// other than 1 is followed by its per-channel factor unless a
// BatchNormalization takes it up.
func (e *exporter) finishLayer(n *onnx.Node, name string, node nir.Node, x *signal, feat []int64, w weights) error {
	alpha, err := w.alpha(int(feat[0]))
	if err != nil {
		return err
	}
	e.add(name, node, x.srcs)
	out := n.Outputs[0]
	s := &signal{srcs: []string{name}, feat: feat, lead: 1}
	if e.onlyUse(out) {
		s.layer = &layerRef{name: name, binary: w.binary, alpha: alpha}
	}
	if alpha != nil && (s.layer == nil || e.g.Consumers(out)[0].OpType != "BatchNormalization") {
		var meta nir.Metadata
		meta.Set(MetaOp, "weight_scale")
		s, err = e.affine(name+".scale", s, alpha, make([]float32, len(alpha)), meta)
		if err != nil {
			return err
		}
	}
	e.sigs[out] = s
	return nil
}

func (e *exporter) conv(n *onnx.Node) error {
	x, w, err := e.layerInputs(n)
	if err != nil {
		return err
	}
	r := len(w.dims)
	if r != 3 && r != 4 {
		return fmt.Errorf("a %d-D convolution; NIR has Conv1d and Conv2d", r-2)
	}
	sp := r - 2
	group := n.Int("group", 1)
	ones := make([]int64, sp)
	for i := range ones {
		ones[i] = 1
	}
	strides, dil := n.Ints("strides", ones), n.Ints("dilations", ones)
	pads := n.Ints("pads", make([]int64, 2*sp))
	switch ap := n.String("auto_pad", "NOTSET"); ap {
	case "NOTSET":
	case "VALID":
		pads = make([]int64, 2*sp)
	default:
		return fmt.Errorf("auto_pad %s is not written out (NIR pads both sides equally)", ap)
	}
	if len(strides) != sp || len(dil) != sp || len(pads) != 2*sp {
		return fmt.Errorf("strides %v, dilations %v, pads %v do not fit a %d-D convolution", strides, dil, pads, sp)
	}
	for i := 0; i < sp; i++ {
		if pads[i] != pads[i+sp] {
			return fmt.Errorf("asymmetric padding %v; NIR pads both sides of an axis equally", pads)
		}
	}
	if x.lead != 1 || len(x.feat) != sp+1 {
		return fmt.Errorf("input %q has per-sample shape %v; want [channels, %d spatial]", n.Input(0), x.feat, sp)
	}
	cout := int(w.dims[0])
	bias := make([]float32, cout)
	if b := n.Input(2); b != "" {
		t := e.constant(b)
		if t == nil || t.Len() != cout {
			return fmt.Errorf("bias %q is not a constant of %d values", b, cout)
		}
		bias = t.Floats()
	}
	name := e.layerName(n)
	wt := nir.F32(ints(w.dims), w.values)
	bt := nir.F32([]int{cout}, bias)
	var node nir.Node
	if sp == 2 {
		node = &nir.Conv2d{InputShape: slices.Clone(x.feat[1:]), Weight: wt, Bias: bt, Groups: group,
			Stride: [2]int64{strides[0], strides[1]}, Padding: [2]int64{pads[0], pads[1]}, Dilation: [2]int64{dil[0], dil[1]},
			Metadata: w.layerMeta(n.Name)}
	} else {
		node = &nir.Conv1d{InputShape: slices.Clone(x.feat[1:]), Weight: wt, Bias: bt, Groups: group,
			Stride: strides[0], Padding: pads[0], Dilation: dil[0], Metadata: w.layerMeta(n.Name)}
	}
	feat, err := nir.OutputShape(node, x.feat)
	if err != nil {
		return err
	}
	return e.finishLayer(n, name, node, x, feat, w)
}

// transpose returns the [cols, rows] transpose of a row-major [rows, cols]
// matrix.
func transpose(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[j*rows+i] = v[i*cols+j]
		}
	}
	return out
}

// dense writes y = W·x (+ b) for a weight wt of NIR layout [out, in].
func (e *exporter) dense(n *onnx.Node, x *signal, wt []float32, in, out int, bias []float32, w weights) error {
	if x.lead != 1 || len(x.feat) != 1 || int(x.feat[0]) != in {
		return fmt.Errorf("input %q has per-sample shape %v; want [%d]", n.Input(0), x.feat, in)
	}
	name := e.layerName(n)
	W := nir.F32([]int{out, in}, wt)
	var node nir.Node = &nir.Linear{Weight: W, Metadata: w.layerMeta(n.Name)}
	if bias != nil {
		node = &nir.Affine{Weight: W, Bias: nir.F32([]int{out}, bias), Metadata: w.layerMeta(n.Name)}
	}
	return e.finishLayer(n, name, node, x, []int64{int64(out)}, w)
}

func (e *exporter) matmul(n *onnx.Node) error {
	x, w, err := e.layerInputs(n)
	if err != nil {
		return err
	}
	if len(w.dims) != 2 {
		return fmt.Errorf("weight %q has shape %v; NIR's Linear takes a matrix", n.Input(1), w.dims)
	}
	in, out := int(w.dims[0]), int(w.dims[1])
	return e.dense(n, x, transpose(w.values, in, out), in, out, nil, w)
}

func (e *exporter) gemm(n *onnx.Node) error {
	if n.Int("transA", 0) != 0 {
		return fmt.Errorf("transA = 1 multiplies along the batch axis")
	}
	x, w, err := e.layerInputs(n)
	if err != nil {
		return err
	}
	if len(w.dims) != 2 {
		return fmt.Errorf("weight %q has shape %v; NIR's Affine takes a matrix", n.Input(1), w.dims)
	}
	alpha, beta := n.Float("alpha", 1), n.Float("beta", 1)
	if w.binary && alpha != 1 {
		return fmt.Errorf("a binary Gemm with alpha = %g", alpha)
	}
	wt := w.values
	in, out := int(w.dims[0]), int(w.dims[1])
	if n.Int("transB", 0) != 0 {
		in, out = out, in
	} else {
		wt = transpose(wt, in, out)
	}
	if alpha != 1 {
		wt = slices.Clone(wt)
		for i := range wt {
			wt[i] *= alpha
		}
	}
	var bias []float32
	if c := n.Input(2); c != "" {
		t := e.constant(c)
		if t == nil {
			return fmt.Errorf("bias %q is not a constant", c)
		}
		v, err := channelVector(t, []int64{int64(out)})
		if err != nil {
			return fmt.Errorf("bias %q: %v", c, err)
		}
		bias = v
		for i := range bias {
			bias[i] *= beta
		}
	}
	return e.dense(n, x, wt, in, out, bias, w)
}

// channelVector reads a constant that an [N, C, ...] tensor of per-sample
// shape feat is combined with, when it is one value per channel C (a
// scalar, [C], or [C, 1, ...] with optional leading 1s).
func channelVector(t *onnx.Tensor, feat []int64) ([]float32, error) {
	c := int(feat[0])
	v := t.Floats()
	if len(v) == 1 {
		out := make([]float32, c)
		for i := range out {
			out[i] = v[0]
		}
		return out, nil
	}
	dims := t.Dims
	for len(dims) > len(feat) && dims[0] == 1 {
		dims = dims[1:]
	}
	ok := len(v) == c && (len(dims) == 1 && len(feat) == 1 || len(dims) == len(feat))
	if ok && len(dims) == len(feat) {
		ok = dims[0] == int64(c)
		for _, d := range dims[1:] {
			ok = ok && d == 1
		}
	}
	if !ok {
		return nil, fmt.Errorf("shape %v is not one value per channel of %v", t.Dims, feat)
	}
	return slices.Clone(v), nil
}

func (e *exporter) batchNorm(n *onnx.Node) error {
	x, err := e.signal(n.Input(0))
	if err != nil {
		return err
	}
	if x.lead != 1 {
		return fmt.Errorf("input %q is not a [T*N, ...] tensor", n.Input(0))
	}
	var p [4][]float32
	for i := range p {
		t := e.constant(n.Input(i + 1))
		if t == nil || t.Len() != int(x.feat[0]) {
			return fmt.Errorf("parameter %q is not a constant of %d values", n.Input(i+1), x.feat[0])
		}
		p[i] = t.Floats()
	}
	eps, momentum := n.Float("epsilon", 1e-5), n.Float("momentum", 0.9)
	a, b := bnAffine(p[0], p[1], p[2], p[3], eps)
	bn := (&bnParams{scale: p[0], bias: p[1], mean: p[2], vari: p[3], eps: eps, momentum: momentum}).metadata()
	var meta nir.Metadata
	meta.Set(MetaBatchNorm, bn)
	if l := x.layer; l != nil && l.alpha != nil {
		for c := range a {
			a[c] *= l.alpha[c]
		}
	}
	if e.opts.BatchNorm == BatchNormFold && x.layer != nil {
		return e.fold(n, x, a, b, bn)
	}
	base := n.Label()
	if x.layer != nil {
		base = x.layer.name + ".bn"
	}
	s, err := e.affine(base, x, a, b, meta)
	if err != nil {
		return err
	}
	e.sigs[n.Outputs[0]] = s
	return nil
}

// fold multiplies a into the layer's weights and adds b to its bias.
func (e *exporter) fold(n *onnx.Node, x *signal, a, b []float32, bn nir.Metadata) error {
	node := e.out.Nodes[x.layer.name]
	var w, bias *nir.Tensor
	switch l := node.(type) {
	case *nir.Conv2d:
		w, bias = &l.Weight, &l.Bias
	case *nir.Conv1d:
		w, bias = &l.Weight, &l.Bias
	case *nir.Affine:
		w, bias = &l.Weight, &l.Bias
	case *nir.Linear:
		af := &nir.Affine{Weight: l.Weight, Bias: nir.F32([]int{w0(l.Weight)}, make([]float32, w0(l.Weight))), Metadata: l.Metadata}
		e.out.Nodes[x.layer.name] = af
		node, w, bias = af, &af.Weight, &af.Bias
	default:
		return fmt.Errorf("cannot fold into %s", node.Type())
	}
	meta := metaOf(node)
	orig := bias.Float32s()
	per := w.Len() / len(a)
	wv := w.Float32s()
	for c := range a {
		for i := c * per; i < (c+1)*per; i++ {
			wv[i] *= a[c]
		}
	}
	bv := make([]float32, len(a))
	for c := range a {
		bv[c] = orig[c]*a[c] + b[c]
	}
	*w = nir.F32(w.Shape, wv)
	*bias = nir.F32(bias.Shape, bv)
	meta.Set(MetaBatchNorm, bn)
	for _, v := range orig {
		if v != 0 {
			meta.Set(MetaBias, orig)
			break
		}
	}
	e.sigs[n.Outputs[0]] = &signal{srcs: x.srcs, feat: x.feat, lead: 1}
	return nil
}

func w0(t nir.Tensor) int { return t.Shape[0] }

// metaOf returns a pointer to a layer node's metadata.
func metaOf(n nir.Node) *nir.Metadata {
	switch n := n.(type) {
	case *nir.Conv2d:
		return &n.Metadata
	case *nir.Conv1d:
		return &n.Metadata
	case *nir.Affine:
		return &n.Metadata
	case *nir.Linear:
		return &n.Metadata
	}
	return new(nir.Metadata)
}

// affine writes y = a·x + b per channel as a layer with the diagonal weight
// diag(a): a 1x1 Conv2d or Conv1d for [C, ...] signals, an Affine for [C].
func (e *exporter) affine(base string, x *signal, a, b []float32, meta nir.Metadata) (*signal, error) {
	c := len(a)
	if c > maxAffineChannels {
		return nil, fmt.Errorf("a per-channel affine over %d channels would be a %d×%d diagonal weight; export with batch-norm mode fold", c, c, c)
	}
	diag := make([]float32, c*c)
	for i := range a {
		diag[i*c+i] = a[i]
	}
	bias := nir.F32([]int{c}, slices.Clone(b))
	var node nir.Node
	switch len(x.feat) {
	case 1:
		node = &nir.Affine{Weight: nir.F32([]int{c, c}, diag), Bias: bias, Metadata: meta}
	case 2:
		node = &nir.Conv1d{InputShape: slices.Clone(x.feat[1:]), Weight: nir.F32([]int{c, c, 1}, diag), Bias: bias,
			Stride: 1, Dilation: 1, Groups: 1, Metadata: meta}
	case 3:
		node = &nir.Conv2d{InputShape: slices.Clone(x.feat[1:]), Weight: nir.F32([]int{c, c, 1, 1}, diag), Bias: bias,
			Stride: [2]int64{1, 1}, Dilation: [2]int64{1, 1}, Groups: 1, Metadata: meta}
	default:
		return nil, fmt.Errorf("a per-channel affine on per-sample shape %v", x.feat)
	}
	name := e.fresh(base)
	e.add(name, node, x.srcs)
	return &signal{srcs: []string{name}, feat: x.feat, lead: x.lead}, nil
}

// arith writes Add, Sub and Mul: two signals added are two edges into the
// consumer (NIR sums a node's inputs); a per-channel constant is added to
// the layer's bias when the tensor is the layer's own output, else written
// as a per-channel affine.
func (e *exporter) arith(n *onnx.Node) error {
	a, b := n.Input(0), n.Input(1)
	ca, cb := e.constant(a), e.constant(b)
	if ca == nil && cb == nil {
		if n.OpType != "Add" {
			return fmt.Errorf("%s of two signals; NIR only adds them", n.OpType)
		}
		sa, err := e.signal(a)
		if err != nil {
			return err
		}
		sb, err := e.signal(b)
		if err != nil {
			return err
		}
		if !slices.Equal(sa.feat, sb.feat) || sa.lead != sb.lead {
			return fmt.Errorf("adds per-sample shapes %v and %v; NIR adds equal shapes", sa.feat, sb.feat)
		}
		for _, s := range sa.srcs {
			if slices.Contains(sb.srcs, s) {
				return fmt.Errorf("adds the output of %q to itself", s)
			}
		}
		e.sigs[n.Outputs[0]] = &signal{srcs: append(slices.Clone(sa.srcs), sb.srcs...), feat: sa.feat, lead: sa.lead}
		return nil
	}
	x, c, name := b, ca, a
	if cb != nil {
		x, c, name = a, cb, b
	}
	if ca != nil && n.OpType == "Sub" {
		return fmt.Errorf("constant minus signal")
	}
	s, err := e.signal(x)
	if err != nil {
		return err
	}
	if s.lead != 1 {
		return fmt.Errorf("input %q is not a [T*N, ...] tensor", x)
	}
	v, err := channelVector(c, s.feat)
	if err != nil {
		return fmt.Errorf("constant %q: %v", name, err)
	}
	if n.OpType == "Sub" {
		for i := range v {
			v[i] = -v[i]
		}
	}
	if n.OpType != "Mul" && s.layer != nil && s.layer.alpha == nil {
		e.addBias(s.layer.name, v)
		e.sigs[n.Outputs[0]] = &signal{srcs: s.srcs, feat: s.feat, lead: 1, layer: s.layer}
		if !e.onlyUse(n.Outputs[0]) {
			e.sigs[n.Outputs[0]].layer = nil
		}
		return nil
	}
	scale, shift := make([]float32, len(v)), make([]float32, len(v))
	for i := range v {
		if n.OpType == "Mul" {
			scale[i] = v[i]
		} else {
			scale[i], shift[i] = 1, v[i]
		}
	}
	out, err := e.affine(n.Label(), s, scale, shift, nil)
	if err != nil {
		return err
	}
	e.sigs[n.Outputs[0]] = out
	return nil
}

// addBias adds v to a layer's bias (a Linear becomes an Affine).
func (e *exporter) addBias(name string, v []float32) {
	switch l := e.out.Nodes[name].(type) {
	case *nir.Conv2d:
		l.Bias = addTo(l.Bias, v)
	case *nir.Conv1d:
		l.Bias = addTo(l.Bias, v)
	case *nir.Affine:
		l.Bias = addTo(l.Bias, v)
	case *nir.Linear:
		e.out.Nodes[name] = &nir.Affine{Weight: l.Weight, Bias: nir.F32([]int{len(v)}, slices.Clone(v)), Metadata: l.Metadata}
	}
}

func addTo(t nir.Tensor, v []float32) nir.Tensor {
	b := t.Float32s()
	for i := range b {
		b[i] += v[i]
	}
	return nir.F32(t.Shape, b)
}
