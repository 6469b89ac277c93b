package convert

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// A layer is one compute layer of the source network (spec §3.1): a Conv,
// or a Gemm/MatMul whose weight is a constant.
type layer struct {
	node        *cnode
	name        string // L, the stable layer name
	op          string // Conv, Gemm or MatMul
	first, last bool
	depthwise   bool
	shortcut    bool
	binary      bool
	floatWhy    []string // why the layer stays float

	weight  *onnx.Tensor // as stored in the source
	bias    []float64    // per output channel; nil when the layer has none
	biasAdd *cnode       // MatMul: the Add of a constant bias that follows it
	bn      *cnode       // the BatchNormalization consuming the layer's output (absorbed when binary)
	out     string       // the tensor the layer block ends in (after biasAdd and, when binary, bn)
	cout    int64
	macs    int64 // per sample per time step
}

// analysis holds the layer roles of a normalised graph.
type analysis struct {
	layers    []*layer
	byNode    map[*cnode]*layer
	consumers map[string][]*cnode
	producer  map[string]*cnode
	absorbed  map[*cnode]bool   // source nodes replaced by a binary layer's block
	owner     map[*cnode]*layer // nodes whose parameters count for a layer
}

func isCompute(c *cnode, z *normalizer) bool {
	switch c.op {
	case "Conv", "Gemm", "MatMul":
		return z.consts[arg(c.inputs, 1)] != nil
	}
	return false
}

func analyse(z *normalizer, o *resolved) (*analysis, error) {
	a := &analysis{byNode: map[*cnode]*layer{}, consumers: map[string][]*cnode{}, producer: map[string]*cnode{},
		absorbed: map[*cnode]bool{}, owner: map[*cnode]*layer{}}
	for _, c := range z.nodes {
		for _, in := range c.inputs {
			if _, rt := z.shapes[in]; rt {
				if cs := a.consumers[in]; len(cs) == 0 || cs[len(cs)-1] != c {
					a.consumers[in] = append(cs, c)
				}
			}
		}
		for _, out := range c.outputs {
			a.producer[out] = c
		}
	}
	out := z.resolve(z.output)
	names := map[string]bool{}
	var bad []onnx.Unsupported
	for _, c := range z.nodes {
		if !isCompute(c, z) {
			continue
		}
		l := &layer{node: c, op: c.op, weight: z.consts[c.inputs[1]]}
		l.name = layerName(c, names)
		os := z.shapes[c.outputs[0]]
		l.cout = os[len(os)-1]
		if c.op == "Conv" {
			l.cout = os[1]
		}
		l.out = c.outputs[0]
		l.bias = a.biasOf(z, l, out)
		if l.biasAdd != nil {
			l.out = l.biasAdd.outputs[0]
			a.owner[l.biasAdd] = l
		}
		if cs := a.consumers[l.out]; len(cs) == 1 && cs[0].op == "BatchNormalization" && cs[0].inputs[0] == l.out && l.out != out {
			l.bn = cs[0]
			a.owner[l.bn] = l
		}
		l.macs = macs(z, l)
		xs := z.shapes[c.inputs[0]]
		if c.op == "Conv" {
			group := int64(1)
			for _, at := range c.attrs {
				if at.GetName() == "group" {
					group = at.GetI()
				}
			}
			l.depthwise = group > 1 && group == xs[1]
			l.shortcut = a.isShortcut(l)
		}
		a.layers = append(a.layers, l)
		a.byNode[c] = l
		a.owner[c] = l
	}
	if len(a.layers) == 0 {
		return nil, &onnx.UnsupportedError{Items: []onnx.Unsupported{{OpType: "network", Reason: "no compute layer (Conv, or Gemm/MatMul with a constant weight) to convert"}}}
	}
	a.markFirst(z)
	a.markLast(z, out)

	matched := map[string]bool{}
	for _, l := range a.layers {
		explicit := o.names[l.name] || o.names[l.node.name]
		if explicit {
			matched[l.name] = true
			matched[l.node.name] = true
		}
		why := []string{}
		if l.first {
			why = append(why, PolicyFirst)
		}
		if l.last {
			why = append(why, PolicyLast)
		}
		if o.keepAll {
			why = append(why, PolicyAll)
		}
		if l.depthwise && o.depthwise {
			why = append(why, PolicyDepthwise)
		}
		if l.shortcut && o.shortcuts {
			why = append(why, PolicyShortcuts)
		}
		if explicit {
			why = append(why, "named")
		}
		l.floatWhy = why
		l.binary = len(why) == 0
		if l.binary && l.op == "Gemm" && gemmAlpha(l.node) <= 0 {
			bad = append(bad, unsupported(l.node.src, z.opset, fmt.Sprintf("a binary Gemm needs alpha > 0 (alpha = %g); keep layer %q float", gemmAlpha(l.node), l.name)))
		}
		if l.binary && l.op == "MatMul" && len(z.shapes[l.node.inputs[0]]) != 2 {
			bad = append(bad, unsupported(l.node.src, z.opset, fmt.Sprintf("a binary MatMul needs a rank-2 input (its tdBN normalises axis 1); keep layer %q float", l.name)))
		}
		if l.binary && l.bn != nil {
			a.absorbed[l.bn] = true
		}
		if l.binary && l.biasAdd != nil {
			a.absorbed[l.biasAdd] = true
		}
	}
	var unknown []string
	for n := range o.names {
		if !matched[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var have []string
		for _, l := range a.layers {
			have = append(have, l.name)
		}
		return nil, fmt.Errorf("convert: keep-float: no layer named %s (layers: %s)", strings.Join(quoteAll(unknown), ", "), strings.Join(have, ", "))
	}
	if len(bad) > 0 {
		return nil, &onnx.UnsupportedError{Items: bad}
	}
	return a, nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// layerName derives L: the initializer prefix of the weight ("layer1.0.conv1"
// for "layer1.0.conv1.weight"), else the module path of a PyTorch node name
// ("/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1"), else the node name.
func layerName(c *cnode, taken map[string]bool) string {
	base := ""
	w := c.inputs[1]
	if strings.HasSuffix(w, ".weight") && !strings.HasPrefix(w, "onnx::") && len(w) > len(".weight") {
		base = strings.TrimSuffix(w, ".weight")
	}
	if base == "" {
		base = modulePath(c.name, c.src.OpType)
	}
	if base == "" {
		base = strings.Trim(c.name, "/")
	}
	if base == "" {
		base = strings.ToLower(c.op)
	}
	name := base
	for k := 2; taken[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	taken[name] = true
	return name
}

func gemmAlpha(c *cnode) float32 {
	for _, at := range c.attrs {
		if at.GetName() == "alpha" {
			return at.GetF()
		}
	}
	return 1
}

// modulePath reads the module path of a PyTorch scoped node name: the
// scopes "/layer1/layer1.0/conv1/Conv" give "layer1.0.conv1" (a container's
// child scope repeats its parent's name as a prefix), and
// "/features/features.1/conv/conv.0/conv.0.0/Conv" gives
// "features.1.conv.0.0", the prefix of the module's parameter names.
func modulePath(node, opType string) string {
	parts := strings.Split(strings.Trim(node, "/"), "/")
	if len(parts) < 2 || !strings.HasPrefix(parts[len(parts)-1], opType) {
		return ""
	}
	var path []string
	prev := ""
	for _, p := range parts[:len(parts)-1] {
		if p == "" {
			return ""
		}
		if prev != "" && strings.HasPrefix(p, prev+".") {
			path = append(path, p[len(prev)+1:])
		} else {
			path = append(path, p)
		}
		prev = p
	}
	return strings.Join(path, ".")
}

// biasOf returns the layer's bias per output channel (nil when none) and
// finds the constant bias Add that follows a MatMul.
func (a *analysis) biasOf(z *normalizer, l *layer, graphOut string) []float64 {
	c := l.node
	vec := func(t *onnx.Tensor, scale float64) []float64 {
		f := t.Floats()
		b := make([]float64, l.cout)
		for i := range b {
			v := f[0]
			if len(f) > 1 {
				v = f[i]
			}
			b[i] = scale * float64(v)
		}
		return b
	}
	switch c.op {
	case "Conv":
		if b := z.consts[arg(c.inputs, 2)]; b != nil {
			return vec(b, 1)
		}
	case "Gemm":
		if b := z.consts[arg(c.inputs, 2)]; b != nil {
			beta := 1.0
			for _, at := range c.attrs {
				if at.GetName() == "beta" {
					beta = float64(at.GetF())
				}
			}
			return vec(b, beta)
		}
	case "MatMul":
		o := c.outputs[0]
		cs := a.consumers[o]
		if len(cs) != 1 || cs[0].op != "Add" || o == graphOut {
			return nil
		}
		add := cs[0]
		other := add.inputs[0]
		if other == o {
			other = add.inputs[1]
		}
		b := z.consts[other]
		if b == nil || int64(b.Len()) != l.cout || len(b.Dims) > 2 || len(b.Dims) == 2 && b.Dims[0] != 1 {
			return nil
		}
		l.biasAdd = add
		return vec(b, 1)
	}
	return nil
}

// isShortcut: a 1x1 Conv whose data input also feeds another node and whose
// output, directly or through one BatchNormalization, feeds an Add.
func (a *analysis) isShortcut(l *layer) bool {
	for _, k := range l.weight.Dims[2:] {
		if k != 1 {
			return false
		}
	}
	if len(a.consumers[l.node.inputs[0]]) < 2 {
		return false
	}
	o := l.out
	if l.bn != nil {
		o = l.bn.outputs[0]
	}
	for _, c := range a.consumers[o] {
		if c.op == "Add" {
			return true
		}
	}
	return false
}

func (a *analysis) markFirst(z *normalizer) {
	seen := map[*cnode]bool{}
	queue := []string{z.input}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for _, c := range a.consumers[t] {
			if l := a.byNode[c]; l != nil {
				if c.inputs[0] == t {
					l.first = true
				}
				continue
			}
			if !seen[c] {
				seen[c] = true
				queue = append(queue, c.outputs...)
			}
		}
	}
}

func (a *analysis) markLast(z *normalizer, out string) {
	seen := map[*cnode]bool{}
	queue := []string{out}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		p := a.producer[t]
		if p == nil || seen[p] {
			continue
		}
		seen[p] = true
		if l := a.byNode[p]; l != nil {
			l.last = true
			continue
		}
		for _, in := range p.inputs {
			if _, rt := z.shapes[in]; rt {
				queue = append(queue, in)
			}
		}
	}
}

// macs counts multiply-accumulates per sample and time step.
func macs(z *normalizer, l *layer) int64 {
	os := z.shapes[l.node.outputs[0]]
	w := l.weight.Dims
	if l.op == "Conv" {
		return numel(os[1:]) * numel(w[1:])
	}
	k := w[0]
	if l.op == "Gemm" {
		for _, at := range l.node.attrs {
			if at.GetName() == "transB" && at.GetI() != 0 {
				k = w[1]
			}
		}
	}
	return numel(os[1:]) * k
}

// alphaOf returns alpha_c = mean|W[c,...]| per output channel of a weight
// in the layout the binary layer uses (Conv: [M, ...], MatMul: [in, M]).
func alphaOf(w []float32, dims []int64, matmul bool) []float64 {
	if matmul {
		in, m := dims[0], dims[1]
		alpha := make([]float64, m)
		for i := int64(0); i < in; i++ {
			for j := int64(0); j < m; j++ {
				alpha[j] += math.Abs(float64(w[i*m+j]))
			}
		}
		for j := range alpha {
			alpha[j] /= float64(in)
		}
		return alpha
	}
	m := dims[0]
	per := numel(dims[1:])
	alpha := make([]float64, m)
	for c := int64(0); c < m; c++ {
		var s float64
		for _, v := range w[c*per : (c+1)*per] {
			s += math.Abs(float64(v))
		}
		alpha[c] = s / float64(per)
	}
	return alpha
}
