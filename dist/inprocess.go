package dist

import (
	"fmt"
	"sync"
)

// InProcess returns a group of p ranks inside this process, one Comm per
// rank, each to be used by its own goroutine: the Comm of package dist with
// the data moved by copies in memory instead of by MPI, and the same
// fixed-order sums. It is for tests and for running the ranks of a
// data-parallel program in one process (every rank blocks in a collective
// until all have called it, as under MPI). Abort ends the process; Close
// is collective, as MPI_Finalize is.
func InProcess(p int) []Comm {
	if p < 1 {
		p = 1
	}
	g := newMemGroup(p)
	cs := make([]Comm, p)
	for r := range cs {
		cs[r] = newWorld(memTransport{g: g, me: r})
	}
	return cs
}

// memGroup is the in-process transport: p goroutines, one per
// rank, meet at a barrier for each collective. Every collective has two
// phases: each rank publishes its arguments and waits; then each rank
// copies what it needs from the others' buffers and waits again, so no
// buffer is reused while another rank still reads it.
type memGroup struct {
	p     int
	mu    sync.Mutex
	cond  *sync.Cond
	count int
	gen   int
	slots []memArgs
	abort chan int
}

// memArgs is what one rank published for the current collective.
type memArgs struct {
	op             string
	buf, send      []byte
	counts, displs []int // allgatherv, or alltoallv's send side
	root           int
}

func newMemGroup(p int) *memGroup {
	g := &memGroup{p: p, slots: make([]memArgs, p), abort: make(chan int, p)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// wait is a cyclic barrier over the group's p ranks.
func (g *memGroup) wait() {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	g.count++
	if g.count == g.p {
		g.count, g.gen = 0, g.gen+1
		g.cond.Broadcast()
		return
	}
	for gen == g.gen {
		g.cond.Wait()
	}
}

// memTransport is one rank's end of a memGroup.
type memTransport struct {
	g  *memGroup
	me int
}

func (t memTransport) rank() int { return t.me }
func (t memTransport) size() int { return t.g.p }

// exchange publishes a, waits for everyone, runs read (which may look at
// every rank's slot) and waits again.
func (t memTransport) exchange(a memArgs, read func(slots []memArgs) error) error {
	t.g.slots[t.me] = a
	t.g.wait()
	for r, s := range t.g.slots {
		if s.op != a.op || s.root != a.root {
			t.g.wait()
			return fmt.Errorf("memTransport: rank %d called %s(root %d) while rank %d called %s(root %d)",
				r, s.op, s.root, t.me, a.op, a.root)
		}
	}
	err := read(t.g.slots)
	t.g.wait()
	return err
}

func (t memTransport) alltoallv(send []byte, sendCounts, sendDispls []int, recv []byte, recvCounts, recvDispls []int) error {
	return t.exchange(memArgs{op: "alltoallv", send: send, counts: sendCounts, displs: sendDispls},
		func(slots []memArgs) error {
			for j, s := range slots {
				if s.counts[t.me] != recvCounts[j] {
					return fmt.Errorf("memTransport: rank %d sends %d bytes to rank %d, which expects %d",
						j, s.counts[t.me], t.me, recvCounts[j])
				}
				copy(recv[recvDispls[j]:][:recvCounts[j]], s.send[s.displs[t.me]:][:recvCounts[j]])
			}
			return nil
		})
}

func (t memTransport) allgatherv(buf []byte, counts, displs []int) error {
	return t.exchange(memArgs{op: "allgatherv", buf: buf, counts: counts, displs: displs},
		func(slots []memArgs) error {
			for j, s := range slots {
				if j != t.me {
					copy(buf[displs[j]:][:counts[j]], s.buf[s.displs[j]:][:s.counts[j]])
				}
			}
			return nil
		})
}

func (t memTransport) bcast(buf []byte, root int) error {
	return t.exchange(memArgs{op: "bcast", buf: buf, root: root}, func(slots []memArgs) error {
		if len(slots[root].buf) != len(buf) {
			return fmt.Errorf("memTransport: bcast of %d bytes from a root with %d", len(buf), len(slots[root].buf))
		}
		if t.me != root {
			copy(buf, slots[root].buf)
		}
		return nil
	})
}

func (t memTransport) gather(send, recv []byte, root int) error {
	return t.exchange(memArgs{op: "gather", send: send, root: root}, func(slots []memArgs) error {
		if t.me == root {
			for j, s := range slots {
				copy(recv[j*len(send):][:len(send)], s.send)
			}
		}
		return nil
	})
}

func (t memTransport) barrier() error {
	return t.exchange(memArgs{op: "barrier"}, func([]memArgs) error { return nil })
}

func (t memTransport) abort(code int) { t.g.abort <- code }

func (t memTransport) finalize() error {
	return t.exchange(memArgs{op: "finalize"}, func([]memArgs) error { return nil })
}
