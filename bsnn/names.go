package bsnn

import (
	"fmt"
	"strconv"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// The naming rules every BSNN file obeys, so that it survives tools that
// rewrite tensor names occurrence by occurrence (QONNX's
// GiveReadableTensorNames renames every name it meets, the empty one
// included, and only the first occurrence of a name in a node's inputs):
//
//   - every output a node lists has a real name: no "" entry, not even for
//     an optional output nobody reads (LIF's V_T is named <node>.V_T);
//   - no node lists the same tensor twice among its inputs (the input
//     encoding repeats the input with Unsqueeze + Expand, not a Concat of T
//     copies).
//
// CheckNames enforces them on every write (onnx.Marshal, and so Encode and
// EncodeFile, runs it for models with bsnn.format_version); Legalize
// rewrites an older file to obey them.

// A NameError reports a node that breaks a naming rule.
type NameError struct {
	Node   string // the node's name (or op type and index when unnamed)
	Tensor string // the repeated input; "" for an unnamed output
	Output int    // the unnamed output's index (Tensor == "")
}

func (e *NameError) Error() string {
	if e.Tensor == "" {
		return fmt.Sprintf("bsnn: node %q: output %d has no name (every output a BSNN file lists must be named)", e.Node, e.Output)
	}
	return fmt.Sprintf("bsnn: node %q lists tensor %q twice among its inputs (a BSNN file never repeats a node input)", e.Node, e.Tensor)
}

func label(n *onnxpb.NodeProto, i int) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	return n.GetOpType() + "#" + strconv.Itoa(i)
}

// CheckNames returns a *NameError for the first node of g that lists an
// unnamed output or a repeated input, or nil.
func CheckNames(g *onnxpb.GraphProto) error {
	for i, n := range g.GetNode() {
		for k, o := range n.Output {
			if o == "" {
				return &NameError{Node: label(n, i), Output: k}
			}
		}
		seen := make(map[string]bool, len(n.Input))
		for _, in := range n.Input {
			if in == "" {
				continue
			}
			if seen[in] {
				return &NameError{Node: label(n, i), Tensor: in}
			}
			seen[in] = true
		}
	}
	return nil
}

// Legalize makes g obey the naming rules in place and reports whether it
// changed anything: trailing unnamed outputs of standard ops are dropped;
// a custom op of this format lists every output its function declares;
// every other unnamed output gets the name <node>.<output> (the function's
// output name, e.g. <lif>.V_T, else out<i>); and the second and later
// occurrences of a tensor among one node's inputs read an Identity copy of
// it, <tensor>.copy. New names are made unique.
func Legalize(g *onnxpb.GraphProto) bool {
	taken := map[string]bool{}
	for _, t := range g.Initializer {
		taken[t.GetName()] = true
	}
	for _, v := range g.Input {
		taken[v.GetName()] = true
	}
	for _, n := range g.Node {
		taken[n.GetName()] = true
		for _, o := range n.Output {
			taken[o] = true
		}
	}
	fresh := func(base string) string {
		name := base
		for k := 2; taken[name]; k++ {
			name = base + "_" + strconv.Itoa(k)
		}
		taken[name] = true
		return name
	}
	changed := false
	var out []*onnxpb.NodeProto
	for i, n := range g.Node {
		changed = nameOutputs(n, i, fresh) || changed
		seen := map[string]bool{}
		for k, in := range n.Input {
			if in == "" {
				continue
			}
			if !seen[in] {
				seen[in] = true
				continue
			}
			c := fresh(in + ".copy")
			out = append(out, onnx.NewNode(fresh(label(n, i)+"/copy"), "Identity", "", []string{in}, []string{c}))
			n.Input[k] = c
			changed = true
		}
		out = append(out, n)
	}
	g.Node = out
	return changed
}

// nameOutputs drops a standard op's trailing unnamed outputs and names
// every other unnamed output of node n (index i).
func nameOutputs(n *onnxpb.NodeProto, i int, fresh func(string) string) bool {
	changed := false
	var declared []string // a custom op's function outputs
	if op := LookupOp(n.GetDomain(), n.GetOpType()); op != nil {
		declared = op.Function().Output
	}
	if declared == nil {
		for len(n.Output) > 0 && n.Output[len(n.Output)-1] == "" {
			n.Output = n.Output[:len(n.Output)-1]
			changed = true
		}
	}
	// onnx 1.12's function inference indexes every output the function
	// declares: a custom node lists them all.
	for len(n.Output) < len(declared) {
		n.Output = append(n.Output, "")
	}
	for k, o := range n.Output {
		if o != "" {
			continue
		}
		suffix := "out" + strconv.Itoa(k)
		if k < len(declared) {
			suffix = declared[k]
		}
		n.Output[k] = fresh(label(n, i) + "." + suffix)
		changed = true
	}
	return changed
}
