package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// InspectCmd is `bsnnctl inspect MODEL.onnx [--json] [--check]`.
type InspectCmd struct {
	Model string `arg:"" name:"model.onnx" help:"ONNX model file."`
	JSON  bool   `name:"json" help:"Print the summary as JSON (keys: docs/spec/cli.md)."`
	Check bool   `help:"Also check every node against the op registry and list all unsupported ops (exit 1 when there are some)."`
}

// inspectJSON is the --json output: the Summary's keys, plus, with --check,
// "unsupported" (every node or feature the engine cannot run; [] if none).
type inspectJSON struct {
	*onnx.Summary
	Unsupported *[]unsupportedJSON `json:"unsupported,omitempty"`
}

type unsupportedJSON struct {
	Node   string `json:"node"`   // node name ("" for a model-level feature)
	OpType string `json:"op"`     // op type ("domain::Op" outside ai.onnx), or the feature
	Opset  int    `json:"opset"`  // opset version in force for the op's domain (0: n/a)
	Reason string `json:"reason"` // why it is not supported
}

// Run prints the summary; with --check it fails when some op is unsupported.
func (c *InspectCmd) Run(g *Globals) error {
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	s, err := bsnn.Summarize(m)
	if err != nil {
		return fileErr(c.Model, err)
	}
	if s.Inputs == nil {
		s.Inputs = []onnx.ValueSummary{}
	}
	if s.Outputs == nil {
		s.Outputs = []onnx.ValueSummary{}
	}
	var unsupported []onnx.Unsupported
	if c.Check {
		err := ops.CheckModel(m)
		var ue *onnx.UnsupportedError
		switch {
		case errors.As(err, &ue):
			unsupported = ue.Items
		case err != nil:
			return fileErr(c.Model, err)
		}
	}

	if c.JSON {
		out := inspectJSON{Summary: s}
		if c.Check {
			list := make([]unsupportedJSON, len(unsupported))
			for i, u := range unsupported {
				list[i] = unsupportedJSON{Node: u.Node, OpType: qualifiedOp(u.Domain, u.OpType), Opset: u.Version, Reason: u.Reason}
			}
			out.Unsupported = &list
		}
		if err := g.PrintJSON(out); err != nil {
			return err
		}
	} else {
		if err := s.WriteText(g.Stdout); err != nil {
			return err
		}
		if c.Check {
			if len(unsupported) == 0 {
				fmt.Fprintf(g.Stdout, "\nsupported: all %d nodes can run in the engine\n", s.Nodes)
			} else {
				fmt.Fprintf(g.Stdout, "\nunsupported (%d):\n", len(unsupported))
				for _, u := range unsupported {
					fmt.Fprintf(g.Stdout, "  %s\n", u)
				}
			}
		}
	}
	if len(unsupported) > 0 {
		ue := &onnx.UnsupportedError{Items: unsupported}
		return fmt.Errorf("%s: %d unsupported ops or features (%s)", c.Model, len(unsupported), strings.Join(ue.OpTypes(), ", "))
	}
	return nil
}

// qualifiedOp names an op as the summaries do: "Op" in ai.onnx, else
// "domain::Op".
func qualifiedOp(domain, op string) string {
	if domain == "" || domain == "ai.onnx" {
		return op
	}
	return domain + "::" + op
}
