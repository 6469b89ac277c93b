package train

import (
	"fmt"
	"slices"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/parallel"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Energy per operation (45 nm, Horowitz 2014), spec §6.
const (
	EnergyMACpJ = 4.6 // a float multiply-accumulate
	EnergyACpJ  = 0.9 // an accumulate (a synaptic operation)
)

// layer is one compute layer (Conv, ConvTranspose, Gemm, MatMul with a
// weight) of a compiled program, with its cost per sample.
type layer struct {
	Name      string // bsnn.layers name, else the node's label
	Node      string
	Op        string
	Binary    bool
	Latent    string // binary: the latent weight (BipolarQuant input)
	Weight    string // the weight input (weight_bin for a binary layer)
	DataInput string
	// MACs is the number of multiply-accumulates per sample over the whole
	// run (every time step the layer executes), Steps how many time steps
	// it runs ([T*N, ...] or [T, N, ...] inputs: T).
	MACs  float64
	Steps int
	probe *nzProbe // binary layers: counts the non-zero inputs
}

// findLayers lists the compute layers of the model compiled in b for a
// batch of n samples and T time steps, adding a non-zero counter on the data
// input of every binary layer.
func findLayers(b *ops.Builder, m *onnx.Model, n, T int) ([]*layer, error) {
	g := b.Graph
	names, binary := map[string]string{}, map[string]bool{}
	if infos, ok := bsnn.ReadLayers(m); ok {
		for _, l := range infos {
			names[l.Node], binary[l.Node] = l.Name, l.Binary
		}
	}
	var out []*layer
	for _, nd := range g.Nodes {
		if nd.Domain != "" {
			continue
		}
		switch nd.OpType {
		case "Conv", "ConvTranspose", "Gemm", "MatMul":
		default:
			continue
		}
		dataIdx, wIdx := 0, 1
		if nd.OpType == "MatMul" && isWeight(g, nd.Input(0)) && !isWeight(g, nd.Input(1)) {
			dataIdx, wIdx = 1, 0
		}
		if nd.OpType == "MatMul" && !isWeight(g, nd.Input(wIdx)) && !binary[nd.Label()] {
			continue // activation x activation: not a layer
		}
		x, w, y := b.Value(nd.Input(dataIdx)), b.Value(nd.Input(wIdx)), b.Value(nd.Outputs[0])
		if x == nil || w == nil || y == nil {
			continue
		}
		l := &layer{Name: nd.Label(), Node: nd.Label(), Op: nd.OpType, DataInput: nd.Input(dataIdx), Weight: nd.Input(wIdx), Steps: 1}
		if nm, ok := names[nd.Label()]; ok && nm != "" {
			l.Name = nm
		}
		var macs float64
		switch nd.OpType {
		case "Conv":
			macs = float64(static.Prod(y.Shape)) * float64(static.Prod(w.Shape[1:]))
		case "ConvTranspose":
			macs = float64(static.Prod(x.Shape)) * float64(static.Prod(w.Shape[1:]))
		case "Gemm":
			k := x.Shape[len(x.Shape)-1]
			if nd.Int("transA", 0) != 0 {
				k = x.Shape[0]
			}
			macs = float64(static.Prod(y.Shape)) * float64(k)
		case "MatMul":
			k := x.Shape[len(x.Shape)-1]
			if dataIdx == 1 {
				k = x.Shape[len(x.Shape)-2]
			}
			macs = float64(static.Prod(y.Shape)) * float64(k)
		}
		l.MACs = macs / float64(n)
		if T > 1 && len(x.Shape) > 0 && (x.Shape[0] == T*n || (len(x.Shape) > 1 && x.Shape[0] == T && x.Shape[1] == n)) {
			l.Steps = T
		}
		// A binary layer's weight comes through a BipolarQuant (portable,
		// plain, train) or is unpacked from bits (packed: the layer table
		// says so).
		p := producerThrough(g, nd.Input(wIdx))
		if p != nil && p.Domain == bsnn.DomainQONNX && p.OpType == "BipolarQuant" {
			l.Binary, l.Latent = true, p.Input(0)
		} else if binary[nd.Label()] {
			l.Binary = true
		}
		if l.Binary {
			if x.Node != nil {
				pr := &nzProbe{shape: x.Shape}
				if _, err := ops.Apply(pr, x.Node); err != nil {
					return nil, fmt.Errorf("layer %s: %w", l.Name, err)
				}
				l.probe = pr
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// isWeight reports whether a tensor is an initializer or computed from one
// by a BipolarQuant (a binary weight).
func isWeight(g *onnx.Graph, name string) bool {
	if g.IsInitializer(name) {
		return true
	}
	p := producerThrough(g, name)
	return p != nil && p.OpType == "BipolarQuant"
}

// producerThrough returns the producer of name, looking through Identity.
func producerThrough(g *onnx.Graph, name string) *onnx.Node {
	for range 8 {
		p := g.Producer(name)
		if p == nil || !(p.Domain == "" && p.OpType == "Identity") {
			return p
		}
		name = p.Input(0)
	}
	return nil
}

// nzProbe is a side branch of the graph that counts the non-zero entries of
// a tensor on every forward run (the spikes reaching a binary layer).
type nzProbe struct {
	shape    []int
	nonzero  int64 // of the last run
	total    int64 // entries per run
	runs     int64
	sumRatio float64 // sum over runs of nonzero/total

	// The count runs on all threads: x is the call's input, counts the
	// parts' counts.
	x      []float32
	counts []int
	group  parallel.Group
}

func (k *nzProbe) Name() string    { return fmt.Sprintf("NonZeroProbe%v", k.shape) }
func (k *nzProbe) OutShape() []int { return nil }
func (k *nzProbe) Forward(out []float32, in ...[]float32) error {
	k.x = in[0]
	parts := parallel.Threads(0)
	if len(k.x) < 1<<16 {
		parts = 1
	}
	k.counts = slices.Grow(k.counts[:0], parts)[:parts]
	k.group.Run(k, parts)
	k.x = nil
	c := int64(0)
	for _, n := range k.counts {
		c += int64(n)
	}
	k.nonzero, k.total = c, int64(len(in[0]))
	k.runs++
	if k.total > 0 {
		k.sumRatio += float64(c) / float64(k.total)
	}
	out[0] = float32(c)
	return nil
}

// RunPart counts the non-zero entries of one part of the input.
func (k *nzProbe) RunPart(part int) {
	per := len(k.x)/len(k.counts) + 1
	k.counts[part] = kernels.CountNonzero(k.x[min(len(k.x), part*per):min(len(k.x), (part+1)*per)])
}

// rate returns the fraction of non-zero entries in the last run.
func (k *nzProbe) rate() float64 {
	if k.total == 0 {
		return 0
	}
	return float64(k.nonzero) / float64(k.total)
}

// copyProbe keeps a copy of a tensor after each forward run (the per-step
// logits of an evaluation program).
type copyProbe struct {
	shape []int
	data  []float32
}

func (k *copyProbe) Name() string    { return fmt.Sprintf("CopyProbe%v", k.shape) }
func (k *copyProbe) OutShape() []int { return nil }
func (k *copyProbe) Forward(out []float32, in ...[]float32) error {
	if k.data == nil {
		k.data = make([]float32, len(in[0]))
	}
	copy(k.data, in[0])
	out[0] = 0
	return nil
}

// LayerCost is one compute layer's cost per sample (EvalResult.Layers and
// epoch lines of metrics.jsonl).
type LayerCost struct {
	Name   string `json:"name"`
	Node   string `json:"node"`
	Op     string `json:"op"`
	Binary bool   `json:"binary"`
	Steps  int    `json:"steps"`
	// MACsPerStep is the layer's multiply-accumulates per sample and time
	// step; MACs = Steps * MACsPerStep.
	MACsPerStep float64 `json:"macs_per_step"`
	MACs        float64 `json:"macs"`
	// FrIn is the fraction of non-zero entries of a binary layer's data
	// input (its input firing rate); SOPs = FrIn * MACs = T * fr_in * MACs_l.
	FrIn     float64 `json:"fr_in,omitempty"`
	SOPs     float64 `json:"sops"`
	EnergyPJ float64 `json:"energy_pj"`
}

// EnergyOf computes the per-sample energy of spec §6 from layer costs:
// E = 4.6 pJ * MACs(float layers) + 0.9 pJ * SOPs(binary layers), with
// SOPs_l = T * fr_in_l * MACs_l. It fills each layer's SOPs and EnergyPJ and
// returns the totals.
func EnergyOf(layers []LayerCost) (energyPJ, sops, floatMACs float64) {
	for i := range layers {
		l := &layers[i]
		if l.Binary {
			l.SOPs = float64(l.Steps) * l.FrIn * l.MACsPerStep
			l.EnergyPJ = EnergyACpJ * l.SOPs
			sops += l.SOPs
		} else {
			l.SOPs = 0
			l.EnergyPJ = EnergyMACpJ * l.MACs
			floatMACs += l.MACs
		}
		energyPJ += l.EnergyPJ
	}
	return energyPJ, sops, floatMACs
}

// costs returns the layers' costs with the given input firing rates
// (binary layers, by index; nil: the probes' last run).
func costs(ls []*layer, frIn []float64) []LayerCost {
	out := make([]LayerCost, len(ls))
	for i, l := range ls {
		c := LayerCost{Name: l.Name, Node: l.Node, Op: l.Op, Binary: l.Binary, Steps: l.Steps,
			MACs: l.MACs, MACsPerStep: l.MACs / float64(l.Steps)}
		if l.Binary {
			switch {
			case frIn != nil:
				c.FrIn = frIn[i]
			case l.probe != nil:
				c.FrIn = l.probe.rate()
			default:
				c.FrIn = 1 // constant input: every entry counts
			}
		}
		out[i] = c
	}
	EnergyOf(out)
	return out
}
