package dist

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsnnctl/bsnnctl/internal/interop"
)

// The tests in this file run dist/internal/commcheck under Open MPI's
// mpirun, built with -tags mpi (and once without), from a plain go test.
// They skip when Open MPI is missing, and fail then when
// BSNNCTL_INTEROP=1.

// mpiJobTimeout bounds one mpirun job in these tests.
const mpiJobTimeout = 2 * time.Minute

var (
	binDir   string
	binOnce  = map[bool]*sync.Once{false: new(sync.Once), true: new(sync.Once)}
	binPath  = map[bool]string{}
	binError = map[bool]error{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// commcheck returns the commcheck executable, built once per test process
// with (mpi) or without the mpi tag.
func commcheck(t *testing.T, mpi bool) string {
	t.Helper()
	interop.NeedMPI(t)
	binOnce[mpi].Do(func() {
		if binDir == "" {
			if binDir, binError[mpi] = os.MkdirTemp("", "dist-commcheck-"); binError[mpi] != nil {
				return
			}
		}
		binPath[mpi] = filepath.Join(binDir, fmt.Sprintf("commcheck-mpi-%v", mpi))
		var tags []string
		if mpi {
			tags = []string{"mpi"}
		}
		binError[mpi] = interop.GoBuild(binPath[mpi], "./internal/commcheck", tags...)
	})
	if binError[mpi] != nil {
		t.Fatalf("building commcheck: %v", binError[mpi])
	}
	return binPath[mpi]
}

// job is the outcome of one mpirun.
type job struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// runJob runs commcheck (built with mpi or not) on np ranks.
func runJob(t *testing.T, mpi bool, np int, args ...string) job {
	t.Helper()
	prog := commcheck(t, mpi)
	ctx, cancel := context.WithTimeout(context.Background(), mpiJobTimeout)
	defer cancel()
	cmd := interop.MPICommand(ctx, t, np, prog, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	j := job{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("mpirun %v did not end within %v\nstderr:\n%s", args, mpiJobTimeout, j.stderr)
	case errors.As(err, &ee):
		j.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("mpirun %v: %v", args, err)
	}
	return j
}

// ok fails the test unless the job exited with status 0.
func (j job) ok(t *testing.T) {
	t.Helper()
	if j.code != 0 {
		t.Fatalf("job exited with status %d\nstdout:\n%s\nstderr:\n%s", j.code, j.stdout, j.stderr)
	}
}

// ourLines are the lines of stderr that commcheck wrote (not mpirun's).
func (j job) ourLines() []string {
	var lines []string
	for l := range strings.Lines(j.stderr) {
		if strings.HasPrefix(l, "commcheck: ") {
			lines = append(lines, strings.TrimRight(l, "\n"))
		}
	}
	return lines
}

func TestMPIInfo(t *testing.T) {
	for _, np := range []int{2, 3} {
		j := runJob(t, true, np, "info")
		j.ok(t)
		seen := map[int]bool{}
		for l := range strings.Lines(j.stdout) {
			var info struct {
				Rank, Size int
				Launcher   string
				MPI        bool
				GoSignals  bool `json:"go_signals"`
			}
			if err := json.Unmarshal([]byte(l), &info); err != nil {
				t.Fatalf("np %d: line %q: %v", np, l, err)
			}
			if info.Size != np || info.Launcher != "mpirun" || !info.MPI || !info.GoSignals || seen[info.Rank] {
				t.Errorf("np %d: rank reported %+v", np, info)
			}
			seen[info.Rank] = true
		}
		if len(seen) != np {
			t.Errorf("np %d: %d ranks reported:\n%s", np, len(seen), j.stdout)
		}
	}
}

// TestMPIAllreduceDeterministic writes per-rank vectors, all-reduces them
// under mpirun and checks that every rank got the same bytes, equal to the
// rank-ordered sum computed here. The lengths cover the one-allgather path
// and the reduce-scatter path with chunks of unequal length (segments are
// covered in-process, TestAllreduceSumFixedOrder). Each case reaches MPI
// from another OS thread (MPI_THREAD_SERIALIZED).
func TestMPIAllreduceDeterministic(t *testing.T) {
	interop.NeedMPI(t)
	for _, np := range []int{2, 3} {
		t.Run(fmt.Sprintf("np%d", np), func(t *testing.T) {
			dir := t.TempDir()
			want := map[string][]byte{}
			writeRankCases[float32](t, dir, np, []int{1, 1000, 100_003}, want)
			writeRankCases[float64](t, dir, np, []int{3, 300_007}, want)
			runJob(t, true, np, "allreduce", dir).ok(t)
			for name, w := range want {
				for r := range np {
					got, err := os.ReadFile(filepath.Join(dir, "out", fmt.Sprintf("r%d.%s", r, name)))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, w) {
						t.Errorf("%s, rank %d: the all-reduced vector is not the rank-ordered sum (%s)",
							name, r, firstDiff(got, w))
					}
				}
			}
		})
	}
}

// writeRankCases writes, for each length, every rank's test vector as
// DIR/r<rank>.<case>.f32|f64 (little-endian), and the rank-ordered sum's
// bytes into want[<case>.<ext>].
func writeRankCases[T float32 | float64](t *testing.T, dir string, np int, lens []int, want map[string][]byte) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the commcheck file format is little-endian; this machine is not")
	}
	for _, n := range lens {
		name := fmt.Sprintf("n%09d.f%d", n, 8*sizeOf[T]())
		vs := make([][]T, np)
		for r := range vs {
			vs[r] = rankVector[T](r, n)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("r%d.%s", r, name)), bytesOf(vs[r]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want[name] = bytes.Clone(bytesOf(orderedSum(vs)))
	}
}

func firstDiff(a, b []byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d bytes, want %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at byte %d", i)
		}
	}
	return "equal"
}

func TestMPIBroadcastGather(t *testing.T) {
	interop.NeedMPI(t)
	const np, root = 3, 2
	dir := t.TempDir()
	data := make([]byte, 1<<20+3)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "bcast.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	runJob(t, true, np, "broadcast", dir, fmt.Sprint(root)).ok(t)
	for r := range np {
		got, err := os.ReadFile(filepath.Join(dir, "out", fmt.Sprintf("r%d.bcast.bin", r)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("rank %d received other bytes than rank %d sent (%s)", r, root, firstDiff(got, data))
		}
	}

	j := runJob(t, true, np, "gather")
	j.ok(t)
	if got, want := strings.TrimSpace(j.stdout), "[0,0.5,1,1.5,2,4.5]"; got != want {
		t.Errorf("gather printed %s, want %s", got, want)
	}
}

// TestMPIAbort: Abort ends the job with its status and exactly one line of
// ours, also when another goroutine of the calling rank is blocked in a collective
// (Abort then exits the process and mpirun ends the job).
func TestMPIAbort(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		code     int
	}{{"abort", 7}, {"abort-busy", 9}} {
		j := runJob(t, true, 2, tc.scenario, "1", fmt.Sprint(tc.code))
		want := []string{fmt.Sprintf("commcheck: rank 1 aborts on purpose (with status %d)", tc.code)}
		if j.code != tc.code || !equalLines(j.ourLines(), want) {
			t.Errorf("%s: status %d, our lines %q; want status %d and %q\nstderr:\n%s",
				tc.scenario, j.code, j.ourLines(), tc.code, want, j.stderr)
		}
	}
}

// TestMPIKillRank: a rank killed by SIGKILL while the other waits in an
// all-reduce ends the job well within 30 s, mpirun naming the rank and
// the signal.
func TestMPIKillRank(t *testing.T) {
	j := runJob(t, true, 2, "kill", "1")
	if j.code == 0 || j.elapsed > 30*time.Second ||
		!strings.Contains(j.stderr, "process rank 1 with PID") || !strings.Contains(j.stderr, "signal 9") {
		t.Errorf("kill: status %d after %v; want a failure within 30 s naming rank 1 and signal 9\nstderr:\n%s",
			j.code, j.elapsed, j.stderr)
	}
	t.Logf("job ended %v after start (MPI start-up included)", j.elapsed.Round(time.Millisecond))
}

// TestMPIAgree: a failure on rank 1 at step 3 stops all three ranks there,
// and the job prints one line of ours (from rank 0).
func TestMPIAgree(t *testing.T) {
	j := runJob(t, true, 3, "agree", "1", "3")
	want := []string{"commcheck: rank 1 of 3: step 3: loss is NaN"}
	if j.code != 1 || !equalLines(j.ourLines(), want) {
		t.Errorf("status %d, our lines %q; want 1 and %q\nstderr:\n%s", j.code, j.ourLines(), want, j.stderr)
	}
}

// TestMPINonMPIBuild: a build without the mpi tag started by mpirun on two
// ranks exits 1 with one line saying how to build with MPI.
func TestMPINonMPIBuild(t *testing.T) {
	j := runJob(t, false, 2, "info")
	lines := j.ourLines()
	if j.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], BuildCommand) {
		t.Errorf("status %d, our lines %q; want 1 and one line naming %q\nstderr:\n%s",
			j.code, lines, BuildCommand, j.stderr)
	}
}

func equalLines(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}
