package dist

import (
	"fmt"
	"sync"
)

// memGroup is an in-process transport for tests: p goroutines, one per
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

// runRanks runs f on p in-process ranks at once (small and segment lowered
// when > 0) and returns each rank's error.
func runRanks(p, small, segment int, f func(c Comm) error) []error {
	g := newMemGroup(p)
	errs := make([]error, p)
	var wg sync.WaitGroup
	for r := range p {
		w := newWorld(memTransport{g: g, me: r})
		if small > 0 {
			w.small = small
		}
		if segment > 0 {
			w.segment = segment
		}
		wg.Go(func() { errs[r] = f(w) })
	}
	wg.Wait()
	return errs
}
