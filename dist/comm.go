package dist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// Comm is a group of processes (ranks 0 … Size()-1) that run the same
// program and meet in collective operations.
//
// Every rank must call the same collective operations (all methods except
// Rank, Size, Stats and Abort) in the same order, with the same lengths and
// the same root; a rank that skips one or passes another length makes the
// others wait forever or fail. Calls from several goroutines are safe for
// memory but their order across ranks is then unspecified, so a program
// calls the collectives of one Comm from one goroutine at a time.
type Comm interface {
	// Rank is this process's rank, 0 ≤ Rank() < Size().
	Rank() int
	// Size is the number of ranks.
	Size() int

	// AllreduceSum32 replaces buf, on every rank, by the element-wise sum
	// over all ranks' buf, added in rank order: ((buf₀ + buf₁) + buf₂) + ….
	// Every rank gets the same bytes, whatever the message size and the
	// MPI algorithms in use (see the package documentation).
	AllreduceSum32(buf []float32) error
	// AllreduceSum64 is AllreduceSum32 for float64.
	AllreduceSum64(buf []float64) error
	// Broadcast copies root's buf into buf on every other rank.
	Broadcast(buf []byte, root int) error
	// Gather64 concatenates every rank's send, in rank order, into recv on
	// root, which needs len(recv) ≥ Size()·len(send); recv is not used on
	// the other ranks (it may be nil). For small per-rank values (metrics):
	// at most 2²⁰ per rank.
	Gather64(send, recv []float64, root int) error
	// Barrier returns once every rank has called it.
	Barrier() error

	// Abort writes msg as one line on stderr and ends every rank of the job
	// with exit status code (MPI_Abort). It does not return.
	Abort(code int, msg string)
	// Close ends this process's part in the group (MPI_Finalize, a
	// collective call). Every operation after Close fails with ErrClosed.
	Close() error

	// Stats is the running total of this rank's collective operations.
	Stats() Stats
}

// Stats counts the collective operations of one rank since Open.
type Stats struct {
	// Calls is the number of collective operations.
	Calls int64
	// Bytes is the payload this rank contributed for the other ranks, as if
	// every collective were done by direct sends: for an all-reduce of n
	// bytes over p ranks in this package's scheme, 2·n·(p-1)/p; for a
	// broadcast, len·(p-1) on the root and 0 elsewhere. MPI's tree and ring
	// algorithms forward data through ranks, so the bytes on the wire differ
	// by rank but have the same total.
	Bytes int64
	// Time is the wall time spent in collective operations, waiting for
	// slower ranks included.
	Time time.Duration
}

// Sub returns s - t, the activity between two snapshots.
func (s Stats) Sub(t Stats) Stats {
	return Stats{Calls: s.Calls - t.Calls, Bytes: s.Bytes - t.Bytes, Time: s.Time - t.Time}
}

// ErrClosed is returned by operations on a closed Comm.
var ErrClosed = errors.New("dist: communicator is closed")

// MPIError is a failure reported by the MPI library.
type MPIError struct {
	Op   string // the MPI call, e.g. "MPI_Alltoallv"
	Code int    // MPI's error code
	Msg  string // MPI_Error_string of Code
}

func (e *MPIError) Error() string {
	return fmt.Sprintf("dist: %s failed: %s (MPI error %d)", e.Op, e.Msg, e.Code)
}

// Broadcast32 copies root's buf into buf on every other rank (Broadcast of
// buf's bytes: every rank of a job shares one byte order).
func Broadcast32(c Comm, buf []float32, root int) error {
	return c.Broadcast(bytesOf(buf), root)
}

// BroadcastBytes returns root's b on every rank, whose own b is ignored:
// the length goes first (a Broadcast of 8 bytes), so the other ranks need
// not know it. The root gets b itself back, the others a new slice.
func BroadcastBytes(c Comm, b []byte, root int) ([]byte, error) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
	if err := c.Broadcast(n[:], root); err != nil {
		return nil, err
	}
	if c.Rank() != root {
		b = make([]byte, binary.LittleEndian.Uint64(n[:]))
	}
	if err := c.Broadcast(b, root); err != nil {
		return nil, err
	}
	return b, nil
}

// bytesOf views a float slice as its bytes.
func bytesOf[T float32 | float64](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*sizeOf[T]())
}

// checkRoot reports a root outside 0 … size-1.
func checkRoot(op string, root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("dist: %s: root %d is not a rank of a group of %d", op, root, size)
	}
	return nil
}
