package bsnn

import (
	"fmt"
	"math"
	"slices"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// An Attr describes one attribute of a custom op.
type Attr struct {
	Name    string
	Type    onnxpb.AttributeProto_AttributeType
	Default any // float32, int64 or string: the spec default
	Doc     string
}

// An Op is the schema of one custom op of spec §2: its domain, arity,
// attributes with their defaults, and the FunctionProto body (standard
// ai.onnx opset-TargetOpset ops) a written file carries so that stock
// onnxruntime runs it.
type Op struct {
	Domain, Name           string
	MinInputs, MaxInputs   int
	MinOutputs, MaxOutputs int
	Attrs                  []Attr
	// Function returns a fresh copy of the op's FunctionProto.
	Function func() *onnxpb.FunctionProto
	Doc      string
}

// lifAttrs are the attributes every LIF/LIFStep node carries, in the order
// files write them (IR 8 has no attribute defaults in functions, so files
// always write all of them).
var lifAttrs = []Attr{
	{Name: "tau", Type: onnxpb.AttributeProto_FLOAT, Default: float32(2), Doc: "membrane time constant; k = 1/tau"},
	{Name: "v_threshold", Type: onnxpb.AttributeProto_FLOAT, Default: float32(1), Doc: "spike when H >= v_threshold"},
	{Name: "v_reset", Type: onnxpb.AttributeProto_FLOAT, Default: float32(0), Doc: "initial membrane and hard-reset value"},
	{Name: "decay_input", Type: onnxpb.AttributeProto_INT, Default: int64(0), Doc: "1: input scaled by 1/tau"},
	{Name: "soft_reset", Type: onnxpb.AttributeProto_INT, Default: int64(0), Doc: "1: subtract v_threshold on a spike"},
	{Name: "surrogate", Type: onnxpb.AttributeProto_STRING, Default: "triangle", Doc: "training only: triangle|sigmoid|atan|rect"},
	{Name: "surrogate_alpha", Type: onnxpb.AttributeProto_FLOAT, Default: float32(1), Doc: "training only: surrogate width"},
	{Name: "detach_reset", Type: onnxpb.AttributeProto_INT, Default: int64(0), Doc: "training only: no gradient through the reset"},
}

var agmmGateAttrs = []Attr{
	{Name: "mode", Type: onnxpb.AttributeProto_STRING, Default: "forward", Doc: "forward: Y = g*X; grad_only: Y = X, backward as forward"},
	{Name: "detach_stat", Type: onnxpb.AttributeProto_INT, Default: int64(0), Doc: "training only: no gradient through mean(X)"},
}

// The custom ops, in the order of spec §2.
var (
	BipolarQuant = &Op{Domain: DomainQONNX, Name: "BipolarQuant", MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Function: bipolarQuantFunction, Doc: "sign binarization: where(X >= 0, +1, -1) * scale; STE gradient"}
	LIF = &Op{Domain: DomainSNN, Name: "LIF", MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 2,
		Attrs: lifAttrs, Function: lifFunction,
		Doc: "multi-step leaky integrate-and-fire on [T, N, ...]; BPTT with surrogate gradient"}
	LIFStep = &Op{Domain: DomainSNN, Name: "LIFStep", MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 2,
		Attrs: lifAttrs, Function: lifStepFunction, Doc: "one LIF step (X_t, V) -> (S_t, V_next)"}
	AGMMGate = &Op{Domain: DomainSNN, Name: "AGMMGate", MinInputs: 2, MaxInputs: 2, MinOutputs: 1, MaxOutputs: 1,
		Attrs: agmmGateAttrs, Function: agmmGateFunction, Doc: "AGMM gate: Y = alpha[t]*sigmoid(mean(X[t,n]))*X[t,n]"}
)

// Ops lists the custom ops of spec §2.
func Ops() []*Op { return []*Op{BipolarQuant, LIF, LIFStep, AGMMGate} }

// LookupOp returns the schema of a custom op, or nil.
func LookupOp(domain, name string) *Op {
	for _, o := range Ops() {
		if o.Name == name && (o.Domain == domain || o == BipolarQuant && IsBipolarDomain(domain)) {
			return o
		}
	}
	return nil
}

// Function returns the FunctionProto of a custom op, or an error naming it
// when it is not one of spec §2.
func Function(domain, name string) (*onnxpb.FunctionProto, error) {
	o := LookupOp(domain, name)
	if o == nil || o.Domain != domain {
		return nil, fmt.Errorf("no FunctionProto for %s::%s: not a custom op of the BSNN format", domain, name)
	}
	return o.Function(), nil
}

// ParseLIF reads a LIF or LIFStep node's attributes, with the spec defaults
// for absent ones, and validates them.
func ParseLIF(n *onnx.Node) (spiking.LIFParams, error) {
	p := spiking.DefaultLIF()
	p.Tau = n.Float("tau", p.Tau)
	p.VThreshold = n.Float("v_threshold", p.VThreshold)
	p.VReset = n.Float("v_reset", p.VReset)
	p.DecayInput = n.Int("decay_input", 0) != 0
	p.SoftReset = n.Int("soft_reset", 0) != 0
	p.DetachReset = n.Int("detach_reset", 0) != 0
	p.SurrogateAlpha = n.Float("surrogate_alpha", p.SurrogateAlpha)
	s, err := spiking.ParseSurrogate(n.String("surrogate", p.Surrogate.String()))
	if err != nil {
		return p, err
	}
	p.Surrogate = s
	return p, p.Validate()
}

// LIFAttributes returns the attributes a LIF or LIFStep node with
// parameters p carries: all eight, in the schema's order.
func LIFAttributes(p spiking.LIFParams) []*onnxpb.AttributeProto {
	return []*onnxpb.AttributeProto{
		onnx.AttrFloat("tau", p.Tau),
		onnx.AttrFloat("v_threshold", p.VThreshold),
		onnx.AttrFloat("v_reset", p.VReset),
		onnx.AttrInt("decay_input", b2i(p.DecayInput)),
		onnx.AttrInt("soft_reset", b2i(p.SoftReset)),
		onnx.AttrString("surrogate", p.Surrogate.String()),
		onnx.AttrFloat("surrogate_alpha", p.SurrogateAlpha),
		onnx.AttrInt("detach_reset", b2i(p.DetachReset)),
	}
}

// NeuronEntry is the bsnn.neurons entry of a LIF or LIFStep node (op) with
// parameters p: model, every attribute, tau +Inf written as "inf". It is a
// map so that its JSON keys come out sorted.
func NeuronEntry(op string, p spiking.LIFParams) map[string]any {
	tau := float64(p.Tau)
	var tauV any = tau
	if math.IsInf(tau, 1) {
		tauV = "inf"
	}
	model := "LIF"
	if op == LIFStep.Name {
		model = LIFStep.Name
	}
	return map[string]any{
		"model": model, "tau": tauV, "v_threshold": p.VThreshold, "v_reset": p.VReset,
		"decay_input": b2i(p.DecayInput), "soft_reset": b2i(p.SoftReset),
		"surrogate": p.Surrogate.String(), "surrogate_alpha": p.SurrogateAlpha,
		"detach_reset": b2i(p.DetachReset),
	}
}

// ApplyNeuronEntry takes from a bsnn.neurons entry (as decoded from JSON)
// the attributes the standard-op forms of a LIF cannot show: the
// training-only surrogate, surrogate_alpha and detach_reset, and soft_reset
// when softKnown is false (a pattern with no reset step). Keys that are
// absent or malformed leave p as it is; the result is p when it would not
// validate.
func ApplyNeuronEntry(p spiking.LIFParams, e map[string]any, softKnown bool) spiking.LIFParams {
	q := p
	if s, ok := e["surrogate"].(string); ok {
		if sg, err := spiking.ParseSurrogate(s); err == nil {
			q.Surrogate = sg
		}
	}
	if v, ok := e["surrogate_alpha"].(float64); ok {
		q.SurrogateAlpha = float32(v)
	}
	if v, ok := e["detach_reset"].(float64); ok {
		q.DetachReset = v != 0
	}
	if v, ok := e["soft_reset"].(float64); ok && !softKnown {
		q.SoftReset = v != 0
	}
	if q.Validate() != nil {
		return p
	}
	return q
}

// ParseAGMMGate reads an AGMMGate node's attributes and validates them.
func ParseAGMMGate(n *onnx.Node) (spiking.AGMMParams, error) {
	mode, err := spiking.ParseAGMMMode(n.String("mode", "forward"))
	if err != nil {
		return spiking.AGMMParams{}, err
	}
	p := spiking.AGMMParams{Mode: mode, DetachStat: n.Int("detach_stat", 0) != 0}
	return p, p.Validate()
}

// AGMMGateAttributes returns the attributes an AGMMGate node with
// parameters p carries.
func AGMMGateAttributes(p spiking.AGMMParams) []*onnxpb.AttributeProto {
	return []*onnxpb.AttributeProto{onnx.AttrString("mode", p.Mode.String()), onnx.AttrInt("detach_stat", b2i(p.DetachStat))}
}

// IsLIF reports whether a node (domain, op type) is a LIF or LIFStep.
func IsLIF(domain, op string) bool {
	return domain == DomainSNN && slices.Contains([]string{LIF.Name, LIFStep.Name}, op)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
