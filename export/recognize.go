package export

import (
	"encoding/json"
	"strconv"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// How a binary layer's weight is stored (Layer.Source).
const (
	// SourceBipolarQuant: a latent float initializer and a scale go through
	// a BipolarQuant node (portable, train).
	SourceBipolarQuant = "bipolarquant"
	// SourceFolded: the ±1 values are an initializer annotated
	// finn_datatype BIPOLAR or listed as weight_bin in bsnn.layers (plain, a
	// QONNX-cleaned or FINN-folded file).
	SourceFolded = "folded"
	// SourcePacked: 1 bit per weight in a UINT8 initializer, unpacked by
	// standard ops (packed).
	SourcePacked = "packed"
)

// How a neuron or gate is written (Neuron.Form, Gate.Form).
const (
	FormNode     = "node"     // the custom op itself (LIF, LIFStep, AGMMGate)
	FormUnrolled = "unrolled" // standard ops, every time step written out
	FormStep     = "step"     // standard ops, one time step with state inputs/outputs
)

// Info is what Recognize finds in a BSNN file of any profile.
type Info struct {
	// Profile is the profile the file's structure shows (portable, plain,
	// packed, train); MetaProfile is what its bsnn.profile says ("" if none).
	Profile     bsnn.Profile
	MetaProfile string
	// PlainForm is unrolled or step for a plain file.
	PlainForm bsnn.PlainForm
	// TimeSteps is T (bsnn.time_steps, else the neurons' time dimension,
	// else the AGMM alpha length; 0 when nothing tells).
	TimeSteps int
	Layers    []*Layer
	Neurons   []*Neuron
	Gates     []*Gate
	// HasTrainingInfo: the file holds ModelProto.training_info.
	HasTrainingInfo bool
}

// A Layer is one binary layer: a Conv/MatMul/Gemm whose weight is binary.
type Layer struct {
	Name   string // L (bsnn.layers name, else from the weight's name)
	Node   string // the consuming Conv/MatMul/Gemm node
	Op     string // its op type
	Weight string // the binary weight tensor it reads (L.weight_bin)
	Dims   []int64
	Source string // SourceBipolarQuant, SourceFolded or SourcePacked
	// Latent and Scale are BipolarQuant's inputs (SourceBipolarQuant only).
	Latent, Scale string
	// Packed is the UINT8 initializer (SourcePacked only).
	Packed string
	// UnitScale: every scale value is 1, so Values are ±1 (BIPOLAR).
	UnitScale bool
	// Values are the binary weights as the consumer sees them (±1 times
	// the scale), row-major in Dims.
	Values []float32

	nodes []*onnxpb.NodeProto // nodes computing Weight (BipolarQuant or the unpack chain)
}

// Params returns the number of binary weights.
func (l *Layer) Params() int64 { return int64(len(l.Values)) }

// A Neuron is one LIF layer, as a node or as standard ops.
type Neuron struct {
	Name string // LIF node name (plain: the node that joins the spikes)
	Op   string // LIF or LIFStep
	Form string // FormNode, FormUnrolled or FormStep
	// Input is X ([T, N, ...]; LIFStep: X_t), Spikes the output S, Final
	// the V_T output when something reads it (else ""). LIFStep: State is
	// the V input, Final
	// V_next.
	Input, Spikes, Final, State string
	// T is the number of time steps written (FormStep: 1).
	T      int
	Params spiking.LIFParams

	nodes       []*onnxpb.NodeProto
	softUnknown bool // the pattern shows no reset (T = 1 without V_T)
}

// A Gate is one AGMMGate, as a node or expanded into standard ops.
type Gate struct {
	Name   string
	Form   string // FormNode, FormUnrolled (expanded) or FormStep
	Input  string
	Alpha  string
	Output string
	// OneHot is the step form's time_onehot input.
	OneHot string
	Params spiking.AGMMParams

	nodes []*onnxpb.NodeProto
}

// Recognize finds the binary layers, LIF neurons and AGMM gates of a BSNN
// file written in any profile: binary layers by the BipolarQuant -> consumer
// pattern, by a finn_datatype BIPOLAR annotation on a weight initializer (as
// a QONNX-cleaned or FINN-folded file has them), by a weight_bin of
// bsnn.layers holding ±1 values, or by the packed unpack chain; neurons by
// LIF/LIFStep nodes or the unrolled and per-step patterns of the plain
// profile; gates by AGMMGate nodes or their expansion. Names recorded in the
// bsnn.* metadata are used when they resolve (layer names, the neurons'
// training-only attributes), else the patterns alone decide.
func Recognize(m *onnx.Model) (*Info, error) {
	if m == nil || m.Proto.GetGraph() == nil {
		return nil, &onnx.FormatError{Where: "model", Msg: "has no graph"}
	}
	mp, err := loadedCopy(m)
	if err != nil {
		return nil, err
	}
	return recognize(mp)
}

func recognize(mp *onnxpb.ModelProto) (*Info, error) {
	ix := newIndex(mp.Graph)
	meta := metadata(mp)
	info := &Info{MetaProfile: meta[bsnn.MetaProfile], HasTrainingInfo: len(mp.TrainingInfo) > 0}
	var metaLayers []bsnn.Layer
	if s, ok := meta[bsnn.MetaLayers]; ok {
		_ = json.Unmarshal([]byte(s), &metaLayers)
	}
	neuronMeta := map[string]map[string]any{}
	if s, ok := meta[bsnn.MetaNeurons]; ok {
		_ = json.Unmarshal([]byte(s), &neuronMeta)
	}
	detach := int64(0)
	if s, ok := meta[bsnn.MetaAGMM]; ok {
		var a struct {
			DetachStat int64 `json:"detach_stat"`
		}
		if json.Unmarshal([]byte(s), &a) == nil {
			detach = a.DetachStat
		}
	}
	layers, err := findLayers(ix, metaLayers)
	if err != nil {
		return nil, err
	}
	info.Layers = layers
	neurons, err := findNeurons(ix, neuronMeta)
	if err != nil {
		return nil, err
	}
	info.Neurons = neurons
	gates, err := findGates(ix, detach)
	if err != nil {
		return nil, err
	}
	info.Gates = gates

	// The profile the structure shows.
	custom, packed, step := false, false, false
	for _, n := range mp.Graph.Node {
		if !isONNXDomain(n.GetDomain()) {
			custom = true
		}
	}
	for _, l := range layers {
		if l.Source == SourcePacked {
			packed = true
		}
	}
	for _, n := range neurons {
		if n.Form == FormStep {
			step = true
		}
	}
	for _, g := range gates {
		if g.Form == FormStep {
			step = true
		}
	}
	switch {
	case packed:
		info.Profile = bsnn.ProfilePacked
	case !custom:
		info.Profile = bsnn.ProfilePlain
		info.PlainForm = bsnn.PlainUnrolled
		if step || meta[bsnn.MetaPlainForm] == string(bsnn.PlainStep) {
			info.PlainForm = bsnn.PlainStep
		}
	case info.HasTrainingInfo:
		info.Profile = bsnn.ProfileTrain
	default:
		info.Profile = bsnn.ProfilePortable
	}

	// T.
	if s, ok := meta[bsnn.MetaTimeSteps]; ok {
		if t, err := strconv.Atoi(s); err == nil && t > 0 {
			info.TimeSteps = t
		}
	}
	if info.TimeSteps == 0 {
		for _, n := range neurons {
			if n.Form == FormUnrolled && n.T > 0 {
				info.TimeSteps = n.T
				break
			}
			if n.Form == FormNode && n.Op == "LIF" {
				if vi := valueInfoOf(mp.Graph, n.Spikes); vi != nil {
					if s, ok := shapeOf(vi); ok && len(s) > 0 && s[0].Known() {
						info.TimeSteps = int(s[0].Value)
						break
					}
				}
			}
		}
	}
	if info.TimeSteps == 0 {
		for _, g := range gates {
			if t, ok := ix.value(g.Alpha); ok {
				info.TimeSteps = t.Len()
				break
			}
		}
	}
	return info, nil
}

func metadata(mp *onnxpb.ModelProto) map[string]string {
	out := map[string]string{}
	for _, p := range mp.MetadataProps {
		out[p.GetKey()] = p.GetValue()
	}
	return out
}

func valueInfoOf(g *onnxpb.GraphProto, name string) *onnxpb.ValueInfoProto {
	for _, list := range [][]*onnxpb.ValueInfoProto{g.ValueInfo, g.Output, g.Input} {
		for _, v := range list {
			if v.GetName() == name {
				return v
			}
		}
	}
	return nil
}

// shapeOf returns a tensor value_info's shape; ok is false when it has none.
func shapeOf(v *onnxpb.ValueInfoProto) (onnx.Shape, bool) {
	tt := v.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil {
		return nil, false
	}
	var s onnx.Shape
	for _, d := range tt.Shape.Dim {
		switch x := d.Value.(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			s = append(s, onnx.Dim{Value: x.DimValue})
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			s = append(s, onnx.Dim{Value: -1, Param: x.DimParam})
		default:
			s = append(s, onnx.Dim{Value: -1})
		}
	}
	return s, true
}
