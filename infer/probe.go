package infer

import (
	"fmt"
	"slices"

	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/ops"
)

// Probes ask a run for more than the graph outputs: intermediate values,
// counts of non-zero entries (firing rates, for spikes) and AGMM gate
// factors. RunProbed fills the result maps, keyed by value name.
type Probes struct {
	// Values are returned as float32 in their ONNX shape's order.
	Values []string
	// NonZero values have their non-zero entries counted per time step:
	// the value's leading axes are the time-major images ([T*N, ...] or
	// [T, N, ...]), and step t is the t-th of T equal parts.
	NonZero []string
	// Gates are outputs of AGMMGate nodes, whose gate factors g[t*N+n]
	// are returned.
	Gates []string

	Floats      map[string][]float32
	Counts      map[string][]int64
	GateFactors map[string][]float32
}

// RunProbed is Run, which also fills p (nil: Run). Values that the engine
// does not store (those computed inside a fused layer, such as a
// BatchNormalization's output before its LIF) are an error naming them.
func (e *Engine) RunProbed(x []float32, shape []int, p *Probes) ([]Output, error) {
	if p == nil {
		return e.Run(x, shape)
	}
	prog, err := e.program(shape)
	if err != nil {
		return nil, err
	}
	for _, list := range [][]string{p.Values, p.NonZero, p.Gates} {
		for _, name := range list {
			if _, ok := prog.vals[name]; !ok {
				return nil, fmt.Errorf("infer: probe %q: the engine does not store this value (it is computed inside a fused layer, or is not a value of the graph)", name)
			}
		}
	}
	for _, name := range p.Gates {
		if t := prog.vals[name]; t.gate == nil && prog.gateTaps[name] == nil {
			return nil, fmt.Errorf("infer: probe %q is not the output of an AGMMGate in forward mode", name)
		}
	}
	prog.mu.Lock()
	defer prog.mu.Unlock()
	outs, err := e.runLocked(prog, x)
	if err != nil {
		return nil, err
	}
	p.Floats, p.Counts, p.GateFactors = map[string][]float32{}, map[string][]int64{}, map[string][]float32{}
	for _, name := range p.Values {
		t := prog.vals[name]
		d := make([]float32, numel(t.shape))
		materialize(t, d)
		p.Floats[name] = d
	}
	T := max(e.T, 1)
	for _, name := range p.NonZero {
		c, err := stepCounts(prog.vals[name], T)
		if err != nil {
			return nil, fmt.Errorf("infer: probe %q: %w", name, err)
		}
		p.Counts[name] = c
	}
	for _, name := range p.Gates {
		if t := prog.vals[name]; t.gate != nil {
			p.GateFactors[name] = slices.Clone(t.gate)
		} else {
			p.GateFactors[name] = slices.Clone(prog.gateTaps[name].Gates)
		}
	}
	return outs, nil
}

// stepCounts counts the non-zero entries of t in each of T time steps.
func stepCounts(t *tensor, T int) ([]int64, error) {
	out := make([]int64, T)
	if t.kind == kindSpikes {
		g := t.geo
		if g.imgs%T != 0 {
			return nil, fmt.Errorf("%d images do not split into %d time steps", g.imgs, T)
		}
		per := g.h * g.w * bitkern.Words(g.c)
		for i := range g.imgs {
			if t.gate != nil && t.gate[i] == 0 {
				continue
			}
			out[i/(g.imgs/T)] += int64(bitkern.Count(t.bits[i*per:][:per]))
		}
		return out, nil
	}
	d := make([]float32, numel(t.shape))
	materialize(t, d)
	if len(d)%T != 0 {
		return nil, fmt.Errorf("%d values (shape %v) do not split into %d time steps", len(d), t.shape, T)
	}
	step := len(d) / T
	for i, v := range d {
		if v != 0 {
			out[i/step]++
		}
	}
	return out, nil
}

// gateTap returns the AGMM tap of a node the float fallback built (nil
// when it built none).
func gateTap(fb *ops.Builder) *ops.AGMMTap {
	if len(fb.AGMM) == 1 {
		return fb.AGMM[0]
	}
	return nil
}
