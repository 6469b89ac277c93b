package bitkern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/opstest"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// floatBlock is a binary convolution block as the float engine runs it:
// Conv (±1 weights) -> BatchNormalization -> [Add residual] -> Reshape to
// [T, N, ...] -> LIF, compiled by ops from an ONNX graph. Its outputs are the
// BatchNormalization output y ([T*N, M, OH, OW]) and the spikes s.
type floatBlock struct {
	p        ConvParams
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
		opstest.Node{Domain: onnx.DomainSNN, OpType: "LIF", Inputs: []string{"z5"}, Outputs: []string{"s"}, Attrs: opstest.AttrList(
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
	c := &opstest.Case{Name: "block", Domain: onnx.DomainSNN, OpType: "LIF", Nodes: nodes, Inputs: inputs,
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

// bnParams draws BatchNormalization parameters that put the potentials of
// a K-bit receptive field around the threshold, with some negative gammas
// (which flip the threshold's direction).
func bnParams(r *rand.Rand, m, k int) (gamma, beta, mean, variance []float32, eps float32) {
	eps = 1e-5
	sd := math.Sqrt(float64(k)) / 2
	for range m {
		gamma = append(gamma, float32(r.Float64()*3-1))
		beta = append(beta, float32(r.Float64()*1.5-0.25))
		mean = append(mean, float32(r.NormFloat64()*sd/2))
		variance = append(variance, float32(sd*sd*(0.25+r.Float64())))
	}
	return
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

var lifVariants = []struct {
	name string
	p    spiking.LIFParams
}{
	{"default", spiking.DefaultLIF()},
	{"tau3_soft_vreset", func() spiking.LIFParams {
		p := spiking.DefaultLIF()
		p.Tau, p.SoftReset, p.VReset, p.VThreshold = 3, true, -0.3, 0.7
		return p
	}()},
	{"decay_input_vreset", func() spiking.LIFParams {
		p := spiking.DefaultLIF()
		p.Tau, p.DecayInput, p.VReset = 1.7, true, 0.2
		return p
	}()},
}

// TestFusedMatchesFloatEngine checks the fused convolution, BatchNormalization,
// residual Add and LIF bit for bit against the float engine (ops: Conv on
// ops/kernels, BatchNormalization in ops/norm.go, LIF on ops/spiking), for
// every kernel.
func TestFusedMatchesFloatEngine(t *testing.T) {
	shapes := []struct {
		p ConvParams
		T int
	}{
		{sq(4*2, 16, 6, 16, 3, 1, 1, 1), 4},
		{sq(4*1, 3, 5, 5, 3, 1, 1, 1), 4},
		{sq(8*1, 65, 4, 20, 3, 2, 1, 1), 8},
		{sq(1*3, 32, 5, 33, 1, 1, 1, 0), 1},
		{sq(2*2, 63, 5, 7, 3, 1, 2, 2), 2},
	}
	r := rand.New(rand.NewPCG(7, 8))
	for si, sh := range shapes {
		for vi, lv := range lifVariants {
			for _, residual := range []string{"none", "float", "spikes"} {
				if (si+vi)%2 == 1 && residual != "none" {
					continue // keep the test short: residuals on half the combinations
				}
				name := fmt.Sprintf("%v_T%d_%s_res_%s", sh.p, sh.T, lv.name, residual)
				t.Run(name, func(t *testing.T) { checkFused(t, r, sh.p, sh.T, lv.p, residual) })
			}
		}
	}
}

func checkFused(t *testing.T, r *rand.Rand, p ConvParams, T int, lif spiking.LIFParams, residual string) {
	oh, ow := p.OutH(), p.OutW()
	P := oh * ow
	x := randSpikes(r, p.N*p.C*p.H*p.W, 0.25)
	w := signs(randWeights(r, p.M*p.C*p.KH*p.KW))
	gamma, beta, mean, variance, eps := bnParams(r, p.M, p.C*p.KH*p.KW)
	var res []float32
	switch residual {
	case "float":
		res = make([]float32, p.N*p.M*P)
		for i := range res {
			res[i] = float32(r.NormFloat64())
		}
	case "spikes":
		res = randSpikes(r, p.N*p.M*P, 0.3)
	}
	fb := floatBlock{p: p, T: T, lif: lif, residual: res != nil}
	wantY, wantS := fb.run(t, x, w, gamma, beta, mean, variance, res, eps)

	xp := make([]uint64, p.InLen())
	if err := PackNCHW(p.N, p.C, p.H, p.W, x, xp); err != nil {
		t.Fatal(err)
	}
	bn, err := BatchNorm(gamma, beta, mean, variance, eps)
	if err != nil {
		t.Fatal(err)
	}
	e := &Epilogue{Affine: bn, LIF: lif}
	switch residual {
	case "float":
		e.Residual = toNHWC(res, p.N, p.M, P)
	case "spikes":
		e.ResidualSpikes = make([]uint64, p.N*P*Words(p.M))
		if err := PackNCHW(p.N, p.M, oh, ow, res, e.ResidualSpikes); err != nil {
			t.Fatal(err)
		}
	}
	fired := 0
	eachKernel(t, func(t testing.TB, k *tileKernel) {
		for _, l := range layouts {
			c := newTestConv(t, p, l, w)
			// BatchNormalization alone, as float32.
			y := make([]float32, p.N*P*p.M)
			if err := c.Float32(xp, &Epilogue{Affine: bn}, y, 2); err != nil {
				t.Fatal(err)
			}
			if i := firstBitDiff(y, toNHWC(wantY, p.N, p.M, P)); i >= 0 {
				t.Fatalf("kernel %s, %v: BatchNormalization output differs at NHWC index %d", k.name, l, i)
			}
			out := make([]uint64, p.N*P*Words(p.M))
			for i := range out {
				out[i] = ^uint64(0) // Spikes must overwrite everything
			}
			if err := c.Spikes(T, xp, e, out, 2); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, p.N*p.M*P)
			UnpackNCHW(p.N, p.M, oh, ow, out, got)
			if i := firstBitDiff(got, wantS); i >= 0 {
				t.Fatalf("kernel %s, %v: spike %d is %v, float engine %v", k.name, l, i, got[i], wantS[i])
			}
			fired = Count(out)
		}
	})
	if fired == 0 || fired == p.N*P*p.M {
		t.Fatalf("degenerate test: %d of %d neurons fired", fired, p.N*P*p.M)
	}
}

// firstBitDiff returns the first index where a and b differ in their bits,
// or -1.
func firstBitDiff(a, b []float32) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}
