//go:build cgo

package ort

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	onnxrt "github.com/yalue/onnxruntime_go"
)

var (
	initOnce      sync.Once
	initErr       error
	loadedVersion string
)

// Init loads onnxruntime (see LibPath) and creates its environment,
// once per process; it is safe to call from several goroutines and returns
// the same result every time. The environment lives until the process ends.
// A missing or unloadable library gives an error wrapping ErrUnavailable.
func Init() error {
	initOnce.Do(func() {
		if onnxrt.IsInitialized() { // someone else in this process set it up
			loadedVersion = onnxrt.GetVersion()
			return
		}
		lib, err := LibPath()
		if err != nil {
			initErr = err
			return
		}
		onnxrt.SetSharedLibraryPath(lib)
		if err := onnxrt.InitializeEnvironment(onnxrt.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("%w: onnxruntime: loading %s: %v", ErrUnavailable, lib, err)
			return
		}
		loadedVersion = onnxrt.GetVersion()
	})
	return initErr
}

// Version returns the version string of the loaded onnxruntime library
// (initialising it if needed).
func Version() (string, error) {
	if err := Init(); err != nil {
		return "", err
	}
	return loadedVersion, nil
}

// IOInfo describes one graph input or output as onnxruntime sees it.
type IOInfo struct {
	Name string
	// Shape is the declared shape; -1 for a symbolic or unknown dimension.
	// onnxruntime reports an empty Shape both for a scalar and for a tensor
	// whose shape the model does not declare.
	Shape []int64
	// ElemType is the ONNX element type name ("float", "int64", ...), or the
	// value kind for non-tensors.
	ElemType string
	elem     onnxrt.TensorElementDataType
	kind     onnxrt.ONNXType
}

// ModelIO returns the names of a model's inputs and outputs, in graph order,
// as onnxruntime loads them (initializers are not inputs).
func ModelIO(path string) (inputs, outputs []string, err error) {
	in, out, err := ModelIOInfo(path)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range in {
		inputs = append(inputs, i.Name)
	}
	for _, o := range out {
		outputs = append(outputs, o.Name)
	}
	return inputs, outputs, nil
}

// ModelIOInfo is ModelIO with declared shapes and element types.
func ModelIOInfo(path string) (inputs, outputs []IOInfo, err error) {
	if err := Init(); err != nil {
		return nil, nil, err
	}
	in, out, err := onnxrt.GetInputOutputInfoWithOptions(path, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("onnxruntime: %s: %w", path, err)
	}
	conv := func(l []onnxrt.InputOutputInfo) []IOInfo {
		r := make([]IOInfo, len(l))
		for i, x := range l {
			r[i] = IOInfo{Name: x.Name, Shape: slices.Clone([]int64(x.Dimensions)), elem: x.DataType, kind: x.OrtValueType}
			if x.OrtValueType == onnxrt.ONNXTypeTensor {
				r[i].ElemType = elemName(x.DataType)
			} else {
				r[i].ElemType = x.OrtValueType.String()
			}
		}
		return r
	}
	return conv(in), conv(out), nil
}

func elemName(t onnxrt.TensorElementDataType) string {
	switch t {
	case onnxrt.TensorElementDataTypeFloat:
		return "float"
	case onnxrt.TensorElementDataTypeInt64:
		return "int64"
	}
	return t.String()
}

// Run runs the model at modelPath once in onnxruntime (CPU, one thread,
// default graph optimisations) with the given named inputs and returns the
// requested outputs, with the shapes onnxruntime computed. An empty
// outputNames asks for every graph output. Inputs and outputs may be float32
// or int64 tensors, scalars included. Errors from onnxruntime (a model it
// cannot load or run) are returned, never panicked.
func Run(modelPath string, inputs map[string]Tensor, outputNames []string) (map[string]Tensor, error) {
	inNames, err := validateInputs(modelPath, inputs)
	if err != nil {
		return nil, err
	}
	if err := Init(); err != nil {
		return nil, err
	}
	if len(outputNames) == 0 || len(inNames) == 0 {
		ins, outs, err := ModelIO(modelPath)
		if err != nil {
			return nil, err
		}
		if len(outputNames) == 0 {
			outputNames = outs
		}
		// onnxruntime_go v1.27 indexes the first input and output without
		// checking (a panic), so catch the empty cases here.
		switch {
		case len(outputNames) == 0:
			return nil, fmt.Errorf("onnxruntime: %s: the model has no outputs", modelPath)
		case len(inNames) == 0 && len(ins) > 0:
			return nil, fmt.Errorf("onnxruntime: %s: missing inputs %v", modelPath, ins)
		case len(inNames) == 0:
			return nil, fmt.Errorf("onnxruntime: %s: the model has no inputs, which onnxruntime_go cannot run", modelPath)
		}
	}

	inVals := make([]onnxrt.Value, 0, len(inNames))
	defer func() {
		for _, v := range inVals {
			destroy(v)
		}
	}()
	for _, name := range inNames {
		v, err := toValue(inputs[name])
		if err != nil {
			return nil, fmt.Errorf("onnxruntime: %s: input %q: %w", modelPath, name, err)
		}
		inVals = append(inVals, v)
	}

	res, err := runSession(modelPath, inNames, inVals, outputNames, nil)
	if errors.Is(err, onnxrt.ZeroShapeLengthError) {
		// onnxruntime_go cannot wrap a rank-0 output that onnxruntime
		// allocated (it insists on a non-empty shape). Run again one output
		// at a time, handing rank-0 outputs a preallocated scalar.
		res, err = runEachOutput(modelPath, inNames, inVals, outputNames)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func sessionOptions() (*onnxrt.SessionOptions, error) {
	o, err := onnxrt.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	if err := o.SetIntraOpNumThreads(1); err != nil {
		o.Destroy()
		return nil, err
	}
	if err := o.SetInterOpNumThreads(1); err != nil {
		o.Destroy()
		return nil, err
	}
	return o, nil
}

// runSession runs one session; prealloc (optional, same length as outNames)
// holds outputs to write into, nil entries are allocated by onnxruntime.
func runSession(path string, inNames []string, inVals []onnxrt.Value, outNames []string, prealloc []onnxrt.Value) (map[string]Tensor, error) {
	opts, err := sessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: session options: %w", err)
	}
	defer opts.Destroy()
	sess, err := onnxrt.NewDynamicAdvancedSession(path, inNames, outNames, opts)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: loading %s: %w", path, err)
	}
	defer sess.Destroy()
	outVals := make([]onnxrt.Value, len(outNames))
	copy(outVals, prealloc)
	defer func() {
		for i, v := range outVals {
			if prealloc == nil || prealloc[i] == nil {
				destroy(v)
			}
		}
	}()
	if err := sess.Run(inVals, outVals); err != nil {
		return nil, fmt.Errorf("onnxruntime: running %s: %w", path, err)
	}
	res := make(map[string]Tensor, len(outNames))
	for i, name := range outNames {
		t, err := fromValue(outVals[i])
		if err != nil {
			return nil, fmt.Errorf("onnxruntime: %s: output %q: %w", path, name, err)
		}
		res[name] = t
	}
	return res, nil
}

func runEachOutput(path string, inNames []string, inVals []onnxrt.Value, outNames []string) (map[string]Tensor, error) {
	_, outInfo, err := ModelIOInfo(path)
	if err != nil {
		return nil, err
	}
	info := make(map[string]IOInfo, len(outInfo))
	for _, o := range outInfo {
		info[o.Name] = o
	}
	res := make(map[string]Tensor, len(outNames))
	for _, name := range outNames {
		one, err := runSession(path, inNames, inVals, []string{name}, nil)
		if errors.Is(err, onnxrt.ZeroShapeLengthError) {
			var s onnxrt.Value
			switch info[name].elem {
			case onnxrt.TensorElementDataTypeFloat:
				s, err = onnxrt.NewEmptyScalar[float32]()
			case onnxrt.TensorElementDataTypeInt64:
				s, err = onnxrt.NewEmptyScalar[int64]()
			default:
				return nil, fmt.Errorf("onnxruntime: %s: scalar output %q has unsupported type %s",
					path, name, info[name].ElemType)
			}
			if err != nil {
				return nil, fmt.Errorf("onnxruntime: %s: output %q: %w", path, name, err)
			}
			one, err = runSession(path, inNames, inVals, []string{name}, []onnxrt.Value{s})
			destroy(s)
		}
		if err != nil {
			return nil, err
		}
		res[name] = one[name]
	}
	return res, nil
}

// destroy releases v, which may be nil or an interface holding a nil pointer:
// when onnxruntime_go fails to convert an output it leaves such a typed nil
// in the output slice.
func destroy(v onnxrt.Value) {
	if v == nil {
		return
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return
	}
	v.Destroy()
}

func toValue(t Tensor) (onnxrt.Value, error) {
	if len(t.Shape) == 0 {
		if t.Int64 != nil {
			return onnxrt.NewScalar(t.Int64[0])
		}
		return onnxrt.NewScalar(t.Float[0])
	}
	shape := onnxrt.NewShape(slices.Clone(t.Shape)...)
	if t.Int64 != nil {
		return onnxrt.NewTensor(shape, t.Int64)
	}
	data := t.Float
	if data == nil {
		data = []float32{}
	}
	return onnxrt.NewTensor(shape, data)
}

func fromValue(v onnxrt.Value) (Tensor, error) {
	switch x := v.(type) {
	case *onnxrt.Tensor[float32]:
		return Tensor{Shape: shapeOf(x.GetShape()), Float: slices.Clone(x.GetData())}, nil
	case *onnxrt.Tensor[int64]:
		return Tensor{Shape: shapeOf(x.GetShape()), Int64: slices.Clone(x.GetData())}, nil
	case *onnxrt.Scalar[float32]:
		return Tensor{Shape: []int64{}, Float: []float32{x.GetData()}}, nil
	case *onnxrt.Scalar[int64]:
		return Tensor{Shape: []int64{}, Int64: []int64{x.GetData()}}, nil
	case nil:
		return Tensor{}, errors.New("onnxruntime returned no value")
	}
	if v.GetONNXType() == onnxrt.ONNXTypeTensor {
		return Tensor{}, fmt.Errorf("unsupported element type %s (only float32 and int64)",
			onnxrt.TensorElementDataType(v.DataType()))
	}
	return Tensor{}, fmt.Errorf("unsupported value kind %s (only tensors)", v.GetONNXType())
}

func shapeOf(s onnxrt.Shape) []int64 {
	r := make([]int64, len(s))
	copy(r, s)
	return r
}
