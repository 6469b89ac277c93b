//go:build cgo

package ort

import (
	"fmt"
	"slices"

	onnxrt "github.com/yalue/onnxruntime_go"
)

// SessionOptions configure a Session. Graph optimizations stay
// onnxruntime's default (all of them) unless LowMemory is set.
type SessionOptions struct {
	// IntraOpThreads and InterOpThreads size onnxruntime's thread pools
	// (0: onnxruntime's default, one intra-op thread per physical core).
	IntraOpThreads, InterOpThreads int
	// LowMemory makes the session hold as little memory as it can, for a
	// run or two of a large model: basic graph optimizations only (the
	// layout optimizations copy the weights into new layouts), no
	// prepacked weights, no memory arena and no memory patterns (each
	// tensor is allocated when needed and freed after its last use).
	// ResNet-50 then takes about 1.3 times its weights instead of 2.7.
	LowMemory bool
}

// A Session is a model loaded once in onnxruntime and run many times
// (Run loads the model at every call). It is not safe for concurrent use.
type Session struct {
	s       *onnxrt.DynamicAdvancedSession
	inputs  []string
	outputs []string
}

// NewSession loads a model from the bytes of an ONNX file.
func NewSession(model []byte, opts SessionOptions) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	ins, outs, err := onnxrt.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: loading the model: %w", err)
	}
	s := &Session{}
	for _, i := range ins {
		s.inputs = append(s.inputs, i.Name)
	}
	for _, o := range outs {
		s.outputs = append(s.outputs, o.Name)
	}
	if len(s.inputs) == 0 || len(s.outputs) == 0 {
		// onnxruntime_go indexes the first input and output unchecked.
		return nil, fmt.Errorf("onnxruntime: the model has %d inputs and %d outputs; a session needs at least one of each",
			len(s.inputs), len(s.outputs))
	}
	so, err := opts.make()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	if s.s, err = onnxrt.NewDynamicAdvancedSessionWithONNXData(model, s.inputs, s.outputs, so); err != nil {
		return nil, fmt.Errorf("onnxruntime: loading the model: %w", err)
	}
	return s, nil
}

// NewSessionFile loads the model file at path, whose graph inputs and
// outputs are named inputs and outputs: onnxruntime reads the file itself,
// and the caller holds no copy of it.
func NewSessionFile(path string, inputs, outputs []string, opts SessionOptions) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, fmt.Errorf("onnxruntime: %s: %d inputs and %d outputs; a session needs at least one of each", path, len(inputs), len(outputs))
	}
	so, err := opts.make()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	s := &Session{inputs: slices.Clone(inputs), outputs: slices.Clone(outputs)}
	if s.s, err = onnxrt.NewDynamicAdvancedSession(path, s.inputs, s.outputs, so); err != nil {
		return nil, fmt.Errorf("onnxruntime: loading %s: %w", path, err)
	}
	return s, nil
}

// make returns onnxruntime's session options for o.
func (o SessionOptions) make() (*onnxrt.SessionOptions, error) {
	so, err := onnxrt.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: session options: %w", err)
	}
	if err := o.apply(so); err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

func (o SessionOptions) apply(so *onnxrt.SessionOptions) error {
	if o.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return fmt.Errorf("onnxruntime: %d intra-op threads: %w", o.IntraOpThreads, err)
		}
	}
	if o.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return fmt.Errorf("onnxruntime: %d inter-op threads: %w", o.InterOpThreads, err)
		}
	}
	if !o.LowMemory {
		return nil
	}
	if err := so.SetGraphOptimizationLevel(onnxrt.GraphOptimizationLevelEnableBasic); err != nil {
		return fmt.Errorf("onnxruntime: graph optimization level: %w", err)
	}
	if err := so.AddSessionConfigEntry("session.disable_prepacking", "1"); err != nil {
		return fmt.Errorf("onnxruntime: disabling prepacking: %w", err)
	}
	if err := so.SetCpuMemArena(false); err != nil {
		return fmt.Errorf("onnxruntime: disabling the memory arena: %w", err)
	}
	if err := so.SetMemPattern(false); err != nil {
		return fmt.Errorf("onnxruntime: disabling memory patterns: %w", err)
	}
	return nil
}

// Inputs returns the model's input names, in graph order (initializers
// are not inputs).
func (s *Session) Inputs() []string { return slices.Clone(s.inputs) }

// Outputs returns the model's output names, in graph order.
func (s *Session) Outputs() []string { return slices.Clone(s.outputs) }

// Close releases the session.
func (s *Session) Close() error {
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	releaseFreeMemory()
	return err
}

// A Call is a run of a Session with fixed inputs, prepared once so that
// Call.Run times onnxruntime alone: the input tensors are made here, and
// the outputs onnxruntime allocates at the first Run are reused by the
// next ones.
type Call struct {
	s    *Session
	ins  []onnxrt.Value
	outs []onnxrt.Value
}

// Prepare makes a Call with a tensor for every model input. The call
// reads the tensors' data when it runs: it must not change meanwhile.
func (s *Session) Prepare(inputs map[string]Tensor) (*Call, error) {
	for name, t := range inputs {
		if !slices.Contains(s.inputs, name) {
			return nil, fmt.Errorf("onnxruntime: the model has no input %q (its inputs: %v)", name, s.inputs)
		}
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("onnxruntime: input %q: %w", name, err)
		}
	}
	c := &Call{s: s, outs: make([]onnxrt.Value, len(s.outputs))}
	for _, name := range s.inputs {
		t, ok := inputs[name]
		if !ok {
			c.Close()
			return nil, fmt.Errorf("onnxruntime: input %q is not given", name)
		}
		v, err := toValue(t)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("onnxruntime: input %q: %w", name, err)
		}
		c.ins = append(c.ins, v)
	}
	return c, nil
}

// Run runs the model once.
func (c *Call) Run() error {
	if err := c.s.s.Run(c.ins, c.outs); err != nil {
		return fmt.Errorf("onnxruntime: %w", err)
	}
	return nil
}

// Outputs returns copies of the outputs of the last Run, in the order of
// Session.Outputs.
func (c *Call) Outputs() ([]Tensor, error) {
	res := make([]Tensor, len(c.outs))
	for i, v := range c.outs {
		t, err := fromValue(v)
		if err != nil {
			return nil, fmt.Errorf("onnxruntime: output %q: %w", c.s.outputs[i], err)
		}
		res[i] = t
	}
	return res, nil
}

// Close releases the call's tensors.
func (c *Call) Close() error {
	for _, v := range append(c.ins, c.outs...) {
		destroy(v)
	}
	c.ins, c.outs = nil, nil
	return nil
}
