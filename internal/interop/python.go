package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Python is the interpreter whose onnx package (Debian's python3-onnx 1.12)
// checks models. It runs isolated (-I), so PYTHONPATH and user site packages
// do not change which onnx is used.
const Python = "/usr/bin/python3"

// CheckTimeout bounds one CheckModel run.
const CheckTimeout = 5 * time.Minute

const (
	exitRejected   = 3 // the checker raised: the model is invalid
	exitNoONNXPkgs = 4 // import onnx failed
)

// pyModuleVersion imports the module named by its argument and prints its
// __version__; it exits 4 when the import fails.
const pyModuleVersion = `import importlib, sys
name = sys.argv[1]
try:
    m = importlib.import_module(name)
except Exception as e:
    sys.stderr.write("import %s: %s: %s" % (name, type(e).__name__, e))
    sys.exit(4)
sys.stdout.write(m.__version__)
`

const pyCheck = `import sys
try:
    import onnx
    import onnx.checker
except Exception as e:
    sys.stderr.write("import onnx: %s: %s" % (type(e).__name__, e))
    sys.exit(4)
try:
    onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)
except Exception as e:
    sys.stderr.write("%s: %s" % (type(e).__name__, e))
    sys.exit(3)
`

const pyStrict = `import sys
try:
    import onnx
    import onnx.checker
    import onnx.shape_inference
except Exception as e:
    sys.stderr.write("import onnx: %s: %s" % (type(e).__name__, e))
    sys.exit(4)
bad = []
for path in sys.argv[1:]:
    try:
        m = onnx.shape_inference.infer_shapes(onnx.load(path), check_type=True, strict_mode=True)
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:
        bad.append("%s: %s: %s" % (path, type(e).__name__, e))
if bad:
    sys.stderr.write("\n".join(bad))
    sys.exit(3)
`

// CheckError is the Python onnx checker's rejection of a model.
type CheckError struct {
	Path string
	Msg  string // the checker's message, e.g. "ValidationError: No opset import for domain ..."
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("onnx checker rejected %s: %s", e.Path, e.Msg)
}

var (
	pyOnce    sync.Once
	pyErr     error
	pyVersStr string
)

// PythonONNXAvailable reports whether Python and its onnx package can be
// used (checked once per process). The error wraps ErrUnavailable.
func PythonONNXAvailable() error {
	pyOnce.Do(func() {
		pyVersStr, pyErr = pythonModuleVersion("onnx", "install Debian's python3-onnx; see scripts/deps.sh")
	})
	return pyErr
}

// pythonModuleVersion returns the __version__ of a Python module, or an error
// wrapping ErrUnavailable that ends with hint (how to install it).
func pythonModuleVersion(module, hint string) (string, error) {
	if _, err := os.Stat(Python); err != nil {
		return "", fmt.Errorf("%w: %v (%s)", ErrUnavailable, err, hint)
	}
	out, err := runPython(pyModuleVersion, module)
	if err != nil {
		return "", fmt.Errorf("%w: python3 %s: %v (%s)", ErrUnavailable, module, err, hint)
	}
	return string(out), nil
}

// PythonONNXVersion returns the version of Python's onnx package.
func PythonONNXVersion() (string, error) {
	if err := PythonONNXAvailable(); err != nil {
		return "", err
	}
	return pyVersStr, nil
}

// CheckModel runs onnx.checker.check_model(onnx.load(path), full_check=True)
// in Python. A rejection is a *CheckError carrying the checker's message; a
// missing tool is an error wrapping ErrUnavailable.
func CheckModel(path string) error {
	if err := PythonONNXAvailable(); err != nil {
		return err
	}
	_, err := runPython(pyCheck, path)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == exitRejected {
		return &CheckError{Path: path, Msg: strings.TrimSpace(string(ee.Stderr))}
	}
	if err != nil {
		return fmt.Errorf("onnx checker on %s: %w", path, err)
	}
	return nil
}

// InferShapesStrict runs onnx.shape_inference.infer_shapes(m,
// check_type=True, strict_mode=True) and then the full checker on its
// result for each model, in one Python process. A rejection is a
// *CheckError listing every model that failed, one per line.
func InferShapesStrict(paths ...string) error {
	if err := PythonONNXAvailable(); err != nil {
		return err
	}
	_, err := runPython(pyStrict, paths...)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == exitRejected {
		return &CheckError{Path: fmt.Sprintf("%d models", len(paths)), Msg: strings.TrimSpace(string(ee.Stderr))}
	}
	if err != nil {
		return fmt.Errorf("onnx strict shape inference: %w", err)
	}
	return nil
}

// runPython runs a script with args; on failure the *exec.ExitError (if any)
// is wrapped and its Stderr holds what the script wrote there.
func runPython(script string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Python, append([]string{"-I", "-c", script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s timed out after %v", Python, CheckTimeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ee.Stderr = stderr.Bytes()
			return nil, fmt.Errorf("%w: %s", ee, msg)
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}
