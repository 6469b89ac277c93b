package nirbsnn

import (
	"strconv"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// A builder collects the nodes and initializers of an ONNX graph under
// unique names (node names and tensor names are separate namespaces).
type builder struct {
	nodes      []*onnxpb.NodeProto
	inits      []*onnxpb.TensorProto
	taken      map[string]bool // tensor names
	takenNodes map[string]bool
}

func newBuilder() *builder { return &builder{taken: map[string]bool{}, takenNodes: map[string]bool{}} }

// fresh returns the tensor name base, or base with a suffix when taken.
func (b *builder) fresh(base string) string { return unique(b.taken, base) }

func unique(taken map[string]bool, base string) string {
	name := base
	for i := 2; taken[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	taken[name] = true
	return name
}

// node adds a node named after base with fresh outputs named after outs,
// and returns the output names.
func (b *builder) node(base, op, domain string, in []string, outs []string, attrs ...*onnxpb.AttributeProto) []string {
	out := make([]string, len(outs))
	for i, o := range outs {
		out[i] = b.fresh(o)
	}
	b.nodes = append(b.nodes, onnx.NewNode(unique(b.takenNodes, base), op, domain, in, out, attrs...))
	return out
}

// op adds a standard node with one output and returns it.
func (b *builder) op(base, op string, in []string, out string, attrs ...*onnxpb.AttributeProto) string {
	return b.node(base, op, "", in, []string{out}, attrs...)[0]
}

// exact adds a standard node whose output is out, a name reserved by the
// caller.
func (b *builder) exact(base, op string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
	b.nodes = append(b.nodes, onnx.NewNode(unique(b.takenNodes, base), op, "", in, []string{out}, attrs...))
}

func (b *builder) floats(base string, dims []int64, v []float32) string {
	name := b.fresh(base)
	b.inits = append(b.inits, onnx.FloatTensor(name, dims, v))
	return name
}

func (b *builder) int64s(base string, v ...int64) string {
	name := b.fresh(base)
	b.inits = append(b.inits, onnx.Int64Tensor(name, []int64{int64(len(v))}, v))
	return name
}
