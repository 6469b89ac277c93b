//go:build mpi && !cgo

package dist

// openMPI does not compile on purpose: the mpi build tag needs cgo
// (CGO_ENABLED=1 and a C compiler) to call Open MPI's C library.
func openMPI() (transport, error) { return nil, mpiBuildTagNeedsCgo_SetCGO_ENABLED1 }
