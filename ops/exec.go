package ops

import (
	"container/heap"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The executor runs a compiled graph itself rather than through Gorgonia's
// TapeMachine, so that it decides where every value lives:
//
//   - kernels write into memory planned at compile time (an Arena shared
//     by the values whose lifetimes do not overlap), so a step allocates
//     nothing and a program needs the memory of a few layers, not of every
//     op's output;
//   - a reshape (a Viewer kernel) is a view of its input's memory, not a
//     copy;
//   - outputs, gradients and the loss get memory of their own that keeps
//     their values after Run.
//
// Gorgonia ops other than kernels (Add nodes a caller put in the graph) run
// through their Do method and allocate their result on every run.

// A Viewer is a Kernel whose output is its single input's data unchanged,
// seen with another shape (a reshape). Its Forward still copies, for
// callers that run the kernel directly; the executor instead gives the
// output the input's memory and skips it.
type Viewer interface {
	Kernel
	// View marks the kernel as a view; it does nothing.
	View()
}

// A Scratcher is a Kernel that needs temporary memory while Forward runs
// and nothing of it afterwards. The executor plans that memory in the
// arena, alive for the kernel's step only, and hands it over with
// SetScratch before the kernel's first run and whenever the arena moves. A
// kernel run on its own allocates it itself.
type Scratcher interface {
	Kernel
	// ScratchLen is the scratch memory Forward needs, in float32 values.
	ScratchLen() int
	// SetScratch gives the kernel its scratch memory (ScratchLen values).
	SetScratch(s []float32)
}

// slotKind says where a runtime value's memory is.
type slotKind int

const (
	slotBound   slotKind = iota // a leaf or constant: the value bound to its node
	slotArena                   // an intermediate value, in the arena
	slotOwn                     // an output, gradient or loss: its own memory, kept after Run
	slotView                    // another slot's memory under this value's shape
	slotScalar                  // a kernel's scalar output (a gorgonia F32)
	slotDynamic                 // a Gorgonia op's result, allocated by the op on every run
)

// A slot is one runtime value of a program.
type slot struct {
	node  *G.Node
	kind  slotKind
	shape tensor.Shape
	size  int
	base  *slot     // slotView: the slot whose memory it is
	iv    *interval // slotArena: lifetime and offset
	data  []float32 // the memory, once bound (nil for slotDynamic)
	f32   *G.F32    // slotScalar: the value bound to the node
}

// root returns the slot that owns s's memory.
func (s *slot) root() *slot {
	for s.kind == slotView {
		s = s.base
	}
	return s
}

// A step is one op of a program, in execution order.
type step struct {
	node *G.Node
	op   *gop // nil for a Gorgonia op
	out  *slot
	in   []*slot
	ins  [][]float32 // kernel inputs (refreshed every run when dynamic)
	// scratch is a Scratcher's temporary memory in the arena.
	scratch *interval
	vals    []G.Value // Gorgonia op inputs
	// dynamic: an input is a Gorgonia op's result, whose memory changes
	// on every run.
	dynamic bool
}

// schedule returns the op nodes of g in execution order: inputs before
// consumers; among the nodes ready to run, first those with a scalar
// output (probes and losses, which free the value they read early), then
// in the order they were added to the graph (forward in model order, then
// the gradients from the loss back).
func schedule(g *G.ExprGraph) ([]*G.Node, error) {
	all := g.AllNodes()
	pending := make(map[*G.Node]int, len(all))
	users := make(map[*G.Node][]*G.Node, len(all))
	var ready readyHeap
	for _, n := range all {
		in := children(g, n)
		pending[n] = len(in)
		for _, c := range in {
			users[c] = append(users[c], n)
		}
		if len(in) == 0 {
			heap.Push(&ready, n)
		}
	}
	var order []*G.Node
	for ready.Len() > 0 {
		n := heap.Pop(&ready).(*G.Node)
		if isOp(n) {
			order = append(order, n)
		}
		for _, u := range users[n] {
			if pending[u]--; pending[u] == 0 {
				heap.Push(&ready, u)
			}
		}
	}
	for _, n := range all {
		if pending[n] > 0 {
			return nil, fmt.Errorf("the graph has a cycle through %s", n.Name())
		}
	}
	return order, nil
}

// kernel returns the step's kernel (nil for a Gorgonia op).
func (st *step) kernel() Kernel {
	if st.op == nil {
		return nil
	}
	return st.op.k
}

// isOp reports whether n computes something (leaves and constants do not).
func isOp(n *G.Node) bool { return n.Op() != nil && n.Op().Arity() > 0 }

// readyHeap orders the nodes ready to run (see schedule).
type readyHeap []*G.Node

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	si, sj := h[i].IsScalar(), h[j].IsScalar()
	if si != sj {
		return si
	}
	return h[i].ID() < h[j].ID()
}
func (h readyHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *readyHeap) Push(x any)   { *h = append(*h, x.(*G.Node)) }
func (h *readyHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// build makes the program's steps and slots and plans its memory: keep are
// the values that must hold their data after Run (own memory), flat lists
// the parameters whose gradients go into one contiguous buffer, in order.
func (p *Program) build(keep map[*G.Node]bool, flat []*Param) error {
	order, err := schedule(p.B.G)
	if err != nil {
		return err
	}
	slots := map[*G.Node]*slot{}
	slotOf := func(n *G.Node) *slot {
		s, ok := slots[n]
		if !ok {
			s = &slot{node: n, kind: slotBound, shape: n.Shape()}
			slots[n] = s
		}
		return s
	}
	for i, n := range order {
		st := step{node: n, out: slotOf(n)}
		for _, c := range children(p.B.G, n) {
			in := slotOf(c)
			st.in = append(st.in, in)
			st.dynamic = st.dynamic || in.kind == slotDynamic
		}
		switch o := n.Op().(type) {
		case *gop:
			st.op = o
		case sdgop:
			st.op = o.gop
		}
		classify(&st, keep[n], i)
		if sc, ok := st.kernel().(Scratcher); ok && sc.ScratchLen() > 0 {
			st.scratch = &interval{def: i, last: i, size: sc.ScratchLen()}
		}
		for _, in := range st.in {
			if r := in.root(); r.kind == slotArena {
				r.iv.last = i
			}
		}
		p.steps = append(p.steps, st)
	}
	var ivs []*interval
	for i := range p.steps {
		if s := p.steps[i].out; s.kind == slotArena {
			ivs = append(ivs, s.iv)
		}
		if sc := p.steps[i].scratch; sc != nil {
			ivs = append(ivs, sc)
		}
	}
	if p.B.Opts.NoMemoryReuse {
		p.arenaLen = 0
		for _, iv := range ivs {
			iv.off = p.arenaLen
			p.arenaLen += roundUp(iv.size, arenaAlign)
		}
	} else {
		p.arenaLen = planOffsets(ivs)
	}
	p.slots = slots
	p.arena.plan(p.arenaLen)
	p.allocate(flat)
	return nil
}

// classify decides where the output of step i lives.
func classify(st *step, keep bool, i int) {
	out := st.out
	out.size = out.shape.TotalSize()
	switch {
	case st.op == nil:
		out.kind = slotDynamic
	case out.shape.IsScalar():
		out.kind = slotScalar
	case keep:
		out.kind = slotOwn
	case isView(st):
		out.kind, out.base = slotView, st.in[0]
	default:
		out.kind = slotArena
		out.iv = &interval{def: i, last: i, size: out.size}
	}
}

// isView reports whether a step's output can be its input's memory.
func isView(st *step) bool {
	if _, ok := st.op.k.(Viewer); !ok || len(st.in) != 1 {
		return false
	}
	in := st.in[0]
	return in.kind != slotDynamic && in.kind != slotScalar && in.shape.TotalSize() == st.out.size
}

// allocate gives the kept values and scalars their memory: parameter
// gradients (flat) in one buffer, in order, the others a buffer each. A
// gradient that cannot be computed in place (a value also used as another
// parameter's gradient, or not a kernel's output) is copied there after
// the run.
func (p *Program) allocate(flat []*Param) {
	n := 0
	for _, prm := range flat {
		n += len(prm.Data())
	}
	if len(flat) > 0 {
		p.flat = make([]float32, n)
		p.flatGrads = map[*Param][]float32{}
	}
	off := 0
	for _, prm := range flat {
		seg := p.flat[off : off+len(prm.Data()) : off+len(prm.Data())]
		off += len(seg)
		p.flatGrads[prm] = seg
		s := p.slots[p.Grads[prm]]
		if s == nil { // not computed by a step (a constant)
			s = &slot{node: p.Grads[prm], kind: slotBound, shape: p.Grads[prm].Shape()}
			p.slots[s.node] = s
		}
		if s.kind == slotOwn && s.data == nil && s.size == len(seg) {
			s.data = seg
			continue
		}
		p.gradCopies = append(p.gradCopies, gradCopy{from: s, to: seg})
	}
	for i := range p.steps {
		s := p.steps[i].out
		switch {
		case s.kind == slotOwn && s.data == nil:
			s.data = make([]float32, s.size)
		case s.kind == slotScalar:
			s.data = []float32{0}
			s.f32 = G.NewF32(0)
		}
	}
}

// A gradCopy moves a parameter's gradient into the flat buffer after a run.
type gradCopy struct {
	from *slot
	to   []float32
}

// bind points every slot at its memory (the arena's current memory for the
// planned values) and every kernel at its inputs.
func (p *Program) bind() error {
	buf, gen := p.arena.memory()
	p.gen, p.bound = gen, true
	for _, s := range p.slots {
		if s.kind == slotBound {
			d, err := floats(s.node.Value())
			if err != nil {
				return fmt.Errorf("%s: %w", s.node.Name(), err)
			}
			s.data = d
		}
	}
	for i := range p.steps {
		st := &p.steps[i]
		s := st.out
		switch s.kind {
		case slotArena:
			s.data = buf[s.iv.off : s.iv.off+s.size : s.iv.off+s.size]
		case slotView:
			s.data = s.root().data
		}
		switch s.kind {
		case slotArena, slotView, slotOwn:
			v := tensor.New(tensor.WithShape(s.shape.Clone()...), tensor.WithBacking(s.data))
			if err := G.UnsafeLet(s.node, v); err != nil {
				return fmt.Errorf("%s: %w", s.node.Name(), err)
			}
		case slotScalar:
			if err := G.UnsafeLet(s.node, s.f32); err != nil {
				return fmt.Errorf("%s: %w", s.node.Name(), err)
			}
		}
		if st.scratch != nil {
			st.op.k.(Scratcher).SetScratch(buf[st.scratch.off : st.scratch.off+st.scratch.size : st.scratch.off+st.scratch.size])
		}
		if st.op != nil {
			st.ins = make([][]float32, len(st.in))
			for j, in := range st.in {
				st.ins[j] = in.data
			}
		} else {
			st.vals = make([]G.Value, len(st.in))
		}
	}
	return nil
}

// exec runs the steps once.
func (p *Program) exec() error {
	if !p.bound || p.gen != p.arena.generation() {
		if err := p.bind(); err != nil {
			return err
		}
	}
	for i := range p.steps {
		st := &p.steps[i]
		if st.op == nil {
			if err := st.runGorgonia(); err != nil {
				return err
			}
			continue
		}
		if st.out.kind == slotView {
			continue
		}
		if st.dynamic {
			for j, in := range st.in {
				if in.kind == slotDynamic {
					d, err := floats(in.node.Value())
					if err != nil {
						return fmt.Errorf("%s input %d: %w", st.op.k.Name(), j, err)
					}
					st.ins[j] = d
				}
			}
		}
		if err := st.op.k.Forward(st.out.data, st.ins...); err != nil {
			return fmt.Errorf("%s: %w", st.op.k.Name(), err)
		}
		if st.out.kind == slotScalar {
			*st.out.f32 = G.F32(st.out.data[0])
		}
	}
	for _, c := range p.gradCopies {
		if err := c.run(); err != nil {
			return err
		}
	}
	return nil
}

// runGorgonia runs a Gorgonia op on its inputs' current values.
func (st *step) runGorgonia() error {
	for j, in := range st.in {
		st.vals[j] = in.node.Value()
	}
	v, err := st.node.Op().Do(st.vals...)
	if err != nil {
		return fmt.Errorf("%v: %w", st.node.Op(), err)
	}
	return G.UnsafeLet(st.node, v)
}

func (c gradCopy) run() error {
	src := c.from.data
	if c.from.kind == slotDynamic {
		d, err := floats(c.from.node.Value())
		if err != nil {
			return err
		}
		src = d
	}
	if len(src) != len(c.to) {
		return fmt.Errorf("gradient %s has %d values, its parameter %d", c.from.node.Name(), len(src), len(c.to))
	}
	copy(c.to, src)
	return nil
}
