//go:build mpi

package dist

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// MPIBuilt reports whether this build has MPI support (the mpi build tag).
const MPIBuilt = true

// opened makes a second Open an error: MPI initializes once per process.
var opened atomic.Bool

// Open returns the group this process belongs to. When a launcher (mpirun,
// srun, …) started the process it initializes MPI and returns
// MPI_COMM_WORLD, after checking that MPI sees as many ranks as the
// launcher says it started (a launcher of another MPI library would leave
// each process alone in a world of one). Without a launcher it returns
// Local, and MPI is not initialized. Call Open once, and Close at the end.
func Open() (Comm, error) {
	l, err := DetectLaunch(os.Getenv)
	if err != nil {
		return nil, err
	}
	if !l.Launched() {
		return Local{}, nil
	}
	if opened.Swap(true) {
		return nil, errors.New("dist: Open called twice: MPI initializes once per process")
	}
	t, err := openMPI()
	if err != nil {
		return nil, err
	}
	w := newWorld(t)
	if l.Size > 0 && w.Size() != l.Size {
		w.Close()
		return nil, fmt.Errorf("dist: %s started %d processes (%s), but Open MPI sees a world of %d: "+
			"start bsnnctl with Open MPI's mpirun or with srun --mpi=pmix", l.Launcher, l.Size, l.From, w.Size())
	}
	return w, nil
}
