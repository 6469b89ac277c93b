package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/bsnnctl/bsnnctl/ops"
)

// OpsCmd is `bsnnctl ops [--json]`: the op registry, generated from
// ops.Specs() so the list never drifts from what the engine runs.
type OpsCmd struct {
	JSON   bool   `name:"json" help:"Print the registry as JSON."`
	Domain string `help:"Only ops of this domain (ai.onnx for the default domain)." placeholder:"DOMAIN"`
}

// opJSON is one registry entry in `ops --json`.
type opJSON struct {
	Domain     string   `json:"domain"`  // "" for ai.onnx, as in inspect's opsets
	OpType     string   `json:"op_type"` // e.g. "Gemm"
	Since      int      `json:"since"`   // first opset version covered
	Until      int      `json:"until"`   // last opset version covered; 0: no upper bound
	Opsets     string   `json:"opsets"`  // the range as text: "9+", "1-12"
	MinInputs  int      `json:"min_inputs"`
	MaxInputs  int      `json:"max_inputs"` // -1: unbounded
	Attributes []string `json:"attributes"`
	Doc        string   `json:"doc"`
}

// Run lists the registry.
func (c *OpsCmd) Run(g *Globals) error {
	want, filter := c.Domain, c.Domain != ""
	if want == "ai.onnx" {
		want = ""
	}
	var list []opJSON
	for _, s := range ops.Specs() {
		d := s.Domain
		if d == "ai.onnx" {
			d = ""
		}
		if filter && d != want {
			continue
		}
		attrs := make([]string, len(s.Attrs))
		for i, a := range s.Attrs {
			attrs[i] = a.Name
		}
		list = append(list, opJSON{
			Domain: d, OpType: s.OpType, Since: s.Since, Until: s.Until, Opsets: opsetRange(s.Since, s.Until),
			MinInputs: s.MinInputs, MaxInputs: s.MaxInputs, Attributes: attrs, Doc: s.Doc,
		})
	}
	if list == nil {
		list = []opJSON{}
	}
	if c.JSON {
		return g.PrintJSON(map[string]any{"ops": list})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "domain\top\topsets\tdescription")
	for _, o := range list {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d, o.OpType, o.Opsets, o.Doc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(g.Stdout, "\n%d entries\n", len(list))
	return err
}

// opsetRange prints an opset range: "9+" (open) or "1-12".
func opsetRange(since, until int) string {
	if until == 0 {
		return fmt.Sprintf("%d+", since)
	}
	return fmt.Sprintf("%d-%d", since, until)
}
