package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// IR versions the toolkit reads. IR 3 introduced opset_import; IR 10 is the
// newest whose semantics the toolkit knows.
const (
	MinIRVersion = 3
	MaxIRVersion = 10
)

// Validate checks that the model is well formed, returning a *FormatError
// naming the first problem found:
//   - ir_version and a graph are present, opset_import declares each domain once;
//   - every tensor (initializers, sparse initializers, tensor attributes, in
//     the main graph, subgraphs, functions and training_info) has
//     non-negative dimensions whose product does not overflow, and exactly
//     as much data as its dims declare, so a hostile file cannot make the
//     decoder allocate more than the file holds;
//   - every graph is acyclic, every node input is produced (by a graph input,
//     an initializer, an earlier node or an enclosing graph), no value is
//     produced twice, every graph output is produced;
//   - external-data locations are relative paths inside the model's folder.
//
// Whether the toolkit supports the ops and features used is a separate
// question, answered by CheckSupport.
func (m *Model) Validate() error {
	p := m.Proto
	if p.IrVersion == nil {
		return formatErrorf("model", "ir_version is missing")
	}
	if p.GetIrVersion() < 1 {
		return formatErrorf("model", "ir_version %d is not a valid IR version", p.GetIrVersion())
	}
	if p.Graph == nil {
		return formatErrorf("model", "has no graph")
	}
	seen := map[string]bool{}
	for _, o := range p.OpsetImport {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if seen[d] {
			return formatErrorf("opset_import", "domain %q imported twice", d)
		}
		seen[d] = true
		if o.GetVersion() < 1 {
			return formatErrorf("opset_import", "domain %q has version %d", d, o.GetVersion())
		}
	}
	if p.GetIrVersion() >= 3 && len(p.OpsetImport) == 0 {
		return formatErrorf("model", "opset_import is empty")
	}
	v := validator{m: m}
	if err := v.graph(p.Graph, nil, "graph"); err != nil {
		return err
	}
	for i, ti := range p.TrainingInfo {
		outer := v.names(p.Graph)
		for _, g := range []*onnxpb.GraphProto{ti.Initialization, ti.Algorithm} {
			if g == nil {
				continue
			}
			if err := v.graph(g, outer, fmt.Sprintf("training_info[%d]", i)); err != nil {
				return err
			}
		}
	}
	for _, f := range p.Functions {
		if err := v.function(f); err != nil {
			return err
		}
	}
	return nil
}

type validator struct{ m *Model }

// names returns every value name visible inside g (for its subgraphs).
func (v validator) names(g *onnxpb.GraphProto) map[string]bool {
	out := map[string]bool{}
	for _, t := range g.Initializer {
		out[t.GetName()] = true
	}
	for _, in := range g.Input {
		out[in.GetName()] = true
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			out[o] = true
		}
	}
	return out
}

func (v validator) graph(g *onnxpb.GraphProto, outer map[string]bool, where string) error {
	for _, t := range g.Initializer {
		if err := v.tensor(t, where+" initializer"); err != nil {
			return err
		}
	}
	for _, st := range g.SparseInitializer {
		if err := v.sparse(st, where+" sparse initializer"); err != nil {
			return err
		}
	}
	for _, n := range g.Node {
		if err := v.attributes(n, where); err != nil {
			return err
		}
	}
	if _, err := newGraph(g, outer); err != nil {
		return err
	}
	// Subgraphs see every name of this graph plus the enclosing scopes.
	var scope map[string]bool
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			subs := a.Graphs
			if a.G != nil {
				subs = append([]*onnxpb.GraphProto{a.G}, subs...)
			}
			for _, sg := range subs {
				if scope == nil {
					scope = v.names(g)
					for k := range outer {
						scope[k] = true
					}
				}
				if err := v.graph(sg, scope, fmt.Sprintf("node %q attribute %q", n.GetName(), a.GetName())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (v validator) attributes(n *onnxpb.NodeProto, where string) error {
	for _, a := range n.Attribute {
		at := fmt.Sprintf("node %q attribute %q", n.GetName(), a.GetName())
		if a.T != nil {
			if err := v.tensor(a.T, at); err != nil {
				return err
			}
		}
		for _, t := range a.Tensors {
			if err := v.tensor(t, at); err != nil {
				return err
			}
		}
		if a.SparseTensor != nil {
			if err := v.sparse(a.SparseTensor, at); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v validator) function(f *onnxpb.FunctionProto) error {
	where := fmt.Sprintf("function %s::%s", f.GetDomain(), f.GetName())
	scope := map[string]bool{}
	for _, in := range f.Input {
		scope[in] = true
	}
	g := &onnxpb.GraphProto{Node: f.Node}
	for _, o := range f.Output {
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: ptr(o)})
	}
	for _, n := range f.Node {
		if err := v.attributes(n, where); err != nil {
			return err
		}
	}
	if _, err := newGraph(g, scope); err != nil {
		if fe, ok := err.(*FormatError); ok {
			fe.Where = where + ": " + fe.Where
		}
		return err
	}
	return nil
}

func (v validator) sparse(st *onnxpb.SparseTensorProto, where string) error {
	if st.Values != nil {
		if err := v.tensor(st.Values, where+" values"); err != nil {
			return err
		}
	}
	if st.Indices != nil {
		if err := v.tensor(st.Indices, where+" indices"); err != nil {
			return err
		}
	}
	if _, err := NumElements(st.Dims); err != nil {
		return formatErrorf(where, "%v", err)
	}
	return nil
}

// tensor checks dims and that the stored data matches them, without
// converting the data.
func (v validator) tensor(t *onnxpb.TensorProto, where string) error {
	where = where + " " + strconv.Quote(t.GetName())
	n, err := NumElements(t.Dims)
	if err != nil {
		return formatErrorf(where, "%v", err)
	}
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return v.external(t, where, n)
	}
	return checkTensorData(t, where, n)
}

// checkTensorData checks that an in-memory tensor holds exactly n elements,
// so that converting it allocates no more than the file holds.
func checkTensorData(t *onnxpb.TensorProto, where string, n int64) error {
	if t.Segment != nil {
		return nil // segments split one tensor across messages: sizes are per segment
	}
	dt := DataType(t.GetDataType())
	if t.RawData != nil {
		size := dt.Size()
		if size == 0 {
			if dt == String || dt == Undefined {
				return formatErrorf(where, "raw_data is not allowed for %s tensors", dt)
			}
			return nil // a newer element type (float8, int4): size unknown to IR 8
		}
		if int64(len(t.RawData)) != n*int64(size) {
			return formatErrorf(where, "raw_data has %d bytes, dims %v of %s need %d", len(t.RawData), t.Dims, dt, n*int64(size))
		}
		return nil
	}
	have := -1
	switch dt {
	case Float:
		have = len(t.FloatData)
	case Double:
		have = len(t.DoubleData)
	case Int64:
		have = len(t.Int64Data)
	case Uint32, Uint64:
		have = len(t.Uint64Data)
	case Int32, Int16, Int8, Uint16, Uint8, Bool, Float16, BFloat16:
		have = len(t.Int32Data)
	case String:
		have = len(t.StringData)
	case DataType(onnxpb.TensorProto_COMPLEX64):
		have = len(t.FloatData) / 2
	case DataType(onnxpb.TensorProto_COMPLEX128):
		have = len(t.DoubleData) / 2
	}
	if have >= 0 && int64(have) != n {
		return formatErrorf(where, "has %d values, dims %v need %d", have, t.Dims, n)
	}
	return nil
}

// external checks an external-data reference: a relative location that
// stays inside the model's folder, and (when the folder is known) a file
// holding offset+length bytes, the length agreeing with the dims.
func (v validator) external(t *onnxpb.TensorProto, where string, n int64) error {
	loc, off, length, err := externalRef(t)
	if err != nil {
		return formatErrorf(where, "%v", err)
	}
	if size := DataType(t.GetDataType()).Size(); size > 0 && length >= 0 && length != n*int64(size) {
		return formatErrorf(where, "external data length %d, dims %v need %d bytes", length, t.Dims, n*int64(size))
	}
	if v.m.Dir == "" {
		return nil
	}
	st, err := os.Stat(filepath.Join(v.m.Dir, loc))
	if err != nil {
		return formatErrorf(where, "external data: %v", err)
	}
	need := off
	if length >= 0 {
		need += length
	} else if size := DataType(t.GetDataType()).Size(); size > 0 {
		need += n * int64(size)
	}
	if st.Size() < need {
		return formatErrorf(where, "external data file %q has %d bytes, needs %d", loc, st.Size(), need)
	}
	return nil
}

// externalRef parses external_data keys. length is -1 when absent.
func externalRef(t *onnxpb.TensorProto) (loc string, off, length int64, err error) {
	length = -1
	for _, kv := range t.ExternalData {
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			off, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil {
			return "", 0, 0, fmt.Errorf("external data %s: %v", kv.GetKey(), err)
		}
	}
	if loc == "" {
		return "", 0, 0, fmt.Errorf("external data has no location")
	}
	if off < 0 || length < -1 {
		return "", 0, 0, fmt.Errorf("external data has negative offset or length")
	}
	if filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`) {
		return "", 0, 0, fmt.Errorf("external data location %q is absolute; only paths inside the model's folder are read", loc)
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", 0, 0, fmt.Errorf("external data location %q leaves the model's folder", loc)
	}
	return clean, off, length, nil
}

func (m *Model) readExternal(t *onnxpb.TensorProto) ([]byte, error) {
	where := "tensor " + strconv.Quote(t.GetName())
	loc, off, length, err := externalRef(t)
	if err != nil {
		return nil, formatErrorf(where, "%v", err)
	}
	if m.Dir == "" {
		return nil, formatErrorf(where, "external data %q cannot be read: the model was not read from a file", loc)
	}
	n, err := NumElements(t.Dims)
	if err != nil {
		return nil, formatErrorf(where, "%v", err)
	}
	if length < 0 {
		length = n * int64(DataType(t.GetDataType()).Size())
	}
	f, err := os.Open(filepath.Join(m.Dir, loc))
	if err != nil {
		return nil, formatErrorf(where, "external data: %v", err)
	}
	defer f.Close()
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, formatErrorf(where, "external data %q: %v", loc, err)
	}
	return buf, nil
}

// CheckSupport reports, all at once, every node the toolkit cannot run and
// every model-level feature it does not handle. supported is asked about
// each node of the main graph with the opset version in force for its
// domain and returns "" when the node is supported, else the reason.
func (m *Model) CheckSupport(supported func(n *Node, opset int) string) error {
	var items []Unsupported
	ir := m.Proto.GetIrVersion()
	if ir < MinIRVersion || ir > MaxIRVersion {
		items = append(items, Unsupported{OpType: "ir_version " + strconv.FormatInt(ir, 10),
			Reason: fmt.Sprintf("IR versions %d..%d are supported", MinIRVersion, MaxIRVersion)})
	}
	g, err := m.Graph()
	if err != nil {
		return err
	}
	for _, in := range g.Proto.Input {
		if in.GetType().GetTensorType() == nil {
			items = append(items, Unsupported{OpType: "non-tensor graph input", Reason: in.GetName()})
		}
	}
	if len(g.Proto.SparseInitializer) > 0 {
		items = append(items, Unsupported{OpType: "sparse initializer", Reason: g.Proto.SparseInitializer[0].GetValues().GetName()})
	}
	for _, n := range g.Nodes {
		ver := m.Opset(n.Domain)
		if ver == 0 {
			items = append(items, Unsupported{Node: n.Label(), OpType: n.OpType, Domain: n.Domain, Reason: "domain not declared in opset_import"})
			continue
		}
		if why := supported(n, ver); why != "" {
			items = append(items, Unsupported{Node: n.Label(), OpType: n.OpType, Domain: n.Domain, Version: ver, Reason: why})
		}
	}
	if len(items) > 0 {
		return &UnsupportedError{Items: items}
	}
	return nil
}
