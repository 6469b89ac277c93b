package interop

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// H5dump is Debian's h5dump (package hdf5-tools), the HDF5 library's own
// file dumper.
const H5dump = "/usr/bin/h5dump"

const pyH5pyVersion = `import sys
try:
    import h5py, numpy
except Exception as e:
    sys.stderr.write("import h5py: %s: %s" % (type(e).__name__, e))
    sys.exit(4)
sys.stdout.write("h5py %s, HDF5 %s" % (h5py.version.version, h5py.version.hdf5_version))
`

var (
	h5pyOnce sync.Once
	h5pyErr  error
)

// PythonH5pyAvailable reports whether Python with h5py and numpy (Debian's
// python3-h5py) can be used, checked once per process. The error wraps
// ErrUnavailable.
func PythonH5pyAvailable() error {
	h5pyOnce.Do(func() {
		if _, err := runPython(pyH5pyVersion); err != nil {
			h5pyErr = fmt.Errorf("%w: python3 h5py: %v (install Debian's python3-h5py; see scripts/deps.sh)", ErrUnavailable, err)
		}
	})
	return h5pyErr
}

// NeedH5py is Need(t, "python3 h5py", PythonH5pyAvailable()).
func NeedH5py(t testing.TB) {
	t.Helper()
	Need(t, "python3 h5py", PythonH5pyAvailable())
}

var (
	h5dumpOnce sync.Once
	h5dumpErr  error
)

// H5dumpAvailable reports whether h5dump runs, checked once per process.
// The error wraps ErrUnavailable.
func H5dumpAvailable() error {
	h5dumpOnce.Do(func() {
		if out, err := exec.Command(H5dump, "--version").CombinedOutput(); err != nil {
			h5dumpErr = fmt.Errorf("%w: %s: %v %s (install Debian's hdf5-tools; see scripts/deps.sh)",
				ErrUnavailable, H5dump, err, bytes.TrimSpace(out))
		}
	})
	return h5dumpErr
}

// NeedH5dump is Need(t, "h5dump", H5dumpAvailable()).
func NeedH5dump(t testing.TB) {
	t.Helper()
	Need(t, "h5dump", H5dumpAvailable())
}

// RunH5dump runs h5dump with args (for example the file to dump) and returns
// its stdout and stderr. An exit status other than 0 is an error carrying
// stderr; the HDF5 library's warnings appear on stderr even then.
func RunH5dump(args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), CheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, H5dump, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("%s timed out after %v", H5dump, time.Since(start).Round(time.Second))
	}
	if err != nil {
		err = fmt.Errorf("%s %s: %v: %s", H5dump, strings.Join(args, " "), err, bytes.TrimSpace(errOut.Bytes()))
	}
	return out.Bytes(), errOut.Bytes(), err
}
