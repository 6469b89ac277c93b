//go:build !cgo

package ort

import "fmt"

var errNoCgo = fmt.Errorf("%w: onnxruntime: this test binary was built with CGO_ENABLED=0 "+
	"(onnxruntime_go needs cgo and gcc)", ErrUnavailable)

// Init reports onnxruntime as unavailable: built without cgo.
func Init() error { return errNoCgo }

// Version reports onnxruntime as unavailable: built without cgo.
func Version() (string, error) { return "", errNoCgo }

// IOInfo describes one graph input or output as onnxruntime sees it.
type IOInfo struct {
	Name     string
	Shape    []int64
	ElemType string
}

// ModelIO reports onnxruntime as unavailable: built without cgo.
func ModelIO(path string) (inputs, outputs []string, err error) { return nil, nil, errNoCgo }

// ModelIOInfo reports onnxruntime as unavailable: built without cgo.
func ModelIOInfo(path string) (inputs, outputs []IOInfo, err error) { return nil, nil, errNoCgo }

// Run reports onnxruntime as unavailable: built without cgo.
func Run(modelPath string, inputs map[string]Tensor, outputNames []string) (map[string]Tensor, error) {
	if _, err := validateInputs(modelPath, inputs); err != nil {
		return nil, err
	}
	return nil, errNoCgo
}
