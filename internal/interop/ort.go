package interop

import "github.com/bsnnctl/bsnnctl/internal/ort"

// The onnxruntime binding lives in internal/ort (`bsnnctl import` uses it
// too); these names let the tests keep using it through interop.

// ErrUnavailable is wrapped by every error that means "the external tool is
// not there" (as opposed to "the tool ran and rejected the model"); it is
// internal/ort's.
var ErrUnavailable = ort.ErrUnavailable

// Tensor is a dense tensor passed to or returned by RunORT (ort.Tensor).
type Tensor = ort.Tensor

// IOInfo describes one graph input or output as onnxruntime sees it.
type IOInfo = ort.IOInfo

// InitORT loads onnxruntime once per process (ort.Init).
func InitORT() error { return ort.Init() }

// ORTVersion returns the loaded onnxruntime's version (ort.Version).
func ORTVersion() (string, error) { return ort.Version() }

// ORTLibPath finds libonnxruntime.so.1 (ort.LibPath).
func ORTLibPath() (string, error) { return ort.LibPath() }

// ModelIO returns a model's input and output names as onnxruntime loads it
// (ort.ModelIO).
func ModelIO(path string) (inputs, outputs []string, err error) { return ort.ModelIO(path) }

// ModelIOInfo is ModelIO with shapes and element types (ort.ModelIOInfo).
func ModelIOInfo(path string) (inputs, outputs []IOInfo, err error) { return ort.ModelIOInfo(path) }

// RunORT runs a model once in onnxruntime (ort.Run).
func RunORT(modelPath string, inputs map[string]Tensor, outputNames []string) (map[string]Tensor, error) {
	return ort.Run(modelPath, inputs, outputNames)
}
