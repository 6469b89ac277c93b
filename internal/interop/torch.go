package interop

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

const pyTorchVersion = `import sys
try:
    import numpy, onnx, torch
except Exception as e:
    sys.stderr.write("%s: %s" % (type(e).__name__, e))
    sys.exit(4)
sys.stdout.write(torch.__version__)
`

var (
	torchOnce sync.Once
	torchErr  error
	torchVers string
)

// TorchAvailable reports whether Python has torch (with numpy and onnx, which
// the PyTorch side of `bsnnctl bench` also imports), checked once per
// process. The error wraps ErrUnavailable.
func TorchAvailable() error {
	torchOnce.Do(func() {
		if _, err := os.Stat(Python); err != nil {
			torchErr = fmt.Errorf("%w: %v (install Debian's python3-torch)", ErrUnavailable, err)
			return
		}
		out, err := runPython(pyTorchVersion)
		if err != nil {
			torchErr = fmt.Errorf("%w: python3 torch: %v (install Debian's python3-torch)", ErrUnavailable, err)
			return
		}
		torchVers = strings.TrimSpace(string(out))
	})
	return torchErr
}

// TorchVersion returns torch.__version__.
func TorchVersion() (string, error) {
	if err := TorchAvailable(); err != nil {
		return "", err
	}
	return torchVers, nil
}

// NeedTorch is Need(t, "python3 torch", TorchAvailable()).
func NeedTorch(t testing.TB) {
	t.Helper()
	Need(t, "python3 torch", TorchAvailable())
}
