package nirbsnn

import (
	"fmt"
	"math"
	"slices"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// A layerPlan is how one NIR layer becomes ONNX.
type layerPlan struct {
	w      []float32 // weights, NIR layout ([C_out, ...] or [out, in])
	dims   []int64
	bias   []float32 // nil: none
	binary bool
	// signs and scale: a binary layer's latent ±1 weights and BipolarQuant
	// scale (nil: scalar 1).
	signs      []float32
	scale      []float32
	scaleShape []int64
	bn         *bnParams // the BatchNormalization after the layer, if any
}

// signMagnitude splits weights into signs and one magnitude per output
// channel, when every weight of channel c is +s_c or -s_c (0 counts as +0).
func signMagnitude(w []float32, cout int) (signs, mag []float32, ok bool) {
	per := len(w) / cout
	signs, mag = make([]float32, len(w)), make([]float32, cout)
	for c := 0; c < cout; c++ {
		row := w[c*per : (c+1)*per]
		s := float32(math.Abs(float64(row[0])))
		for i, v := range row {
			if float32(math.Abs(float64(v))) != s || math.IsNaN(float64(v)) {
				return nil, nil, false
			}
			signs[c*per+i] = 1
			if math.Signbit(float64(v)) && v != 0 {
				signs[c*per+i] = -1
			}
		}
		mag[c] = s
	}
	return signs, mag, true
}

// divideOut recovers the signs of folded binary weights w = ±a_c; a
// channel with a_c = 0 (all its weights 0) gets +1.
func divideOut(w, a []float32) ([]float32, bool) {
	per := len(w) / len(a)
	signs := make([]float32, len(w))
	for c, f := range a {
		for i := c * per; i < (c+1)*per; i++ {
			switch {
			case f == 0 && w[i] == 0, w[i] == f:
				signs[i] = 1
			case w[i] == -f:
				signs[i] = -1
			default:
				return nil, false
			}
		}
	}
	return signs, true
}

func allOnes(v []float32) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

// plan decides whether a layer is binary and which BatchNormalization
// follows it: the one written after it (paired) or folded into it.
func (im *importer) plan(name string, n nir.Node, w nir.Tensor, bias []float32) layerPlan {
	cout := w.Shape[0]
	p := layerPlan{w: w.Float32s(), dims: int64s(w.Shape), bias: bias}
	meta := n.Meta()
	marked, _ := meta.Int(MetaBinary)
	alpha := weightScale(meta, cout)
	paired := im.pair[name] != ""
	if paired {
		p.bn, _ = readBatchNorm(im.g.Nodes[im.pair[name]].Meta(), cout)
	} else if bn, ok := readBatchNorm(meta, cout); ok && marked == 1 {
		// Folded: w = ±a_c with a the BatchNormalization's factor.
		a, _ := bn.affine(alpha)
		if signs, ok := divideOut(p.w, a); ok {
			p.binary, p.signs, p.bn = true, signs, bn
			p.bias = make([]float32, cout)
			if orig, ok := meta.Array(MetaBias); ok {
				if v, isF32 := orig.Data.([]float32); isF32 && len(v) == cout {
					p.bias = v
				}
			}
			p.restoreScale(meta, alpha, cout)
			return p
		}
	}
	signs, mag, ok := signMagnitude(p.w, cout)
	if !ok || (marked != 1 && !allOnes(mag)) {
		return p
	}
	p.binary, p.signs = true, signs
	if paired && allOnes(mag) {
		// The affine after the layer took the weight scale up.
		p.restoreScale(meta, alpha, cout)
		return p
	}
	if paired && alpha != nil {
		for c := range mag {
			mag[c] *= alpha[c]
		}
	}
	if !allOnes(mag) {
		p.scale, p.scaleShape = mag, []int64{int64(cout)}
	}
	return p
}

// restoreScale takes the BipolarQuant scale from bsnn.weight_scale, in the
// shape it was written.
func (p *layerPlan) restoreScale(meta nir.Metadata, alpha []float32, cout int) {
	if alpha == nil {
		return
	}
	a, _ := meta.Array(MetaWeightScale)
	p.scale = a.Data.([]float32)
	p.scaleShape = int64s(a.Shape)
}

// convAttrs are an ONNX Conv's attributes for a NIR convolution.
func convAttrs(kernel, stride, pad, dil []int64, mode string, groups int64) ([]*onnxpb.AttributeProto, error) {
	sp := len(kernel)
	pads := make([]int64, 2*sp)
	for i := 0; i < sp; i++ {
		switch mode {
		case "":
			pads[i], pads[i+sp] = pad[i], pad[i]
		case "same":
			// PyTorch's 'same' (stride 1 only): the extra pixel, if any, at
			// the end.
			if stride[i] != 1 {
				return nil, fmt.Errorf("padding 'same' with stride %v", stride)
			}
			total := dil[i] * (kernel[i] - 1)
			pads[i], pads[i+sp] = total/2, total-total/2
		}
	}
	return []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", kernel...), onnx.AttrInts("strides", stride...),
		onnx.AttrInts("pads", pads...), onnx.AttrInts("dilations", dil...), onnx.AttrInt("group", groups)}, nil
}

// layer writes a Conv2d, Conv1d, Affine or Linear node: a binary layer as
// BipolarQuant(latent, scale) -> Conv/MatMul -> BatchNormalization (spec
// §3.2-3.3; the NIR bias becomes the BN's mean), a float one as Conv or
// Gemm, followed by its BatchNormalization when one was written with it.
func (im *importer) layer(name string, n nir.Node, x string) error {
	if a, b, ok := diagonal(n); ok {
		if bn, ok := readBatchNorm(n.Meta(), len(a)); ok {
			if wa, wb := bn.affine(nil); slices.Equal(wa, a) && slices.Equal(wb, b) {
				im.out[name] = im.batchNorm(name, x, bn, nil)
				return nil
			}
		}
	}
	var w nir.Tensor
	var bias []float32
	var attrs []*onnxpb.AttributeProto
	var err error
	dense := false
	switch n := n.(type) {
	case *nir.Conv2d:
		w, bias = n.Weight, n.Bias.Float32s()
		attrs, err = convAttrs(int64s(w.Shape[2:]), n.Stride[:], n.Padding[:], n.Dilation[:], n.PaddingMode, n.Groups)
	case *nir.Conv1d:
		w, bias = n.Weight, n.Bias.Float32s()
		attrs, err = convAttrs(int64s(w.Shape[2:]), []int64{n.Stride}, []int64{n.Padding}, []int64{n.Dilation}, n.PaddingMode, n.Groups)
	case *nir.Affine:
		w, bias, dense = n.Weight, n.Bias.Float32s(), true
	case *nir.Linear:
		w, dense = n.Weight, true
	}
	if err != nil {
		return err
	}
	if dense && len(w.Shape) != 2 {
		return fmt.Errorf("a weight of shape %v; bsnn's fully connected layers take [out, in]", w.Shape)
	}
	p := im.plan(name, n, w, bias)
	b := im.b
	info := bsnn.Layer{Name: name, Binary: p.binary}
	var y string
	if p.binary {
		latentDims, latent := p.dims, p.signs
		if dense {
			latentDims = []int64{p.dims[1], p.dims[0]}
			latent = transpose(p.signs, int(p.dims[0]), int(p.dims[1]))
		}
		scaleDims, scale := []int64(nil), []float32{1}
		if p.scale != nil {
			scale, scaleDims = p.scale, p.scaleShape
			if len(scaleDims) == 1 && !dense {
				// One value per output channel, in the Conv weight's layout.
				scaleDims = append([]int64{scaleDims[0]}, make([]int64, len(p.dims)-1)...)
				for i := 1; i < len(scaleDims); i++ {
					scaleDims[i] = 1
				}
			}
		}
		info.WeightLatent = b.floats(name+".weight_latent", latentDims, latent)
		info.WeightScale = b.floats(name+".weight_scale", scaleDims, scale)
		info.WeightBin = b.node(name+"/binarize", "BipolarQuant", bsnn.DomainQONNX, []string{info.WeightLatent, info.WeightScale}, []string{name + ".weight_bin"})[0]
		op, suffix := "Conv", "/conv"
		if dense {
			op, suffix = "MatMul", "/matmul"
		}
		outs := b.node(name+suffix, op, "", []string{x, info.WeightBin}, []string{name + "." + lower(op) + "_out"}, attrs...)
		info.Node, info.Op, y = b.nodes[len(b.nodes)-1].GetName(), op, outs[0]
		bn := p.bn
		if bn == nil {
			// tdBN starting as the identity plus the NIR bias (spec §3.3).
			bn = identityBN(int(p.dims[0]))
		}
		im.out[name] = im.batchNorm(name, y, bn, p.bias)
	} else {
		in := []string{x, b.floats(name+".weight", p.dims, p.w)}
		if p.bias != nil {
			in = append(in, b.floats(name+".bias", []int64{p.dims[0]}, p.bias))
		}
		op := "Conv"
		if dense {
			op, attrs = "Gemm", []*onnxpb.AttributeProto{onnx.AttrInt("transB", 1)}
		}
		out := name
		if p.bn != nil {
			out = name + "." + lower(op) + "_out"
		}
		y = b.op(name+"/"+lower(op), op, in, out, attrs...)
		info.Node, info.Op = b.nodes[len(b.nodes)-1].GetName(), op
		im.out[name] = y
		if p.bn != nil {
			im.out[name] = im.batchNorm(name, y, p.bn, nil)
		}
	}
	im.layers = append(im.layers, info)
	return nil
}

func lower(op string) string {
	switch op {
	case "Conv":
		return "conv"
	case "MatMul":
		return "matmul"
	}
	return "gemm"
}

// batchNorm writes BatchNormalization(x) named after layer; a bias the
// layer had moves into the mean (BN(x + b) = BN'(x) with μ' = μ - b).
func (im *importer) batchNorm(layer, x string, p *bnParams, bias []float32) string {
	b := im.b
	c := int64(len(p.scale))
	mean := p.mean
	if bias != nil && !allZero(bias) {
		mean = make([]float32, len(p.mean))
		for i := range mean {
			mean[i] = p.mean[i] - bias[i]
		}
	}
	in := []string{x,
		b.floats(layer+".bn.weight", []int64{c}, p.scale), b.floats(layer+".bn.bias", []int64{c}, p.bias),
		b.floats(layer+".bn.running_mean", []int64{c}, mean), b.floats(layer+".bn.running_var", []int64{c}, p.vari)}
	return b.op(layer+"/bn", "BatchNormalization", in, layer, onnx.AttrFloat("epsilon", p.eps), onnx.AttrFloat("momentum", p.momentum))
}

// neuron writes a LIF neuron on the [T, N, ...] view of its input, with
// the training-only attributes from the node's metadata when they are
// there.
func (im *importer) neuron(name string, meta nir.Metadata, m lifMapping, x string) error {
	p := m.params
	if s, ok := meta.String(MetaSurrogate); ok {
		if sur, err := spiking.ParseSurrogate(s); err == nil {
			p.Surrogate = sur
		}
	}
	if a, ok := meta.Float(MetaSurrogateAlpha); ok && a > 0 && !math.IsInf(a, 0) {
		p.SurrogateAlpha = float32(a)
	}
	if d, ok := meta.Int(MetaDetachReset); ok {
		p.DetachReset = d != 0
	}
	if err := p.Validate(); err != nil {
		return err
	}
	feat := im.types[name].Out
	b := im.b
	if m.gain != 1 {
		x = b.op(name+"/gain", "Mul", []string{x, b.floats(name+".gain", nil, []float32{float32(m.gain)})}, name+".scaled")
	}
	tn := b.op(name+"/to_tn", "Reshape", []string{x, b.int64s(name+".shape_tn", append([]int64{int64(im.T), -1}, feat...)...)}, x+".tn")
	lif := b.node(name, "LIF", bsnn.DomainSNN, []string{tn}, []string{name + ".spikes", name + ".v_T"}, bsnn.LIFAttributes(p)...)
	im.lifNode[name] = b.nodes[len(b.nodes)-1].GetName()
	im.out[name] = b.op(name+"/from_tn", "Reshape", []string{lif[0], b.int64s(name+".shape", append([]int64{-1}, feat...)...)}, name)
	return nil
}

// maxPool writes the SumPool2d -> IF pair Export writes for a max pooling
// of spikes back as MaxPool.
func (im *importer) maxPool(name string, pool *nir.SumPool2d, x string) error {
	k, s, p := pool.KernelSize, pool.Stride, pool.Padding
	im.out[name] = im.b.op(name, "MaxPool", []string{x}, name, onnx.AttrInts("kernel_shape", k[:]...), onnx.AttrInts("strides", s[:]...),
		onnx.AttrInts("pads", p[0], p[1], p[0], p[1]))
	return nil
}

// avgPool writes AvgPool2d as AveragePool (padding counted), and SumPool2d
// as AveragePool times the window size (equal up to float32 rounding;
// exact when the window size is a power of two).
func (im *importer) avgPool(name string, k, s, p [2]int64, x string, sum bool) error {
	b := im.b
	attrs := []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", k[:]...), onnx.AttrInts("strides", s[:]...), onnx.AttrInts("pads", p[0], p[1], p[0], p[1])}
	if p != [2]int64{} {
		attrs = append(attrs, onnx.AttrInt("count_include_pad", 1))
	}
	out := name
	if sum {
		out = name + ".mean"
	}
	y := b.op(name+"/avg", "AveragePool", []string{x}, out, attrs...)
	if sum {
		y = b.op(name+"/sum", "Mul", []string{y, b.floats(name+".window", nil, []float32{float32(k[0] * k[1])})}, name)
	}
	im.out[name] = y
	return nil
}
