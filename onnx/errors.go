package onnx

import (
	"fmt"
	"sort"
	"strings"
)

// A FormatError reports that the input is not a well-formed ONNX model.
type FormatError struct {
	// Where names the part of the model at fault: a file, node, tensor or field.
	Where string
	// Msg says what is wrong with it.
	Msg string
}

func (e *FormatError) Error() string {
	if e.Where == "" {
		return "onnx: malformed model: " + e.Msg
	}
	return "onnx: malformed model: " + e.Where + ": " + e.Msg
}

func formatErrorf(where, format string, args ...any) *FormatError {
	return &FormatError{Where: where, Msg: fmt.Sprintf(format, args...)}
}

// An Unsupported names one node or feature that is valid ONNX but that the
// toolkit cannot handle.
type Unsupported struct {
	Node    string // node name (or "" for a model-level feature)
	OpType  string // op type, or the feature's name
	Domain  string // op domain ("" is ai.onnx)
	Version int    // opset version in force for the domain, 0 if not relevant
	Reason  string // why, when more than "not implemented"
}

func (u Unsupported) String() string {
	op := u.OpType
	if u.Domain != "" && u.Domain != "ai.onnx" {
		op = u.Domain + "::" + u.OpType
	}
	var s string
	switch {
	case u.Node != "" && u.Version > 0:
		s = fmt.Sprintf("node %q (%s, opset %d)", u.Node, op, u.Version)
	case u.Node != "":
		s = fmt.Sprintf("node %q (%s)", u.Node, op)
	case u.Version > 0:
		s = fmt.Sprintf("%s (opset %d)", op, u.Version)
	default:
		s = op
	}
	if u.Reason != "" {
		s += ": " + u.Reason
	}
	return s
}

// An UnsupportedError reports every unsupported op or feature of a model at
// once.
type UnsupportedError struct {
	Items []Unsupported
}

func (e *UnsupportedError) Error() string {
	if len(e.Items) == 1 {
		return "onnx: unsupported: " + e.Items[0].String()
	}
	parts := make([]string, len(e.Items))
	for i, it := range e.Items {
		parts[i] = it.String()
	}
	return fmt.Sprintf("onnx: %d unsupported ops or features: %s", len(e.Items), strings.Join(parts, "; "))
}

// OpTypes returns the distinct unsupported op types, sorted.
func (e *UnsupportedError) OpTypes() []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range e.Items {
		k := it.OpType
		if it.Domain != "" && it.Domain != "ai.onnx" {
			k = it.Domain + "::" + k
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
