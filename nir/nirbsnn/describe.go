package nirbsnn

import (
	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/nir"
)

// A Summary describes a NIR graph in the terms of this mapping: what
// `bsnnctl export --profile nir` and `bsnnctl import` print.
type Summary struct {
	Version string `json:"nir_version"`
	// DT, TimeSteps, InputEncoding and BatchNorm are the graph's metadata
	// (zero or "" when it does not say).
	DT            float64 `json:"dt,omitempty"`
	TimeSteps     int     `json:"time_steps,omitempty"`
	InputEncoding string  `json:"input_encoding,omitempty"`
	BatchNorm     string  `json:"batchnorm,omitempty"`
	// Nodes counts the top-level nodes by type.
	Nodes map[string]int `json:"nodes"`
	Edges int            `json:"edges"`
	// BinaryLayers names the layers marked bsnn.binary.
	BinaryLayers []string `json:"binary_layers"`
	// Neurons counts the LIF and IF nodes (max pooling's IF nodes included).
	Neurons int `json:"neurons"`
}

// Describe summarises a graph.
func Describe(g *nir.Graph) Summary {
	s := Summary{Version: g.Version, Nodes: map[string]int{}, Edges: len(g.Edges), BinaryLayers: []string{}}
	md := g.Metadata
	s.DT, _ = md.Float("dt")
	if t, ok := md.Int(bsnn.MetaTimeSteps); ok {
		s.TimeSteps = int(t)
	}
	s.InputEncoding, _ = md.String(bsnn.MetaInputEncoding)
	s.BatchNorm, _ = md.String(MetaBatchNormMode)
	for _, name := range g.Names() {
		n := g.Nodes[name]
		s.Nodes[n.Type()]++
		if b, _ := n.Meta().Int(MetaBinary); b == 1 {
			s.BinaryLayers = append(s.BinaryLayers, name)
		}
		switch n.(type) {
		case *nir.LIF, *nir.IF:
			s.Neurons++
		}
	}
	return s
}
