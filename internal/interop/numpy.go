package interop

import (
	"sync"
	"testing"
)

var (
	npOnce sync.Once
	npErr  error
)

// PythonNumpyAvailable reports whether Python and its numpy package (Debian's
// python3-numpy, which python3-torch brings) can be used, checked once per
// process. The error wraps ErrUnavailable.
func PythonNumpyAvailable() error {
	npOnce.Do(func() {
		_, npErr = pythonModuleVersion("numpy", "install Debian's python3-numpy")
	})
	return npErr
}

// NeedPythonNumpy is Need(t, "python3 numpy", PythonNumpyAvailable()).
func NeedPythonNumpy(t testing.TB) {
	t.Helper()
	Need(t, "python3 numpy", PythonNumpyAvailable())
}

// RunPython runs script in Python (isolated: -I, so PYTHONPATH and user site
// packages play no part) with args and returns what it wrote to stdout; on
// failure the error carries its stderr. It is bounded by CheckTimeout.
func RunPython(script string, args ...string) ([]byte, error) {
	return runPython(script, args...)
}
