package nirbsnn

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// DefaultTimeSteps is T for a graph whose metadata does not give it.
const DefaultTimeSteps = 4

// ImportOptions control Import.
type ImportOptions struct {
	// TimeSteps is T for a graph whose metadata has no bsnn.time_steps
	// (default DefaultTimeSteps).
	TimeSteps int
	// DT is the time step in seconds; 0 takes the graph's "dt" metadata,
	// else DefaultDT.
	DT float64
	// InputEncoding is "direct" or "events" for a graph whose metadata has
	// no bsnn.input_encoding (default "direct").
	InputEncoding string
	// ProducerVersion is the ONNX file's producer_version ("" is "dev").
	ProducerVersion string
	// SourceSHA256 is the NIR file's SHA-256, recorded in
	// bsnn.source_model ("" leaves it out).
	SourceSHA256 string
}

// A Result is an imported BSNN and the settings the import used.
type Result struct {
	// Model is the BSNN in the portable profile.
	Model         *onnx.Model
	TimeSteps     int
	DT            float64
	InputEncoding string
}

// Import turns a NIR graph into a BSNN ONNX file of the portable profile
// (the mapping of docs/spec/nir.md, read backwards). Every node it cannot
// express is reported at once in an *onnx.UnsupportedError; a graph that
// breaks NIR's definitions gives the nir package's *nir.FormatError.
func Import(g *nir.Graph, opts ImportOptions) (*Result, error) {
	if err := g.Check(); err != nil {
		return nil, err
	}
	im := &importer{g: g, opts: opts, b: newBuilder(), out: map[string]string{}, spikes: map[string]bool{},
		orPool: map[string]string{}, pair: map[string]string{}, absorbed: map[string]bool{}, lifNode: map[string]string{}}
	if err := im.settings(); err != nil {
		return nil, err
	}
	if err := im.structure(); err != nil {
		return nil, err
	}
	// The graph's input and output keep the names of its Input and Output.
	im.b.taken[im.input], im.b.taken[im.output] = true, true
	if len(im.bad) > 0 {
		return nil, &onnx.UnsupportedError{Items: im.bad}
	}
	im.patterns()
	for _, name := range im.order {
		if err := im.emit(name); err != nil {
			im.bad = append(im.bad, onnx.Unsupported{Node: name, OpType: "nir::" + g.Nodes[name].Type(), Reason: err.Error()})
			// The shapes are known without it: carry on and list every
			// culprit.
			im.out[name] = "unsupported:" + name
		}
	}
	if len(im.bad) > 0 {
		return nil, &onnx.UnsupportedError{Items: im.bad}
	}
	m, err := im.model()
	if err != nil {
		return nil, err
	}
	canon, err := export.Export(m, bsnn.ProfilePortable, export.Options{ProducerVersion: opts.ProducerVersion})
	if err != nil {
		return nil, fmt.Errorf("nir import: the imported model is not a BSNN bsnnctl can export: %w", err)
	}
	enc := "direct"
	if im.events {
		enc = "events"
	}
	return &Result{Model: canon, TimeSteps: im.T, DT: im.dt, InputEncoding: enc}, nil
}

type importer struct {
	g    *nir.Graph
	opts ImportOptions

	T      int
	dt     float64
	events bool

	types         map[string]nir.NodeType
	order         []string
	input, output string

	spikes   map[string]bool   // the node's output is 0/1
	orPool   map[string]string // IF node -> the SumPool2d it takes the maximum of
	pair     map[string]string // layer -> the per-channel affine written with it
	absorbed map[string]bool   // nodes written as part of another

	b       *builder
	out     map[string]string // NIR node -> its ONNX output, [T*N, ...]
	layers  []bsnn.Layer
	lifNode map[string]string // NIR neuron -> ONNX LIF node
	bad     []onnx.Unsupported
}

func (im *importer) unsupported(name, reason string) {
	im.bad = append(im.bad, onnx.Unsupported{Node: name, OpType: "nir::" + im.g.Nodes[name].Type(), Reason: reason})
}

// settings reads T, dt and the input encoding from the graph's metadata,
// else from the options.
func (im *importer) settings() error {
	md := im.g.Metadata
	im.T = im.opts.TimeSteps
	if t, ok := md.Int(bsnn.MetaTimeSteps); ok {
		im.T = int(t)
	}
	if im.T == 0 {
		im.T = DefaultTimeSteps
	}
	if im.T < 1 || im.T > 1<<20 {
		return fmt.Errorf("nir import: %d time steps", im.T)
	}
	im.dt = im.opts.DT
	if im.dt == 0 {
		im.dt = DefaultDT
		if v, ok := md.Float("dt"); ok {
			im.dt = v
		}
	}
	if !(im.dt > 0) || math.IsInf(im.dt, 0) {
		return fmt.Errorf("nir import: dt must be a positive number of seconds, got %g", im.dt)
	}
	enc := im.opts.InputEncoding
	if s, ok := md.String(bsnn.MetaInputEncoding); ok {
		enc = s
	}
	switch enc {
	case "", "direct":
	case "events":
		im.events = true
	default:
		return fmt.Errorf("nir import: input encoding %q (want direct or events)", enc)
	}
	return nil
}

// structure checks what a BSNN can hold — one Input, one Output, no nested
// graph, no cycle — and orders the nodes.
func (im *importer) structure() error {
	var ins, outs []string
	for _, name := range im.g.Names() {
		switch im.g.Nodes[name].(type) {
		case *nir.Graph:
			im.unsupported(name, "a nested graph (exporters write recurrent layers this way); a BSNN is feed-forward")
		case *nir.Input:
			ins = append(ins, name)
		case *nir.Output:
			outs = append(outs, name)
		}
	}
	if len(ins) != 1 || len(outs) != 1 {
		return fmt.Errorf("nir import: the graph has %d Input and %d Output nodes; a BSNN has one of each", len(ins), len(outs))
	}
	if len(im.bad) > 0 {
		return nil
	}
	im.input, im.output = ins[0], outs[0]
	types, err := im.g.InferTypes()
	if err != nil {
		return err
	}
	im.types = types
	// Kahn's algorithm, ready nodes in name order.
	indeg := map[string]int{}
	for _, e := range im.g.Edges {
		indeg[e.To]++
	}
	var ready []string
	for _, name := range im.g.Names() {
		if indeg[name] == 0 {
			if name != im.input {
				im.unsupported(name, "receives no input")
			}
			ready = append(ready, name)
		}
	}
	done := map[string]bool{}
	for len(ready) > 0 {
		name := ready[0]
		ready = ready[1:]
		im.order = append(im.order, name)
		done[name] = true
		for _, s := range im.g.Successors(name) {
			if indeg[s]--; indeg[s] == 0 {
				i, _ := slices.BinarySearch(ready, s)
				ready = slices.Insert(ready, i, s)
			}
		}
	}
	for _, name := range im.g.Names() {
		if !done[name] {
			im.unsupported(name, "on a cycle (a recurrent connection); a BSNN is feed-forward")
		}
	}
	return nil
}

// patterns finds the node groups that stand for one ONNX op: a max pooling
// of spikes (SumPool2d -> IF) and a layer with its BatchNormalization or
// weight scale written as a per-channel affine after it.
func (im *importer) patterns() {
	for _, name := range im.order {
		switch n := im.g.Nodes[name].(type) {
		case *nir.LIF, *nir.IF, *nir.CubaLIF:
			im.spikes[name] = true
		case *nir.Flatten:
			p := im.g.Predecessors(name)
			im.spikes[name] = len(p) == 1 && im.spikes[p[0]]
		case *nir.Conv2d, *nir.Conv1d, *nir.Affine, *nir.Linear:
			im.pairAffine(name, n)
		}
	}
	for _, name := range im.order {
		n, ok := im.g.Nodes[name].(*nir.IF)
		if !ok {
			continue
		}
		p := im.g.Predecessors(name)
		if len(p) != 1 {
			continue
		}
		pool, ok := im.g.Nodes[p[0]].(*nir.SumPool2d)
		if !ok || len(im.g.Successors(p[0])) != 1 || pool == nil {
			continue
		}
		q := im.g.Predecessors(p[0])
		if len(q) == 1 && im.spikes[q[0]] && isOr(n, im.dt) {
			im.orPool[name] = p[0]
			im.absorbed[p[0]] = true
		}
	}
}

// isOr reports whether an IF neuron fed by spike counts fires exactly when
// the count is at least 1, and starts every step at 0: v_reset = 0 and
// 0 <= v_threshold < dt·r.
func isOr(n *nir.IF, dt float64) bool {
	r, ok1 := n.R.Uniform()
	th, ok2 := n.VThreshold.Uniform()
	re, ok3 := n.VReset.Uniform()
	return ok1 && ok2 && ok3 && re == 0 && th >= 0 && th < r*dt
}

// diagonal returns a per-channel affine written as a layer with a diagonal
// weight (a 1x1 Conv2d or Conv1d with stride 1, no padding, one group, or
// a square Affine): y = a·x + b.
func diagonal(n nir.Node) (a, b []float32, ok bool) {
	var w nir.Tensor
	switch n := n.(type) {
	case *nir.Conv2d:
		if n.Groups != 1 || n.Stride != [2]int64{1, 1} || n.Padding != [2]int64{} || n.PaddingMode == "same" ||
			len(n.Weight.Shape) != 4 || n.Weight.Shape[2] != 1 || n.Weight.Shape[3] != 1 {
			return nil, nil, false
		}
		w, b = n.Weight, n.Bias.Float32s()
	case *nir.Conv1d:
		if n.Groups != 1 || n.Stride != 1 || n.Padding != 0 || n.PaddingMode == "same" || len(n.Weight.Shape) != 3 || n.Weight.Shape[2] != 1 {
			return nil, nil, false
		}
		w, b = n.Weight, n.Bias.Float32s()
	case *nir.Affine:
		w, b = n.Weight, n.Bias.Float32s()
	default:
		return nil, nil, false
	}
	c := w.Shape[0]
	if len(w.Shape) < 2 || w.Shape[1] != c {
		return nil, nil, false
	}
	v := w.Float32s()
	a = make([]float32, c)
	for i := 0; i < c; i++ {
		for j := 0; j < c; j++ {
			if x := v[i*c+j]; i == j {
				a[i] = x
			} else if x != 0 {
				return nil, nil, false
			}
		}
	}
	return a, b, true
}

// pairAffine pairs a layer with the per-channel affine after it when the
// affine's metadata says it is the layer's BatchNormalization or weight
// scale and its values are exactly what those give.
func (im *importer) pairAffine(name string, n nir.Node) {
	s := im.g.Successors(name)
	if len(s) != 1 || len(im.g.Predecessors(s[0])) != 1 {
		return
	}
	d := im.g.Nodes[s[0]]
	a, b, ok := diagonal(d)
	if !ok {
		return
	}
	alpha := weightScale(n.Meta(), len(a))
	if bn, ok := readBatchNorm(d.Meta(), len(a)); ok {
		wa, wb := bn.affine(alpha)
		if slices.Equal(wa, a) && slices.Equal(wb, b) {
			im.pair[name], im.absorbed[s[0]] = s[0], true
		}
		return
	}
	if op, _ := d.Meta().String(MetaOp); op == "weight_scale" && alpha != nil && slices.Equal(alpha, a) && allZero(b) {
		im.pair[name], im.absorbed[s[0]] = s[0], true
	}
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// weightScale returns a binary layer's bsnn.weight_scale per output
// channel, or nil when it is absent or 1 everywhere.
func weightScale(m nir.Metadata, c int) []float32 {
	a, ok := m.Array(MetaWeightScale)
	v, isF32 := a.Data.([]float32)
	if !ok || !isF32 || (len(v) != 1 && len(v) != c) {
		return nil
	}
	out := make([]float32, c)
	unit := true
	for i := range out {
		out[i] = v[0]
		if len(v) == c {
			out[i] = v[i]
		}
		unit = unit && out[i] == 1
	}
	if unit {
		return nil
	}
	return out
}

// inputOf returns the ONNX tensor a node reads: its one predecessor's
// output, or the sum of several (NIR sums a node's inputs).
func (im *importer) inputOf(name string) string {
	p := im.g.Predecessors(name)
	x := im.out[p[0]]
	for i, q := range p[1:] {
		x = im.b.op(name+"/sum"+strconv.Itoa(i+1), "Add", []string{x, im.out[q]}, name+".in")
	}
	return x
}

// emit writes one NIR node as ONNX.
func (im *importer) emit(name string) error {
	if name == im.input {
		return im.encoder(name)
	}
	x := im.inputOf(name)
	if im.absorbed[name] {
		im.out[name] = x
		return nil
	}
	feat := im.types[name].Out
	switch n := im.g.Nodes[name].(type) {
	case *nir.Output:
		return im.decoder(name, x)
	case *nir.Conv2d, *nir.Conv1d, *nir.Affine, *nir.Linear:
		return im.layer(name, n, x)
	case *nir.LIF:
		m, err := fromLIF(n, im.dt)
		if err != nil {
			return err
		}
		return im.neuron(name, n.Metadata, m, x)
	case *nir.IF:
		if pool := im.orPool[name]; pool != "" {
			return im.maxPool(name, im.g.Nodes[pool].(*nir.SumPool2d), x)
		}
		m, err := fromIF(n, im.dt)
		if err != nil {
			return err
		}
		return im.neuron(name, n.Metadata, m, x)
	case *nir.SumPool2d:
		return im.avgPool(name, n.KernelSize, n.Stride, n.Padding, x, true)
	case *nir.AvgPool2d:
		return im.avgPool(name, n.KernelSize, n.Stride, n.Padding, x, false)
	case *nir.Flatten:
		im.out[name] = im.b.op(name, "Reshape", []string{x, im.b.int64s(name+".shape", append([]int64{-1}, feat...)...)}, name)
		return nil
	case *nir.Scale:
		c := im.b.floats(name+".scale", int64s(n.Scale.Shape), n.Scale.Float32s())
		im.out[name] = im.b.op(name, "Mul", []string{x, c}, name)
		return nil
	case *nir.Threshold:
		return fmt.Errorf("a stateless threshold; bsnn has spiking LIF neurons only (a Threshold after a SumPool2d on spikes is not read as a max pooling either)")
	case *nir.LI, *nir.CubaLI, *nir.I:
		return fmt.Errorf("a neuron without spikes (its output is the membrane); bsnn's LIF outputs spikes")
	case *nir.CubaLIF:
		return fmt.Errorf("a current-based LIF (a synaptic current state); bsnn's LIF has the membrane alone")
	case *nir.Delay:
		return fmt.Errorf("delays have no bsnn equivalent")
	}
	return fmt.Errorf("no bsnn equivalent")
}

// encoder writes the graph input and, for direct encoding, its repetition
// over the T steps as the converter writes it (spec §3.7): [N, ...] ->
// Unsqueeze(axes [0]) -> Expand([T, 1, ...]) -> Reshape([-1, ...]) ->
// [T*N, ...]; events come as [T, N, ...] and are merged to [T*N, ...]
// (spec §8).
func (im *importer) encoder(name string) error {
	b := im.b
	feat := im.types[name].Out
	x := name
	if !im.events {
		u := b.op("encode/unsqueeze", "Unsqueeze", []string{name, b.int64s("bsnn.axes.0", 0)}, name+".unsqueezed")
		reps := make([]int64, len(feat)+2)
		for i := range reps {
			reps[i] = 1
		}
		reps[0] = int64(im.T)
		x = b.op("encode/expand", "Expand", []string{u, b.int64s("bsnn.shape.expand", reps...)}, name+".repeat_tn")
	}
	shape := b.int64s("bsnn.shape.encode", append([]int64{-1}, feat...)...)
	im.out[name] = b.op("encode/repeat", "Reshape", []string{x, shape}, name+".repeat")
	return nil
}

// decoder writes the output: the mean over time of the last node's output.
func (im *importer) decoder(name, x string) error {
	feat := im.types[name].Out
	b := im.b
	tn := b.op("decode/to_tn", "Reshape", []string{x, b.int64s("bsnn.shape.decode", append([]int64{int64(im.T), -1}, feat...)...)}, x+".tn")
	b.exact("decode/mean_over_time", "ReduceMean", []string{tn}, name, onnx.AttrInts("axes", 0), onnx.AttrInt("keepdims", 0))
	im.out[name] = name
	return nil
}

// model assembles the ModelProto with the bsnn.* metadata.
func (im *importer) model() (*onnx.Model, error) {
	sym := onnx.Dim{Value: -1, Param: "N"}
	shape := func(lead []onnx.Dim, feat []int64) onnx.Shape {
		s := slices.Clone(onnx.Shape(lead))
		for _, d := range feat {
			s = append(s, onnx.Dim{Value: d})
		}
		return s
	}
	inLead := []onnx.Dim{sym}
	if im.events {
		inLead = []onnx.Dim{{Value: int64(im.T)}, sym}
	}
	g := &onnxpb.GraphProto{
		Name:        proto.String("nir_bsnn"),
		Node:        im.b.nodes,
		Initializer: im.b.inits,
		Input:       []*onnxpb.ValueInfoProto{onnx.ValueInfoProto(im.input, onnx.Float, shape(inLead, im.types[im.input].Out))},
		Output:      []*onnxpb.ValueInfoProto{onnx.ValueInfoProto(im.output, onnx.Float, shape([]onnx.Dim{sym}, im.types[im.output].Out))},
		DocString:   proto.String(fmt.Sprintf("binary spiking network imported from NIR by bsnnctl: T=%d, dt=%g s", im.T, im.dt)),
	}
	mp := &onnxpb.ModelProto{
		IrVersion: proto.Int64(bsnn.TargetIRVersion),
		OpsetImport: []*onnxpb.OperatorSetIdProto{
			{Domain: proto.String(""), Version: proto.Int64(bsnn.TargetOpset)},
			{Domain: proto.String(bsnn.DomainQONNX), Version: proto.Int64(1)},
			{Domain: proto.String(bsnn.DomainSNN), Version: proto.Int64(1)},
		},
		ProducerName: proto.String(bsnn.Producer),
		Graph:        g,
	}
	m := &onnx.Model{Proto: mp}
	im.linkNeurons()
	layers, err := json.Marshal(im.layers)
	if err != nil {
		return nil, err
	}
	if im.layers == nil {
		layers = []byte("[]")
	}
	producer := "nir " + im.g.Version
	if p, ok := im.g.Metadata.String(MetaProducer); ok {
		producer += " (" + p + ")"
	}
	source, err := json.Marshal(map[string]any{"format": "nir", "producer": producer, "sha256": im.opts.SourceSHA256,
		"dt": im.dt})
	if err != nil {
		return nil, err
	}
	enc := "direct"
	if im.events {
		enc = "events"
	}
	for _, kv := range [][2]string{
		{bsnn.MetaFormatVersion, bsnn.FormatVersion},
		{bsnn.MetaProfile, string(bsnn.ProfilePortable)},
		{bsnn.MetaTimeSteps, strconv.Itoa(im.T)},
		{bsnn.MetaTimeAxis, "0"},
		{bsnn.MetaInputEncoding, enc},
		{bsnn.MetaOutputDecoding, "mean_over_time"},
		{bsnn.MetaSignZero, "+1"},
		{bsnn.MetaSpikeCondition, ">="},
		{bsnn.MetaLayers, string(layers)},
		{bsnn.MetaAGMM, `{"enabled":false,"gates":[]}`},
		{bsnn.MetaSourceModel, string(source)},
	} {
		m.SetMetadata(kv[0], kv[1])
	}
	return m, nil
}

// linkNeurons fills each layer's neuron: the first LIF its output reaches
// through nodes that are not layers.
func (im *importer) linkNeurons() {
	for i := range im.layers {
		l := &im.layers[i]
		seen := map[string]bool{}
		queue := im.g.Successors(l.Name)
		for len(queue) > 0 && l.Neuron == "" {
			s := queue[0]
			queue = queue[1:]
			if seen[s] {
				continue
			}
			seen[s] = true
			if n := im.lifNode[s]; n != "" {
				l.Neuron = n
				continue
			}
			switch im.g.Nodes[s].(type) {
			case *nir.Conv2d, *nir.Conv1d, *nir.Affine, *nir.Linear:
				if !im.absorbed[s] {
					continue
				}
			}
			queue = append(queue, im.g.Successors(s)...)
		}
	}
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}
