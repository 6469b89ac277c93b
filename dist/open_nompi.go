//go:build !mpi

package dist

// MPIBuilt reports whether this build has MPI support (the mpi build tag).
const MPIBuilt = false

// Open returns the group this process belongs to. Without the mpi build tag
// that is Local, unless a launcher started several processes: then it
// returns CheckLauncher's *LaunchError.
func Open() (Comm, error) {
	if err := CheckLauncher(); err != nil {
		return nil, err
	}
	return Local{}, nil
}
