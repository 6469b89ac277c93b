//go:build cgo

package onnxruntime

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	ortgo "github.com/yalue/onnxruntime_go"
)

var (
	initOnce sync.Once
	initErr  error
	version  string
)

// Init loads onnxruntime (see LibPath) and creates its environment, once
// per process; it is safe to call from several goroutines and returns the
// same result every time. The environment lives until the process ends.
func Init() error {
	initOnce.Do(func() {
		if ortgo.IsInitialized() { // set up by other code of this process
			version = ortgo.GetVersion()
			return
		}
		lib, err := LibPath()
		if err != nil {
			initErr = err
			return
		}
		ortgo.SetSharedLibraryPath(lib)
		if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("%w: loading %s: %v", ErrUnavailable, lib, err)
			return
		}
		version = ortgo.GetVersion()
	})
	return initErr
}

// Version returns the version of the loaded library (loading it if needed).
func Version() (string, error) {
	if err := Init(); err != nil {
		return "", err
	}
	return version, nil
}

// A Session is a model loaded in onnxruntime. It is not safe for
// concurrent use.
type Session struct {
	s       *ortgo.DynamicAdvancedSession
	inputs  []string
	outputs []string
}

// NewSession loads a model (the bytes of an ONNX file).
func NewSession(model []byte, opts Options) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	ins, outs, err := ortgo.GetInputOutputInfoWithONNXData(model)
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
		return nil, fmt.Errorf("onnxruntime: the model has %d inputs and %d outputs; at least one of each is needed",
			len(s.inputs), len(s.outputs))
	}
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: session options: %w", err)
	}
	defer so.Destroy()
	if opts.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(opts.IntraOpThreads); err != nil {
			return nil, fmt.Errorf("onnxruntime: %d intra-op threads: %w", opts.IntraOpThreads, err)
		}
	}
	if opts.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(opts.InterOpThreads); err != nil {
			return nil, fmt.Errorf("onnxruntime: %d inter-op threads: %w", opts.InterOpThreads, err)
		}
	}
	if s.s, err = ortgo.NewDynamicAdvancedSessionWithONNXData(model, s.inputs, s.outputs, so); err != nil {
		return nil, fmt.Errorf("onnxruntime: loading the model: %w", err)
	}
	return s, nil
}

// Inputs and Outputs return the model's input and output names, in graph
// order (initializers are not inputs).
func (s *Session) Inputs() []string  { return slices.Clone(s.inputs) }
func (s *Session) Outputs() []string { return slices.Clone(s.outputs) }

// Close releases the session.
func (s *Session) Close() error {
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}

// A Call is a session run with fixed inputs, prepared once so that Run
// times onnxruntime alone: the inputs are copied to onnxruntime tensors
// here, and the outputs onnxruntime allocates at the first Run are reused
// by the next ones.
type Call struct {
	s    *Session
	ins  []ortgo.Value
	outs []ortgo.Value
}

// Prepare makes a Call with one tensor per model input (any order).
func (s *Session) Prepare(inputs []Tensor) (*Call, error) {
	byName := map[string]Tensor{}
	for _, t := range inputs {
		if !slices.Contains(s.inputs, t.Name) {
			return nil, fmt.Errorf("onnxruntime: the model has no input %q (inputs %v)", t.Name, s.inputs)
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("onnxruntime: %w", err)
		}
		byName[t.Name] = t
	}
	c := &Call{s: s, outs: make([]ortgo.Value, len(s.outputs))}
	for _, name := range s.inputs {
		t, ok := byName[name]
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

// Outputs returns copies of the outputs of the last Run.
func (c *Call) Outputs() ([]Tensor, error) {
	res := make([]Tensor, len(c.outs))
	for i, v := range c.outs {
		t, err := fromValue(v)
		if err != nil {
			return nil, fmt.Errorf("onnxruntime: output %q: %w", c.s.outputs[i], err)
		}
		t.Name = c.s.outputs[i]
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

// destroy releases v, which may be nil or an interface holding a nil
// pointer (onnxruntime_go leaves such a typed nil when it fails to wrap an
// output).
func destroy(v ortgo.Value) {
	if v == nil {
		return
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return
	}
	v.Destroy()
}

func toValue(t Tensor) (ortgo.Value, error) {
	if len(t.Shape) == 0 {
		if t.Int64 != nil {
			return ortgo.NewScalar(t.Int64[0])
		}
		return ortgo.NewScalar(t.Float32[0])
	}
	shape := ortgo.NewShape(slices.Clone(t.Shape)...)
	if t.Int64 != nil {
		return ortgo.NewTensor(shape, slices.Clone(t.Int64))
	}
	return ortgo.NewTensor(shape, slices.Clone(t.Float32))
}

func fromValue(v ortgo.Value) (Tensor, error) {
	switch x := v.(type) {
	case *ortgo.Tensor[float32]:
		return Tensor{Shape: slices.Clone([]int64(x.GetShape())), Float32: slices.Clone(x.GetData())}, nil
	case *ortgo.Tensor[int64]:
		return Tensor{Shape: slices.Clone([]int64(x.GetShape())), Int64: slices.Clone(x.GetData())}, nil
	case *ortgo.Scalar[float32]:
		return Tensor{Shape: []int64{}, Float32: []float32{x.GetData()}}, nil
	case *ortgo.Scalar[int64]:
		return Tensor{Shape: []int64{}, Int64: []int64{x.GetData()}}, nil
	case nil:
		return Tensor{}, errors.New("no value (not run yet)")
	}
	if v.GetONNXType() == ortgo.ONNXTypeTensor {
		return Tensor{}, fmt.Errorf("element type %s is not supported (float32 and int64 are)",
			ortgo.TensorElementDataType(v.DataType()))
	}
	return Tensor{}, fmt.Errorf("value kind %s is not supported (tensors are)", v.GetONNXType())
}
