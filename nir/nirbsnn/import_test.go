package nirbsnn

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
)

func f32s(n int, f func(i int) float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

// lifOf is a NIR LIF as Export writes one for the default parameters.
func lifOf(shape ...int) *nir.LIF {
	return &nir.LIF{Tau: nir.Full(shape, 2*DefaultDT), R: nir.Full(shape, 2), VLeak: nir.Full(shape, 0),
		VThreshold: nir.Full(shape, thresholdBelow(1)), VReset: nir.Full(shape, 0)}
}

// TestImportUnsupportedAllAtOnce: every node a BSNN cannot hold is listed,
// with the reason.
func TestImportUnsupportedAllAtOnce(t *testing.T) {
	g := nir.NewGraph()
	g.Add("input", &nir.Input{Shape: []int64{4}})
	g.Add("fc", &nir.Linear{Weight: nir.F32([]int{4, 4}, f32s(16, func(i int) float32 { return float32(i%3) - 1 }))}, "input")
	uneven := lifOf(4)
	uneven.VThreshold = nir.F64([]int{4}, []float64{1, 1, 1, 2})
	g.Add("uneven", uneven, "fc")
	g.Add("delay", &nir.Delay{Delay: nir.Full([]int{4}, 1)}, "uneven")
	g.Add("li", &nir.LI{Tau: nir.Full([]int{4}, 1e-3), R: nir.Full([]int{4}, 1), VLeak: nir.Full([]int{4}, 0)}, "delay")
	g.Add("cuba", &nir.CubaLIF{TauSyn: nir.Full([]int{4}, 1e-3), TauMem: nir.Full([]int{4}, 1e-3), R: nir.Full([]int{4}, 1),
		VLeak: nir.Full([]int{4}, 0), VThreshold: nir.Full([]int{4}, 1), VReset: nir.Full([]int{4}, 0), WIn: nir.Full([]int{4}, 1)}, "li")
	g.Add("thr", &nir.Threshold{Threshold: nir.Full([]int{4}, 0.5)}, "cuba")
	g.Add("output", &nir.Output{Shape: []int64{4}}, "thr")
	_, err := Import(g, ImportOptions{})
	var ue *onnx.UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want an *onnx.UnsupportedError", err)
	}
	got := map[string]string{}
	for _, it := range ue.Items {
		got[it.Node] = it.Reason
	}
	for node, reason := range map[string]string{"uneven": "differs between neurons", "delay": "delays", "li": "without spikes",
		"cuba": "current-based", "thr": "threshold"} {
		if !strings.Contains(got[node], reason) {
			t.Errorf("node %s: reason %q, want one mentioning %q", node, got[node], reason)
		}
	}
	if len(ue.Items) != 5 {
		t.Errorf("%d items:\n%v", len(ue.Items), err)
	}
}

// TestImportStructure: recurrent connections, nested graphs, missing
// inputs and shapes that do not fit.
func TestImportStructure(t *testing.T) {
	base := func() *nir.Graph {
		g := nir.NewGraph()
		g.Add("input", &nir.Input{Shape: []int64{3}})
		g.Add("fc", &nir.Affine{Weight: nir.F32([]int{3, 3}, make([]float32, 9)), Bias: nir.F32([]int{3}, make([]float32, 3))}, "input")
		g.Add("lif", lifOf(3), "fc")
		g.Add("output", &nir.Output{Shape: []int64{3}}, "lif")
		return g
	}
	g := base()
	g.Add("rec", &nir.Linear{Weight: nir.F32([]int{3, 3}, make([]float32, 9))}, "lif")
	g.Edges = append(g.Edges, nir.Edge{From: "rec", To: "fc"})
	_, err := Import(g, ImportOptions{})
	var ue *onnx.UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("recurrent graph: %v", err)
	}

	g = base()
	sub := base()
	g.Add("sub", sub)
	g.Edges = append(g.Edges, nir.Edge{From: "lif", To: "sub"})
	if _, err := Import(g, ImportOptions{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "nested graph") {
		t.Errorf("nested graph: %v", err)
	}

	g = base()
	g.Nodes["output"] = &nir.Output{Shape: []int64{4}}
	var fe *nir.FormatError
	if _, err := Import(g, ImportOptions{}); !errors.As(err, &fe) || fe.Node != "output" {
		t.Errorf("mismatched shapes: %v", err)
	}

	g = base()
	g.Add("input2", &nir.Input{Shape: []int64{3}})
	if _, err := Import(g, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "2 Input") {
		t.Errorf("two inputs: %v", err)
	}
}

// TestImportLayers: which layers come back binary, and a small network of
// IF, Scale, SumPool2d and Flatten computed by hand.
func TestImportLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := nir.NewGraph()
	g.Add("input", &nir.Input{Shape: []int64{2, 4, 4}})
	pm1 := f32s(3*2*3*3, func(int) float32 { return float32(2*rng.IntN(2) - 1) })
	g.Add("conv", &nir.Conv2d{InputShape: []int64{4, 4}, Weight: nir.F32([]int{3, 2, 3, 3}, pm1), Bias: nir.F32([]int{3}, []float32{0.5, -1, 2}),
		Stride: [2]int64{1, 1}, Padding: [2]int64{1, 1}, Dilation: [2]int64{1, 1}, Groups: 1}, "input")
	g.Add("scale", &nir.Scale{Scale: nir.F32([]int{3, 4, 4}, f32s(48, func(i int) float32 { return 0.25 + float32(i%4)/8 }))}, "conv")
	g.Add("if", &nir.IF{R: nir.Full([]int{3, 4, 4}, 1/DefaultDT), VThreshold: nir.Full([]int{3, 4, 4}, 0.75), VReset: nir.Full([]int{3, 4, 4}, 0)}, "scale")
	g.Add("pool", &nir.SumPool2d{KernelSize: [2]int64{2, 2}, Stride: [2]int64{2, 2}}, "if")
	g.Add("flat", &nir.Flatten{InputType: []int64{3, 2, 2}, StartDim: 0, EndDim: -1}, "pool")
	var meta nir.Metadata
	meta.Set(MetaBinary, int64(1))
	halves := f32s(5*12, func(i int) float32 { return 0.5 * float32(2*((i*7)%2)-1) * float32(1+i/12) })
	g.Add("fc", &nir.Linear{Weight: nir.F32([]int{5, 12}, halves), Metadata: meta}, "flat")
	floatW := f32s(5*5, func(int) float32 { return float32(rng.NormFloat64()) })
	g.Add("head", &nir.Affine{Weight: nir.F32([]int{5, 5}, floatW), Bias: nir.F32([]int{5}, make([]float32, 5))}, "fc")
	g.Add("output", &nir.Output{Shape: []int64{5}}, "head")
	res, err := Import(g, ImportOptions{TimeSteps: 3})
	if err != nil {
		t.Fatal(err)
	}
	info, err := export.Recognize(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	binary := map[string]bool{}
	for _, l := range info.Layers {
		binary[l.Name] = true
	}
	if !binary["conv"] || !binary["fc"] || binary["head"] || len(info.Layers) != 2 {
		t.Errorf("binary layers %v, want conv (±1 weights) and fc (marked, ±0.5·k per row)", binary)
	}
	if len(info.Neurons) != 1 || !math.IsInf(float64(info.Neurons[0].Params.Tau), 1) || info.TimeSteps != 3 {
		t.Errorf("neurons %+v, T %d: want one IF neuron (tau = inf), T = 3", info.Neurons, info.TimeSteps)
	}

	x := &onnx.Tensor{Type: onnx.Float, Dims: []int64{2, 2, 4, 4}, Float32: f32s(64, func(int) float32 { return float32(rng.NormFloat64()) })}
	got := run(t, res.Model, x).out
	want := simulate(g, x.Float32, 2, 3)
	if d := maxAbsDiff(t, got, want); d > 1e-4 {
		t.Errorf("imported network differs from the hand simulation by %g\n%v\n%v", d, got, want)
	}
}

// simulate runs the network of TestImportLayers step by step, directly
// from the NIR parameters.
func simulate(g *nir.Graph, x []float32, n, T int) []float32 {
	conv := g.Nodes["conv"].(*nir.Conv2d)
	w, b := conv.Weight.Float32s(), conv.Bias.Float32s()
	scale := g.Nodes["scale"].(*nir.Scale).Scale.Float32s()
	fc := g.Nodes["fc"].(*nir.Linear).Weight.Float32s()
	head := g.Nodes["head"].(*nir.Affine).Weight.Float32s()
	v := make([]float32, n*48)
	out := make([]float32, n*5)
	for step := 0; step < T; step++ {
		for s := 0; s < n; s++ {
			spikes := make([]float32, 48)
			for o := 0; o < 3; o++ {
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						acc := float64(b[o])
						for c := 0; c < 2; c++ {
							for di := -1; di <= 1; di++ {
								for dj := -1; dj <= 1; dj++ {
									if i+di >= 0 && i+di < 4 && j+dj >= 0 && j+dj < 4 {
										acc += float64(w[((o*2+c)*3+di+1)*3+dj+1]) * float64(x[((s*2+c)*4+i+di)*4+j+dj])
									}
								}
							}
						}
						k := (o*4+i)*4 + j
						m := &v[s*48+k]
						*m += float32(acc) * scale[k]
						if *m > 0.75 {
							spikes[k], *m = 1, 0
						}
					}
				}
			}
			pooled := make([]float32, 12)
			for o := 0; o < 3; o++ {
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						pooled[(o*2+i/2)*2+j/2] += spikes[(o*4+i)*4+j]
					}
				}
			}
			hidden := make([]float32, 5)
			for r := range hidden {
				for c := range pooled {
					hidden[r] += fc[r*12+c] * pooled[c]
				}
			}
			for r := 0; r < 5; r++ {
				var y float32
				for c := range hidden {
					y += head[r*5+c] * hidden[c]
				}
				out[s*5+r] += y / float32(T)
			}
		}
	}
	return out
}

// TestImportEvents: a graph whose input is event frames imports as a model
// reading [T, N, ...] without repetition and exports back without the
// repetition note.
func TestImportEvents(t *testing.T) {
	g := nir.NewGraph()
	g.Metadata.Set(bsnn.MetaInputEncoding, "events")
	g.Metadata.Set(bsnn.MetaTimeSteps, int64(5))
	g.Add("input", &nir.Input{Shape: []int64{2, 3, 3}})
	g.Add("flat", &nir.Flatten{InputType: []int64{2, 3, 3}, StartDim: 0, EndDim: -1}, "input")
	g.Add("fc", &nir.Linear{Weight: nir.F32([]int{4, 18}, f32s(72, func(i int) float32 { return float32(1 - 2*(i%2)) }))}, "flat")
	g.Add("lif", lifOf(4), "fc")
	g.Add("head", &nir.Affine{Weight: nir.F32([]int{2, 4}, []float32{1, 2, 3, 4, -1, 0.5, 0, 2}), Bias: nir.F32([]int{2}, []float32{0.1, 0})}, "lif")
	g.Add("output", &nir.Output{Shape: []int64{2}}, "head")
	res, err := Import(g, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	if m.Metadata()[bsnn.MetaInputEncoding] != "events" || res.TimeSteps != 5 {
		t.Errorf("encoding %q, T %d", m.Metadata()[bsnn.MetaInputEncoding], res.TimeSteps)
	}
	mg, err := m.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if s := mg.Inputs[0].Shape; len(s) != 5 || s[0].Value != 5 {
		t.Errorf("input shape %v, want [5, N, 2, 3, 3]", s)
	}
	x := &onnx.Tensor{Type: onnx.Float, Dims: []int64{5, 1, 2, 3, 3}, Float32: f32s(90, func(i int) float32 { return float32(i % 3) })}
	if out := run(t, m, x).out; len(out) != 2 {
		t.Errorf("output %v", out)
	}
	back, err := Export(m, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := back.Metadata.String(bsnn.MetaInputEncoding); s != "events" {
		t.Errorf("exported input encoding %q", s)
	}
	if _, ok := back.Metadata[MetaInputRepeat]; ok {
		t.Error("an event-input model exported with the repetition note")
	}
}

// TestIdentityBN: the BatchNormalization written for a NIR bias adds no
// rounding: the engine's 1/sqrt(var + eps) is exactly 1, so BN(x) = x + b.
func TestIdentityBN(t *testing.T) {
	p := identityBN(3)
	a, b := p.affine(nil)
	for c := range a {
		if a[c] != 1 || b[c] != 0 {
			t.Fatalf("channel %d: a = %v, b = %v", c, a[c], b[c])
		}
	}
}
