package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MPIRunWaitDelay is how long MPICommand's mpirun may take to end its ranks
// after SIGTERM before it is killed.
const MPIRunWaitDelay = 10 * time.Second

var (
	mpiOnce sync.Once
	mpiErr  error
)

// MPIAvailable reports whether Open MPI can build and run code with the mpi
// build tag (package dist): Open MPI's mpirun, pkg-config's "ompi" module
// (cgo's flags) and a C compiler (checked once per process; Debian packages
// openmpi-bin, libopenmpi-dev, pkg-config, gcc). The error wraps
// ErrUnavailable.
func MPIAvailable() error {
	mpiOnce.Do(func() {
		hint := " (install Debian's openmpi-bin and libopenmpi-dev; see scripts/deps.sh)"
		out, err := exec.Command("mpirun", "--version").CombinedOutput()
		if err != nil {
			mpiErr = fmt.Errorf("%w: mpirun --version: %v%s", ErrUnavailable, err, hint)
			return
		}
		if !bytes.Contains(out, []byte("Open MPI")) {
			mpiErr = fmt.Errorf("%w: mpirun is not Open MPI's: %s%s", ErrUnavailable,
				strings.TrimSpace(string(out)), hint)
			return
		}
		if out, err := exec.Command("pkg-config", "--cflags", "ompi").CombinedOutput(); err != nil {
			mpiErr = fmt.Errorf("%w: pkg-config --cflags ompi: %v: %s%s", ErrUnavailable, err,
				strings.TrimSpace(string(out)), hint)
			return
		}
		cc := strings.Fields(os.Getenv("CC") + " gcc")[0] // $CC may carry flags
		if _, err := exec.LookPath(cc); err != nil {
			mpiErr = fmt.Errorf("%w: C compiler for cgo: %v", ErrUnavailable, err)
		}
	})
	return mpiErr
}

// NeedMPI is Need(t, "Open MPI", MPIAvailable()).
func NeedMPI(t testing.TB) {
	t.Helper()
	Need(t, "Open MPI", MPIAvailable())
}

// MPIRun returns the command line that starts np ranks of a program on this
// machine: mpirun [--allow-run-as-root] --oversubscribe -np np. Open MPI
// refuses to run as root without the flag, and without --oversubscribe
// more ranks than cores. It calls NeedMPI first.
func MPIRun(t testing.TB, np int) []string {
	t.Helper()
	NeedMPI(t)
	args := []string{"mpirun"}
	if os.Geteuid() == 0 {
		args = append(args, "--allow-run-as-root")
	}
	return append(args, "--oversubscribe", "-np", strconv.Itoa(np))
}

// MPICommand is the *exec.Cmd for MPIRun(t, np) followed by prog and args.
// Waiting ranks yield the CPU (OMPI_MCA_mpi_yield_when_idle=1) instead of
// spinning, so that oversubscribed ranks on a busy test machine make
// progress. When ctx ends, mpirun gets SIGTERM, on which it ends every
// rank, and SIGKILL MPIRunWaitDelay later; killing mpirun at once would
// leave its ranks running.
func MPICommand(ctx context.Context, t testing.TB, np int, prog string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append(MPIRun(t, np), prog)
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...)
	cmd.Env = append(os.Environ(), "OMPI_MCA_mpi_yield_when_idle=1")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = MPIRunWaitDelay
	return cmd
}

// GoBuild builds the Go package pkg into the executable out with the given
// build tags, cgo enabled (what the mpi tag needs). A failure carries go
// build's output.
func GoBuild(out, pkg string, tags ...string) error {
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, msg)
	}
	return nil
}
