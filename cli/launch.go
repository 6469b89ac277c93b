package cli

import (
	"fmt"
	"io"

	"github.com/bsnnctl/bsnnctl/dist"
)

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
