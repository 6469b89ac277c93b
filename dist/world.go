package dist

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// transport is the data movement a world needs from MPI (or, in tests, from
// goroutines): collectives on bytes, with counts and displacements in bytes.
// No reduction happens in the transport; world adds in Go, in rank order.
type transport interface {
	rank() int
	size() int
	// alltoallv sends send[sendDispls[j]:][:sendCounts[j]] to rank j and
	// receives rank i's block into recv[recvDispls[i]:][:recvCounts[i]].
	alltoallv(send []byte, sendCounts, sendDispls []int, recv []byte, recvCounts, recvDispls []int) error
	// allgatherv fills every rank's buf[displs[i]:][:counts[i]] with rank
	// i's block of the same range (in place).
	allgatherv(buf []byte, counts, displs []int) error
	bcast(buf []byte, root int) error
	// gather concatenates every rank's send into recv on root.
	gather(send, recv []byte, root int) error
	barrier() error
	abort(code int)
	finalize() error
}

const (
	// smallBytes: an all-reduce whose gathered vectors (Size × len bytes)
	// fit here is one allgather, after which every rank adds all vectors in
	// rank order itself: one latency instead of two for flags and metrics.
	smallBytes = 64 << 10
	// segmentBytes bounds one reduce-scatter round: MPI counts stay far
	// below 2³¹ and the scratch buffer stays at this size for any vector.
	segmentBytes = 16 << 20
	// maxGather bounds Gather64's values per rank, so byte counts fit MPI's
	// int at the root.
	maxGather = 1 << 20
)

// world is a Comm over a transport: the fixed-order all-reduce, argument
// checks, statistics and the closed state.
type world struct {
	t transport
	// small and segment are smallBytes and segmentBytes (tests lower them).
	small, segment int

	closed atomic.Bool // Abort reads it without waiting for a running collective

	statsMu sync.Mutex // guards stats, apart from mu so Stats never waits for MPI
	stats   Stats

	mu      sync.Mutex // collectives run one at a time; guards the fields below
	scratch []float64  // reduce-scatter receive buffer; float64 for alignment
	counts  [5][]int   // per-rank counts and displacements, reused
}

var _ Comm = (*world)(nil)

func newWorld(t transport) *world {
	w := &world{t: t, small: smallBytes, segment: segmentBytes}
	for i := range w.counts {
		w.counts[i] = make([]int, t.size())
	}
	return w
}

func (w *world) Rank() int { return w.t.rank() }
func (w *world) Size() int { return w.t.size() }

func (w *world) Stats() Stats {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	return w.stats
}

// collective runs op under the lock, unless closed, and counts it.
func (w *world) collective(bytes int64, op func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Load() {
		return ErrClosed
	}
	start := time.Now()
	err := op()
	w.statsMu.Lock()
	w.stats.Calls++
	w.stats.Bytes += bytes
	w.stats.Time += time.Since(start)
	w.statsMu.Unlock()
	return err
}

func (w *world) AllreduceSum32(buf []float32) error { return allreduceSum(w, buf) }
func (w *world) AllreduceSum64(buf []float64) error { return allreduceSum(w, buf) }

// allreduceSum is the fixed-order all-reduce (see the package documentation):
// small vectors by one allgather and a local sum on every rank, others by
// segments of a reduce-scatter (alltoallv, then each rank adds its chunk of
// all ranks' vectors in rank order) followed by an allgatherv.
func allreduceSum[T float32 | float64](w *world, buf []T) error {
	p, n, elem := w.Size(), len(buf), sizeOf[T]()
	switch {
	case p == 1 || n == 0:
		return w.collective(0, func() error { return nil })
	case n*elem*p <= w.small:
		return w.collective(int64(n*elem*(p-1)), func() error { return gatherSum(w, buf) })
	}
	sent := 2 * int64(n) * int64(elem) * int64(p-1) / int64(p)
	return w.collective(sent, func() error {
		seg := max(w.segment/elem, 1)
		for off := 0; off < n; off += seg {
			if err := scatterSum(w, buf[off:min(off+seg, n)]); err != nil {
				return err
			}
		}
		return nil
	})
}

// gatherSum gathers every rank's buf and adds them in rank order, on every
// rank.
func gatherSum[T float32 | float64](w *world, buf []T) error {
	p, n, elem := w.Size(), len(buf), sizeOf[T]()
	all := scratchOf[T](w, n*p)
	copy(all[w.Rank()*n:], buf)
	counts, displs := w.counts[0], w.counts[1]
	for i := range p {
		counts[i], displs[i] = n*elem, i*n*elem
	}
	if err := w.t.allgatherv(bytesOf(all), counts, displs); err != nil {
		return err
	}
	sumInto(buf, all, n, p, -1)
	return nil
}

// scatterSum all-reduces one segment: rank r receives chunk r of every
// other rank's seg (alltoallv), adds all ranks' chunks in rank order into
// its own chunk of seg, and the summed chunks are gathered back to everyone
// (allgatherv). A rank sends nothing to itself: its own chunk is added
// where it lies.
func scatterSum[T float32 | float64](w *world, seg []T) error {
	p, me, elem := w.Size(), w.Rank(), sizeOf[T]()
	counts, displs := w.counts[0], w.counts[1] // chunk j of seg, in bytes
	partition(len(seg), counts, displs)
	lo, mine := displs[me], counts[me] // this rank's chunk, in elements
	recv := scratchOf[T](w, mine*p)    // block i from rank i; block me unused
	rcounts, rdispls := w.counts[2], w.counts[3]
	for i := range p {
		rcounts[i], rdispls[i] = mine*elem, i*mine*elem
		counts[i], displs[i] = counts[i]*elem, displs[i]*elem
	}
	scounts := w.counts[4]
	copy(scounts, counts)
	scounts[me], rcounts[me] = 0, 0
	if err := w.t.alltoallv(bytesOf(seg), scounts, displs, bytesOf(recv), rcounts, rdispls); err != nil {
		return err
	}
	sumInto(seg[lo:lo+mine], recv, mine, p, me)
	return w.t.allgatherv(bytesOf(seg), counts, displs)
}

// partition splits n elements into len(counts) chunks, the first n%p one
// element longer, and writes each chunk's length and offset.
func partition(n int, counts, displs []int) {
	p := len(counts)
	off := 0
	for i := range p {
		counts[i] = n / p
		if i < n%p {
			counts[i]++
		}
		displs[i] = off
		off += counts[i]
	}
}

// sumInto sets dst to the sum over i of block i, added in block order:
// ((b₀ + b₁) + b₂) + …, which is the package's determinism contract. Block
// i is blocks[i·n:][:n], except block self (when ≥ 0), which is dst itself.
// It adds tile by tile into a small buffer, so every block is read once and
// dst written once, and dst may be one of the blocks.
func sumInto[T float32 | float64](dst, blocks []T, n, p, self int) {
	const tile = 1024
	var acc [tile]T
	block := func(i, lo, hi int) []T {
		if i == self {
			return dst[lo:hi]
		}
		return blocks[i*n+lo : i*n+hi]
	}
	for lo := 0; lo < n; lo += tile {
		hi := min(lo+tile, n)
		a := acc[:hi-lo]
		if p == 1 {
			copy(a, block(0, lo, hi))
		} else {
			b0, b1 := block(0, lo, hi), block(1, lo, hi)
			b0, b1 = b0[:len(a)], b1[:len(a)]
			for k := range a {
				a[k] = b0[k] + b1[k]
			}
		}
		for i := 2; i < p; i++ {
			b := block(i, lo, hi)[:len(a)]
			for k := range a {
				a[k] += b[k]
			}
		}
		copy(dst[lo:hi], a)
	}
}

// sizeOf is the size of a T in bytes.
func sizeOf[T float32 | float64]() int { return int(unsafe.Sizeof(T(0))) }

// scratchOf returns w's scratch buffer viewed as n values of T, grown when
// needed.
func scratchOf[T float32 | float64](w *world, n int) []T {
	words := (n*sizeOf[T]() + 7) / 8
	if cap(w.scratch) < words {
		w.scratch = make([]float64, words)
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&w.scratch[:1][0])), n)
}

func (w *world) Broadcast(buf []byte, root int) error {
	if err := checkRoot("Broadcast", root, w.Size()); err != nil {
		return err
	}
	var sent int64
	if w.Rank() == root {
		sent = int64(len(buf)) * int64(w.Size()-1)
	}
	return w.collective(sent, func() error {
		for off := 0; off < len(buf); off += w.segment {
			if err := w.t.bcast(buf[off:min(off+w.segment, len(buf))], root); err != nil {
				return err
			}
		}
		return nil
	})
}

func (w *world) Gather64(send, recv []float64, root int) error {
	if err := checkRoot("Gather64", root, w.Size()); err != nil {
		return err
	}
	if len(send) > maxGather {
		return fmt.Errorf("dist: Gather64 of %d values per rank: it is meant for at most %d (metrics)",
			len(send), maxGather)
	}
	var r []byte
	var short error // a root without room still takes part, so no rank hangs
	if need := len(send) * w.Size(); w.Rank() == root && len(recv) < need {
		short = fmt.Errorf("dist: Gather64: recv holds %d values, the root needs %d (%d ranks × %d)",
			len(recv), need, w.Size(), len(send))
		recv = make([]float64, need)
	}
	if w.Rank() == root {
		r = bytesOf(recv[:len(send)*w.Size()])
	}
	var sent int64
	if w.Rank() != root {
		sent = int64(len(send)) * 8
	}
	err := w.collective(sent, func() error {
		if len(send) == 0 {
			return nil
		}
		return w.t.gather(bytesOf(send), r, root)
	})
	if err == nil {
		err = short
	}
	return err
}

func (w *world) Barrier() error { return w.collective(0, w.t.barrier) }

func (w *world) Abort(code int, msg string) {
	writeAbortLine(msg)
	if !w.closed.Load() {
		w.t.abort(code)
	}
	// MPI_Abort ends the process; this is reached after Close, or when
	// another MPI call stayed blocked (see mpiTransport.abort).
	os.Exit(code)
}

func (w *world) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Swap(true) {
		return ErrClosed
	}
	w.scratch = nil
	return w.t.finalize()
}
