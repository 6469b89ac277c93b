package opstest

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// DefaultOpset is the ai.onnx version a Case imports when it names none
// (the version bsnnctl writes, spec §1); custom domains default to 1.
const DefaultOpset = 17

// A Case is one contract test of one registry entry: a model made of one
// node (or a few, see Nodes) with given attributes, input shapes and values,
// compiled with given options.
type Case struct {
	// Name tells the case apart from the other cases of the same op (an
	// attribute variant: "groups2_dil2", "soft_reset", ...).
	Name string
	// Domain ("" for ai.onnx), OpType and Opset select the registry entry
	// the case exercises (ops.Lookup(Domain, OpType, Opset)). Opset 0 means
	// DefaultOpset for ai.onnx and 1 for a custom domain.
	Domain string
	OpType string
	Opset  int
	// Attrs are the node's attributes (see Int, Float, String, Ints,
	// Floats, Tensor).
	Attrs []*onnxpb.AttributeProto
	// Inputs are the node's inputs in order (Absent ones are written as ""),
	// Outputs its outputs.
	Inputs  []Input
	Outputs []Output
	// Nodes, when set, replace the single node: a few-node model whose
	// graph inputs are Inputs and whose graph outputs are Outputs. One of
	// the nodes must be of Domain/OpType.
	Nodes []Node
	// Options are passed to ops.NewBuilder (Training, STE, Frozen...);
	// InputShapes and InputGrads are set by the harness.
	Options ops.Options
	// Seed makes the generated values and loss weights reproducible; 0
	// derives a seed from the op and the case name.
	Seed uint64
	// Accept, when set, rejects generated inputs (for instance a LIF
	// membrane too close to the threshold): the harness draws again, with
	// the next seed, up to 100 times.
	Accept func(in Values) bool
	// Want, when set, is a reference forward pass: the expected outputs
	// (float64, one slice per output in order, nil for outputs it does not
	// compute) for the given inputs. CheckValues compares them within
	// ValueTol (0 means exact, for spikes: set ValueTol < 0 for exact).
	Want     func(in Values) ([][]float64, error)
	ValueTol float64
	// Grad configures CheckGradients.
	Grad GradCheck
	// Rejects, when set, makes this a rejection case: the registry must
	// refuse the model (an attribute value or arity it does not support)
	// with a reason containing Rejects. No other check runs.
	Rejects string
}

// A Node is one node of a few-node Case.
type Node struct {
	Domain, OpType  string
	Inputs, Outputs []string
	Attrs           []*onnxpb.AttributeProto
}

// Input is one input of a Case.
type Input struct {
	Name  string
	Shape []int // nil or empty: a scalar
	// Data gives the values; when nil they are drawn by Gen (default
	// Uniform(-1, 1)).
	Data []float32
	Gen  Gen
	// Ints makes the input an int64 initializer (a shape-like input:
	// axes, pads, a target shape); Shape nil means a 1-D tensor.
	Ints []int64
	// Init stores a float input as an initializer (a trainable parameter,
	// or a constant when Frozen) instead of a graph input.
	Init   bool
	Frozen bool
	// Absent leaves an optional input out ("" in the node's input list).
	Absent bool
	// Bool makes a bool initializer from Data (non-zero is true).
	Bool bool
}

// Output is one output of a Case.
type Output struct {
	Name string
	// Shape is the expected static shape; nil: not checked ([]int{} is a
	// scalar).
	Shape []int
	// Absent leaves an optional output out ("" in the node's output list).
	Absent bool
	// NoLoss keeps the output out of the gradient check's loss (an output
	// the engine gives no gradient for by design, such as a running
	// statistic).
	NoLoss bool
	// Stateful marks an output that changes from run to run by design
	// (training-mode running statistics): CheckDeterministic skips it.
	Stateful bool
}

// GradCheck configures CheckGradients.
type GradCheck struct {
	// Skip, when not empty, says why the case has no gradient to check
	// (its outputs are compile-time constants, ...). CheckGradients then
	// verifies that the compiled loss indeed depends on no input.
	Skip string
	// Eps is the central-difference step (default 1e-2). Pick inputs at
	// least Eps away from kinks (Relu at 0, Clip bounds, ties of Max).
	Eps float64
	// The analytic gradient a passes against the reference r where
	// |a-r| <= Atol + Rtol*|r| for every element (defaults 2e-4, 2e-3).
	Atol, Rtol float64
	// Richardson combines central differences with steps Eps and Eps/2 as
	// (4*D(Eps/2) - D(Eps))/3, cancelling the O(Eps^2) truncation error:
	// for strongly nonlinear compositions (training-mode
	// BatchNormalization inside a block), where a step small enough for
	// truncation is too small for float32 rounding noise.
	Richardson bool
	// MaxElems bounds how many elements of each input are perturbed
	// (default 256; beyond it a seeded random sample is checked).
	MaxElems int
	// Reference, when set, gives closed-form expected gradients of the loss
	// sum_o sum_i w[o][i]*out_o[i] with respect to the inputs it names
	// (float64). Inputs it does not name are checked with finite
	// differences. Use it where finite differences do not measure what the
	// engine computes by design: surrogate and straight-through gradients of
	// step functions, detached statistics, gradient-only gates.
	Reference func(in Values, w [][]float64) (map[string][]float64, error)
	// NoFD names differentiable inputs that are checked only by Reference
	// (finite differences would be meaningless); it is an error if
	// Reference does not give them.
	NoFD []string
}

// Values holds the values of a case's float inputs (graph inputs and float
// initializers) by name.
type Values map[string][]float32

// Clone returns a deep copy.
func (v Values) Clone() Values {
	out := Values{}
	for k, d := range v {
		out[k] = append([]float32(nil), d...)
	}
	return out
}

// Label names the case: "Domain::OpType@opset/Name".
func (c *Case) Label() string {
	op := c.OpType
	if c.Domain != "" {
		op = c.Domain + "::" + op
	}
	return fmt.Sprintf("%s@%d/%s", op, c.opset(), c.Name)
}

func (c *Case) opset() int {
	if c.Opset != 0 {
		return c.Opset
	}
	if c.Domain == "" || c.Domain == "ai.onnx" {
		return DefaultOpset
	}
	return 1
}

// Spec returns the registry entry the case exercises.
func (c *Case) Spec() (*ops.Spec, error) {
	return ops.Lookup(c.Domain, c.OpType, c.opset())
}

// Covers reports whether the case exercises registry entry s.
func (c *Case) Covers(s *ops.Spec) bool {
	got, err := c.Spec()
	return err == nil && got == s
}

func (c *Case) seed() uint64 {
	if c.Seed != 0 {
		return c.Seed
	}
	h := fnv.New64a()
	h.Write([]byte(c.Label()))
	return h.Sum64()
}

// rng returns a generator for stream k of draw number try.
func (c *Case) rng(try int, stream string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return rand.New(rand.NewPCG(c.seed()+uint64(try)*0x9e3779b97f4a7c15, h.Sum64()))
}

// isFloatData reports whether in is a float input whose values are drawn or
// given (graph input or float initializer).
func (in *Input) isFloatData() bool { return !in.Absent && in.Ints == nil && !in.Bool }

// Draw returns the case's input values for draw number try (0 is the
// values the checks use; others give different values of the same case).
// It does not apply Accept.
func (c *Case) Draw(try int) Values {
	v := Values{}
	for i := range c.Inputs {
		in := &c.Inputs[i]
		if !in.isFloatData() {
			continue
		}
		n := static.Prod(in.Shape)
		if in.Data != nil {
			v[in.Name] = append([]float32(nil), in.Data...)
			continue
		}
		g := in.Gen
		if g == nil {
			g = Uniform(-1, 1)
		}
		v[in.Name] = g(c.rng(try, "input:"+in.Name), n)
	}
	return v
}

// Values returns the accepted input values the checks use: the first draw
// that Accept takes.
func (c *Case) Values() (Values, error) {
	for try := 0; try < 100; try++ {
		v := c.Draw(try)
		if c.Accept == nil || c.Accept(v) {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%s: Accept rejected 100 draws of inputs", c.Label())
}

// weights draws the loss weights, one slice per output (nil for absent or
// NoLoss outputs), shaped by the static output sizes.
func (c *Case) weights(sizes []int) [][]float64 {
	r := c.rng(0, "loss-weights")
	w := make([][]float64, len(c.Outputs))
	for i, o := range c.Outputs {
		if o.Absent || o.NoLoss || i >= len(sizes) {
			continue
		}
		w[i] = make([]float64, sizes[i])
		for j := range w[i] {
			// Away from 0 so that every output matters.
			x := 0.25 + 0.75*r.Float64()
			if r.IntN(2) == 0 {
				x = -x
			}
			w[i][j] = float64(float32(x))
		}
	}
	return w
}

// Model builds the case's ONNX model with the given input values (nil: the
// values of Values). Float initializers take their values from in; graph
// inputs are declared with their static shapes.
func (c *Case) Model(in Values) (*onnx.Model, error) {
	spec, err := c.Spec()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Label(), err)
	}
	if in == nil {
		if in, err = c.Values(); err != nil {
			return nil, err
		}
	}
	g := &onnxpb.GraphProto{Name: proto.String(strings.NewReplacer("/", "_", "@", "_", ":", "_").Replace(c.Label()))}
	var inNames, outNames []string
	for i := range c.Inputs {
		x := &c.Inputs[i]
		if x.Absent {
			inNames = append(inNames, "")
			continue
		}
		inNames = append(inNames, x.Name)
		dims := static.Dims(x.Shape)
		switch {
		case x.Ints != nil:
			if x.Shape == nil {
				dims = []int64{int64(len(x.Ints))}
			}
			g.Initializer = append(g.Initializer, onnx.Int64Tensor(x.Name, dims, x.Ints))
		case x.Bool:
			t := &onnxpb.TensorProto{Name: proto.String(x.Name), Dims: dims, DataType: proto.Int32(int32(onnx.Bool))}
			for _, f := range x.Data {
				t.Int32Data = append(t.Int32Data, b2i(f != 0))
			}
			g.Initializer = append(g.Initializer, t)
		case x.Init || x.Frozen:
			d, ok := in[x.Name]
			if !ok {
				return nil, fmt.Errorf("%s: no value for initializer %q", c.Label(), x.Name)
			}
			g.Initializer = append(g.Initializer, onnx.FloatTensor(x.Name, dims, d))
		default:
			g.Input = append(g.Input, onnx.ValueInfoProto(x.Name, onnx.Float, shapeOf(x.Shape)))
		}
	}
	for _, o := range c.Outputs {
		if o.Absent {
			outNames = append(outNames, "")
			continue
		}
		outNames = append(outNames, o.Name)
		vi := &onnxpb.ValueInfoProto{Name: proto.String(o.Name)}
		if o.Shape != nil {
			vi = onnx.ValueInfoProto(o.Name, onnx.Float, shapeOf(o.Shape))
		}
		g.Output = append(g.Output, vi)
	}
	if len(c.Nodes) == 0 {
		g.Node = []*onnxpb.NodeProto{{Name: proto.String("op"), OpType: proto.String(c.OpType), Domain: domainPtr(c.Domain),
			Input: trimEmpty(inNames), Output: trimEmpty(outNames), Attribute: c.Attrs}}
	} else {
		found := false
		for i, n := range c.Nodes {
			found = found || (n.OpType == c.OpType && sameDomain(n.Domain, c.Domain))
			g.Node = append(g.Node, &onnxpb.NodeProto{Name: proto.String(fmt.Sprintf("n%d_%s", i, n.OpType)), OpType: proto.String(n.OpType),
				Domain: domainPtr(n.Domain), Input: n.Inputs, Output: n.Outputs, Attribute: n.Attrs})
		}
		if !found {
			return nil, fmt.Errorf("%s: no node of the case's op among Nodes", c.Label())
		}
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), ProducerName: proto.String("bsnnctl-opstest"), Graph: g}
	aiOpset := c.opset()
	if !sameDomain(c.Domain, "") {
		aiOpset = DefaultOpset
	}
	mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(""), Version: proto.Int64(int64(aiOpset))})
	domains := map[string]bool{}
	addDomain := func(d string, v int) {
		if sameDomain(d, "") || domains[d] {
			return
		}
		domains[d] = true
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(int64(v))})
	}
	addDomain(c.Domain, c.opset())
	for _, n := range c.Nodes {
		addDomain(n.Domain, 1)
	}
	if spec.Function != nil {
		mp.Functions = append(mp.Functions, spec.Function())
	}
	return &onnx.Model{Proto: mp}, nil
}

// trimEmpty drops trailing "" names (optional inputs or outputs left out at
// the end are simply not written, as exporters do).
func trimEmpty(s []string) []string {
	for len(s) > 0 && s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	return s
}

func sameDomain(a, b string) bool {
	norm := func(d string) string {
		if d == "ai.onnx" {
			return ""
		}
		return d
	}
	return norm(a) == norm(b)
}

func domainPtr(d string) *string {
	if d == "" {
		return nil
	}
	return proto.String(d)
}

func shapeOf(s []int) onnx.Shape {
	out := make(onnx.Shape, len(s))
	for i, d := range s {
		out[i] = onnx.Dim{Value: int64(d)}
	}
	return out
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// AttrList returns its arguments: a node's attribute list.
func AttrList(a ...*onnxpb.AttributeProto) []*onnxpb.AttributeProto { return a }

// Int, Float, String and Ints are shorthands for the onnx attribute
// constructors in contract cases.
func Int(name string, v int64) *onnxpb.AttributeProto { return onnx.AttrInt(name, v) }

// Float makes a FLOAT attribute (onnx.AttrFloat).
func Float(name string, v float32) *onnxpb.AttributeProto { return onnx.AttrFloat(name, v) }

// String makes a STRING attribute (onnx.AttrString).
func String(name, v string) *onnxpb.AttributeProto { return onnx.AttrString(name, v) }

// Ints makes an INTS attribute (onnx.AttrInts).
func Ints(name string, v ...int64) *onnxpb.AttributeProto { return onnx.AttrInts(name, v...) }

// Floats makes a FLOATS attribute.
func Floats(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

// Tensor makes a TENSOR attribute.
func Tensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

// AllAttrs returns one attribute per entry of the spec's schema, each with
// its default value except those overridden (by name) in over: custom-op
// nodes always carry every attribute (spec §2: IR 8 has no attribute
// defaults).
func AllAttrs(spec *ops.Spec, over ...*onnxpb.AttributeProto) []*onnxpb.AttributeProto {
	byName := map[string]*onnxpb.AttributeProto{}
	for _, a := range over {
		byName[a.GetName()] = a
	}
	var out []*onnxpb.AttributeProto
	for _, a := range spec.Attrs {
		if o, ok := byName[a.Name]; ok {
			out = append(out, o)
			delete(byName, a.Name)
			continue
		}
		switch d := a.Default.(type) {
		case int64:
			out = append(out, Int(a.Name, d))
		case float32:
			out = append(out, Float(a.Name, d))
		case string:
			out = append(out, String(a.Name, d))
		case []int64:
			out = append(out, Ints(a.Name, d...))
		case []float32:
			out = append(out, Floats(a.Name, d...))
		}
	}
	for _, a := range over {
		if _, left := byName[a.GetName()]; left {
			out = append(out, a) // not in the schema: the builder must reject it
		}
	}
	return out
}
