package export

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// index is a producer/consumer view of a GraphProto that the rewrites
// rebuild after each pass (graphs here have at most a few thousand nodes).
type index struct {
	g         *onnxpb.GraphProto
	producer  map[string]*onnxpb.NodeProto
	consumers map[string][]*onnxpb.NodeProto
	inits     map[string]*onnxpb.TensorProto
	inputs    map[string]bool // graph inputs that are not initializers
	outputs   map[string]bool
	pos       map[*onnxpb.NodeProto]int
	ann       map[string]map[string]string
}

func newIndex(g *onnxpb.GraphProto) *index {
	ix := &index{g: g, producer: map[string]*onnxpb.NodeProto{}, consumers: map[string][]*onnxpb.NodeProto{},
		inits: map[string]*onnxpb.TensorProto{}, inputs: map[string]bool{}, outputs: map[string]bool{},
		pos: map[*onnxpb.NodeProto]int{}, ann: map[string]map[string]string{}}
	for _, t := range g.Initializer {
		ix.inits[t.GetName()] = t
	}
	for _, v := range g.Input {
		if _, ok := ix.inits[v.GetName()]; !ok {
			ix.inputs[v.GetName()] = true
		}
	}
	for _, v := range g.Output {
		ix.outputs[v.GetName()] = true
	}
	for i, n := range g.Node {
		ix.pos[n] = i
		for _, o := range n.Output {
			if o != "" {
				ix.producer[o] = n
			}
		}
		for _, in := range n.Input {
			if in == "" {
				continue
			}
			cs := ix.consumers[in]
			if len(cs) == 0 || cs[len(cs)-1] != n {
				ix.consumers[in] = append(cs, n)
			}
		}
	}
	for _, a := range g.QuantizationAnnotation {
		kv := ix.ann[a.GetTensorName()]
		if kv == nil {
			kv = map[string]string{}
			ix.ann[a.GetTensorName()] = kv
		}
		for _, e := range a.QuantParameterTensorNames {
			kv[e.GetKey()] = e.GetValue()
		}
	}
	return ix
}

// prod returns the producer of t when it has the op type (ai.onnx), else nil.
func (ix *index) prod(t, op string) *onnxpb.NodeProto {
	n := ix.producer[t]
	if n == nil || n.GetOpType() != op || !isONNXDomain(n.GetDomain()) {
		return nil
	}
	return n
}

// isRead reports whether a node or the graph output reads t.
func (ix *index) isRead(t string) bool {
	return t != "" && (len(ix.consumers[t]) > 0 || ix.outputs[t])
}

// onlyUsedBy reports whether t is consumed only by nodes in set and is not
// a graph output.
func (ix *index) onlyUsedBy(t string, set map[*onnxpb.NodeProto]bool) bool {
	if ix.outputs[t] {
		return false
	}
	for _, c := range ix.consumers[t] {
		if !set[c] {
			return false
		}
	}
	return true
}

// value returns an initializer's values.
func (ix *index) value(name string) (*onnx.Tensor, bool) {
	tp := ix.inits[name]
	if tp == nil {
		return nil, false
	}
	t, err := onnx.TensorFromProto(tp)
	if err != nil {
		return nil, false
	}
	return t, true
}

// scalar returns a float initializer holding exactly one value.
func (ix *index) scalar(name string) (float32, bool) {
	t, ok := ix.value(name)
	if !ok || t.Len() != 1 || (t.Type != onnx.Float) {
		return 0, false
	}
	return t.Floats()[0], true
}

// ints returns an integer initializer's values.
func (ix *index) ints(name string) ([]int64, bool) {
	t, ok := ix.value(name)
	if !ok || t.Int64 == nil {
		return nil, false
	}
	return t.Int64, true
}

func isONNXDomain(d string) bool { return d == "" || d == "ai.onnx" }

func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

func floatScalar(name string, v float32) *onnxpb.TensorProto {
	return onnx.FloatTensor(name, nil, []float32{v})
}

func int64Vec(name string, v ...int64) *onnxpb.TensorProto {
	return onnx.Int64Tensor(name, []int64{int64(len(v))}, v)
}

// ---- an editable graph ----

// editor rewrites a graph: it rebuilds the node list, adds initializers
// (reusing one of the same name and value, else picking a fresh name) and
// keeps names unique.
type editor struct {
	g     *onnxpb.GraphProto
	names map[string]bool
}

func newEditor(g *onnxpb.GraphProto) *editor {
	e := &editor{g: g, names: map[string]bool{}}
	for _, t := range g.Initializer {
		e.names[t.GetName()] = true
	}
	for _, v := range g.Input {
		e.names[v.GetName()] = true
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			e.names[o] = true
		}
	}
	return e
}

// fresh returns base, or base_1, base_2, ... when base is taken, and
// reserves it.
func (e *editor) fresh(base string) string {
	name := base
	for i := 1; e.names[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	e.names[name] = true
	return name
}

// constant returns the name of an initializer holding t's value: the
// existing initializer called base if it holds the same value, else a new
// one under a fresh name (appended).
func (e *editor) constant(base string, t *onnxpb.TensorProto) string {
	for i, name := 0, base; ; i++ {
		if i > 0 {
			name = base + "_" + strconv.Itoa(i)
		}
		for _, x := range e.g.Initializer {
			if x.GetName() == name {
				if sameTensor(x, t) {
					return name
				}
				goto next
			}
		}
		if e.names[name] {
			continue
		}
		e.names[name] = true
		t = proto.Clone(t).(*onnxpb.TensorProto)
		t.Name = proto.String(name)
		e.g.Initializer = append(e.g.Initializer, t)
		return name
	next:
	}
}

// sameTensor compares type, dims and values (not names).
func sameTensor(a, b *onnxpb.TensorProto) bool {
	if a.GetDataType() != b.GetDataType() || !slices.Equal(a.Dims, b.Dims) {
		return false
	}
	ta, err1 := onnx.TensorFromProto(a)
	tb, err2 := onnx.TensorFromProto(b)
	if err1 != nil || err2 != nil {
		return false
	}
	pa, pb := ta.Proto(), tb.Proto()
	return string(pa.RawData) == string(pb.RawData)
}

// replaceInit puts t (with its own name) where the initializer old is, or
// appends it when old is not there.
func (e *editor) replaceInit(old string, t *onnxpb.TensorProto) {
	e.names[t.GetName()] = true
	for i, x := range e.g.Initializer {
		if x.GetName() == old {
			e.g.Initializer[i] = t
			return
		}
	}
	e.g.Initializer = append(e.g.Initializer, t)
}

// insertInitAfter puts t right after the initializer after (or appends).
func (e *editor) insertInitAfter(after string, t *onnxpb.TensorProto) {
	e.names[t.GetName()] = true
	for i, x := range e.g.Initializer {
		if x.GetName() == after {
			e.g.Initializer = append(e.g.Initializer[:i+1], append([]*onnxpb.TensorProto{t}, e.g.Initializer[i+1:]...)...)
			return
		}
	}
	e.g.Initializer = append(e.g.Initializer, t)
}

// dropUnusedInits removes initializers no node, graph output or training
// binding reads.
func dropUnusedInits(m *onnxpb.ModelProto) {
	g := m.Graph
	used := map[string]bool{}
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, n := range g.Node {
			for _, in := range n.Input {
				used[in] = true
			}
			for _, a := range n.Attribute {
				if a.G != nil {
					walk(a.G)
				}
				for _, sg := range a.Graphs {
					walk(sg)
				}
			}
		}
		for _, o := range g.Output {
			used[o.GetName()] = true
		}
	}
	walk(g)
	for _, ti := range m.TrainingInfo {
		for _, b := range ti.UpdateBinding {
			used[b.GetKey()] = true
		}
		if ti.Algorithm != nil {
			walk(ti.Algorithm)
		}
	}
	kept := g.Initializer[:0]
	removed := map[string]bool{}
	for _, t := range g.Initializer {
		if used[t.GetName()] {
			kept = append(kept, t)
		} else {
			removed[t.GetName()] = true
		}
	}
	g.Initializer = kept
	if len(removed) > 0 {
		in := g.Input[:0]
		for _, v := range g.Input {
			if !removed[v.GetName()] {
				in = append(in, v)
			}
		}
		g.Input = in
	}
}

// tensorValues converts an initializer to floats (error names it).
func tensorValues(tp *onnxpb.TensorProto) ([]float32, error) {
	t, err := onnx.TensorFromProto(tp)
	if err != nil {
		return nil, fmt.Errorf("initializer %q: %w", tp.GetName(), err)
	}
	return t.Floats(), nil
}
