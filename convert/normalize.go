package convert

import (
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Source opsets and IR versions the converter reads (spec §1).
const (
	MinSourceOpset = 7
	MaxSourceOpset = 21
)

// A cnode is a node of the normalised source graph: a runtime op in its
// opset-17 form (attributes already in that form; inputs that opset 17
// takes as tensors, such as Squeeze axes or Clip bounds, are constants).
type cnode struct {
	src     *onnx.Node
	name    string
	op      string
	inputs  []string
	outputs []string
	attrs   []*onnxpb.AttributeProto
	lo, hi  float32 // Relu and Clip bounds (hi = +Inf when absent)
}

// A normalizer turns the source graph into cnodes: constants folded,
// shapes inferred with a symbolic batch, every op in its opset-17 form.
type normalizer struct {
	m     *onnx.Model
	g     *onnx.Graph
	opset int

	consts map[string]*ctensor
	shapes map[string][]int64 // runtime tensors; axis 0 is always symN
	alias  map[string]string  // removed Identity/Dropout: output -> input
	nodes  []*cnode
	bad    []onnx.Unsupported
	poison map[string]bool

	input, output string
	batchParam    string
	staticBatch   int64 // the source's fixed batch size, 0 when symbolic
	graphOutputs  map[string]bool
	taken         map[string]bool // every tensor and node name in use
}

func (z *normalizer) fail(n *onnx.Node, reason string) {
	z.bad = append(z.bad, unsupported(n, z.opset, reason))
	for _, o := range n.Outputs {
		if o != "" {
			z.poison[o] = true
		}
	}
}

func (z *normalizer) resolve(name string) string {
	for {
		a, ok := z.alias[name]
		if !ok {
			return name
		}
		name = a
	}
}

// used reports whether a source tensor is read by a node or is a graph output.
func (z *normalizer) used(name string) bool {
	return len(z.g.Consumers(name)) > 0 || z.graphOutputs[name]
}

// fresh returns base, or base with a numeric suffix, unused so far.
func (z *normalizer) fresh(base string) string {
	name := base
	for k := 2; z.taken[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	z.taken[name] = true
	return name
}

// addConst registers a new constant under a fresh name derived from base.
func (z *normalizer) addConst(base string, c *ctensor) string {
	name := z.fresh(base)
	z.consts[name] = c
	return name
}

func normalize(m *onnx.Model) (*normalizer, error) {
	z := &normalizer{m: m, opset: m.Opset(""), consts: map[string]*ctensor{}, shapes: map[string][]int64{},
		alias: map[string]string{}, poison: map[string]bool{}, graphOutputs: map[string]bool{}, taken: map[string]bool{}}
	ir := m.Proto.GetIrVersion()
	if ir < onnx.MinIRVersion || ir > onnx.MaxIRVersion {
		z.bad = append(z.bad, onnx.Unsupported{OpType: fmt.Sprintf("ir_version %d", ir),
			Reason: fmt.Sprintf("IR versions %d..%d are supported", onnx.MinIRVersion, onnx.MaxIRVersion)})
	}
	if z.opset < MinSourceOpset || z.opset > MaxSourceOpset {
		z.bad = append(z.bad, onnx.Unsupported{OpType: "ai.onnx opset", Version: z.opset,
			Reason: fmt.Sprintf("opsets %d..%d are supported", MinSourceOpset, MaxSourceOpset)})
	}
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	z.g = g
	for name := range g.Initializers {
		z.taken[name] = true
	}
	for _, in := range g.Proto.Input {
		z.taken[in.GetName()] = true
	}
	for _, n := range g.Nodes {
		z.taken[n.Name] = true
		for _, o := range n.Outputs {
			z.taken[o] = true
		}
	}
	for _, o := range g.Outputs {
		z.graphOutputs[o.Name] = true
	}
	if len(g.Proto.SparseInitializer) > 0 {
		z.bad = append(z.bad, onnx.Unsupported{OpType: "sparse initializer", Reason: g.Proto.SparseInitializer[0].GetValues().GetName()})
	}
	if err := z.checkIO(); err != nil {
		return nil, err
	}
	for name, tp := range g.Initializers {
		t, err := m.TensorValue(tp)
		if err != nil {
			return nil, fmt.Errorf("convert: initializer %q: %w", name, err)
		}
		c, err := fromTensor(t)
		if err != nil {
			z.bad = append(z.bad, onnx.Unsupported{OpType: "initializer", Reason: fmt.Sprintf("%q: %v", name, err)})
			z.poison[name] = true
			continue
		}
		z.consts[name] = c
	}
	for _, n := range g.Nodes {
		z.visit(n)
	}
	out := z.resolve(z.output)
	switch {
	case z.poison[out]:
	case z.consts[out] != nil:
		z.bad = append(z.bad, onnx.Unsupported{OpType: "graph output", Reason: fmt.Sprintf("%q is a constant", z.output)})
	case out == z.input:
		z.bad = append(z.bad, onnx.Unsupported{OpType: "graph output", Reason: fmt.Sprintf("%q is the graph input", z.output)})
	}
	if len(z.bad) > 0 {
		return nil, &onnx.UnsupportedError{Items: z.bad}
	}
	return z, nil
}

// checkIO requires one float graph input with a batch axis and known other
// dimensions, and one graph output.
func (z *normalizer) checkIO() error {
	var items []onnx.Unsupported
	g := z.g
	if len(g.Inputs) != 1 {
		items = append(items, onnx.Unsupported{OpType: "graph inputs", Reason: fmt.Sprintf("%d runtime inputs; exactly one (the image or feature batch) is supported", len(g.Inputs))})
	}
	if len(g.Outputs) != 1 {
		items = append(items, onnx.Unsupported{OpType: "graph outputs", Reason: fmt.Sprintf("%d outputs; exactly one is supported", len(g.Outputs))})
	}
	if len(items) == 0 {
		in := g.Inputs[0]
		z.input, z.output = in.Name, g.Outputs[0].Name
		switch {
		case in.Type != onnx.Float:
			items = append(items, onnx.Unsupported{OpType: "graph input", Reason: fmt.Sprintf("%q is %s; float32 is supported", in.Name, in.Type)})
		case !in.HasShape || len(in.Shape) < 2:
			items = append(items, onnx.Unsupported{OpType: "graph input", Reason: fmt.Sprintf("%q must have a declared shape [N, ...] of rank >= 2", in.Name)})
		default:
			shape := []int64{symN}
			for i, d := range in.Shape[1:] {
				if !d.Known() {
					items = append(items, onnx.Unsupported{OpType: "graph input", Reason: fmt.Sprintf("%q dimension %d (%s) is not fixed; only the batch axis may be symbolic", in.Name, i+1, d)})
				}
				shape = append(shape, d.Value)
			}
			z.shapes[in.Name] = shape
			d0 := in.Shape[0]
			z.batchParam = "N"
			if d0.Param != "" {
				z.batchParam = d0.Param
			} else if d0.Known() {
				z.staticBatch = d0.Value
			}
		}
	}
	if len(items) > 0 {
		return &onnx.UnsupportedError{Items: append(z.bad, items...)}
	}
	return nil
}

func (z *normalizer) visit(n *onnx.Node) {
	if n.Domain != "" {
		z.fail(n, "ops of custom domains are not supported in the source network")
		return
	}
	in := make([]string, len(n.Inputs))
	poisoned, allConst := false, true
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		r := z.resolve(name)
		in[i] = r
		if z.poison[r] {
			poisoned = true
		}
		if z.consts[r] == nil {
			allConst = false
		}
	}
	spec, isRuntime := runtimeOps[n.OpType]
	if poisoned {
		// Still name every op the converter cannot handle, so the report
		// lists all of them at once.
		if !isRuntime && !foldOps[n.OpType] {
			z.fail(n, unsupportedReason(n.OpType))
		} else {
			for _, o := range n.Outputs {
				z.poison[o] = true
			}
		}
		return
	}
	if n.OpType == "Shape" {
		z.foldShape(n, in)
		return
	}
	if allConst && foldOps[n.OpType] {
		cin := make([]*ctensor, len(in))
		for i, name := range in {
			if name != "" {
				cin[i] = z.consts[name]
			}
		}
		outs, why := z.evalConst(n, cin)
		if why != "" {
			z.fail(n, why)
			return
		}
		for i, o := range n.Outputs {
			if o != "" && i < len(outs) && outs[i] != nil {
				z.consts[o] = outs[i]
			}
		}
		return
	}
	if allConst && isRuntime {
		z.fail(n, "a "+n.OpType+" on a constant path (no runtime input) cannot be converted")
		return
	}
	if !isRuntime {
		z.failKeepShape(n, in, unsupportedReason(n.OpType))
		return
	}
	allowed := map[string]bool{}
	for _, a := range spec.attrs {
		allowed[a] = true
	}
	for _, a := range n.Proto.Attribute {
		if !allowed[a.GetName()] {
			z.failKeepShape(n, in, fmt.Sprintf("attribute %q is not supported", a.GetName()))
			return
		}
	}
	if why := spec.build(z, n, in); why != "" {
		z.failKeepShape(n, in, why)
	}
}

// shapeKeeping are elementwise one-input ops: when one of them is
// unsupported its output still has its input's shape, so the nodes after
// it are checked too and the report names every culprit.
var shapeKeeping = map[string]bool{
	"Relu": true, "Clip": true, "LeakyRelu": true, "PRelu": true, "Elu": true, "Selu": true, "Celu": true,
	"HardSigmoid": true, "HardSwish": true, "Gelu": true, "Softplus": true, "Softsign": true,
	"ThresholdedRelu": true, "Mish": true, "Swish": true, "Sigmoid": true, "Tanh": true, "Abs": true,
	"Neg": true, "Exp": true, "Log": true, "Sqrt": true, "Erf": true, "Sin": true, "Cos": true,
	"Floor": true, "Ceil": true, "Round": true, "Sign": true, "Reciprocal": true, "Identity": true,
}

// failKeepShape reports n and, for an elementwise op on a runtime tensor,
// keeps its output usable (with the input's shape) instead of poisoning it.
func (z *normalizer) failKeepShape(n *onnx.Node, in []string, reason string) {
	xs, ok := z.shapes[arg(in, 0)]
	if !shapeKeeping[n.OpType] || !ok || len(n.Outputs) == 0 || n.Outputs[0] == "" {
		z.fail(n, reason)
		return
	}
	z.bad = append(z.bad, unsupported(n, z.opset, reason))
	z.shapes[n.Outputs[0]] = xs
	for _, o := range n.Outputs[1:] {
		if o != "" {
			z.poison[o] = true
		}
	}
}

// unsupportedReason explains why an op type is not converted.
func unsupportedReason(op string) string {
	switch op {
	case "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Gelu", "Softplus",
		"Softsign", "ThresholdedRelu", "Mish", "Swish":
		return "activation has no LIF equivalent (only Relu and Clip(min=0) become LIF neurons)"
	case "LSTM", "GRU", "RNN", "Loop", "Scan", "If":
		return "recurrent and control-flow ops are not supported"
	}
	return "op not supported by the converter"
}

// foldShape folds Shape: its output is known even when its input is a
// runtime tensor (the batch axis becomes symN).
func (z *normalizer) foldShape(n *onnx.Node, in []string) {
	var dims []int64
	if c := z.consts[in[0]]; c != nil {
		dims = c.dims
	} else if s, ok := z.shapes[in[0]]; ok {
		dims = s
	} else {
		z.fail(n, "shape of its input is unknown")
		return
	}
	r := int64(len(dims))
	start, end := n.Int("start", 0), n.Int("end", r)
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	start, end = max(0, min(r, start)), max(0, min(r, end))
	v := []int64{}
	if end > start {
		v = append(v, dims[start:end]...)
	}
	z.consts[n.Outputs[0]] = intConst([]int64{int64(len(v))}, v)
}

// axesOf reads the axes of Squeeze/Unsqueeze/ReduceMean: an attribute
// before the opset that moved it to input 1, an input after. nil when absent.
func (z *normalizer) axesOf(n *onnx.Node, in []*ctensor) ([]int64, string) {
	moved := 13
	if n.OpType == "ReduceMean" {
		moved = 18
	}
	if z.opset < moved {
		return n.Ints("axes", nil), ""
	}
	if len(in) < 2 || in[1] == nil {
		return nil, ""
	}
	if in[1].isFloat() || in[1].hasSym() {
		return nil, "axes must be constant integers"
	}
	return in[1].i, ""
}

func (z *normalizer) constIn(in []string) []*ctensor {
	out := make([]*ctensor, len(in))
	for i, name := range in {
		if name != "" {
			out[i] = z.consts[name]
		}
	}
	return out
}

// add appends a cnode for source node n.
func (z *normalizer) add(n *onnx.Node, op string, inputs []string, attrs []*onnxpb.AttributeProto) *cnode {
	name := n.Name
	if name == "" {
		name = z.fresh(fmt.Sprintf("%s_%d", op, n.Index))
	}
	c := &cnode{src: n, name: name, op: op, inputs: inputs, outputs: []string{n.Outputs[0]}, attrs: attrs}
	z.nodes = append(z.nodes, c)
	return c
}

func cloneAttrs(n *onnx.Node, drop ...string) []*onnxpb.AttributeProto {
	var out []*onnxpb.AttributeProto
next:
	for _, a := range n.Proto.Attribute {
		for _, d := range drop {
			if a.GetName() == d {
				continue next
			}
		}
		out = append(out, proto.Clone(a).(*onnxpb.AttributeProto))
	}
	return out
}

// runtime returns the shape of a runtime tensor, or ok false.
func (z *normalizer) runtime(name string) ([]int64, bool) {
	s, ok := z.shapes[name]
	return s, ok
}

// onlyFirstOutput checks that outputs after the first are unused.
func (z *normalizer) onlyFirstOutput(n *onnx.Node) string {
	for i, o := range n.Outputs {
		if i > 0 && o != "" && z.used(o) {
			return fmt.Sprintf("output %d (%q) is used; only the first output is supported", i, o)
		}
	}
	return ""
}

type opSpec struct {
	attrs []string
	build func(z *normalizer, n *onnx.Node, in []string) string
}

// runtimeOps are the ops the converter accepts on runtime tensors, with
// every attribute they may carry in opsets 7..21.
var runtimeOps map[string]opSpec

func init() {
	runtimeOps = map[string]opSpec{
		"Conv":               {[]string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}, buildConv},
		"Gemm":               {[]string{"alpha", "beta", "transA", "transB"}, buildGemm},
		"MatMul":             {nil, buildMatMul},
		"BatchNormalization": {[]string{"epsilon", "momentum", "spatial", "training_mode"}, buildBN},
		"Relu":               {nil, buildRelu},
		"Clip":               {[]string{"min", "max"}, buildClip},
		"Sigmoid":            {nil, buildUnary},
		"Tanh":               {nil, buildUnary},
		"Add":                {nil, buildBinary},
		"Sub":                {nil, buildBinary},
		"Mul":                {nil, buildBinary},
		"Div":                {nil, buildBinary},
		"MaxPool":            {[]string{"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}, buildPool},
		"AveragePool":        {[]string{"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"}, buildPool},
		"GlobalAveragePool":  {nil, buildGlobalPool},
		"GlobalMaxPool":      {nil, buildGlobalPool},
		"Flatten":            {[]string{"axis"}, buildFlatten},
		"Reshape":            {[]string{"allowzero"}, buildReshape},
		"Squeeze":            {[]string{"axes"}, buildSqueeze},
		"Unsqueeze":          {[]string{"axes"}, buildUnsqueeze},
		"Transpose":          {[]string{"perm"}, buildTranspose},
		"Concat":             {[]string{"axis"}, buildConcat},
		"Softmax":            {[]string{"axis"}, buildSoftmax},
		"LogSoftmax":         {[]string{"axis"}, buildSoftmax},
		"ReduceMean":         {[]string{"axes", "keepdims", "noop_with_empty_axes"}, buildReduceMean},
		"Pad":                {[]string{"mode", "pads", "value"}, buildPad},
		"Dropout":            {[]string{"ratio", "seed"}, buildDropout},
		"Identity":           {nil, buildIdentity},
	}
}

// SupportedOps returns the ai.onnx op types the converter accepts on
// runtime tensors, and those it folds when their inputs are constant.
func SupportedOps() (runtime, folded []string) {
	for op := range runtimeOps {
		runtime = append(runtime, op)
	}
	for op := range foldOps {
		folded = append(folded, op)
	}
	sort.Strings(runtime)
	sort.Strings(folded)
	return runtime, folded
}

func ones(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// spatialOut computes the output sizes of a convolution or pooling window.
func spatialOut(n *onnx.Node, in, kernel []int64, ceil bool) ([]int64, string) {
	k := len(kernel)
	strides := n.Ints("strides", ones(k))
	dil := n.Ints("dilations", ones(k))
	pads := n.Ints("pads", make([]int64, 2*k))
	autoPad := n.String("auto_pad", "NOTSET")
	if len(strides) != k || len(dil) != k || len(pads) != 2*k {
		return nil, "strides, dilations or pads do not match the kernel rank"
	}
	out := make([]int64, k)
	for i := 0; i < k; i++ {
		if strides[i] < 1 || dil[i] < 1 {
			return nil, "strides and dilations must be >= 1"
		}
		eff := (kernel[i]-1)*dil[i] + 1
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out[i] = (in[i] + strides[i] - 1) / strides[i]
		case "VALID", "NOTSET", "":
			pb, pe := pads[i], pads[i+k]
			if autoPad == "VALID" {
				pb, pe = 0, 0
			}
			num := in[i] + pb + pe - eff
			if num < 0 {
				return nil, fmt.Sprintf("window %d larger than the padded input %d", eff, in[i]+pb+pe)
			}
			if ceil {
				out[i] = (num+strides[i]-1)/strides[i] + 1
				// The last window must start inside the input or its
				// leading padding (PyTorch and onnxruntime).
				if (out[i]-1)*strides[i] >= in[i]+pb {
					out[i]--
				}
			} else {
				out[i] = num/strides[i] + 1
			}
		default:
			return nil, fmt.Sprintf("auto_pad %q is not supported", autoPad)
		}
	}
	return out, ""
}

func buildConv(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Conv input must be a runtime tensor"
	}
	if z.consts[arg(in, 1)] == nil {
		return "Conv weight is not a constant (only Conv layers with initializer weights are supported)"
	}
	w := z.consts[in[1]]
	if w.dtype != onnx.Float {
		return fmt.Sprintf("Conv weight is %s; float32 is supported", w.dtype)
	}
	if len(xs) < 3 || len(w.dims) != len(xs) {
		return fmt.Sprintf("Conv of input %s with weight %v", shapeString(xs), w.dims)
	}
	group := n.Int("group", 1)
	if group < 1 || w.dims[0]%group != 0 || xs[1] != w.dims[1]*group {
		return fmt.Sprintf("Conv input channels %d do not match weight %v with group %d", xs[1], w.dims, group)
	}
	kernel := w.dims[2:]
	if ks := n.Ints("kernel_shape", nil); ks != nil && !equalInts(ks, kernel) {
		return fmt.Sprintf("kernel_shape %v does not match weight %v", ks, w.dims)
	}
	sp, why := spatialOut(n, xs[2:], kernel, false)
	if why != "" {
		return why
	}
	inputs := []string{in[0], in[1]}
	if len(in) > 2 && in[2] != "" {
		b := z.consts[in[2]]
		if b == nil || b.dtype != onnx.Float || b.size() != int(w.dims[0]) {
			return "Conv bias must be a float32 constant with one value per output channel"
		}
		inputs = append(inputs, in[2])
	}
	z.add(n, "Conv", inputs, cloneAttrs(n))
	z.shapes[n.Outputs[0]] = append([]int64{symN, w.dims[0]}, sp...)
	return ""
}

func buildGemm(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Gemm input A must be a runtime tensor"
	}
	if n.Int("transA", 0) != 0 {
		return "Gemm with transA=1 moves the batch axis"
	}
	w := z.consts[arg(in, 1)]
	if w == nil {
		return "Gemm weight B is not a constant (only Gemm layers with initializer weights are supported)"
	}
	if w.dtype != onnx.Float || len(w.dims) != 2 || len(xs) != 2 {
		return fmt.Sprintf("Gemm of input %s with weight %v (%s)", shapeString(xs), w.dims, w.dtype)
	}
	k, m := w.dims[0], w.dims[1]
	if n.Int("transB", 0) != 0 {
		k, m = m, k
	}
	if xs[1] != k {
		return fmt.Sprintf("Gemm input %s does not match weight %v", shapeString(xs), w.dims)
	}
	inputs := []string{in[0], in[1]}
	if len(in) > 2 && in[2] != "" {
		c := z.consts[in[2]]
		if c == nil || c.dtype != onnx.Float {
			return "Gemm C must be a float32 constant"
		}
		if n := c.size(); n != 1 && n != int(m) || len(c.dims) > 2 || len(c.dims) == 2 && c.dims[0] != 1 {
			return fmt.Sprintf("Gemm C of shape %v depends on the batch (want [%d], [1,%d] or a scalar)", c.dims, m, m)
		}
		inputs = append(inputs, in[2])
	}
	z.add(n, "Gemm", inputs, cloneAttrs(n))
	z.shapes[n.Outputs[0]] = []int64{symN, m}
	return ""
}

func buildMatMul(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	w := z.consts[arg(in, 1)]
	if !ok || w == nil {
		return "MatMul is supported with a runtime input A and a constant weight B"
	}
	if w.dtype != onnx.Float || len(w.dims) != 2 || len(xs) < 2 || xs[len(xs)-1] != w.dims[0] {
		return fmt.Sprintf("MatMul of input %s with weight %v (%s)", shapeString(xs), w.dims, w.dtype)
	}
	z.add(n, "MatMul", []string{in[0], in[1]}, nil)
	z.shapes[n.Outputs[0]] = append(append([]int64{}, xs[:len(xs)-1]...), w.dims[1])
	return ""
}

func buildBN(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok || len(in) != 5 {
		return "BatchNormalization needs a runtime input and four parameters"
	}
	if len(xs) < 2 {
		return "BatchNormalization of a rank-1 tensor"
	}
	for _, p := range in[1:] {
		c := z.consts[p]
		if c == nil || c.dtype != onnx.Float || c.size() != int(xs[1]) {
			return fmt.Sprintf("BatchNormalization parameter %q must be a float32 constant of %d values", p, xs[1])
		}
	}
	if n.Int("spatial", 1) != 1 {
		return "BatchNormalization with spatial=0 is not supported"
	}
	if n.Int("training_mode", 0) != 0 {
		return "BatchNormalization in training mode (export the network in eval mode)"
	}
	if why := z.onlyFirstOutput(n); why != "" {
		return why
	}
	z.add(n, "BatchNormalization", append([]string{}, in...), []*onnxpb.AttributeProto{
		attrFloat("epsilon", n.Float("epsilon", 1e-5)),
		attrFloat("momentum", n.Float("momentum", 0.9)),
	})
	z.shapes[n.Outputs[0]] = xs
	return ""
}

func buildRelu(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Relu input must be a runtime tensor"
	}
	c := z.add(n, "Relu", []string{in[0]}, nil)
	c.lo, c.hi = 0, float32(math.Inf(1))
	z.shapes[n.Outputs[0]] = xs
	return ""
}

func buildClip(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Clip input must be a runtime tensor"
	}
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	hasMin := false
	if z.opset < 11 {
		if n.Has("min") {
			lo, hasMin = n.Float("min", 0), true
		}
		if n.Has("max") {
			hi = n.Float("max", 0)
		}
	} else {
		for i, p := range []*float32{&lo, &hi} {
			if i+1 >= len(in) || in[i+1] == "" {
				continue
			}
			c := z.consts[in[i+1]]
			if c == nil || !c.isFloat() || c.size() != 1 {
				return "Clip bounds must be constant scalars"
			}
			*p = c.f[0]
			if i == 0 {
				hasMin = true
			}
		}
	}
	if !hasMin || lo != 0 {
		return fmt.Sprintf("Clip(min=%g) has no LIF equivalent; only Clip(min=0) (ReLU, ReLU6) becomes a LIF neuron", lo)
	}
	if !(hi > 0) {
		return fmt.Sprintf("Clip(min=0, max=%g) is constant", hi)
	}
	c := z.add(n, "Clip", []string{in[0]}, nil)
	c.lo, c.hi = lo, hi
	z.shapes[n.Outputs[0]] = xs
	return ""
}

func buildUnary(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return n.OpType + " input must be a runtime tensor"
	}
	z.add(n, n.OpType, []string{in[0]}, nil)
	z.shapes[n.Outputs[0]] = xs
	return ""
}

// bcastRuntime broadcasts two shapes of which at least one is a runtime
// shape (symN at axis 0); the batch axis must stay at axis 0 and no
// constant may span it.
func bcastRuntime(a, b []int64) ([]int64, string) {
	r := max(len(a), len(b))
	out := make([]int64, r)
	for i := 0; i < r; i++ {
		da, db := int64(1), int64(1)
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		case da == symN || db == symN:
			return nil, fmt.Sprintf("a tensor of shape %s spans the batch axis of %s", shapeString(b), shapeString(a))
		default:
			return nil, fmt.Sprintf("shapes %s and %s do not broadcast", shapeString(a), shapeString(b))
		}
	}
	if out[0] != symN {
		return nil, fmt.Sprintf("broadcasting %s with %s moves the batch axis", shapeString(a), shapeString(b))
	}
	for _, d := range out[1:] {
		if d == symN {
			return nil, "the batch axis appears twice"
		}
	}
	return out, ""
}

func buildBinary(z *normalizer, n *onnx.Node, in []string) string {
	if len(in) != 2 {
		return n.OpType + " needs two inputs"
	}
	var shapes [2][]int64
	for i, name := range in {
		if s, ok := z.runtime(name); ok {
			shapes[i] = s
			continue
		}
		c := z.consts[name]
		if c == nil {
			return fmt.Sprintf("input %q is unknown", name)
		}
		if c.dtype != onnx.Float {
			return fmt.Sprintf("constant operand %q is %s; float32 is supported", name, c.dtype)
		}
		shapes[i] = c.dims
	}
	out, why := bcastRuntime(shapes[0], shapes[1])
	if why != "" {
		return why
	}
	z.add(n, n.OpType, []string{in[0], in[1]}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildPool(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok || len(xs) < 3 {
		return n.OpType + " needs a runtime input of rank >= 3"
	}
	if why := z.onlyFirstOutput(n); why != "" {
		return why
	}
	kernel := n.Ints("kernel_shape", nil)
	if len(kernel) != len(xs)-2 {
		return "kernel_shape does not match the input rank"
	}
	var drop []string
	if n.OpType == "AveragePool" && n.Has("dilations") {
		// AveragePool has dilations only from opset 19 on; opset 17 cannot
		// express them, so only the all-ones value converts.
		if !equalInts(n.Ints("dilations", nil), ones(len(kernel))) {
			return "AveragePool with dilations != 1 cannot be written at opset 17"
		}
		drop = append(drop, "dilations")
	}
	sp, why := spatialOut(n, xs[2:], kernel, n.Int("ceil_mode", 0) != 0)
	if why != "" {
		return why
	}
	z.add(n, n.OpType, []string{in[0]}, cloneAttrs(n, drop...))
	z.shapes[n.Outputs[0]] = append([]int64{symN, xs[1]}, sp...)
	return ""
}

func buildGlobalPool(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok || len(xs) < 3 {
		return n.OpType + " needs a runtime input of rank >= 3"
	}
	z.add(n, n.OpType, []string{in[0]}, nil)
	out := []int64{symN, xs[1]}
	z.shapes[n.Outputs[0]] = append(out, ones(len(xs)-2)...)
	return ""
}

func buildFlatten(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Flatten input must be a runtime tensor"
	}
	a, ok := normAxisIncl(n.Int("axis", 1), len(xs))
	if !ok {
		return "Flatten axis out of range"
	}
	if a == 0 || numel(xs[1:a]) != 1 {
		return fmt.Sprintf("Flatten(axis=%d) of %s merges the batch axis with others", a, shapeString(xs))
	}
	z.add(n, "Flatten", []string{in[0]}, []*onnxpb.AttributeProto{attrInt("axis", int64(a))})
	z.shapes[n.Outputs[0]] = []int64{symN, numel(xs[a:])}
	return ""
}

// buildReshape makes every Reshape batch-agnostic: the batch axis must stay
// at axis 0, unmerged; the written shape is [-1, d1, ...] with every other
// dimension explicit, so the same node works for [N, ...] and [T*N, ...].
func buildReshape(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Reshape input must be a runtime tensor"
	}
	if z.consts[arg(in, 1)] == nil {
		return "Reshape target shape is not a constant (nor a foldable shape computation)"
	}
	tc := z.consts[in[1]]
	if tc.isFloat() || len(tc.i) == 0 {
		return "Reshape target shape must be a non-empty integer tensor"
	}
	t := tc.i
	allowZero := n.Int("allowzero", 0) != 0
	for j, d := range t[1:] {
		if d == symN {
			return fmt.Sprintf("Reshape target %s puts the batch size at axis %d", shapeString(t), j+1)
		}
	}
	first := t[0]
	isBatch := first == symN || first == -1 || first == 0 && !allowZero ||
		z.staticBatch > 0 && first == z.staticBatch
	if !isBatch {
		return fmt.Sprintf("Reshape target %s does not keep the batch at axis 0", shapeString(t))
	}
	p := numel(xs[1:])
	rest := make([]int64, len(t)-1)
	neg := -1
	known := int64(1)
	for j, d := range t[1:] {
		i := j + 1
		switch {
		case d == 0 && !allowZero:
			if i >= len(xs) {
				return fmt.Sprintf("Reshape target %s copies a missing dimension", shapeString(t))
			}
			rest[j] = xs[i]
		case d == 0:
			return "Reshape to a zero-size dimension"
		case d == -1:
			if neg >= 0 || first == -1 {
				return fmt.Sprintf("Reshape target %s is ambiguous about the batch axis", shapeString(t))
			}
			neg = j
			continue
		case d < 0:
			return fmt.Sprintf("Reshape target %s is invalid", shapeString(t))
		default:
			rest[j] = d
		}
		known *= rest[j]
	}
	if neg >= 0 {
		if known == 0 || p%known != 0 {
			return fmt.Sprintf("Reshape of %s to %s", shapeString(xs), shapeString(t))
		}
		rest[neg] = p / known
	} else if known != p {
		return fmt.Sprintf("Reshape of %s to %s regroups the batch axis", shapeString(xs), shapeString(t))
	}
	target := append([]int64{-1}, rest...)
	sname := z.addConst(n.Label()+".shape", intConst([]int64{int64(len(target))}, target))
	z.add(n, "Reshape", []string{in[0], sname}, nil)
	z.shapes[n.Outputs[0]] = append([]int64{symN}, rest...)
	return ""
}

func buildSqueeze(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Squeeze input must be a runtime tensor"
	}
	axes, why := z.axesOf(n, z.constIn(in))
	if why != "" {
		return why
	}
	if len(in) > 1 && in[1] != "" && z.consts[in[1]] == nil {
		return "Squeeze axes must be constant"
	}
	drop := map[int]bool{}
	if axes == nil {
		// "All size-1 axes": resolved now, so the batch axis never goes.
		for i := 1; i < len(xs); i++ {
			if xs[i] == 1 {
				drop[i] = true
			}
		}
	}
	for _, a := range axes {
		na, ok := normAxis(a, len(xs))
		if !ok {
			return "Squeeze axis out of range"
		}
		if na == 0 {
			return "Squeeze of the batch axis"
		}
		if xs[na] != 1 {
			return fmt.Sprintf("Squeeze of axis %d of size %d", na, xs[na])
		}
		drop[na] = true
	}
	var out, list []int64
	for i, d := range xs {
		if drop[i] {
			list = append(list, int64(i))
		} else {
			out = append(out, d)
		}
	}
	if len(list) == 0 {
		z.alias[n.Outputs[0]] = in[0]
		return ""
	}
	aname := z.addConst(n.Label()+".axes", intConst([]int64{int64(len(list))}, list))
	z.add(n, "Squeeze", []string{in[0], aname}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildUnsqueeze(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Unsqueeze input must be a runtime tensor"
	}
	axes, why := z.axesOf(n, z.constIn(in))
	if why != "" {
		return why
	}
	if axes == nil {
		return "Unsqueeze without axes"
	}
	r := len(xs) + len(axes)
	ins := map[int]bool{}
	for _, a := range axes {
		na, ok := normAxis(a, r)
		if !ok || ins[na] {
			return "Unsqueeze axes invalid"
		}
		if na == 0 {
			return "Unsqueeze at axis 0 moves the batch axis"
		}
		ins[na] = true
	}
	var out, list []int64
	k := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, 1)
			list = append(list, int64(i))
		} else {
			out = append(out, xs[k])
			k++
		}
	}
	aname := z.addConst(n.Label()+".axes", intConst([]int64{int64(len(list))}, list))
	z.add(n, "Unsqueeze", []string{in[0], aname}, nil)
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildTranspose(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Transpose input must be a runtime tensor"
	}
	perm, why := permOf(n, len(xs))
	if why != "" {
		return why
	}
	if perm[0] != 0 {
		return fmt.Sprintf("Transpose perm %v moves the batch axis", perm)
	}
	out := make([]int64, len(xs))
	p64 := make([]int64, len(xs))
	for i, p := range perm {
		out[i] = xs[p]
		p64[i] = int64(p)
	}
	z.add(n, "Transpose", []string{in[0]}, []*onnxpb.AttributeProto{attrInts("perm", p64)})
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildConcat(z *normalizer, n *onnx.Node, in []string) string {
	var shapes [][]int64
	for _, name := range in {
		s, ok := z.runtime(name)
		if !ok {
			return "Concat of a runtime tensor with a constant (the constant has no batch axis)"
		}
		shapes = append(shapes, s)
	}
	if len(shapes) == 0 {
		return "Concat without inputs"
	}
	r := len(shapes[0])
	a, ok := normAxis(n.Int("axis", 0), r)
	if !ok {
		return "Concat axis out of range"
	}
	if a == 0 {
		return "Concat along the batch axis"
	}
	out := append([]int64{}, shapes[0]...)
	out[a] = 0
	for _, s := range shapes {
		if len(s) != r {
			return "Concat inputs differ in rank"
		}
		for i := range s {
			if i != a && s[i] != shapes[0][i] {
				return "Concat inputs differ in shape"
			}
		}
		out[a] += s[a]
	}
	z.add(n, "Concat", append([]string{}, in...), []*onnxpb.AttributeProto{attrInt("axis", int64(a))})
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildSoftmax(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return n.OpType + " input must be a runtime tensor"
	}
	def := int64(-1)
	if z.opset < 13 {
		def = 1
	}
	a, ok := normAxis(n.Int("axis", def), len(xs))
	if !ok {
		return n.OpType + " axis out of range"
	}
	if a == 0 {
		return n.OpType + " over the batch axis"
	}
	if z.opset < 13 && numel(xs[a+1:]) != 1 {
		return fmt.Sprintf("%s(axis=%d) before opset 13 normalises over the flattened trailing axes of %s; only a trailing axis converts", n.OpType, a, shapeString(xs))
	}
	z.add(n, n.OpType, []string{in[0]}, []*onnxpb.AttributeProto{attrInt("axis", int64(a))})
	z.shapes[n.Outputs[0]] = xs
	return ""
}

func buildReduceMean(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "ReduceMean input must be a runtime tensor"
	}
	if len(in) > 1 && in[1] != "" && z.consts[in[1]] == nil {
		return "ReduceMean axes must be constant"
	}
	axes, why := z.axesOf(n, z.constIn(in))
	if why != "" {
		return why
	}
	keep := n.Int("keepdims", 1) != 0
	if len(axes) == 0 {
		if z.opset >= 18 && n.Int("noop_with_empty_axes", 0) != 0 {
			z.alias[n.Outputs[0]] = in[0]
			return ""
		}
		return "ReduceMean over all axes includes the batch axis"
	}
	red := map[int]bool{}
	for _, a := range axes {
		na, ok := normAxis(a, len(xs))
		if !ok {
			return "ReduceMean axis out of range"
		}
		if na == 0 {
			return "ReduceMean over the batch axis"
		}
		red[na] = true
	}
	var out, list []int64
	for i, d := range xs {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
		if red[i] {
			list = append(list, int64(i))
		}
	}
	z.add(n, "ReduceMean", []string{in[0]}, []*onnxpb.AttributeProto{attrInts("axes", list), attrInt("keepdims", b2i(keep))})
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildPad(z *normalizer, n *onnx.Node, in []string) string {
	xs, ok := z.runtime(in[0])
	if !ok {
		return "Pad input must be a runtime tensor"
	}
	mode := n.String("mode", "constant")
	if mode != "constant" && mode != "reflect" && mode != "edge" {
		return fmt.Sprintf("Pad mode %q is not supported at opset 17", mode)
	}
	r := len(xs)
	var pads []int64
	value := float32(0)
	if z.opset < 11 {
		pads = n.Ints("pads", nil)
		value = n.Float("value", 0)
	} else {
		pc := z.consts[arg(in, 1)]
		if pc == nil || pc.isFloat() {
			return "Pad pads must be a constant integer tensor"
		}
		pads = pc.i
		if len(in) > 2 && in[2] != "" {
			vc := z.consts[in[2]]
			if vc == nil || !vc.isFloat() || vc.size() != 1 {
				return "Pad constant_value must be a constant float scalar"
			}
			value = vc.f[0]
		}
		if len(in) > 3 && in[3] != "" {
			ac := z.consts[in[3]]
			if ac == nil || ac.isFloat() {
				return "Pad axes must be constant integers"
			}
			if len(pads) != 2*len(ac.i) {
				return "Pad pads do not match its axes"
			}
			full := make([]int64, 2*r)
			for k, a := range ac.i {
				na, ok := normAxis(a, r)
				if !ok {
					return "Pad axis out of range"
				}
				full[na], full[na+r] = pads[k], pads[k+len(ac.i)]
			}
			pads = full
		}
	}
	if len(pads) != 2*r {
		return "Pad pads do not match the input rank"
	}
	if pads[0] != 0 || pads[r] != 0 {
		return "Pad on the batch axis"
	}
	out := append([]int64{}, xs...)
	for i := 1; i < r; i++ {
		out[i] = xs[i] + pads[i] + pads[i+r]
		if out[i] <= 0 {
			return "Pad removes a whole axis"
		}
	}
	pname := z.addConst(n.Label()+".pads", intConst([]int64{int64(2 * r)}, append([]int64{}, pads...)))
	inputs := []string{in[0], pname}
	if mode == "constant" && value != 0 {
		inputs = append(inputs, z.addConst(n.Label()+".value", floatConst(nil, []float32{value})))
	}
	z.add(n, "Pad", inputs, []*onnxpb.AttributeProto{attrString("mode", mode)})
	z.shapes[n.Outputs[0]] = out
	return ""
}

func buildDropout(z *normalizer, n *onnx.Node, in []string) string {
	if _, ok := z.runtime(in[0]); !ok {
		return "Dropout input must be a runtime tensor"
	}
	if why := z.onlyFirstOutput(n); why != "" {
		return why
	}
	if len(in) > 2 && in[2] != "" {
		c := z.consts[in[2]]
		if c == nil || c.isFloat() || c.size() != 1 || c.i[0] != 0 {
			return "Dropout in training mode (export the network in eval mode)"
		}
	}
	z.alias[n.Outputs[0]] = in[0]
	return ""
}

func buildIdentity(z *normalizer, n *onnx.Node, in []string) string {
	if _, ok := z.runtime(in[0]); !ok {
		return "Identity input is unknown"
	}
	z.alias[n.Outputs[0]] = in[0]
	return ""
}

// arg returns input i, or "" when the node has fewer inputs.
func arg(in []string, i int) string {
	if i < len(in) {
		return in[i]
	}
	return ""
}
