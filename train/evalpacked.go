package train

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/infer"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// runPacked runs batch bt in the packed engine e and reads from it what
// program p's taps would give: the per-step logits, the LIF layers' spike
// counts, the AGMM gates and the non-zero inputs of the binary layers. p
// itself does not run; it names the values and gives their sizes.
func (p *evalProgram) runPacked(e *infer.Engine, bt *data.Batch) (*evalStats, error) {
	pr := &infer.Probes{Values: []string{p.logitsName}}
	lifOut, err := tapOutputs(p.b.Graph, p.lifNodes())
	if err != nil {
		return nil, err
	}
	gateOut, err := tapOutputs(p.b.Graph, p.gateNodes())
	if err != nil {
		return nil, err
	}
	pr.NonZero = append(pr.NonZero, lifOut...)
	pr.Gates = gateOut
	for _, l := range p.layers {
		if l.probe != nil {
			pr.NonZero = append(pr.NonZero, l.DataInput)
		}
	}
	shape, err := e.InputShape(bt.N)
	if err != nil {
		return nil, err
	}
	if _, err := e.RunProbed(bt.X, shape, pr); err != nil {
		return nil, err
	}
	st := &evalStats{logits: pr.Floats[p.logitsName], nonzero: make([]int64, len(p.layers)), total: make([]int64, len(p.layers))}
	for i, tap := range p.b.LIF {
		counts := pr.Counts[lifOut[i]]
		rate := make([]float64, len(counts))
		perStep := float64(tap.M)
		for t, c := range counts {
			rate[t] = float64(c) / perStep
		}
		st.lifRate = append(st.lifRate, rate)
	}
	for i, tap := range p.b.AGMM {
		g := pr.GateFactors[gateOut[i]]
		mean := make([]float64, tap.T)
		for t := range mean {
			for n := range tap.N {
				mean[t] += float64(g[t*tap.N+n])
			}
			mean[t] /= float64(max(tap.N, 1))
		}
		st.gates = append(st.gates, mean)
	}
	for i, l := range p.layers {
		if l.probe == nil {
			continue
		}
		for _, c := range pr.Counts[l.DataInput] {
			st.nonzero[i] += c
		}
		st.total[i] = int64(static.Prod(l.probe.shape))
	}
	return st, nil
}

func (p *evalProgram) lifNodes() []string {
	var s []string
	for _, tap := range p.b.LIF {
		s = append(s, tap.Node)
	}
	return s
}

func (p *evalProgram) gateNodes() []string {
	var s []string
	for _, tap := range p.b.AGMM {
		s = append(s, tap.Node)
	}
	return s
}

// tapOutputs returns the first output of each named node.
func tapOutputs(g *onnx.Graph, nodes []string) ([]string, error) {
	byLabel := map[string]string{}
	for _, n := range g.Nodes {
		byLabel[n.Label()] = n.Outputs[0]
	}
	out := make([]string, len(nodes))
	for i, n := range nodes {
		o, ok := byLabel[n]
		if !ok {
			return nil, fmt.Errorf("internal error: no node %q", n)
		}
		out[i] = o
	}
	return out, nil
}
