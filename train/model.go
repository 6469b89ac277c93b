package train

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// netInfo is what the trainer needs to know about a model's graph.
type netInfo struct {
	Input      string     // the graph input fed with images
	InputShape data.Shape // its per-sample shape [C, H, W] (or [D, 1, 1] for a flat input)
	InputRank  int
	Output     string // the (first) graph output, [N, classes]
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
	dims := make([]int, len(in.Shape))
	for i, d := range in.Shape {
		if i == 0 {
			continue
		}
		if !d.Known() {
			return nil, fmt.Errorf("input %q dimension %d (%s) is not fixed", in.Name, i, d)
		}
		dims[i] = int(d.Value)
	}
	switch len(dims) {
	case 4:
		ni.InputShape = data.Shape{C: dims[1], H: dims[2], W: dims[3]}
	case 3: // [N, H, W]: one channel
		ni.InputShape = data.Shape{C: 1, H: dims[1], W: dims[2]}
	case 2: // [N, D]: a flattened image; the data set decides the layout
		ni.InputShape = data.Shape{C: dims[1], H: 1, W: 1}
	default:
		return nil, fmt.Errorf("input %q has rank %d; want [N, C, H, W], [N, H, W] or [N, D]", in.Name, len(dims))
	}
	if T, err := timeSteps(m); err != nil {
		return nil, err
	} else if T > 0 {
		ni.T = T
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
