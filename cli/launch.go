package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/bsnnctl/bsnnctl/dist"
)

// Launchers (mpirun, srun) start bsnnctl as several processes. finetune
// then runs as one rank of a data-parallel job (with the mpi build tag);
// every other command, and every command of a build without MPI support,
// stops before doing any work, rather than running N times side by side.

// refuseLaunch stops a build without MPI support that mpirun (or srun, …)
// started as one of several processes, before any work: each would
// otherwise run the whole command alone. Rank 0 prints the one line saying
// how to build with MPI; the other ranks exit as quietly (dist.Quiet), so
// the job shows the line once. In builds with the mpi tag it never stops.
func refuseLaunch(stderr io.Writer) (code int, stop bool) {
	err := dist.CheckLauncher()
	if err == nil {
		return ExitOK, false
	}
	if !dist.Quiet(err) {
		fmt.Fprintf(stderr, "bsnnctl: %s\n", oneLine(err.Error()))
	}
	return ExitError, true
}

// distributed is implemented by the commands that run as one rank of a
// data-parallel job when a launcher starts several processes.
type distributed interface {
	// distributed does nothing; it marks the command.
	distributed()
}

// refuseMulti stops a command that runs as one process (all but
// finetune) when launch says it is one of several processes of an MPI
// build: rank 0 prints one line, the others nothing.
func refuseMulti(cmd any, name string, launch dist.Launch, stderr io.Writer) (code int, stop bool) {
	if _, ok := cmd.(distributed); ok || !launch.Multi() {
		return ExitOK, false
	}
	if launch.Rank == 0 {
		fmt.Fprintf(stderr, "bsnnctl: %s runs as one process, and %s started %s: only finetune runs as a data-parallel job; start %s without %s\n",
			name, launch.Launcher, processes(launch.Size), name, launch.Launcher)
	}
	return ExitError, true
}

// processes says how many processes a launcher started.
func processes(n int) string {
	if n > 1 {
		return fmt.Sprintf("%d processes", n)
	}
	return "several processes"
}

// commandName is the selected command's name from kong's command string
// ("bench train <bsnn.onnx>" -> "bench train").
func commandName(cmd string) string {
	var words []string
	for _, w := range strings.Fields(cmd) {
		if !strings.HasPrefix(w, "<") {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}

// closeComm ends this process's part in a group after a command that
// failed with err (nil: success). When every rank stopped at the same
// point (success, or an error the ranks agreed on: *dist.RankError) it
// closes the group (MPI_Finalize, a collective call). Another error may be
// this rank's alone while the others wait in a collective operation: it
// becomes a *jobError, and Main ends the whole job.
func closeComm(c dist.Comm, err error) error {
	var re *dist.RankError
	if err == nil || c.Size() == 1 || errors.As(err, &re) {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return &jobError{comm: c, err: err}
}

// jobError is an error of one rank of a data-parallel job that the other
// ranks did not see: Main prints it and ends every rank (dist.Comm.Abort)
// instead of leaving them blocked.
type jobError struct {
	comm dist.Comm
	err  error
}

func (e *jobError) Error() string {
	return fmt.Sprintf("rank %d of %d: %v", e.comm.Rank(), e.comm.Size(), e.err)
}
func (e *jobError) Unwrap() error { return e.err }

// rankLogger is the logger of rank r of a data-parallel job: rank 0 logs
// as a single process does; the other ranks log only warnings and errors,
// tagged with their rank, so that the job's stderr reads like one
// process's.
func (g *Globals) rankLogger(r int) *slog.Logger {
	if r == 0 {
		return g.Log
	}
	level, _ := parseLevel(g.LogLevel)
	return g.logger(max(level, slog.LevelWarn)).With("rank", r)
}

// launchOf is what the launcher's environment says (nothing when it is
// malformed: dist.Open reports that).
func launchOf() dist.Launch {
	l, _ := dist.DetectLaunch(os.Getenv)
	return l
}
