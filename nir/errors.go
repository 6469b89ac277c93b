package nir

import (
	"fmt"
	"strconv"
)

// A FormatError reports a graph that breaks NIR's serialization or its
// primitives' definitions: a missing or mistyped field, parameter shapes
// that do not fit together, an edge to a node that does not exist.
type FormatError struct {
	// Node is the node's path in the graph, nested graphs joined by "/"
	// ("conv1", "rnn/lif"); "" for the file or the top-level graph.
	Node string
	// Field is the dataset or member at fault ("weight", "edges"), or "".
	Field string
	Msg   string
}

func (e *FormatError) Error() string {
	s := "nir: malformed graph"
	if e.Node != "" {
		s += ": node " + strconv.Quote(e.Node)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// An UnsupportedError reports a node type this package does not know, such
// as a primitive added to NIR after Version.
type UnsupportedError struct {
	Node string // the node's path, as in FormatError
	Type string // its "type" dataset
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("nir: node %q: unknown node type %q", e.Node, e.Type)
}

// nodeErr returns a FormatError for the node at path.
func nodeErr(path, field, format string, args ...any) *FormatError {
	return &FormatError{Node: path, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// joinPath names a node inside the graph at prefix.
func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}
