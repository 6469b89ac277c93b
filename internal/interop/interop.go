package interop

import (
	"os"
	"testing"
)

// Required reports whether interop tools are mandatory: BSNNCTL_INTEROP=1.
func Required() bool { return os.Getenv("BSNNCTL_INTEROP") == "1" }

// Need ends the test when err (the result of an availability check such as
// InitORT or PythonONNXAvailable) is non-nil: with t.Fatalf when Required(),
// else with t.Skipf. what names the tool in the message.
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("%s is required (BSNNCTL_INTEROP=1) but unavailable: %v", what, err)
		return
	}
	t.Skipf("skipping: %s unavailable (BSNNCTL_INTEROP=1 makes this a failure): %v", what, err)
}

// NeedORT is Need(t, "onnxruntime", InitORT()).
func NeedORT(t testing.TB) {
	t.Helper()
	Need(t, "onnxruntime", InitORT())
}

// NeedPythonONNX is Need(t, "python3 onnx", PythonONNXAvailable()).
func NeedPythonONNX(t testing.TB) {
	t.Helper()
	Need(t, "python3 onnx", PythonONNXAvailable())
}
