package onnx

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A Summary is what `bsnnctl inspect` reports about a model; its JSON form
// is the command-line contract (docs/spec/cli.md).
type Summary struct {
	IRVersion    int64             `json:"ir_version"`
	Producer     string            `json:"producer"`
	Opsets       map[string]int    `json:"opsets"`
	Inputs       []ValueSummary    `json:"inputs"`
	Outputs      []ValueSummary    `json:"outputs"`
	Nodes        int               `json:"nodes"`
	OpCounts     map[string]int    `json:"op_counts"`
	Params       int64             `json:"params"`
	BinaryLayers []string          `json:"binary_layers"`
	Metadata     map[string]string `json:"metadata"`
}

// A ValueSummary is a graph input or output: symbolic dims are strings.
type ValueSummary struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

// Summarize computes the model's Summary. BinaryLayers is left empty: it
// belongs to the BSNN format (bsnn.Summarize fills it).
func Summarize(m *Model) (*Summary, error) {
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	s := &Summary{
		IRVersion:    m.Proto.GetIrVersion(),
		Producer:     strings.TrimSpace(m.Proto.GetProducerName() + " " + m.Proto.GetProducerVersion()),
		Opsets:       m.Opsets(),
		Nodes:        len(g.Nodes),
		OpCounts:     g.OpCounts(),
		Params:       g.ParamCount(),
		BinaryLayers: []string{},
		Metadata:     m.Metadata(),
		Inputs:       []ValueSummary{},
		Outputs:      []ValueSummary{},
	}
	for _, v := range g.Inputs {
		s.Inputs = append(s.Inputs, valueSummary(v))
	}
	for _, v := range g.Outputs {
		s.Outputs = append(s.Outputs, valueSummary(v))
	}
	return s, nil
}

func valueSummary(v *ValueInfo) ValueSummary {
	shape := v.Shape.JSON()
	if !v.HasShape {
		shape = nil
	}
	return ValueSummary{Name: v.Name, DType: v.Type.String(), Shape: shape}
}

// WriteText prints the summary as the human-readable report.
func (s *Summary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "IR version\t%d\n", s.IRVersion)
	fmt.Fprintf(tw, "producer\t%s\n", s.Producer)
	var ops []string
	for _, d := range sortedKeys(s.Opsets) {
		name := d
		if name == "" {
			name = "ai.onnx"
		}
		ops = append(ops, fmt.Sprintf("%s %d", name, s.Opsets[d]))
	}
	fmt.Fprintf(tw, "opsets\t%s\n", strings.Join(ops, ", "))
	for _, v := range s.Inputs {
		fmt.Fprintf(tw, "input\t%s\t%s %s\n", v.Name, v.DType, shapeText(v.Shape))
	}
	for _, v := range s.Outputs {
		fmt.Fprintf(tw, "output\t%s\t%s %s\n", v.Name, v.DType, shapeText(v.Shape))
	}
	fmt.Fprintf(tw, "nodes\t%d\n", s.Nodes)
	fmt.Fprintf(tw, "parameters\t%d\n", s.Params)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "op\tcount")
	for _, op := range sortedKeys(s.OpCounts) {
		fmt.Fprintf(tw, "%s\t%d\n", op, s.OpCounts[op])
	}
	tw.Flush()
	if len(s.BinaryLayers) > 0 {
		fmt.Fprintf(w, "\nbinary layers (%d): %s\n", len(s.BinaryLayers), strings.Join(s.BinaryLayers, ", "))
	} else {
		fmt.Fprintln(w, "\nbinary layers: none")
	}
	if len(s.Metadata) > 0 {
		fmt.Fprintln(w, "\nmetadata:")
		for _, k := range sortedKeys(s.Metadata) {
			v := s.Metadata[k]
			if len(v) > 120 {
				v = v[:117] + "..."
			}
			fmt.Fprintf(w, "  %s = %s\n", k, v)
		}
	}
	return nil
}

func shapeText(shape []any) string {
	if shape == nil {
		return "(unknown shape)"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
