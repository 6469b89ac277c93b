package nirbsnn

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// BatchNorm says how Export writes a BatchNormalization (a tdBN).
type BatchNorm string

const (
	// BatchNormLayer (default) writes each BatchNormalization as its own
	// node after the layer: the per-channel affine y = a·x + b our engine
	// evaluates (a = γ/sqrt(σ²+ε), b = β - μ·a, in float32), as a 1x1
	// Conv2d (or an Affine after a fully connected layer) with the diagonal
	// weight diag(a) and bias b. The layer keeps its ±1 weights.
	BatchNormLayer BatchNorm = "layer"
	// BatchNormFold multiplies a into the preceding layer's weights and
	// adds b to its bias, one synaptic layer per neuron layer as hardware
	// toolchains want it; binary weights become ±a_c per output channel.
	BatchNormFold BatchNorm = "fold"
)

// ParseBatchNorm parses a BatchNorm name ("" is layer).
func ParseBatchNorm(s string) (BatchNorm, error) {
	switch s {
	case "", string(BatchNormLayer):
		return BatchNormLayer, nil
	case string(BatchNormFold):
		return BatchNormFold, nil
	}
	return "", fmt.Errorf("unknown batch-norm mode %q (want layer or fold)", s)
}

// ExportOptions control Export.
type ExportOptions struct {
	// DT is the time step in seconds that one BSNN step stands for
	// (default DefaultDT).
	DT float64
	// BatchNorm chooses how BatchNormalization is written (default
	// BatchNormLayer).
	BatchNorm BatchNorm
	// Producer is recorded in the graph's metadata as bsnn.producer
	// (default "bsnnctl").
	Producer string
}

// maxAffineChannels bounds the channels of a BatchNormalization written as
// a diagonal layer (its weight has channels² elements).
const maxAffineChannels = 4096

// Export writes a BSNN of any profile as a NIR graph (the mapping of
// docs/spec/nir.md). Every node NIR cannot express is reported at once in
// an *onnx.UnsupportedError, naming the node and why; nothing is returned
// then.
func Export(m *onnx.Model, opts ExportOptions) (*nir.Graph, error) {
	if opts.DT == 0 {
		opts.DT = DefaultDT
	}
	if !(opts.DT > 0) || math.IsInf(opts.DT, 0) {
		return nil, fmt.Errorf("nir export: dt must be a positive number of seconds, got %g", opts.DT)
	}
	bn, err := ParseBatchNorm(string(opts.BatchNorm))
	if err != nil {
		return nil, fmt.Errorf("nir export: %w", err)
	}
	opts.BatchNorm = bn
	if opts.Producer == "" {
		opts.Producer = bsnn.Producer
	}
	canon, err := export.Export(m, bsnn.ProfilePortable, export.Options{})
	if err != nil {
		return nil, err
	}
	info, err := export.Recognize(canon)
	if err != nil {
		return nil, err
	}
	g, err := canon.Graph()
	if err != nil {
		return nil, err
	}
	e := &exporter{opts: opts, m: canon, g: g, info: info, out: nir.NewGraph(),
		sigs: map[string]*signal{}, consts: map[string]*onnx.Tensor{}, poison: map[string]bool{},
		binary: map[string]*export.Layer{}, neurons: map[string]*export.Neuron{}, gates: map[string]*export.Gate{},
		layerNames: map[string]string{}, neuronNames: map[string]string{}, used: map[string]bool{}}
	return e.run()
}

// A signal is what an ONNX tensor is in the NIR graph: the sum of the
// outputs of srcs, per sample of shape feat.
type signal struct {
	srcs []string
	feat []int64
	// lead is the number of axes before feat: 1 for [N, ...] and
	// [T*N, ...], 2 for the [T, N, ...] view LIF reads.
	lead int
	// spikes: every value is 0 or 1.
	spikes bool
	// decoded: averaged over time (the model output).
	decoded bool
	// layer is set when the tensor is the only use of a layer's output, so
	// a bias or a BatchNormalization may be folded into it.
	layer *layerRef
}

// A layerRef is a Conv/Affine/Linear node just written.
type layerRef struct {
	name   string
	binary bool
	// alpha is the BipolarQuant scale per output channel when it is not 1.
	alpha []float32
}

type exporter struct {
	opts ExportOptions
	m    *onnx.Model
	g    *onnx.Graph
	info *export.Info
	out  *nir.Graph

	sigs   map[string]*signal
	consts map[string]*onnx.Tensor
	poison map[string]bool // outputs of nodes that could not be exported

	binary      map[string]*export.Layer  // binary weight tensor -> layer
	neurons     map[string]*export.Neuron // LIF node -> neuron
	gates       map[string]*export.Gate   // AGMMGate node -> gate
	layerNames  map[string]string         // compute node -> bsnn.layers name
	neuronNames map[string]string         // LIF node -> "<layer>.lif"
	used        map[string]bool           // NIR node names taken

	events bool
	bad    []onnx.Unsupported
}

func (e *exporter) run() (*nir.Graph, error) {
	for _, l := range e.info.Layers {
		e.binary[l.Weight] = l
	}
	for _, n := range e.info.Neurons {
		e.neurons[n.Name] = n
	}
	for _, gt := range e.info.Gates {
		e.gates[gt.Name] = gt
	}
	if layers, ok := bsnn.ReadLayers(e.m); ok {
		for _, l := range layers {
			e.layerNames[l.Node] = l.Name
			if l.Neuron != "" && e.neuronNames[l.Neuron] == "" {
				e.neuronNames[l.Neuron] = l.Name + ".lif"
			}
		}
	}
	for _, l := range e.info.Layers {
		e.layerNames[l.Node] = l.Name
	}
	meta := e.m.Metadata()
	e.events = meta[bsnn.MetaInputEncoding] == "events"
	T := e.info.TimeSteps
	if T <= 0 {
		return nil, fmt.Errorf("nir export: the model does not say its number of time steps (%s)", bsnn.MetaTimeSteps)
	}
	if err := e.input(); err != nil {
		return nil, err
	}
	for _, n := range e.g.Nodes {
		e.visit(n)
	}
	if err := e.output(); err != nil {
		return nil, err
	}
	if len(e.bad) > 0 {
		return nil, &onnx.UnsupportedError{Items: e.bad}
	}
	e.graphMetadata(T)
	if _, err := e.out.InferTypes(); err != nil {
		return nil, fmt.Errorf("nir export: internal error: the graph written does not type-check: %w", err)
	}
	return e.out, nil
}

// visit exports one ONNX node, or records why it cannot.
func (e *exporter) visit(n *onnx.Node) {
	for _, in := range n.Inputs {
		if e.poison[in] {
			e.poisonOutputs(n)
			return
		}
	}
	if err := e.node(n); err != nil {
		e.bad = append(e.bad, onnx.Unsupported{Node: n.Label(), OpType: n.OpType, Domain: n.Domain, Reason: err.Error()})
		// Keep going through nodes that keep their input's shape, so that
		// the nodes after them are checked too and every culprit is listed
		// at once; after any other node the checks would be guesses.
		x, ok := e.sigs[n.Input(0)]
		if !ok || !shapeKeeping[n.OpType] || len(n.Outputs) == 0 {
			e.poisonOutputs(n)
			return
		}
		out := x.view()
		out.spikes = n.OpType == "LIF"
		e.sigs[n.Outputs[0]] = out
		for _, o := range n.Outputs[1:] {
			if o != "" {
				e.poison[o] = true
			}
		}
	}
}

// shapeKeeping lists ops whose first output has their first input's shape.
var shapeKeeping = map[string]bool{
	"LIF": true, "LIFStep": true, "AGMMGate": true, "Relu": true, "Clip": true, "Sigmoid": true, "Tanh": true,
	"LeakyRelu": true, "Neg": true, "BatchNormalization": true, "Add": true, "Sub": true, "Mul": true, "Div": true,
}

func (e *exporter) poisonOutputs(n *onnx.Node) {
	for _, o := range n.Outputs {
		if o != "" {
			e.poison[o] = true
		}
	}
}

func (e *exporter) node(n *onnx.Node) error {
	switch n.Domain {
	case bsnn.DomainSNN:
		switch n.OpType {
		case "LIF":
			return e.lif(n)
		case "AGMMGate":
			return e.gate(n)
		}
		return fmt.Errorf("NIR has no equivalent of %s", n.OpType)
	case bsnn.DomainQONNX:
		if n.OpType == "BipolarQuant" && e.binary[n.Outputs[0]] != nil {
			return nil // read by the layer
		}
		return fmt.Errorf("a BipolarQuant on a runtime tensor has no NIR equivalent")
	case "":
	default:
		return fmt.Errorf("custom op of domain %s", n.Domain)
	}
	switch n.OpType {
	case "Conv":
		return e.conv(n)
	case "MatMul":
		return e.matmul(n)
	case "Gemm":
		return e.gemm(n)
	case "BatchNormalization":
		return e.batchNorm(n)
	case "Add", "Sub", "Mul":
		return e.arith(n)
	case "MaxPool", "GlobalMaxPool":
		return e.maxPool(n)
	case "AveragePool", "GlobalAveragePool":
		return e.avgPool(n)
	case "Reshape", "Flatten":
		return e.reshape(n)
	case "Concat", "Unsqueeze", "Expand":
		return e.encoder(n)
	case "ReduceMean":
		return e.decoder(n)
	case "Identity", "Dropout":
		x, err := e.signal(n.Input(0))
		if err != nil {
			return err
		}
		e.sigs[n.Outputs[0]] = x.view()
		return nil
	case "Constant":
		t, err := n.TensorAttr("value")
		if err != nil || t == nil {
			return fmt.Errorf("only Constant nodes with a tensor value are read")
		}
		e.consts[n.Outputs[0]] = t
		return nil
	}
	return fmt.Errorf("NIR has no equivalent of %s", n.OpType)
}

// view is a copy of the signal for a tensor that only changes layout.
func (s *signal) view() *signal {
	c := *s
	c.layer = nil
	return &c
}

// constant returns an initializer or Constant output, or nil.
func (e *exporter) constant(name string) *onnx.Tensor {
	if t, ok := e.consts[name]; ok {
		return t
	}
	if p, ok := e.g.Initializers[name]; ok {
		t, err := e.m.TensorValue(p)
		if err != nil {
			return nil
		}
		e.consts[name] = t
		return t
	}
	return nil
}

// signal returns the network signal a tensor carries.
func (e *exporter) signal(name string) (*signal, error) {
	if s, ok := e.sigs[name]; ok {
		return s, nil
	}
	if e.constant(name) != nil {
		return nil, fmt.Errorf("input %q is a constant where NIR needs a signal", name)
	}
	return nil, fmt.Errorf("input %q is not a signal of the network", name)
}

// onlyUse reports whether node n is the one consumer of tensor t and t is
// not a graph output.
func (e *exporter) onlyUse(t string) bool {
	if len(e.g.Consumers(t)) != 1 {
		return false
	}
	for _, o := range e.g.Outputs {
		if o.Name == t {
			return false
		}
	}
	return true
}

// add puts a node into the NIR graph with edges from srcs.
func (e *exporter) add(name string, n nir.Node, srcs []string) {
	e.out.Add(name, n, srcs...)
}

// fresh turns an ONNX name into an unused NIR node name: "/" becomes ".",
// as HDF5 names cannot hold it.
func (e *exporter) fresh(base string) string {
	s := strings.Trim(strings.ReplaceAll(base, "/", "."), ".")
	if s == "" {
		s = "node"
	}
	name := s
	for i := 2; e.used[name]; i++ {
		name = s + "_" + strconv.Itoa(i)
	}
	e.used[name] = true
	return name
}

// input writes the Input node for the graph input: [N, C, ...] repeated
// T times (direct encoding) or [T, N, C, ...] (events).
func (e *exporter) input() error {
	if len(e.g.Inputs) != 1 {
		return fmt.Errorf("nir export: the model has %d inputs; NIR export handles one", len(e.g.Inputs))
	}
	in := e.g.Inputs[0]
	lead := 1
	if e.events {
		lead = 2
	}
	if len(in.Shape) <= lead {
		return fmt.Errorf("nir export: input %q has shape %v; want [%s, features...]", in.Name, in.Shape, map[int]string{1: "N", 2: "T, N"}[lead])
	}
	var feat []int64
	for i, d := range in.Shape[lead:] {
		if !d.Known() || d.Value < 1 {
			return fmt.Errorf("nir export: input %q dimension %d (%s) is not fixed", in.Name, lead+i, d)
		}
		feat = append(feat, d.Value)
	}
	name := e.fresh(in.Name)
	e.add(name, &nir.Input{Shape: feat}, nil)
	e.sigs[in.Name] = &signal{srcs: []string{name}, feat: feat, lead: lead}
	return nil
}

// output writes the Output node for the graph output.
func (e *exporter) output() error {
	if len(e.g.Outputs) != 1 {
		return fmt.Errorf("nir export: the model has %d outputs; NIR export handles one", len(e.g.Outputs))
	}
	o := e.g.Outputs[0].Name
	if e.poison[o] {
		return nil
	}
	s, ok := e.sigs[o]
	if !ok {
		e.bad = append(e.bad, onnx.Unsupported{Node: o, OpType: "output", Reason: "the graph output is not computed from the input"})
		return nil
	}
	if !s.decoded {
		e.bad = append(e.bad, onnx.Unsupported{Node: o, OpType: "output", Reason: "the graph output is not the mean over time of a layer's output"})
		return nil
	}
	e.add(e.fresh(o), &nir.Output{Shape: slices.Clone(s.feat)}, s.srcs)
	return nil
}

// graphMetadata records what the NIR graph itself cannot say.
func (e *exporter) graphMetadata(T int) {
	m := &e.out.Metadata
	m.Set("dt", e.opts.DT)
	m.Set(MetaFormatVersion, FormatVersion)
	m.Set(MetaProducer, e.opts.Producer)
	m.Set(bsnn.MetaTimeSteps, int64(T))
	if e.events {
		m.Set(bsnn.MetaInputEncoding, "events")
	} else {
		m.Set(bsnn.MetaInputEncoding, "direct")
		m.Set(MetaInputRepeat, int64(T))
	}
	m.Set(bsnn.MetaOutputDecoding, "mean_over_time")
	m.Set(bsnn.MetaSpikeCondition, ">=")
	m.Set(MetaBatchNormMode, string(e.opts.BatchNorm))
}

// lif writes a LIF node as NIR's LIF (or IF for tau = inf).
func (e *exporter) lif(n *onnx.Node) error {
	nr := e.neurons[n.Name]
	if nr == nil || nr.Form != export.FormNode {
		return fmt.Errorf("LIF node not recognised")
	}
	x, err := e.signal(n.Input(0))
	if err != nil {
		return err
	}
	if x.lead != 2 {
		return fmt.Errorf("LIF input %q is not the [T, N, ...] view", n.Input(0))
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" && (len(e.g.Consumers(n.Outputs[1])) > 0 || e.isOutput(n.Outputs[1])) {
		return fmt.Errorf("the final membrane V_T is used; NIR nodes have one output")
	}
	node, err := neuronNode(nr.Params, ints(x.feat), e.opts.DT)
	if err != nil {
		return err
	}
	// A LIF keeps its name when it is a NIR name already (a model imported
	// from NIR); the converter's ("/Relu/lif") become "<layer>.lif".
	base := n.Name
	if s := e.neuronNames[n.Name]; s != "" && strings.Contains(n.Name, "/") {
		base = s
	}
	name := e.fresh(base)
	meta := lifMetadata(nr.Params)
	meta.Set(MetaONNXNode, n.Name)
	switch node := node.(type) {
	case *nir.LIF:
		node.Metadata = meta
	case *nir.IF:
		node.Metadata = meta
	}
	e.add(name, node, x.srcs)
	e.sigs[n.Outputs[0]] = &signal{srcs: []string{name}, feat: x.feat, lead: 2, spikes: true}
	return nil
}

// lifMetadata keeps the training-only attributes, which NIR has no field
// for, so that importing the file restores them.
func lifMetadata(p spiking.LIFParams) nir.Metadata {
	var m nir.Metadata
	m.Set(MetaSurrogate, p.Surrogate.String())
	m.Set(MetaSurrogateAlpha, float64(p.SurrogateAlpha))
	m.Set(MetaDetachReset, b2i(p.DetachReset))
	return m
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (e *exporter) isOutput(t string) bool {
	for _, o := range e.g.Outputs {
		if o.Name == t {
			return true
		}
	}
	return false
}

// gate drops an AGMMGate in grad_only mode (the identity in the forward
// pass) and refuses one in forward mode.
func (e *exporter) gate(n *onnx.Node) error {
	gt := e.gates[n.Name]
	if gt == nil {
		return fmt.Errorf("AGMMGate node not recognised")
	}
	if gt.Params.Mode != spiking.AGMMModeGradOnly {
		return fmt.Errorf("an AGMM gate in mode %s scales activity by alpha[t]·sigmoid(mean(X[t])), which NIR cannot express (gates in mode grad_only are identities and export as nothing)", gt.Params.Mode)
	}
	x, err := e.signal(n.Input(0))
	if err != nil {
		return err
	}
	e.sigs[n.Outputs[0]] = x.view()
	return nil
}

func ints(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}
