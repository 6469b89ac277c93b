package convert

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// paramKind classifies an initializer of the converted graph for the size
// report.
type paramKind int

const (
	kindConst   paramKind = iota // shapes, axes, Clip bounds, Pad values, weight_scale: not parameters
	kindParam32                  // 32-bit parameters
	kindParam1                   // binary weights (1 bit each once packed)
	kindBuffer                   // BatchNormalization running statistics
)

type initInfo struct {
	kind  paramKind
	owner *layer
	n     int64
}

// layerOut records what the writer emitted for one layer.
type layerOut struct {
	node                      string // the Conv / MatMul / Gemm node
	op                        string // its op type in the converted graph
	latent, bin, scale, alpha string
	gate, bn                  string
}

type gateInfo struct {
	Layer string `json:"layer"`
	Node  string `json:"node"`
	Alpha string `json:"alpha"`
}

// A writer emits the converted graph.
type writer struct {
	z *normalizer
	a *analysis
	o *resolved

	nodes  []*onnxpb.NodeProto
	inits  []*onnxpb.TensorProto
	info   map[string]*initInfo
	vinfo  []*onnxpb.ValueInfoProto
	ann    [][2]string // tensor, finn datatype
	custom map[string]bool

	rn         map[string]string // source tensor -> emitted tensor
	tn         map[string]string // emitted [T*N,...] tensor -> its [T,N,...] view
	shapeConst map[string]string
	lifOf      map[*cnode]string // Relu/Clip -> LIF node
	lifNodes   []string
	gates      []gateInfo
	out        map[*layer]*layerOut
}

func newWriter(z *normalizer, a *analysis, o *resolved) *writer {
	return &writer{z: z, a: a, o: o, info: map[string]*initInfo{}, custom: map[string]bool{},
		rn: map[string]string{}, tn: map[string]string{}, shapeConst: map[string]string{},
		lifOf: map[*cnode]string{}, out: map[*layer]*layerOut{}}
}

func (w *writer) name(t string) string {
	if r, ok := w.rn[t]; ok {
		return r
	}
	return t
}

func (w *writer) node(name, op, domain string, in, out []string, attrs []*onnxpb.AttributeProto) {
	n := &onnxpb.NodeProto{Name: proto.String(name), OpType: proto.String(op), Input: in, Output: out, Attribute: attrs}
	if domain != "" {
		n.Domain = proto.String(domain)
		w.custom[domain+"::"+op] = true
	}
	w.nodes = append(w.nodes, n)
}

// useConst emits a source constant as an initializer (once).
func (w *writer) useConst(name string, kind paramKind, owner *layer) {
	if _, done := w.info[name]; done {
		return
	}
	c := w.z.consts[name]
	w.inits = append(w.inits, initializer(name, c))
	w.info[name] = &initInfo{kind: kind, owner: owner, n: int64(c.Len())}
}

// newInit emits a new initializer under a fresh name derived from base.
func (w *writer) newInit(base string, c *onnx.Tensor, kind paramKind, owner *layer) string {
	name := w.z.addConst(base, c)
	w.useConst(name, kind, owner)
	return name
}

// axesInit returns a shared int64 axes initializer, bsnn.axes.<axes>.
func (w *writer) axesInit(axes ...int64) string {
	key := "axes:" + joinInts(axes)
	if name, ok := w.shapeConst[key]; ok {
		return name
	}
	name := w.newInit("bsnn.axes."+joinInts(axes), intConst([]int64{int64(len(axes))}, append([]int64{}, axes...)), kindConst, nil)
	w.shapeConst[key] = name
	return name
}

// joinInts writes 1, -1, 28 as "1_-1_28".
func joinInts(v []int64) string {
	parts := make([]string, len(v))
	for i, d := range v {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return strings.Join(parts, "_")
}

// shapeInit returns a shared int64 shape initializer.
func (w *writer) shapeInit(dims []int64) string {
	key := joinInts(dims)
	if name, ok := w.shapeConst[key]; ok {
		return name
	}
	name := w.newInit("bsnn.shape."+key, intConst([]int64{int64(len(dims))}, append([]int64{}, dims...)), kindConst, nil)
	w.shapeConst[key] = name
	return name
}

// tnValueInfo declares a [T, N, rest...] tensor (N symbolic).
func (w *writer) tnValueInfo(name string, src []int64) {
	shape := append(onnx.Shape{{Value: w.o.T}}, w.batchShape(src)...)
	w.vinfo = append(w.vinfo, onnx.ValueInfoProto(name, onnx.Float, shape))
}

// batchShape is a source shape [N, rest...] as value_info dims (N
// symbolic).
func (w *writer) batchShape(src []int64) onnx.Shape {
	shape := onnx.Shape{{Value: -1, Param: w.z.batchParam}}
	for _, d := range src[1:] {
		shape = append(shape, onnx.Dim{Value: d})
	}
	return shape
}

// toTN returns the [T, N, ...] view of an emitted [T*N, ...] tensor,
// reshaping it the first time.
func (w *writer) toTN(x string, src []int64, base string) string {
	if v, ok := w.tn[x]; ok {
		return v
	}
	t := w.z.fresh(x + ".tn")
	shape := append([]int64{w.o.T, -1}, src[1:]...)
	w.node(w.z.fresh(base+"/to_tn"), "Reshape", "", []string{x, w.shapeInit(shape)}, []string{t}, nil)
	w.tn[x] = t
	return t
}

// fromTN reshapes a [T, N, ...] tensor back to [T*N, ...] under name out.
func (w *writer) fromTN(t string, src []int64, base, out string) {
	shape := append([]int64{-1}, src[1:]...)
	w.node(w.z.fresh(base+"/from_tn"), "Reshape", "", []string{t, w.shapeInit(shape)}, []string{out}, nil)
	w.tn[out] = t
}

func constKind(op string, i int) paramKind {
	switch op {
	case "Conv", "Gemm", "MatMul":
		if i >= 1 {
			return kindParam32
		}
	case "BatchNormalization":
		switch i {
		case 1, 2:
			return kindParam32
		case 3, 4:
			return kindBuffer
		}
	case "Add", "Sub", "Mul", "Div":
		return kindParam32
	}
	return kindConst
}

func (w *writer) run() error {
	z, o := w.z, w.o
	w.rn[z.input] = w.encode()
	last := z.resolve(z.output)
	if last == z.output {
		w.rn[z.output] = z.fresh(z.output + ".per_step")
	}
	for _, c := range z.nodes {
		if w.a.absorbed[c] {
			continue
		}
		if l := w.a.byNode[c]; l != nil && l.binary {
			if err := w.binaryLayer(l); err != nil {
				return err
			}
			continue
		}
		if (c.op == "Relu" || c.op == "Clip") && !o.ReLUAsReLU {
			w.lif(c)
			continue
		}
		w.plain(c)
	}
	// Rate decoding: [T*N, ...] -> [T, N, ...] -> mean over T -> [N, ...].
	ls := z.shapes[last]
	tnOut := w.toTN(w.name(last), ls, "decode")
	w.node(z.fresh("decode/mean_over_time"), "ReduceMean", "", []string{tnOut}, []string{z.output},
		[]*onnxpb.AttributeProto{onnx.AttrInts("axes", 0), onnx.AttrInt("keepdims", 0)})
	for _, l := range w.a.layers {
		if w.out[l] == nil {
			w.out[l] = &layerOut{node: l.node.name, op: l.node.op}
		}
	}
	return nil
}

// encode writes the direct input encoding and returns its output: the input
// [N, ...] repeated T times along a new leading axis and merged into the
// batch, [T*N, ...], where row t*N + n is time step t of sample n:
//
//	Unsqueeze(axes [0]) -> [1, N, ...] -> Expand([T, 1, ...]) -> [T, N, ...] -> Reshape([-1, ...])
//
// The graph is the same for every T and lists the input once (a Concat of T
// copies would list it T times, which QONNX's renaming breaks).
func (w *writer) encode() string {
	z := w.z
	xs := z.shapes[z.input]
	if w.o.InputEncoding == bsnn.EncodingEvents {
		return w.encodeEvents(xs)
	}
	one := z.fresh(z.input + ".unsqueezed")
	w.node(z.fresh("encode/unsqueeze"), "Unsqueeze", "", []string{z.input, w.axesInit(0)}, []string{one}, nil)
	shape := make([]int64, len(xs)+1)
	for i := range shape {
		shape[i] = 1
	}
	shape[0] = w.o.T
	tn := z.fresh(z.input + ".repeat_tn")
	w.node(z.fresh("encode/expand"), "Expand", "", []string{one, w.shapeInit(shape)}, []string{tn}, nil)
	rep := z.fresh(z.input + ".repeat")
	w.node(z.fresh("encode/repeat"), "Reshape", "", []string{tn, w.shapeInit(append([]int64{-1}, xs[1:]...))}, []string{rep}, nil)
	return rep
}

// encodeEvents writes the event input encoding (spec §8) and returns its
// output: the graph input, time-major [T, N, ...] with one frame per time
// step, merged into the batch, [T*N, ...], where row t*N + n is frame t of
// sample n:
//
//	Reshape([-1, ...]) (node encode/frames, output <input>.frames)
func (w *writer) encodeEvents(xs []int64) string {
	z := w.z
	frames := z.fresh(z.input + ".frames")
	w.node(z.fresh("encode/frames"), "Reshape", "", []string{z.input, w.shapeInit(append([]int64{-1}, xs[1:]...))}, []string{frames}, nil)
	return frames
}

// plain emits a stateless node as it is (opset-17 form).
func (w *writer) plain(c *cnode) {
	owner := w.a.owner[c]
	in := make([]string, len(c.inputs))
	for i, name := range c.inputs {
		if name == "" {
			continue
		}
		if w.z.consts[name] != nil {
			w.useConst(name, constKind(c.op, i), owner)
			in[i] = name
			continue
		}
		in[i] = w.name(name)
	}
	if c.op == "Clip" {
		in = append(in, w.newInit(c.name+".min", floatConst(nil, []float32{c.lo}), kindConst, nil))
		if !math.IsInf(float64(c.hi), 1) {
			in = append(in, w.newInit(c.name+".max", floatConst(nil, []float32{c.hi}), kindConst, nil))
		}
	}
	out := make([]string, len(c.outputs))
	for i, name := range c.outputs {
		out[i] = w.name(name)
	}
	var attrs []*onnxpb.AttributeProto
	for _, at := range c.attrs {
		attrs = append(attrs, proto.Clone(at).(*onnxpb.AttributeProto))
	}
	w.node(c.name, c.op, "", in, out, attrs)
}

// lif replaces a Relu or Clip(min=0) by a LIF neuron on the [T, N, ...]
// view of its input (spec §3.5).
func (w *writer) lif(c *cnode) {
	z := w.z
	xs := z.shapes[c.inputs[0]]
	tnIn := w.toTN(w.name(c.inputs[0]), xs, c.name)
	spikes := z.fresh(c.outputs[0] + ".spikes")
	name := z.fresh(c.name + "/lif")
	// The V_T output nobody reads is still listed, and named (bsnn's naming
	// rules): onnx 1.12's shape inference of a function call indexes every
	// output the function declares, and QONNX renames an empty name.
	vT := z.fresh(name + ".V_T")
	w.node(name, "LIF", bsnn.DomainSNN, []string{tnIn}, []string{spikes, vT}, bsnn.LIFAttributes(w.o.Neuron))
	w.tnValueInfo(spikes, xs)
	w.vinfo = append(w.vinfo, onnx.ValueInfoProto(vT, onnx.Float, w.batchShape(xs)))
	w.ann = append(w.ann, [2]string{spikes, bsnn.DatatypeBinary})
	w.fromTN(spikes, xs, c.name, w.name(c.outputs[0]))
	w.lifOf[c] = name
	w.lifNodes = append(w.lifNodes, name)
}

// latent returns the binary layer's latent weight in the layout of its
// Conv or MatMul: Conv and MatMul as stored, Gemm as [in, out] (transposed
// when transB = 1), and the factor the layer multiplies its product by
// (Gemm's alpha, else 1), which scales α in the tdBN initialisation. A
// weight kept as stored shares the source's values (no copy).
func latent(l *layer) (*onnx.Tensor, float64) {
	wt := l.weight
	if l.op != "Gemm" {
		return floatConst(wt.Dims, wt.Float32), 1
	}
	alpha := float32(1)
	transB := false
	for _, at := range l.node.attrs {
		switch at.GetName() {
		case "alpha":
			alpha = at.GetF()
		case "transB":
			transB = at.GetI() != 0
		}
	}
	t := wt
	if transB {
		t = static.FoldTranspose(wt, []int{1, 0})
	}
	return floatConst(t.Dims, t.Float32), float64(alpha)
}

// binaryLayer emits AGMMGate -> (BipolarQuant weight) Conv/MatMul -> tdBN
// for one binary layer (spec §3.2, §3.3, §3.6).
func (w *writer) binaryLayer(l *layer) error {
	z, o := w.z, w.o
	c := l.node
	L := l.name
	lo := &layerOut{}
	w.out[l] = lo
	x := w.name(c.inputs[0])
	xs := z.shapes[c.inputs[0]]
	if o.AGMM {
		tnx := w.toTN(x, xs, L+"/agmm")
		ones := make([]float32, o.T)
		for i := range ones {
			ones[i] = 1
		}
		lo.alpha = w.newInit(L+".agmm_alpha", floatConst([]int64{o.T}, ones), kindParam32, l)
		g := z.fresh(L + ".agmm_out")
		lo.gate = z.fresh(L + "/agmm")
		w.node(lo.gate, "AGMMGate", bsnn.DomainSNN, []string{tnx, lo.alpha}, []string{g}, bsnn.AGMMGateAttributes(w.o.Gate))
		w.tnValueInfo(g, xs)
		x = z.fresh(L + ".gated")
		w.fromTN(g, xs, L+"/agmm", x)
		w.gates = append(w.gates, gateInfo{Layer: L, Node: lo.gate, Alpha: lo.alpha})
	}
	lat, gain := latent(l)
	lo.latent = w.newInit(L+".weight_latent", lat, kindParam1, l)
	lo.scale = w.newInit(L+".weight_scale", floatConst(nil, []float32{1}), kindConst, l)
	lo.bin = z.fresh(L + ".weight_bin")
	w.node(z.fresh(L+"/binarize"), "BipolarQuant", bsnn.DomainQONNX, []string{lo.latent, lo.scale}, []string{lo.bin}, nil)
	shape := make(onnx.Shape, len(lat.Dims))
	for i, d := range lat.Dims {
		shape[i] = onnx.Dim{Value: d}
	}
	w.vinfo = append(w.vinfo, onnx.ValueInfoProto(lo.bin, onnx.Float, shape))
	w.ann = append(w.ann, [2]string{lo.bin, bsnn.DatatypeBipolar})

	var y string
	if l.op == "Conv" {
		lo.op = "Conv"
		lo.node = z.fresh(L + "/conv")
		y = z.fresh(L + ".conv_out")
		var attrs []*onnxpb.AttributeProto
		for _, at := range c.attrs {
			attrs = append(attrs, proto.Clone(at).(*onnxpb.AttributeProto))
		}
		w.node(lo.node, "Conv", "", []string{x, lo.bin}, []string{y}, attrs)
	} else {
		lo.op = "MatMul"
		lo.node = z.fresh(L + "/matmul")
		y = z.fresh(L + ".matmul_out")
		w.node(lo.node, "MatMul", "", []string{x, lo.bin}, []string{y}, nil)
	}

	var src *bnParams
	out := l.out
	if l.bn != nil {
		src = &bnParams{eps: DefaultBNEpsilon, momentum: DefaultBNMomentum}
		for i, p := range []*[]float64{&src.scale, &src.bias, &src.mean, &src.vari} {
			*p = f64s(z.consts[l.bn.inputs[i+1]].Float32)
		}
		for _, at := range l.bn.attrs {
			switch at.GetName() {
			case "epsilon":
				src.eps = float64(at.GetF())
			case "momentum":
				src.momentum = float64(at.GetF())
			}
		}
		out = l.bn.outputs[0]
	}
	alpha := alphaOf(lat.Float32, lat.Dims, l.op != "Conv")
	for c := range alpha {
		alpha[c] *= gain // Gemm: alpha*(W·x) ≈ (alpha*α) ⊙ (W_bin·x)
	}
	p := tdBNInit(alpha, l.bias, src)
	cdim := []int64{l.cout}
	s := w.newInit(L+".bn.weight", floatConst(cdim, f32s(p.scale)), kindParam32, l)
	b := w.newInit(L+".bn.bias", floatConst(cdim, f32s(p.bias)), kindParam32, l)
	m := w.newInit(L+".bn.running_mean", floatConst(cdim, f32s(p.mean)), kindBuffer, l)
	v := w.newInit(L+".bn.running_var", floatConst(cdim, f32s(p.vari)), kindBuffer, l)
	lo.bn = z.fresh(L + "/bn")
	w.node(lo.bn, "BatchNormalization", "", []string{y, s, b, m, v}, []string{w.name(out)},
		[]*onnxpb.AttributeProto{onnx.AttrFloat("epsilon", float32(p.eps)), onnx.AttrFloat("momentum", float32(p.momentum))})
	return nil
}

// neuronOf finds the LIF neuron a layer feeds: the first Relu/Clip reached
// from the layer's output through stateless nodes.
func (w *writer) neuronOf(l *layer) string {
	start := l.out
	if l.bn != nil {
		start = l.bn.outputs[0]
	}
	seen := map[*cnode]bool{}
	queue := []string{start}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for _, c := range w.a.consumers[t] {
			if seen[c] {
				continue
			}
			seen[c] = true
			if name, ok := w.lifOf[c]; ok {
				return name
			}
			if w.a.byNode[c] != nil {
				continue
			}
			queue = append(queue, c.outputs...)
		}
	}
	return ""
}

// checkFunction validates a FunctionProto for a custom op against the nodes
// that use it.
func checkFunction(f *onnxpb.FunctionProto, domain, op string, nodes []*onnxpb.NodeProto) error {
	if f.GetDomain() != domain || f.GetName() != op {
		return fmt.Errorf("function for %s::%s is named %s::%s", domain, op, f.GetDomain(), f.GetName())
	}
	declared := map[string]bool{}
	for _, a := range f.Attribute {
		declared[a] = true
	}
	for _, n := range nodes {
		if n.GetDomain() != domain || n.GetOpType() != op {
			continue
		}
		for _, a := range n.Attribute {
			if !declared[a.GetName()] {
				return fmt.Errorf("function %s::%s does not declare attribute %q, which its nodes carry", domain, op, a.GetName())
			}
		}
		if len(n.Input) > len(f.Input) || len(n.Output) > len(f.Output) {
			return fmt.Errorf("function %s::%s has %d inputs and %d outputs; node %q uses %d and %d",
				domain, op, len(f.Input), len(f.Output), n.GetName(), len(n.Input), len(n.Output))
		}
	}
	for _, imp := range f.OpsetImport {
		if (imp.GetDomain() == "" || imp.GetDomain() == "ai.onnx") && imp.GetVersion() > bsnn.TargetOpset {
			return fmt.Errorf("function %s::%s imports ai.onnx opset %d; the converted model uses %d", domain, op, imp.GetVersion(), bsnn.TargetOpset)
		}
	}
	return nil
}
