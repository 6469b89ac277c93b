package train

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/bsnnctl/bsnnctl/ops"
)

func testParam(name string, v ...float32) *ops.Param {
	d := append([]float32(nil), v...)
	return &ops.Param{Name: name, Value: tensor.New(tensor.WithShape(len(d)), tensor.WithBacking(d)), Shape: []int{len(d)}}
}

func near(t *testing.T, what string, got float32, want float64, tol float64) {
	t.Helper()
	if math.Abs(float64(got)-want) > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.9g, want %.9g", what, got, want)
	}
}

// TestSGDMomentumByHand checks two SGD steps (momentum 0.9, lr 0.1, weight
// decay 0.01 on the weight only) against values worked out by hand with
// PyTorch's formulas: d = g + wd*w; v = 0.9 v + d; w -= lr v.
func TestSGDMomentumByHand(t *testing.T) {
	w := testParam("w", 1.0, -2.0)
	b := testParam("b", 0.5)
	cfg := Config{Optimizer: SGD, LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}.Defaults()
	opt := NewOptimizer(cfg, []*ops.Param{w, b}, func(n string) bool { return n == "w" })
	if err := opt.Step(0.1, [][]float32{{0.5, 0.25}, {1.0}}); err != nil {
		t.Fatal(err)
	}
	// step 1: d = [0.51, 0.23] = v; w = [1 - 0.051, -2 - 0.023]; b: v = 1, b = 0.4
	near(t, "w0", w.Data()[0], 0.949, 1e-6)
	near(t, "w1", w.Data()[1], -2.023, 1e-6)
	near(t, "b", b.Data()[0], 0.4, 1e-6)
	if err := opt.Step(0.1, [][]float32{{-1.0, 0.5}, {1.0}}); err != nil {
		t.Fatal(err)
	}
	// step 2: d = [-1 + 0.00949, 0.5 - 0.02023]; v = 0.9*[0.51, 0.23] + d = [-0.53151, 0.68677]
	near(t, "w0", w.Data()[0], 0.949+0.053151, 1e-6)
	near(t, "w1", w.Data()[1], -2.023-0.068677, 1e-6)
	// b (no decay): v = 0.9 + 1 = 1.9; b = 0.4 - 0.19
	near(t, "b", b.Data()[0], 0.21, 1e-6)
	st := opt.State()
	near(t, "velocity w0", st.Params[0].Slots[0][0], -0.53151, 1e-6)
	near(t, "velocity b", st.Params[1].Slots[0][0], 1.9, 1e-6)
	if st.Step != 2 || st.CurLR != 0.1 {
		t.Errorf("step %d lr %v, want 2 and 0.1", st.Step, st.CurLR)
	}
}

func TestSGDNesterovAndPlain(t *testing.T) {
	w := testParam("w", 1.0, -2.0)
	cfg := Config{Optimizer: SGD, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01, LR: 0.1}.Defaults()
	opt := NewOptimizer(cfg, []*ops.Param{w}, func(string) bool { return true })
	if err := opt.Step(0.1, [][]float32{{0.5, 0.25}}); err != nil {
		t.Fatal(err)
	}
	// d = [0.51, 0.23], v = d, update = d + 0.9 v = [0.969, 0.437]
	near(t, "w0", w.Data()[0], 1-0.0969, 1e-6)
	near(t, "w1", w.Data()[1], -2-0.0437, 1e-6)

	p := testParam("p", 3.0)
	cfg = Config{Optimizer: SGD, Momentum: -1, LR: 0.5}.Defaults() // momentum off
	opt = NewOptimizer(cfg, []*ops.Param{p}, func(string) bool { return true })
	if n := len(opt.State().Params[0].Slots); n != 0 {
		t.Fatalf("plain sgd has %d state tensors", n)
	}
	for _, g := range []float32{1, 2} {
		if err := opt.Step(0.5, [][]float32{{g}}); err != nil {
			t.Fatal(err)
		}
	}
	near(t, "p", p.Data()[0], 3-0.5-1, 1e-7)
}

// TestAdamByHand: Adam (L2 weight decay 0.1, lr 0.01) and AdamW (decoupled)
// against PyTorch's formulas written out step by step.
func TestAdamByHand(t *testing.T) {
	const lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
	w := testParam("w", 1.0)
	cfg := Config{Optimizer: Adam, LR: lr, WeightDecay: wd}.Defaults()
	opt := NewOptimizer(cfg, []*ops.Param{w}, func(string) bool { return true })
	if err := opt.Step(lr, [][]float32{{0.5}}); err != nil {
		t.Fatal(err)
	}
	// Step 1 of Adam moves by lr * mhat/sqrt(vhat) = lr * g/|g|.
	near(t, "adam w after 1", w.Data()[0], 0.99, 1e-6)
	// Step 2 by hand: g = -0.3 + 0.1*0.99 = -0.201.
	m := 0.9*0.06 + 0.1*(-0.201)
	v := 0.999*0.00036 + 0.001*0.201*0.201
	mhat := m / (1 - b1*b1)
	vhat := v / (1 - b2*b2)
	want := 0.99 - lr*mhat/(math.Sqrt(vhat)+eps)
	if err := opt.Step(lr, [][]float32{{-0.3}}); err != nil {
		t.Fatal(err)
	}
	near(t, "adam w after 2", w.Data()[0], want, 1e-6)
	near(t, "adam m", opt.State().Params[0].Slots[0][0], m, 1e-6)
	near(t, "adam v", opt.State().Params[0].Slots[1][0], v, 1e-6)

	w = testParam("w", 1.0)
	cfg = Config{Optimizer: AdamW, LR: lr, WeightDecay: wd}.Defaults()
	opt = NewOptimizer(cfg, []*ops.Param{w}, func(string) bool { return true })
	if err := opt.Step(lr, [][]float32{{0.5}}); err != nil {
		t.Fatal(err)
	}
	// w *= 1 - lr*wd -> 0.999, then the Adam step of size lr.
	near(t, "adamw w after 1", w.Data()[0], 0.989, 1e-6)
	m = 0.9*0.05 + 0.1*(-0.3)
	v = 0.999*0.00025 + 0.001*0.09
	want = 0.989*(1-lr*wd) - lr*(m/(1-b1*b1))/(math.Sqrt(v/(1-b2*b2))+eps)
	if err := opt.Step(lr, [][]float32{{-0.3}}); err != nil {
		t.Fatal(err)
	}
	near(t, "adamw w after 2", w.Data()[0], want, 1e-6)

	// No decay on a parameter outside the mask.
	a := testParam("alpha", 1.0)
	opt = NewOptimizer(cfg, []*ops.Param{a}, func(string) bool { return false })
	if err := opt.Step(lr, [][]float32{{0.5}}); err != nil {
		t.Fatal(err)
	}
	near(t, "adamw undecayed", a.Data()[0], 0.99, 1e-6)
}

func TestSchedule(t *testing.T) {
	const lr = 0.1
	cases := []struct {
		kind             string
		warmup, total, k int
		want             float64
	}{
		{ScheduleCosine, 10, 110, 0, 0.01},
		{ScheduleCosine, 10, 110, 9, 0.1},
		{ScheduleCosine, 10, 110, 10, 0.1},
		{ScheduleCosine, 10, 110, 60, 0.05},
		{ScheduleCosine, 10, 110, 110, 0.0},
		{ScheduleCosine, 0, 100, 25, 0.05 * (1 + math.Cos(math.Pi/4))},
		{ScheduleConstant, 4, 100, 1, 0.05},
		{ScheduleConstant, 4, 100, 50, 0.1},
	}
	for _, c := range cases {
		if got := Schedule(c.kind, lr, 0, c.warmup, c.total, c.k); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s warmup %d total %d step %d: %v, want %v", c.kind, c.warmup, c.total, c.k, got, c.want)
		}
	}
	if got := Schedule(ScheduleCosine, lr, 0.01, 0, 10, 10); math.Abs(got-0.01) > 1e-12 {
		t.Errorf("cosine ends at %v, want min lr 0.01", got)
	}
}

func TestClipGlobalNorm(t *testing.T) {
	g := [][]float32{{3, 0}, {4}}
	if n := clipGlobalNorm(g, 0); n != 5 || g[0][0] != 3 {
		t.Fatalf("no clipping: norm %v grads %v", n, g)
	}
	if n := clipGlobalNorm(g, 1); n != 5 {
		t.Fatalf("norm %v, want 5", n)
	}
	var s float64
	for _, x := range g {
		for _, v := range x {
			s += float64(v) * float64(v)
		}
	}
	if math.Abs(math.Sqrt(s)-1) > 1e-5 {
		t.Fatalf("clipped norm %v, want 1", math.Sqrt(s))
	}
	near(t, "ratio kept", g[0][0]/g[1][0], 0.75, 1e-6)
}

func TestOptimizerLoadChecks(t *testing.T) {
	w := testParam("w", 1, 2)
	sgd := NewOptimizer(Config{Optimizer: SGD}.Defaults(), []*ops.Param{w}, func(string) bool { return true })
	adam := NewOptimizer(Config{Optimizer: Adam}.Defaults(), []*ops.Param{w}, func(string) bool { return true })
	if err := sgd.Load(adam.State()); err == nil {
		t.Error("loading adam state into sgd succeeded")
	}
	other := NewOptimizer(Config{Optimizer: SGD}.Defaults(), []*ops.Param{testParam("v", 1, 2)}, func(string) bool { return true })
	if err := sgd.Load(other.State()); err == nil {
		t.Error("loading the state of another tensor succeeded")
	}
	src := NewOptimizer(Config{Optimizer: SGD}.Defaults(), []*ops.Param{testParam("w", 5, 6)}, func(string) bool { return true })
	if err := src.Step(0.1, [][]float32{{1, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := sgd.Load(src.State()); err != nil {
		t.Fatal(err)
	}
	if sgd.State().Step != 1 || sgd.State().Params[0].Slots[0][0] != 1 {
		t.Errorf("loaded state %+v", sgd.State())
	}
}
