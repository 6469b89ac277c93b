package train

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// netInfo is what the trainer needs to know about a model's graph.
type netInfo struct {
	Input string // the graph input fed with images or event frames
	// InputShape is its per-sample shape [C, H, W] (or [D, 1, 1] for a
	// flat input); for event input, the shape of one frame.
	InputShape data.Shape
	InputRank  int
	// Encoding is how the model reads its input (bsnn.input_encoding):
	// direct, a batch of images [N, C, H, W], or events, T frames per
	// sample, time-major [T, N, C, H, W].
	Encoding bsnn.InputEncoding
	Output   string // the (first) graph output, [N, classes]
	// Logits is the per-step logits tensor (the input of the final
	// ReduceMean over time) when the model decodes its output as the mean
	// over time; "" otherwise.
	Logits string
	T      int // time steps (1 for a model without time)
	// Weights are the initializers that are weights of a compute layer
	// (binary latent or float Conv/MatMul/Gemm weight): the only tensors
	// weight decay applies to.
	Weights map[string]bool
}

// timeSteps returns the model's bsnn.time_steps (0 when absent).
func timeSteps(m *onnx.Model) (int, error) {
	s, ok := m.Metadata()[bsnn.MetaTimeSteps]
	if !ok {
		return 0, nil
	}
	t, err := strconv.Atoi(s)
	if err != nil || t < 1 {
		return 0, fmt.Errorf("metadata %s = %q is not a positive integer", bsnn.MetaTimeSteps, s)
	}
	return t, nil
}

// analyze finds the input, output, per-step logits and weights of m.
func analyze(m *onnx.Model) (*netInfo, error) {
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	if len(g.Inputs) != 1 {
		var names []string
		for _, in := range g.Inputs {
			names = append(names, in.Name)
		}
		return nil, fmt.Errorf("the model must have one image input, it has %d %v", len(g.Inputs), names)
	}
	if len(g.Outputs) < 1 {
		return nil, fmt.Errorf("the model has no output")
	}
	in := g.Inputs[0]
	ni := &netInfo{Input: in.Name, Output: g.Outputs[0].Name, T: 1, Weights: map[string]bool{}, InputRank: len(in.Shape)}
	if !in.HasShape {
		return nil, fmt.Errorf("input %q has no declared shape", in.Name)
	}
	if ni.Encoding, err = bsnn.InputEncodingOf(m); err != nil {
		return nil, err
	}
	if T, err := timeSteps(m); err != nil {
		return nil, err
	} else if T > 0 {
		ni.T = T
	}
	if ni.events() {
		if err := ni.eventInput(in); err != nil {
			return nil, err
		}
	} else if err := ni.imageInput(in); err != nil {
		return nil, err
	}
	if ni.T > 1 || m.Metadata()[bsnn.MetaOutputDecoding] == "mean_over_time" {
		ni.Logits = findPerStepLogits(m, g, ni.Output)
	}
	for _, n := range g.Nodes {
		switch {
		case n.Domain == "" && (n.OpType == "Conv" || n.OpType == "ConvTranspose" || n.OpType == "Gemm"):
			ni.Weights[n.Input(1)] = true
		case n.Domain == "" && n.OpType == "MatMul":
			for _, x := range n.Inputs {
				if g.IsInitializer(x) {
					ni.Weights[x] = true
				}
			}
		case n.Domain == bsnn.DomainQONNX && n.OpType == "BipolarQuant":
			ni.Weights[n.Input(0)] = true
		}
	}
	return ni, nil
}

// imageInput reads the per-sample shape of an image input [N, C, H, W],
// [N, H, W] or [N, D].
func (ni *netInfo) imageInput(in *onnx.ValueInfo) error {
	dims, err := fixedDims(in, 1)
	if err != nil {
		return err
	}
	switch len(dims) {
	case 3:
		ni.InputShape = data.Shape{C: dims[0], H: dims[1], W: dims[2]}
	case 2: // [N, H, W]: one channel
		ni.InputShape = data.Shape{C: 1, H: dims[0], W: dims[1]}
	case 1: // [N, D]: a flattened image; the data set decides the layout
		ni.InputShape = data.Shape{C: dims[0], H: 1, W: 1}
	default:
		return fmt.Errorf("input %q has rank %d; want [N, C, H, W], [N, H, W] or [N, D]", in.Name, len(in.Shape))
	}
	return nil
}

// eventInput reads the frame shape of an event input [T, N, C, H, W]
// (spec §8), whose T must be the model's time steps.
func (ni *netInfo) eventInput(in *onnx.ValueInfo) error {
	if len(in.Shape) != 5 {
		return fmt.Errorf("input %q has shape %s; an event-input model (%s %q) takes frames [T, N, C, H, W]",
			in.Name, in.Shape, bsnn.MetaInputEncoding, ni.Encoding)
	}
	if d := in.Shape[0]; !d.Known() || int(d.Value) != ni.T {
		return fmt.Errorf("input %q has shape %s: its time axis is not the model's T=%d (%s)", in.Name, in.Shape, ni.T, bsnn.MetaTimeSteps)
	}
	dims, err := fixedDims(in, 2)
	if err != nil {
		return err
	}
	ni.InputShape = data.Shape{C: dims[0], H: dims[1], W: dims[2]}
	return nil
}

// fixedDims returns the dimensions of in from axis `from` on, which must
// all be fixed.
func fixedDims(in *onnx.ValueInfo, from int) ([]int, error) {
	var dims []int
	for i, d := range in.Shape {
		if i < from {
			continue
		}
		if !d.Known() {
			return nil, fmt.Errorf("input %q dimension %d (%s) is not fixed", in.Name, i, d)
		}
		dims = append(dims, int(d.Value))
	}
	return dims, nil
}

// events reports whether the model reads event frames [T, N, C, H, W].
func (ni *netInfo) events() bool { return ni.Encoding == bsnn.EncodingEvents }

// inputShape is the graph input's shape for a batch of n samples.
func (ni *netInfo) inputShape(n int) []int {
	s := ni.InputShape
	if ni.events() {
		return []int{ni.T, n, s.C, s.H, s.W}
	}
	return []int{n, s.C, s.H, s.W}
}

// sampleLen is the number of input values per sample: one image, or T
// frames.
func (ni *netInfo) sampleLen() int {
	if ni.events() {
		return ni.T * ni.InputShape.Size()
	}
	return ni.InputShape.Size()
}

// opsOptions returns opts for a program on batches of n samples: the
// batch for direct input, the whole input shape for event input (whose
// batch axis is not the leading one, which ops fills in by itself).
func (ni *netInfo) opsOptions(opts ops.Options, n int) ops.Options {
	opts.Batch = n
	if ni.events() {
		opts.InputShapes = map[string][]int{ni.Input: ni.inputShape(n)}
	}
	return opts
}

// checkData reports a data set the model cannot read: event frames for a
// model that reads images, or images for an event-input model.
func (ni *netInfo) checkData(kind data.Kind) error {
	switch {
	case ni.events() && !kind.IsEvent():
		return fmt.Errorf("the model reads event frames (input %q %s, %s %q), but %s is an image data set: give an event data set (%s:DIR, %s:DIR or %s:DIR)",
			ni.Input, ni.inputDims(), bsnn.MetaInputEncoding, ni.Encoding, kind, data.NMNIST, data.DVSGesture, data.CIFAR10DVS)
	case !ni.events() && kind.IsEvent():
		return fmt.Errorf("%s is an event data set, but the model reads images (input %q %s): convert the ANN with `bsnnctl import --input events` to read event frames",
			kind, ni.Input, ni.inputDims())
	}
	return nil
}

// inputDims writes the input's shape: [T=4, N, 2, 34, 34], [N, 1, 28, 28],
// [N, 28, 28] or [N, 784].
func (ni *netInfo) inputDims() string {
	s := ni.InputShape
	switch {
	case ni.events():
		return fmt.Sprintf("[T=%d, N, %d, %d, %d]", ni.T, s.C, s.H, s.W)
	case ni.InputRank == 2:
		return fmt.Sprintf("[N, %d]", s.C)
	case ni.InputRank == 3:
		return fmt.Sprintf("[N, %d, %d]", s.H, s.W)
	}
	return fmt.Sprintf("[N, %d, %d, %d]", s.C, s.H, s.W)
}

// findPerStepLogits walks back from the output through shape-only ops to a
// ReduceMean over axis 0 (the mean over time of spec §3.7) and returns its
// input, or "" if the output is not decoded that way.
func findPerStepLogits(m *onnx.Model, g *onnx.Graph, out string) string {
	name := out
	for range 16 {
		p := g.Producer(name)
		if p == nil || p.Domain != "" {
			return ""
		}
		switch p.OpType {
		case "Identity", "Reshape", "Squeeze", "Flatten":
			name = p.Input(0)
			continue
		case "ReduceMean":
			var axes []int64
			if m.Opset("") >= 18 && p.Input(1) != "" {
				t, err := m.Initializer(p.Input(1))
				if err != nil {
					return ""
				}
				axes = t.Ints()
			} else {
				axes = p.Ints("axes", nil)
			}
			if len(axes) == 1 && axes[0] == 0 {
				return p.Input(0)
			}
		}
		return ""
	}
	return ""
}

// bypassAGMM removes every AGMMGate node of m, rewiring its consumers to its
// input, and drops what only the gates used (alpha initializers, the
// AGMMGate function, value_info and annotations of the gate outputs). It
// returns the removed nodes' names.
func bypassAGMM(m *onnx.Model) ([]string, error) {
	gp := m.Proto.Graph
	rename := map[string]string{}
	var removed []string
	var keep []*onnxpb.NodeProto
	for _, n := range gp.Node {
		if n.GetOpType() == "AGMMGate" && n.GetDomain() == bsnn.DomainSNN {
			if len(n.Input) < 1 || len(n.Output) != 1 {
				return nil, fmt.Errorf("AGMMGate node %q has %d inputs and %d outputs", n.GetName(), len(n.Input), len(n.Output))
			}
			rename[n.Output[0]] = n.Input[0]
			removed = append(removed, n.GetName())
			continue
		}
		keep = append(keep, n)
	}
	if len(removed) == 0 {
		return nil, nil
	}
	resolve := func(s string) string {
		for range len(rename) + 1 {
			r, ok := rename[s]
			if !ok {
				break
			}
			s = r
		}
		return s
	}
	for _, n := range keep {
		for i, x := range n.Input {
			n.Input[i] = resolve(x)
		}
	}
	// A gate output that is a graph output keeps its name through an Identity.
	for _, o := range gp.Output {
		if r := resolve(o.GetName()); r != o.GetName() {
			keep = append(keep, &onnxpb.NodeProto{Name: ptr(o.GetName() + ".agmm_bypass"), OpType: ptr("Identity"),
				Input: []string{r}, Output: []string{o.GetName()}})
		}
	}
	gp.Node = keep
	used := map[string]bool{}
	for _, n := range gp.Node {
		for _, x := range n.Input {
			used[x] = true
		}
	}
	for _, o := range gp.Output {
		used[o.GetName()] = true
	}
	var inits []*onnxpb.TensorProto
	for _, t := range gp.Initializer {
		if used[t.GetName()] {
			inits = append(inits, t)
		}
	}
	gp.Initializer = inits
	var inputs []*onnxpb.ValueInfoProto
	live := map[string]bool{}
	for _, t := range gp.Initializer {
		live[t.GetName()] = true
	}
	for _, n := range gp.Node {
		for _, o := range n.Output {
			live[o] = true
		}
	}
	for _, in := range gp.Input {
		if live[in.GetName()] || used[in.GetName()] {
			inputs = append(inputs, in)
		}
	}
	gp.Input = inputs
	var vi []*onnxpb.ValueInfoProto
	for _, v := range gp.ValueInfo {
		if live[v.GetName()] {
			vi = append(vi, v)
		}
	}
	gp.ValueInfo = vi
	var ann []*onnxpb.TensorAnnotation
	for _, a := range gp.QuantizationAnnotation {
		if live[a.GetTensorName()] || used[a.GetTensorName()] {
			ann = append(ann, a)
		}
	}
	gp.QuantizationAnnotation = ann
	var fns []*onnxpb.FunctionProto
	for _, f := range m.Proto.Functions {
		if f.GetName() == "AGMMGate" && f.GetDomain() == bsnn.DomainSNN {
			continue
		}
		fns = append(fns, f)
	}
	m.Proto.Functions = fns
	// Record the change in bsnn.agmm (JSON settings).
	settings := map[string]any{}
	if s, ok := m.Metadata()[bsnn.MetaAGMM]; ok {
		_ = json.Unmarshal([]byte(s), &settings)
	}
	settings["enabled"] = false
	settings["bypassed_gates"] = removed
	b, _ := json.Marshal(settings)
	m.SetMetadata(bsnn.MetaAGMM, string(b))
	return removed, nil
}

func ptr[T any](v T) *T { return &v }

// sortedNames returns the keys of a set, sorted.
func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
