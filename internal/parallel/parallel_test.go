package parallel

import (
	"sync/atomic"
	"testing"
	"time"
)

type countTask struct {
	hits [8]atomic.Int32
}

func (c *countTask) RunPart(p int) { c.hits[p].Add(1) }

func TestRunCallsEveryPartOnce(t *testing.T) {
	var g Group
	for parts := 0; parts <= 8; parts++ {
		var c countTask
		g.Run(&c, parts)
		for p := range c.hits {
			want := int32(0)
			if p < max(parts, 1) {
				want = 1
			}
			if got := c.hits[p].Load(); got != want {
				t.Fatalf("parts=%d: part %d ran %d times, want %d", parts, p, got, want)
			}
		}
	}
}

func TestRunAllocatesNothing(t *testing.T) {
	var g Group
	var c countTask
	g.Run(&c, 4) // start the workers
	if n := testing.AllocsPerRun(100, func() { g.Run(&c, 4) }); n != 0 {
		t.Fatalf("Run allocates %v times per call", n)
	}
}

// nestedTask's parts each run a Group of their own (a kernel calling a
// kernel), from many callers at once.
type nestedTask struct {
	inner [4]Group
	hits  [4]countTask
}

func (n *nestedTask) RunPart(p int) { n.inner[p].Run(&n.hits[p], 4) }

// TestRunNestedAndConcurrent: parts that run Groups themselves, with more
// callers than workers, finish (waiting callers run queued parts), and
// every inner part runs once.
func TestRunNestedAndConcurrent(t *testing.T) {
	done := make(chan *nestedTask)
	for range 16 {
		go func() {
			var g Group
			n := new(nestedTask)
			for range 50 {
				g.Run(n, 4)
			}
			done <- n
		}()
	}
	timeout := time.After(time.Minute)
	for range 16 {
		select {
		case n := <-done:
			for p := range n.hits {
				for q := range 4 {
					if got := n.hits[p].hits[q].Load(); got != 50 {
						t.Fatalf("inner part %d/%d ran %d times, want 50", p, q, got)
					}
				}
			}
		case <-timeout:
			t.Fatal("nested runs did not finish within a minute")
		}
	}
}

func TestThreads(t *testing.T) {
	if Threads(3) != 3 || Threads(0) < 1 {
		t.Fatalf("Threads(3)=%d Threads(0)=%d", Threads(3), Threads(0))
	}
}

func TestFreeListRecycles(t *testing.T) {
	var l FreeList[[4]int]
	a := l.Get()
	a[0] = 7
	l.Put(a)
	if b := l.Get(); b != a || b[0] != 7 {
		t.Fatalf("Get after Put returned %p (%v), want %p", b, *b, a)
	}
	if c := l.Get(); c == a {
		t.Fatal("Get returned a value that is in use")
	}
}
