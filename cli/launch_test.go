package cli_test

import (
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/dist"
)

// TestLaunchWithoutMPI: a build without the mpi tag started by mpirun as
// one of two ranks exits 1; rank 0 prints one line saying how to build with
// MPI, rank 1 prints nothing.
func TestLaunchWithoutMPI(t *testing.T) {
	if dist.MPIBuilt {
		t.Skip("built with -tags mpi: bsnnctl joins the MPI job instead")
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	t.Setenv("OMPI_COMM_WORLD_RANK", "0")
	line := bsnnctl(t, "ops").runtimeError(t)
	if !strings.Contains(line, "built without MPI support") || !strings.Contains(line, dist.BuildCommand) {
		t.Errorf("rank 0 printed %q, want the reason and %q", line, dist.BuildCommand)
	}

	t.Setenv("OMPI_COMM_WORLD_RANK", "1")
	if r := bsnnctl(t, "ops"); r.code != 1 || r.stderr != "" || r.stdout != "" {
		t.Errorf("rank 1: exit %d, stdout %q, stderr %q; want 1 and nothing printed", r.code, r.stdout, r.stderr)
	}

	t.Setenv("OMPI_COMM_WORLD_SIZE", "1")
	t.Setenv("OMPI_COMM_WORLD_RANK", "0")
	bsnnctl(t, "ops").ok(t) // mpirun -np 1 is one process: fine
}
