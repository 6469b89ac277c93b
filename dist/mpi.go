//go:build mpi && cgo

package dist

/*
#cgo pkg-config: ompi
#include <mpi.h>

// MPI_COMM_WORLD, MPI_BYTE and MPI_IN_PLACE are macros over Open MPI's
// globals, which cgo cannot name; these wrappers are the whole C side.

static int dist_init(int *provided) {
	return MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
}

static int dist_setup(int *rank, int *size) {
	int rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(MPI_COMM_WORLD, rank);
	if (rc == MPI_SUCCESS) rc = MPI_Comm_size(MPI_COMM_WORLD, size);
	return rc;
}

static int dist_alltoallv(void *send, int *scounts, int *sdispls,
                          void *recv, int *rcounts, int *rdispls) {
	return MPI_Alltoallv(send, scounts, sdispls, MPI_BYTE,
	                     recv, rcounts, rdispls, MPI_BYTE, MPI_COMM_WORLD);
}

static int dist_allgatherv(void *buf, int *counts, int *displs) {
	return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
	                      buf, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
}

static int dist_bcast(void *buf, int n, int root) {
	return MPI_Bcast(buf, n, MPI_BYTE, root, MPI_COMM_WORLD);
}

static int dist_gather(void *send, int n, void *recv, int root) {
	return MPI_Gather(send, n, MPI_BYTE, recv, n, MPI_BYTE, root, MPI_COMM_WORLD);
}

static int dist_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

static int dist_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

static int dist_finalize(void) { return MPI_Finalize(); }

static int dist_allreduce_float(float *buf, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static void dist_error_string(int code, char *msg, int *len) {
	if (MPI_Error_string(code, msg, len) != MPI_SUCCESS) *len = 0;
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// mpiTransport is the transport over MPI_COMM_WORLD.
//
// Threads: Go moves goroutines between OS threads, so a goroutine's MPI
// calls come from varying threads. MPI is therefore initialized at
// MPI_THREAD_SERIALIZED, where any thread may call MPI as long as no two
// calls overlap, which mu ensures; the mutex also orders the memory that
// MPI touches between the threads. MPI_Init_thread and MPI_Finalize must
// run on one same thread (MPI's "main thread"), so they run on a goroutine
// locked to its OS thread for good (mainThread). The alternative,
// MPI_THREAD_FUNNELED with every call handed over to that locked thread,
// costs two thread wake-ups per call: measured 10–15 µs for an 8-byte
// all-reduce of two ranks on one machine, against 2–3 µs called directly,
// and a training step makes dozens of small all-reduces (BatchNorm
// statistics, metrics, Agree).
type mpiTransport struct {
	mu         sync.Mutex  // one MPI call at a time
	main       chan func() // run on the main thread
	myRank, np int
	cints      [4][]C.int // counts and displacements handed to MPI
}

// abortWait is how long Abort waits for a running MPI call to end before
// it exits the process instead of calling MPI_Abort.
const abortWait = time.Second

// openMPI initializes MPI on a new locked thread.
func openMPI() (transport, error) {
	t := &mpiTransport{main: make(chan func())}
	ready := make(chan error, 1)
	go t.mainThread(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	for i := range t.cints {
		t.cints[i] = make([]C.int, t.np)
	}
	return t, nil
}

// mainThread locks its goroutine to its OS thread, initializes MPI there,
// and then runs what it is handed (MPI_Finalize) until main is closed; the
// thread ends with it.
func (t *mpiTransport) mainThread(ready chan<- error) {
	runtime.LockOSThread()
	var provided C.int
	if rc := C.dist_init(&provided); rc != C.MPI_SUCCESS {
		ready <- mpiError("MPI_Init_thread", rc)
		return
	}
	if provided < C.MPI_THREAD_SERIALIZED {
		C.dist_finalize()
		ready <- fmt.Errorf("dist: MPI_Init_thread: the MPI library provides thread level %d, below MPI_THREAD_SERIALIZED", provided)
		return
	}
	var rank, size C.int
	if rc := C.dist_setup(&rank, &size); rc != C.MPI_SUCCESS {
		ready <- mpiError("MPI_Comm_set_errhandler", rc)
		return
	}
	t.myRank, t.np = int(rank), int(size)
	ready <- nil
	for f := range t.main {
		f()
	}
}

// do makes one MPI call, alone, and returns its error.
func (t *mpiTransport) do(op string, call func() C.int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rc := call(); rc != C.MPI_SUCCESS {
		return mpiError(op, rc)
	}
	return nil
}

// mpiError describes an MPI return code (an MPI call: under mu).
func mpiError(op string, rc C.int) error {
	var buf [C.MPI_MAX_ERROR_STRING]C.char
	var n C.int
	C.dist_error_string(rc, &buf[0], &n)
	return &MPIError{Op: op, Code: int(rc), Msg: C.GoStringN(&buf[0], n)}
}

func (t *mpiTransport) rank() int { return t.myRank }
func (t *mpiTransport) size() int { return t.np }

// ints copies s into the i-th C array.
func (t *mpiTransport) ints(i int, s []int) *C.int {
	for j, v := range s {
		t.cints[i][j] = C.int(v)
	}
	return &t.cints[i][0]
}

// ptr is the address of b's first byte, nil when b is empty.
func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func (t *mpiTransport) alltoallv(send []byte, sendCounts, sendDispls []int, recv []byte, recvCounts, recvDispls []int) error {
	return t.do("MPI_Alltoallv", func() C.int {
		return C.dist_alltoallv(ptr(send), t.ints(0, sendCounts), t.ints(1, sendDispls),
			ptr(recv), t.ints(2, recvCounts), t.ints(3, recvDispls))
	})
}

func (t *mpiTransport) allgatherv(buf []byte, counts, displs []int) error {
	return t.do("MPI_Allgatherv", func() C.int {
		return C.dist_allgatherv(ptr(buf), t.ints(0, counts), t.ints(1, displs))
	})
}

func (t *mpiTransport) bcast(buf []byte, root int) error {
	return t.do("MPI_Bcast", func() C.int { return C.dist_bcast(ptr(buf), C.int(len(buf)), C.int(root)) })
}

func (t *mpiTransport) gather(send, recv []byte, root int) error {
	return t.do("MPI_Gather", func() C.int {
		return C.dist_gather(ptr(send), C.int(len(send)), ptr(recv), C.int(root))
	})
}

func (t *mpiTransport) barrier() error {
	return t.do("MPI_Barrier", func() C.int { return C.dist_barrier() })
}

// finalize runs MPI_Finalize on the main thread, which then ends.
func (t *mpiTransport) finalize() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	done := make(chan C.int)
	t.main <- func() { done <- C.dist_finalize() }
	rc := <-done
	close(t.main)
	if rc != C.MPI_SUCCESS {
		// MPI_Error_string may not be called after MPI_Finalize.
		return &MPIError{Op: "MPI_Finalize", Code: int(rc), Msg: "finalization failed"}
	}
	return nil
}

// abort calls MPI_Abort, once no other MPI call runs. When one keeps
// running for abortWait (blocked in a collective that a dead or diverged
// rank never joins) it returns instead, and the caller exits the process:
// mpirun then ends the job because a rank exited with a non-zero status.
// Calling MPI_Abort during the other call would break
// MPI_THREAD_SERIALIZED.
func (t *mpiTransport) abort(code int) {
	for deadline := time.Now().Add(abortWait); !t.mu.TryLock(); {
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer t.mu.Unlock()
	C.dist_abort(C.int(code))
}

// MPIAllreduceSum32 is MPI_Allreduce(MPI_SUM) on buf, in whatever order
// Open MPI's algorithm for this size adds the ranks' values. It is not part
// of Comm: it exists to measure what AllreduceSum32's fixed order costs
// (dist/internal/commcheck bench), and is available only in mpi builds.
func (w *world) MPIAllreduceSum32(buf []float32) error {
	t, ok := w.t.(*mpiTransport)
	if !ok {
		return fmt.Errorf("dist: MPIAllreduceSum32 needs an MPI communicator")
	}
	if len(buf) > 1<<31-1 {
		return fmt.Errorf("dist: MPIAllreduceSum32: %d values exceed MPI's int count", len(buf))
	}
	return w.collective(2*int64(len(buf))*4*int64(w.Size()-1)/int64(w.Size()), func() error {
		return t.do("MPI_Allreduce", func() C.int {
			var p *C.float
			if len(buf) > 0 {
				p = (*C.float)(unsafe.Pointer(&buf[0]))
			}
			return C.dist_allreduce_float(p, C.int(len(buf)))
		})
	})
}
