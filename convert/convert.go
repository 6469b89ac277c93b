package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// A Result is a converted model with its layer table and size report.
type Result struct {
	// Model is the BSNN in the portable profile.
	Model *onnx.Model
	// Layers is the bsnn.layers metadata: one entry per compute layer, in
	// graph order.
	Layers []bsnn.Layer
	// Report is the per-layer table and the size report.
	Report *Report
}

// Convert rewrites a float ANN into a BSNN (spec §3) in the portable
// profile. It returns an *onnx.UnsupportedError listing every node it
// cannot convert, all at once, and never a partial model. src is not
// modified. The BSNN shares the weights it carries unchanged with src (no
// copy): change neither model's weights in place while the other is in
// use.
func Convert(src *onnx.Model, opts Options) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("convert: internal error: %v", r)
		}
	}()
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	z, err := normalize(src)
	if err != nil {
		return nil, err
	}
	a, err := analyse(z, o)
	if err != nil {
		return nil, err
	}
	w := newWriter(z, a, o)
	if err := w.run(); err != nil {
		return nil, err
	}
	sum, err := sourceSHA256(src, o)
	if err != nil {
		return nil, err
	}
	m, layers, err := w.assemble(src, sum)
	if err != nil {
		return nil, err
	}
	rep := w.report(layers)
	js, err := json.Marshal(rep.Size)
	if err != nil {
		return nil, err
	}
	m.SetMetadata(bsnn.MetaSizeReport, string(js))
	// A source op that reads one tensor twice (x*x) gets an Identity copy:
	// BSNN files never repeat a node input (bsnn.CheckNames).
	bsnn.Legalize(m.Proto.Graph)
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("convert: internal error: the converted model is malformed: %w", err)
	}
	return &Result{Model: m, Layers: layers, Report: rep}, nil
}

func sourceSHA256(src *onnx.Model, o *resolved) (string, error) {
	h := sha256.New()
	switch {
	case o.SourceSHA256 != "":
		return o.SourceSHA256, nil
	case o.SourceBytes != nil:
		h.Write(o.SourceBytes)
	case o.SourcePath != "":
		f, err := os.Open(o.SourcePath)
		if err != nil {
			return "", fmt.Errorf("convert: source hash: %w", err)
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("convert: source hash: %s: %w", o.SourcePath, err)
		}
	default:
		if err := onnx.Encode(h, src); err != nil {
			return "", fmt.Errorf("convert: source hash: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// assemble builds the ModelProto: header, graph, functions, annotations and
// metadata (all but bsnn.size_report).
func (w *writer) assemble(src *onnx.Model, sum string) (*onnx.Model, []bsnn.Layer, error) {
	z, o := w.z, w.o
	gname := src.Proto.GetGraph().GetName()
	if gname == "" {
		gname = "network"
	}
	g := &onnxpb.GraphProto{
		Name:        proto.String(gname + "_bsnn"),
		Node:        w.nodes,
		Initializer: w.inits,
		ValueInfo:   w.vinfo,
		DocString: proto.String(fmt.Sprintf("binary spiking network converted by bsnnctl: T=%d, %s, mean over time",
			o.T, map[bsnn.InputEncoding]string{bsnn.EncodingDirect: "direct encoding", bsnn.EncodingEvents: "one event frame per step"}[o.InputEncoding])),
	}
	inShape := onnx.Shape{{Value: -1, Param: z.batchParam}}
	if o.InputEncoding == bsnn.EncodingEvents {
		inShape = onnx.Shape{{Value: o.T}, {Value: -1, Param: z.batchParam}}
	}
	for _, d := range z.shapes[z.input][1:] {
		inShape = append(inShape, onnx.Dim{Value: d})
	}
	outShape := onnx.Shape{{Value: -1, Param: z.batchParam}}
	for _, d := range z.shapes[z.resolve(z.output)][1:] {
		outShape = append(outShape, onnx.Dim{Value: d})
	}
	g.Input = []*onnxpb.ValueInfoProto{onnx.ValueInfoProto(z.input, onnx.Float, inShape)}
	g.Output = []*onnxpb.ValueInfoProto{onnx.ValueInfoProto(z.output, onnx.Float, outShape)}

	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(bsnn.TargetIRVersion),
		ProducerName:    proto.String(bsnn.Producer),
		ProducerVersion: proto.String(o.ProducerVersion),
		Graph:           g,
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(bsnn.TargetOpset)}},
		DocString: proto.String(fmt.Sprintf("BSNN (spec bsnn-onnx format %s, profile %s) from %s",
			bsnn.FormatVersion, bsnn.ProfilePortable, producerOf(src))),
	}
	for _, d := range []string{bsnn.DomainQONNX, bsnn.DomainSNN} {
		used := false
		for k := range w.custom {
			if strings.HasPrefix(k, d+"::") {
				used = true
			}
		}
		if used {
			mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(1)})
		}
	}
	var keys []string
	for k := range w.custom {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var missing []string
	for _, k := range keys {
		domain, op, _ := strings.Cut(k, "::")
		f, err := o.Functions(domain, op)
		if err != nil {
			missing = append(missing, err.Error())
			continue
		}
		if f == nil {
			missing = append(missing, fmt.Sprintf("no FunctionProto for %s::%s", domain, op))
			continue
		}
		if err := checkFunction(f, domain, op, w.nodes); err != nil {
			return nil, nil, fmt.Errorf("convert: %w", err)
		}
		mp.Functions = append(mp.Functions, proto.Clone(f).(*onnxpb.FunctionProto))
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("convert: the portable profile needs a function body for every custom op: %s", strings.Join(missing, "; "))
	}
	m := &onnx.Model{Proto: mp}
	for _, a := range w.ann {
		m.SetAnnotation(a[0], bsnn.AnnotationDatatype, a[1])
	}

	var layers []bsnn.Layer
	for _, l := range w.a.layers {
		lo := w.out[l]
		li := bsnn.Layer{Name: l.name, Node: lo.node, Op: lo.op, Binary: l.binary, Neuron: w.neuronOf(l)}
		if l.binary {
			li.WeightLatent, li.WeightBin, li.WeightScale = lo.latent, lo.bin, lo.scale
		}
		layers = append(layers, li)
	}
	neurons := map[string]any{}
	for _, n := range w.lifNodes {
		neurons[n] = bsnn.NeuronEntry(bsnn.LIF.Name, o.Neuron)
	}
	agmm := map[string]any{
		"enabled": o.AGMM && len(w.gates) > 0, "requested": o.AGMM, "mode": o.Gate.Mode.String(),
		"detach_stat": b2i(o.Gate.DetachStat), "alpha_init": 1.0, "alpha_shape": []int64{o.T},
		"weight_decay": false, "position": "data input of every binary layer, [T, N, ...] view",
		"gates": append([]gateInfo{}, w.gates...),
	}
	source := map[string]any{"producer": producerOf(src), "sha256": sum, "opset": z.opset,
		"ir_version": src.Proto.GetIrVersion()}
	for _, kv := range []struct {
		k string
		v any
	}{
		{bsnn.MetaFormatVersion, bsnn.FormatVersion},
		{bsnn.MetaProfile, string(bsnn.ProfilePortable)},
		{bsnn.MetaTimeSteps, strconv.FormatInt(o.T, 10)},
		{bsnn.MetaTimeAxis, "0"},
		{bsnn.MetaInputEncoding, string(o.InputEncoding)},
		{bsnn.MetaOutputDecoding, "mean_over_time"},
		{bsnn.MetaSignZero, "+1"},
		{bsnn.MetaSpikeCondition, ">="},
		{bsnn.MetaLayers, layers},
		{bsnn.MetaNeurons, neurons},
		{bsnn.MetaAGMM, agmm},
		{bsnn.MetaSourceModel, source},
	} {
		s, ok := kv.v.(string)
		if !ok {
			b, err := json.Marshal(kv.v)
			if err != nil {
				return nil, nil, fmt.Errorf("convert: metadata %s: %w", kv.k, err)
			}
			s = string(b)
		}
		m.SetMetadata(kv.k, s)
	}
	return m, layers, nil
}

func producerOf(m *onnx.Model) string {
	p := strings.TrimSpace(m.Proto.GetProducerName() + " " + m.Proto.GetProducerVersion())
	if p == "" {
		return "unknown"
	}
	return p
}
