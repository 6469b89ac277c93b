package ops

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// TestPlanOffsets: values alive at the same step never share memory, every
// offset is aligned, and the arena is no larger than the sum of the values.
func TestPlanOffsets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + r.IntN(60)
		ivs := make([]*interval, n)
		sum := 0
		for i := range ivs {
			def := r.IntN(100)
			ivs[i] = &interval{def: def, last: def + r.IntN(30), size: 1 + r.IntN(5000)}
			sum += roundUp(ivs[i].size, arenaAlign)
		}
		total := planOffsets(ivs)
		if total > sum {
			t.Fatalf("trial %d: arena %d > sum of the values %d", trial, total, sum)
		}
		for i, a := range ivs {
			if a.off%arenaAlign != 0 || a.off+a.size > total {
				t.Fatalf("trial %d: value %d at [%d, %d) in an arena of %d", trial, i, a.off, a.off+a.size, total)
			}
			for j, b := range ivs[:i] {
				live := a.def <= b.last && b.def <= a.last
				overlap := a.off < b.off+b.size && b.off < a.off+a.size
				if live && overlap {
					t.Fatalf("trial %d: values %d %+v and %d %+v are alive together and overlap", trial, i, *a, j, *b)
				}
			}
		}
	}
	// Three values where only the first and last are alive together.
	ivs := []*interval{{def: 0, last: 2, size: 100}, {def: 3, last: 4, size: 100}, {def: 1, last: 1, size: 50}}
	if total := planOffsets(ivs); total != roundUp(100, arenaAlign)+roundUp(50, arenaAlign) {
		t.Errorf("arena %d, want %d (the second value reuses the first's memory)", total, 160)
	}
}

// checkPlan verifies a compiled program's memory plan: every kernel reads
// values that are alive at its step, and no two values (or kernel scratch
// memories) alive at the same step overlap in the arena.
func checkPlan(t *testing.T, p *Program) {
	t.Helper()
	var arena []*interval
	var names []string
	for i := range p.steps {
		st := &p.steps[i]
		for _, in := range st.in {
			if r := in.root(); r.kind == slotArena && (r.iv.def > i || r.iv.last < i) {
				t.Fatalf("step %d (%v) reads %s outside its lifetime %+v", i, st.node.Op(), r.node.Name(), *r.iv)
			}
		}
		if st.out.kind == slotArena {
			arena, names = append(arena, st.out.iv), append(names, st.out.node.Name())
		}
		if st.scratch != nil {
			arena, names = append(arena, st.scratch), append(names, "scratch of "+st.node.Name())
		}
	}
	for i, a := range arena {
		for j, b := range arena[:i] {
			live := a.def <= b.last && b.def <= a.last
			overlap := a.off < b.off+b.size && b.off < a.off+a.size
			if live && overlap {
				t.Fatalf("%s and %s are alive together and share memory", names[i], names[j])
			}
		}
	}
}

// fixtureProgram compiles a fixture with the loss sum(output * R) and the
// gradients of every parameter and the input.
func fixtureProgram(t *testing.T, name string, opts Options) (*Program, string, []float32) {
	t.Helper()
	dir := filepath.Join("..", "testmodels", "fixtures", name)
	m, err := onnx.DecodeFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := npy.ReadFile(filepath.Join(dir, "dloss_doutput.npy"))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := m.Graph()
	inName := g.Inputs[0].Name
	opts.InputShapes = map[string][]int{inName: in.Shape()}
	opts.InputGrads = true
	b, err := NewBuilder(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := b.WeightedSum(b.Outputs[0], r.Floats())
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Compile(loss)
	if err != nil {
		t.Fatal(err)
	}
	return p, inName, in.Floats()
}

// TestMemoryReuseSameBits: with values sharing memory, fixtures compute the
// same output, loss and gradients, bit for bit, as with memory of their own
// per value, also when the arena holds garbage (NaN) before a run (a kernel
// must write all of its output and read only its inputs); and the shared
// arena is smaller.
func TestMemoryReuseSameBits(t *testing.T) {
	for _, c := range []struct {
		name     string
		training bool
	}{
		{"lenet_op13_keepbn_dynamic", true},
		{"lenet_op13_keepbn_dynamic", false},
		{"mlp_op13_keepbn_dynamic", true},
		{"resnet20_op11_keepbn_dynamic", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.name[:6] == "resnet" {
				t.Skip("short")
			}
			shared, inName, x := fixtureProgram(t, c.name, Options{Training: c.training})
			private, _, _ := fixtureProgram(t, c.name, Options{Training: c.training, NoMemoryReuse: true})
			checkPlan(t, shared)
			checkPlan(t, private)
			if shared.ArenaLen() >= private.ArenaLen() {
				t.Errorf("arena with reuse %d values, without %d", shared.ArenaLen(), private.ArenaLen())
			}
			t.Logf("arena %.1f MB with reuse, %.1f MB without", float64(shared.ArenaLen())/(1<<18), float64(private.ArenaLen())/(1<<18))
			checkFlatGrads(t, shared)
			want := runFixture(t, private, inName, x)
			for run := range 2 {
				clear(shared.arena.buf)
				if run == 1 {
					for i := range shared.arena.buf {
						shared.arena.buf[i] = float32(math.NaN())
					}
				}
				got := runFixture(t, shared, inName, x)
				for k, w := range want {
					if !slices.Equal(math32bits(got[k]), math32bits(w)) {
						t.Fatalf("run %d: %s differs with memory reuse", run, k)
					}
				}
			}
		})
	}
}

// checkFlatGrads: the parameters' gradients are slices of FlatGrads, one
// after the other in Builder.Params order, written there by their kernels
// (no copy after the run).
func checkFlatGrads(t *testing.T, p *Program) {
	t.Helper()
	off := 0
	for _, prm := range p.B.Params {
		if _, ok := p.Grads[prm]; !ok {
			continue
		}
		g := p.Grad(prm)
		if len(g) != len(prm.Data()) || &g[0] != &p.FlatGrads()[off] {
			t.Fatalf("the gradient of %s is not FlatGrads[%d:%d]", prm.Name, off, off+len(prm.Data()))
		}
		off += len(g)
	}
	if off != len(p.FlatGrads()) || off == 0 {
		t.Fatalf("FlatGrads has %d values, the gradients %d", len(p.FlatGrads()), off)
	}
	if len(p.gradCopies) > 0 {
		t.Errorf("%d gradients are copied into FlatGrads after the run", len(p.gradCopies))
	}
}

// runFixture runs p and returns copies of its output, loss and gradients.
func runFixture(t *testing.T, p *Program, inName string, x []float32) map[string][]float32 {
	t.Helper()
	if err := p.SetInput(inName, x); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{"output": p.Output(0).Float32, "loss": {p.LossValue()},
		"input gradient": slices.Clone(p.InputGrad(inName))}
	for _, prm := range p.B.Params {
		out["gradient of "+prm.Name] = slices.Clone(p.Grad(prm))
	}
	return out
}

func math32bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

// TestArenaGrowsAndRebinds: programs sharing an arena; when a larger
// program compiled later grows it, the first program moves to the new
// memory and computes the same bits as before.
func TestArenaGrowsAndRebinds(t *testing.T) {
	arena := NewArena()
	small, inSmall, xSmall := fixtureProgram(t, "mlp_op13_keepbn_dynamic", Options{Training: true, Arena: arena})
	before := runFixture(t, small, inSmall, xSmall)
	n := arena.Len()
	large, inLarge, xLarge := fixtureProgram(t, "lenet_op13_keepbn_dynamic", Options{Training: true, Arena: arena})
	runFixture(t, large, inLarge, xLarge)
	if arena.Len() <= n || arena.Len() != large.ArenaLen() {
		t.Fatalf("arena of %d values after the larger program (%d) ran; %d before", arena.Len(), large.ArenaLen(), n)
	}
	for i := range arena.buf {
		arena.buf[i] = float32(math.NaN())
	}
	after := runFixture(t, small, inSmall, xSmall)
	for k, w := range before {
		if !slices.Equal(math32bits(after[k]), math32bits(w)) {
			t.Errorf("%s differs after the arena grew", k)
		}
	}
	if small.gen != arena.generation() {
		t.Errorf("the small program did not rebind to the grown arena")
	}
}
