package bitkern_test

// The fused epilogue against the float engine. This is an external test:
// ops, which runs the float engine, uses this package (its binary
// convolutions), so an internal test could not import it. export_test.go
// lends it the package's test helpers.

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/ops/opstest"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// floatBlock is a binary convolution block as the float engine runs it:
// Conv (±1 weights) -> BatchNormalization -> [Add residual] -> Reshape to
// [T, N, ...] -> LIF, compiled by ops from an ONNX graph. Its outputs are the
// BatchNormalization output y ([T*N, M, OH, OW]) and the spikes s.
type floatBlock struct {
	p        bitkern.ConvParams
	T        int
	lif      spiking.LIFParams
	residual bool
}

func (b floatBlock) run(t *testing.T, x, w, gamma, beta, mean, variance, res []float32, eps float32) (y, s []float32) {
	t.Helper()
	p := b.p
	oh, ow := p.OutH(), p.OutW()
	boolInt := func(v bool) int64 {
		if v {
			return 1
		}
		return 0
	}
	conv := opstest.Node{OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"c"}, Attrs: opstest.AttrList(
		opstest.Ints("kernel_shape", int64(p.KH), int64(p.KW)),
		opstest.Ints("strides", int64(p.StrideH), int64(p.StrideW)),
		opstest.Ints("dilations", int64(p.DilH), int64(p.DilW)),
		opstest.Ints("pads", int64(p.PadTop), int64(p.PadLeft), int64(p.PadBottom), int64(p.PadRight)))}
	bn := opstest.Node{OpType: "BatchNormalization", Inputs: []string{"c", "gamma", "beta", "mean", "var"}, Outputs: []string{"y"},
		Attrs: opstest.AttrList(opstest.Float("epsilon", eps))}
	pre := "y"
	nodes := []opstest.Node{conv, bn}
	if b.residual {
		nodes = append(nodes, opstest.Node{OpType: "Add", Inputs: []string{"y", "r"}, Outputs: []string{"z"}})
		pre = "z"
	}
	nodes = append(nodes,
		opstest.Node{OpType: "Reshape", Inputs: []string{pre, "shape"}, Outputs: []string{"z5"}},
		opstest.Node{Domain: bsnn.DomainSNN, OpType: "LIF", Inputs: []string{"z5"}, Outputs: []string{"s"}, Attrs: opstest.AttrList(
			opstest.Float("tau", b.lif.Tau), opstest.Float("v_threshold", b.lif.VThreshold), opstest.Float("v_reset", b.lif.VReset),
			opstest.Int("decay_input", boolInt(b.lif.DecayInput)), opstest.Int("soft_reset", boolInt(b.lif.SoftReset)),
			opstest.Int("detach_reset", 0), opstest.String("surrogate", "triangle"), opstest.Float("surrogate_alpha", 1))})
	inputs := []opstest.Input{
		{Name: "x", Shape: []int{p.N, p.C, p.H, p.W}},
		{Name: "w", Shape: []int{p.M, p.C, p.KH, p.KW}, Frozen: true},
		{Name: "gamma", Shape: []int{p.M}, Frozen: true},
		{Name: "beta", Shape: []int{p.M}, Frozen: true},
		{Name: "mean", Shape: []int{p.M}, Frozen: true},
		{Name: "var", Shape: []int{p.M}, Frozen: true},
		{Name: "shape", Ints: []int64{int64(b.T), int64(p.N / b.T), int64(p.M), int64(oh), int64(ow)}},
	}
	vals := opstest.Values{"x": x, "w": w, "gamma": gamma, "beta": beta, "mean": mean, "var": variance}
	if b.residual {
		inputs = append(inputs, opstest.Input{Name: "r", Shape: []int{p.N, p.M, oh, ow}})
		vals["r"] = res
	}
	c := &opstest.Case{Name: "block", Domain: bsnn.DomainSNN, OpType: "LIF", Nodes: nodes, Inputs: inputs,
		Outputs: []opstest.Output{{Name: "y"}, {Name: "s"}}}
	inst, err := c.Build(vals, false)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	outs, err := inst.Run()
	if err != nil {
		t.Fatal(err)
	}
	return outs[0], outs[1]
}

// signs returns ±1 weights with the signs of w.
func signs(w []float32) []float32 {
	s := make([]float32, len(w))
	for i, v := range w {
		s[i] = -1
		if v >= 0 {
			s[i] = 1
		}
	}
	return s
}

// toNHWC turns [N, M, P] into [N, P, M].
func toNHWC(x []float32, n, m, p int) []float32 {
	y := make([]float32, len(x))
	for i := range n {
		for j := range m {
			for q := range p {
				y[(i*p+q)*m+j] = x[(i*m+j)*p+q]
			}
		}
	}
	return y
}

// TestFusedMatchesFloatEngine checks the fused convolution, BatchNormalization,
// residual Add and LIF bit for bit against the float engine (ops: Conv on
// ops/kernels, BatchNormalization in ops/norm.go, LIF on ops/spiking), for
// every kernel.
func TestFusedMatchesFloatEngine(t *testing.T) {
	shapes := []struct {
		p bitkern.ConvParams
		T int
	}{
		{bitkern.Sq(4*2, 16, 6, 16, 3, 1, 1, 1), 4},
		{bitkern.Sq(4*1, 3, 5, 5, 3, 1, 1, 1), 4},
		{bitkern.Sq(8*1, 65, 4, 20, 3, 2, 1, 1), 8},
		{bitkern.Sq(1*3, 32, 5, 33, 1, 1, 1, 0), 1},
		{bitkern.Sq(2*2, 63, 5, 7, 3, 1, 2, 2), 2},
	}
	r := rand.New(rand.NewPCG(7, 8))
	for si, sh := range shapes {
		for vi, lv := range bitkern.LIFVariants() {
			for _, residual := range []string{"none", "float", "spikes"} {
				if (si+vi)%2 == 1 && residual != "none" {
					continue // keep the test short: residuals on half the combinations
				}
				name := fmt.Sprintf("%v_T%d_%s_res_%s", sh.p, sh.T, lv.Name, residual)
				t.Run(name, func(t *testing.T) { checkFused(t, r, sh.p, sh.T, lv.P, residual) })
			}
		}
	}
}

func checkFused(t *testing.T, r *rand.Rand, p bitkern.ConvParams, T int, lif spiking.LIFParams, residual string) {
	oh, ow := p.OutH(), p.OutW()
	P := oh * ow
	x := bitkern.RandSpikes(r, p.N*p.C*p.H*p.W, 0.25)
	w := signs(bitkern.RandWeights(r, p.M*p.C*p.KH*p.KW))
	gamma, beta, mean, variance, eps := bitkern.BNParams(r, p.M, p.C*p.KH*p.KW)
	var res []float32
	switch residual {
	case "float":
		res = make([]float32, p.N*p.M*P)
		for i := range res {
			res[i] = float32(r.NormFloat64())
		}
	case "spikes":
		res = bitkern.RandSpikes(r, p.N*p.M*P, 0.3)
	}
	fb := floatBlock{p: p, T: T, lif: lif, residual: res != nil}
	wantY, wantS := fb.run(t, x, w, gamma, beta, mean, variance, res, eps)

	xp := make([]uint64, p.InLen())
	if err := bitkern.PackNCHW(p.N, p.C, p.H, p.W, x, xp); err != nil {
		t.Fatal(err)
	}
	bn, err := bitkern.BatchNorm(gamma, beta, mean, variance, eps)
	if err != nil {
		t.Fatal(err)
	}
	e := &bitkern.Epilogue{Affine: bn, LIF: lif}
	switch residual {
	case "float":
		e.Residual = toNHWC(res, p.N, p.M, P)
	case "spikes":
		e.ResidualSpikes = make([]uint64, p.N*P*bitkern.Words(p.M))
		if err := bitkern.PackNCHW(p.N, p.M, oh, ow, res, e.ResidualSpikes); err != nil {
			t.Fatal(err)
		}
	}
	fired := 0
	bitkern.EachKernel(t, func(t testing.TB, kernel string) {
		for _, l := range bitkern.Layouts {
			c := bitkern.NewTestConv(t, p, l, w)
			// BatchNormalization alone, as float32.
			y := make([]float32, p.N*P*p.M)
			if err := c.Float32(xp, &bitkern.Epilogue{Affine: bn}, y, 2); err != nil {
				t.Fatal(err)
			}
			if i := bitkern.FirstBitDiff(y, toNHWC(wantY, p.N, p.M, P)); i >= 0 {
				t.Fatalf("kernel %s, %v: BatchNormalization output differs at NHWC index %d", kernel, l, i)
			}
			out := make([]uint64, p.N*P*bitkern.Words(p.M))
			for i := range out {
				out[i] = ^uint64(0) // Spikes must overwrite everything
			}
			if err := c.Spikes(T, xp, e, out, 2); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, p.N*p.M*P)
			bitkern.UnpackNCHW(p.N, p.M, oh, ow, out, got)
			if i := bitkern.FirstBitDiff(got, wantS); i >= 0 {
				t.Fatalf("kernel %s, %v: spike %d is %v, float engine %v", kernel, l, i, got[i], wantS[i])
			}
			fired = bitkern.Count(out)
		}
	})
	if fired == 0 || fired == p.N*P*p.M {
		t.Fatalf("degenerate test: %d of %d neurons fired", fired, p.N*P*p.M)
	}
}
