//go:build cgo

package interop

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

var (
	ortOnce    sync.Once
	ortErr     error
	ortVersion string
)

// InitORT loads onnxruntime (see ORTLibPath) and creates its environment,
// once per process; it is safe to call from several goroutines and returns
// the same result every time. The environment lives until the process ends.
// A missing or unloadable library gives an error wrapping ErrUnavailable.
func InitORT() error {
	ortOnce.Do(func() {
		if ort.IsInitialized() { // someone else in this process set it up
			ortVersion = ort.GetVersion()
			return
		}
		lib, err := ORTLibPath()
		if err != nil {
			ortErr = err
			return
		}
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			ortErr = fmt.Errorf("%w: onnxruntime: loading %s: %v", ErrUnavailable, lib, err)
			return
		}
		ortVersion = ort.GetVersion()
	})
	return ortErr
}

// ORTVersion returns the version string of the loaded onnxruntime library
// (initialising it if needed).
func ORTVersion() (string, error) {
	if err := InitORT(); err != nil {
		return "", err
	}
	return ortVersion, nil
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
	elem     ort.TensorElementDataType
	kind     ort.ONNXType
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
	if err := InitORT(); err != nil {
		return nil, nil, err
	}
	in, out, err := ort.GetInputOutputInfoWithOptions(path, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("onnxruntime: %s: %w", path, err)
	}
	conv := func(l []ort.InputOutputInfo) []IOInfo {
		r := make([]IOInfo, len(l))
		for i, x := range l {
			r[i] = IOInfo{Name: x.Name, Shape: slices.Clone([]int64(x.Dimensions)), elem: x.DataType, kind: x.OrtValueType}
			if x.OrtValueType == ort.ONNXTypeTensor {
				r[i].ElemType = elemName(x.DataType)
			} else {
				r[i].ElemType = x.OrtValueType.String()
			}
		}
		return r
	}
	return conv(in), conv(out), nil
}

func elemName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float"
	case ort.TensorElementDataTypeInt64:
		return "int64"
	}
	return t.String()
}

// RunORT runs the model at modelPath once in onnxruntime (CPU, one thread,
// default graph optimisations) with the given named inputs and returns the
// requested outputs, with the shapes onnxruntime computed. An empty
// outputNames asks for every graph output. Inputs and outputs may be float32
// or int64 tensors, scalars included. Errors from onnxruntime (a model it
// cannot load or run) are returned, never panicked.
func RunORT(modelPath string, inputs map[string]Tensor, outputNames []string) (map[string]Tensor, error) {
	inNames, err := validateInputs(modelPath, inputs)
	if err != nil {
		return nil, err
	}
	if err := InitORT(); err != nil {
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

	inVals := make([]ort.Value, 0, len(inNames))
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
	if errors.Is(err, ort.ZeroShapeLengthError) {
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

func sessionOptions() (*ort.SessionOptions, error) {
	o, err := ort.NewSessionOptions()
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
func runSession(path string, inNames []string, inVals []ort.Value, outNames []string, prealloc []ort.Value) (map[string]Tensor, error) {
	opts, err := sessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: session options: %w", err)
	}
	defer opts.Destroy()
	sess, err := ort.NewDynamicAdvancedSession(path, inNames, outNames, opts)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: loading %s: %w", path, err)
	}
	defer sess.Destroy()
	outVals := make([]ort.Value, len(outNames))
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

func runEachOutput(path string, inNames []string, inVals []ort.Value, outNames []string) (map[string]Tensor, error) {
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
		if errors.Is(err, ort.ZeroShapeLengthError) {
			var s ort.Value
			switch info[name].elem {
			case ort.TensorElementDataTypeFloat:
				s, err = ort.NewEmptyScalar[float32]()
			case ort.TensorElementDataTypeInt64:
				s, err = ort.NewEmptyScalar[int64]()
			default:
				return nil, fmt.Errorf("onnxruntime: %s: scalar output %q has unsupported type %s",
					path, name, info[name].ElemType)
			}
			if err != nil {
				return nil, fmt.Errorf("onnxruntime: %s: output %q: %w", path, name, err)
			}
			one, err = runSession(path, inNames, inVals, []string{name}, []ort.Value{s})
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
func destroy(v ort.Value) {
	if v == nil {
		return
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return
	}
	v.Destroy()
}

func toValue(t Tensor) (ort.Value, error) {
	if len(t.Shape) == 0 {
		if t.Int64 != nil {
			return ort.NewScalar(t.Int64[0])
		}
		return ort.NewScalar(t.Float[0])
	}
	shape := ort.NewShape(slices.Clone(t.Shape)...)
	if t.Int64 != nil {
		return ort.NewTensor(shape, t.Int64)
	}
	data := t.Float
	if data == nil {
		data = []float32{}
	}
	return ort.NewTensor(shape, data)
}

func fromValue(v ort.Value) (Tensor, error) {
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		return Tensor{Shape: shapeOf(x.GetShape()), Float: slices.Clone(x.GetData())}, nil
	case *ort.Tensor[int64]:
		return Tensor{Shape: shapeOf(x.GetShape()), Int64: slices.Clone(x.GetData())}, nil
	case *ort.Scalar[float32]:
		return Tensor{Shape: []int64{}, Float: []float32{x.GetData()}}, nil
	case *ort.Scalar[int64]:
		return Tensor{Shape: []int64{}, Int64: []int64{x.GetData()}}, nil
	case nil:
		return Tensor{}, errors.New("onnxruntime returned no value")
	}
	if v.GetONNXType() == ort.ONNXTypeTensor {
		return Tensor{}, fmt.Errorf("unsupported element type %s (only float32 and int64)",
			ort.TensorElementDataType(v.DataType()))
	}
	return Tensor{}, fmt.Errorf("unsupported value kind %s (only tensors)", v.GetONNXType())
}

func shapeOf(s ort.Shape) []int64 {
	r := make([]int64, len(s))
	copy(r, s)
	return r
}
