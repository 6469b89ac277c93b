package convert

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
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

	consts map[string]*onnx.Tensor
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
func (z *normalizer) addConst(base string, c *onnx.Tensor) string {
	name := z.fresh(base)
	z.consts[name] = c
	return name
}

func normalize(m *onnx.Model) (*normalizer, error) {
	z := &normalizer{m: m, opset: m.Opset(""), consts: map[string]*onnx.Tensor{}, shapes: map[string][]int64{},
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
		if !static.IsFloatType(t.Type) && !static.IsIntType(t.Type) {
			z.bad = append(z.bad, onnx.Unsupported{OpType: "initializer", Reason: fmt.Sprintf("%q: tensor of type %s", name, t.Type)})
			z.poison[name] = true
			continue
		}
		z.consts[name] = t
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
		outs, why := z.evalConst(n, z.inputs(in))
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

// arg returns input i, or "" when the node has fewer inputs.
func arg(in []string, i int) string {
	if i < len(in) {
		return in[i]
	}
	return ""
}
