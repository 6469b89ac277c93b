package interop

import "os"

// ONNXTestdataDir is the root of ONNX's backend test data (folders node,
// pytorch-converted, pytorch-operator, simple): $BSNNCTL_ONNX_TESTDATA, else
// where Debian's libonnx-testdata installs it. On other systems, point the
// variable at the onnx Python package's onnx/backend/test/data (onnx 1.12).
func ONNXTestdataDir() string {
	if d := os.Getenv("BSNNCTL_ONNX_TESTDATA"); d != "" {
		return d
	}
	return "/usr/share/libonnx-testdata/data"
}
