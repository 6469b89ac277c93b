package ops

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// AttrType is the type of an attribute in a schema.
type AttrType int

// Attribute types.
const (
	AttrInt AttrType = iota
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrTensor
	AttrGraph
)

// An AttrSpec describes one attribute of an op.
type AttrSpec struct {
	Name     string
	Type     AttrType
	Required bool
	// Default is the value used when the attribute is absent (int64,
	// float32, string, []int64, []float32 or nil).
	Default any
	// Supported, when set, tells whether a given value is handled; it
	// returns "" if so, else the reason.
	Supported func(n *onnx.Node) string
	Doc       string
}

// A BuildFunc adds a node's computation to the graph under construction.
// It receives the node's input values (nil for absent optional inputs) and
// returns one value per node output (nil for outputs it does not produce,
// which must be optional ones no other node reads).
type BuildFunc func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error)

// A Spec is one registry entry: an op type of a domain over a range of
// opset versions.
type Spec struct {
	Domain string
	OpType string
	// Since and Until bound the opset versions of Domain this entry covers
	// (Until 0: no upper bound).
	Since, Until int
	// MinInputs..MaxInputs and MinOutputs..MaxOutputs bound the arity.
	MinInputs, MaxInputs   int
	MinOutputs, MaxOutputs int
	Attrs                  []AttrSpec
	Build                  BuildFunc
	// Function returns the ONNX FunctionProto body of a custom op, for the
	// attribute values of a node (custom ops only).
	Function func() *onnxpb.FunctionProto
	// Doc is a one-line description for `bsnnctl ops`.
	Doc string
}

var (
	regMu    sync.RWMutex
	registry = map[string][]*Spec{}
)

func key(domain, opType string) string {
	if domain == "ai.onnx" {
		domain = ""
	}
	return domain + "::" + opType
}

// Register adds a spec to the registry. It panics on an overlapping version
// range for the same (domain, op type), which is a programming error.
func Register(s *Spec) {
	regMu.Lock()
	defer regMu.Unlock()
	k := key(s.Domain, s.OpType)
	for _, o := range registry[k] {
		if overlaps(o, s) {
			panic(fmt.Sprintf("ops: %s registered twice for overlapping opsets", k))
		}
	}
	registry[k] = append(registry[k], s)
	sort.Slice(registry[k], func(i, j int) bool { return registry[k][i].Since < registry[k][j].Since })
}

func overlaps(a, b *Spec) bool {
	hiA, hiB := a.Until, b.Until
	if hiA == 0 {
		hiA = 1 << 30
	}
	if hiB == 0 {
		hiB = 1 << 30
	}
	return a.Since <= hiB && b.Since <= hiA
}

// Lookup returns the spec for an op at an opset version, or an error
// saying which versions are supported.
func Lookup(domain, opType string, opset int) (*Spec, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	specs := registry[key(domain, opType)]
	if len(specs) == 0 {
		return nil, fmt.Errorf("op not implemented")
	}
	var ranges []string
	for _, s := range specs {
		if opset >= s.Since && (s.Until == 0 || opset <= s.Until) {
			return s, nil
		}
		if s.Until == 0 {
			ranges = append(ranges, fmt.Sprintf("%d+", s.Since))
		} else {
			ranges = append(ranges, fmt.Sprintf("%d-%d", s.Since, s.Until))
		}
	}
	return nil, fmt.Errorf("opset %d not supported (supported: %s)", opset, strings.Join(ranges, ", "))
}

// Specs returns every registered spec, sorted by domain and op type.
func Specs() []*Spec {
	regMu.RLock()
	defer regMu.RUnlock()
	var out []*Spec
	for _, ss := range registry {
		out = append(out, ss...)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		if a.OpType != b.OpType {
			return a.OpType < b.OpType
		}
		return a.Since < b.Since
	})
	return out
}

// Check returns "" if the registry can build node n at the given opset
// version, else the reason. It checks the op, the arity and the attribute
// values the spec marks as restricted.
func Check(n *onnx.Node, opset int) string {
	s, err := Lookup(n.Domain, n.OpType, opset)
	if err != nil {
		return err.Error()
	}
	return s.check(n)
}

func (s *Spec) check(n *onnx.Node) string {
	if len(n.Inputs) < s.MinInputs || (s.MaxInputs >= 0 && len(n.Inputs) > s.MaxInputs) {
		return fmt.Sprintf("has %d inputs, want %d..%d", len(n.Inputs), s.MinInputs, s.MaxInputs)
	}
	if len(n.Outputs) < s.MinOutputs || (s.MaxOutputs >= 0 && len(n.Outputs) > s.MaxOutputs) {
		return fmt.Sprintf("has %d outputs, want %d..%d", len(n.Outputs), s.MinOutputs, s.MaxOutputs)
	}
	known := map[string]bool{}
	for _, a := range s.Attrs {
		known[a.Name] = true
		if a.Required && !n.Has(a.Name) {
			return fmt.Sprintf("attribute %q is required", a.Name)
		}
		if a.Supported != nil {
			if why := a.Supported(n); why != "" {
				return why
			}
		}
	}
	for _, a := range n.Proto.Attribute {
		if !known[a.GetName()] {
			return fmt.Sprintf("attribute %q not supported", a.GetName())
		}
	}
	return ""
}

// CheckModel reports every node of m the registry cannot build, all at
// once, as an *onnx.UnsupportedError.
func CheckModel(m *onnx.Model) error {
	return m.CheckSupport(Check)
}
