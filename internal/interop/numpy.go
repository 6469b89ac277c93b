package interop

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

const pyNumpyVersion = `import sys
try:
    import numpy
except Exception as e:
    sys.stderr.write("import numpy: %s: %s" % (type(e).__name__, e))
    sys.exit(4)
sys.stdout.write(numpy.__version__)
`

var (
	npOnce sync.Once
	npErr  error
)

// PythonNumpyAvailable reports whether Python and its numpy package (Debian's
// python3-numpy, which python3-torch brings) can be used, checked once per
// process. The error wraps ErrUnavailable.
func PythonNumpyAvailable() error {
	npOnce.Do(func() {
		if _, err := os.Stat(Python); err != nil {
			npErr = fmt.Errorf("%w: %v (install Debian's python3-numpy)", ErrUnavailable, err)
			return
		}
		if _, err := runPython(pyNumpyVersion); err != nil {
			npErr = fmt.Errorf("%w: python3 numpy: %v (install Debian's python3-numpy)", ErrUnavailable, err)
		}
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
