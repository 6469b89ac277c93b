// Package dist is the communication layer of data-parallel training: a
// group of processes (Comm) with the collective operations a synchronous
// data-parallel step needs (all-reduce of float32/float64 sums, broadcast,
// gather, barrier, abort), over Open MPI in builds with the mpi tag and as a
// group of one (Local) otherwise.
//
// # Builds and launch
//
// The default build is pure Go: Open returns Local, unless a launcher
// started the process as one of several; then Open and CheckLauncher return
// a *LaunchError saying how to build with MPI, because each process would
// otherwise train alone. With the mpi tag,
//
//	go build -tags mpi ./cli/bsnnctl
//	mpirun -np 4 ./bsnnctl finetune …
//
// the package calls Open MPI's C library through cgo (flags from
// pkg-config's "ompi" module; Debian: libopenmpi-dev), and Open joins
// MPI_COMM_WORLD when the environment shows a launcher (mpirun, srun
// --mpi=pmix; see DetectLaunch), or returns Local when the program was
// started directly.
//
// # Threads
//
// Go moves goroutines between OS threads, so MPI is initialized at
// MPI_THREAD_SERIALIZED: any thread may call MPI, one call at a time, which
// a mutex ensures. MPI_Init_thread and MPI_Finalize, which MPI wants on the
// same thread, run on a goroutine locked to its OS thread
// (runtime.LockOSThread). Callers may use a Comm from any goroutine. Handing
// every call to that one thread instead (MPI_THREAD_FUNNELED) would cost two
// thread wake-ups per call, 10–15 µs measured against 2–3 µs for a small
// all-reduce. Open MPI leaves Go's signal handlers in place (it installs
// its own only where none exists), so a nil dereference still panics in Go.
//
// # Deterministic all-reduce
//
// AllreduceSum32 and AllreduceSum64 give every rank the element-wise sum
// added in rank order, ((v₀ + v₁) + v₂) + …, bit for bit: the result equals
// what one process computes by adding the ranks' vectors in that order, on
// every rank, for every vector length and whatever algorithms MPI picks.
// MPI_Allreduce promises the same result on all ranks but not an order of
// addition: Open MPI chooses among recursive doubling, ring and
// Rabenseifner by message and group size, and each adds in another order.
// So the package lets MPI only move bytes and adds in Go:
//
//   - a vector longer than 64 KiB across all ranks is cut into segments of
//     at most 16 MiB; for each, MPI_Alltoallv sends chunk j of every rank's
//     segment to rank j, rank j adds the Size() chunks in rank order, and
//     MPI_Allgatherv copies the summed chunks back to every rank. This moves
//     2·(p-1)/p of the vector per rank, as a ring all-reduce does, and the
//     scratch buffer stays at one segment;
//   - a shorter one is gathered whole by every rank (one MPI_Allgatherv),
//     and every rank adds all vectors in rank order itself: one latency
//     instead of two, for flags and metrics.
//
// Both paths compute the same sums. dist/internal/commcheck's bench
// scenario measures the cost against MPI_Allreduce.
//
// # Faults
//
// A rank that dies (SIGKILL, a crash) ends the job: mpirun notices the exit
// and kills the other ranks (SIGTERM, then SIGKILL a second later, which a
// rank blocked inside MPI needs), printing which rank died and how. A rank
// that finds a problem the others do not see (a NaN loss) must not leave
// them waiting in the next collective: Agree is the collective "did any
// rank fail?" check, which returns the same *RankError on every rank so
// they all stop at the same step, and Quiet tells every rank but 0 not to
// print it. Abort ends the whole job at once with a status and one line.
// Collectives report MPI errors as *MPIError (MPI_ERRORS_RETURN) rather
// than aborting inside the library.
package dist
