package nirbsnn

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
	"github.com/bsnnctl/bsnnctl/testmodels"
)

// convertQuickstart converts the quickstart LeNet with the given options.
func convertQuickstart(t *testing.T, o convert.Options) *onnx.Model {
	t.Helper()
	ann, err := onnx.Decode(bytes.NewReader(testmodels.DefaultModel()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := convert.Convert(ann, o)
	if err != nil {
		t.Fatal(err)
	}
	return res.Model
}

// TestExportRefusesAllAtOnce: AGMM gates in forward mode and soft-reset
// neurons are reported together, each naming its node.
func TestExportRefusesAllAtOnce(t *testing.T) {
	o := convert.DefaultOptions()
	o.Neuron = spiking.DefaultLIF()
	o.Neuron.SoftReset = true
	_, err := Export(convertQuickstart(t, o), ExportOptions{})
	var ue *onnx.UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want an *onnx.UnsupportedError", err)
	}
	gates, soft := 0, 0
	for _, it := range ue.Items {
		switch {
		case it.OpType == "AGMMGate" && strings.Contains(it.Reason, "forward"):
			gates++
		case it.OpType == "LIF" && strings.Contains(it.Reason, "soft reset"):
			soft++
		default:
			t.Errorf("unexpected item %v", it)
		}
		if it.Node == "" {
			t.Errorf("item %v names no node", it)
		}
	}
	// The quickstart LeNet: conv1 (float), conv2 and fc1 (binary, gated),
	// fc2 (float); three LIF layers.
	if gates != 2 || soft != 3 {
		t.Errorf("%d gates and %d soft-reset neurons reported, want 2 and 3:\n%v", gates, soft, err)
	}
}

// TestExportGradOnlyGates: gates in grad_only mode are identities and
// leave nothing in the NIR graph.
func TestExportGradOnlyGates(t *testing.T) {
	o := convert.DefaultOptions()
	o.Gate.Mode = spiking.AGMMModeGradOnly
	gated, err := Export(convertQuickstart(t, o), ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o.AGMM = false
	plain, err := Export(convertQuickstart(t, o), ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gated.Names(), plain.Names()) || !slices.Equal(gated.Edges, plain.Edges) {
		t.Errorf("grad_only gates changed the graph:\n%v\n%v", gated.Names(), plain.Names())
	}
}

// TestExportGraph checks what the graph says about itself: metadata,
// binary layers as ±1 with bsnn.binary, the input without the time axis.
func TestExportGraph(t *testing.T) {
	c := quickstartCase(t, 1)
	g, err := Export(c.model, ExportOptions{Producer: "bsnnctl test"})
	if err != nil {
		t.Fatal(err)
	}
	md := g.Metadata
	for k, want := range map[string]any{"dt": DefaultDT, bsnn.MetaTimeSteps: int64(4), MetaInputRepeat: int64(4),
		bsnn.MetaInputEncoding: "direct", bsnn.MetaOutputDecoding: "mean_over_time", MetaBatchNormMode: "layer",
		MetaProducer: "bsnnctl test", MetaFormatVersion: FormatVersion} {
		var got any
		switch want.(type) {
		case float64:
			got, _ = md.Float(k)
		case int64:
			got, _ = md.Int(k)
		case string:
			got, _ = md.String(k)
		}
		if got != want {
			t.Errorf("graph metadata %s = %v, want %v", k, got, want)
		}
	}
	in := g.Nodes["input"].(*nir.Input)
	if !slices.Equal(in.Shape, []int64{1, 28, 28}) {
		t.Errorf("input shape %v", in.Shape)
	}
	binary := 0
	for _, name := range g.Names() {
		n := g.Nodes[name]
		marked, _ := n.Meta().Int(MetaBinary)
		var w nir.Tensor
		switch n := n.(type) {
		case *nir.Conv2d:
			w = n.Weight
		case *nir.Affine:
			w = n.Weight
		case *nir.Linear:
			w = n.Weight
		default:
			continue
		}
		pm1 := true
		for _, v := range w.Float64s() {
			pm1 = pm1 && (v == 1 || v == -1)
		}
		if marked == 1 {
			binary++
			if !pm1 || !w.IsFloat32() {
				t.Errorf("binary layer %s: weights not ±1 float32", name)
			}
		}
	}
	if binary != 2 {
		t.Errorf("%d layers marked binary, want 2 (conv2, fc1)", binary)
	}
}

// TestThresholds: v >= θ on float32 values is v > thresholdBelow(θ), and
// thresholdAbove turns NIR's threshold back into ours.
func TestThresholds(t *testing.T) {
	for _, theta := range []float32{1, 0.5, -2, 3e-39, 1e-30, 0, 1e30, 7.25} {
		below := thresholdBelow(theta)
		if got := thresholdAbove(below); got != theta {
			t.Errorf("θ = %g: written %g, read back %g", theta, below, got)
		}
		for _, v := range []float32{theta, math.Nextafter32(theta, -1e38), math.Nextafter32(theta, 1e38)} {
			if (v >= theta) != (float64(v) > below) {
				t.Errorf("θ = %g, v = %g: v >= θ is %v but v > %g is %v", theta, v, v >= theta, below, float64(v) > below)
			}
		}
	}
	// A foreign threshold t (fires on v > t) becomes the smallest float32
	// above it.
	if got := thresholdAbove(1); got != math.Nextafter32(1, 2) {
		t.Errorf("thresholdAbove(1) = %g", got)
	}
	if got := thresholdAbove(0.1); float64(got) <= 0.1 || float64(math.Nextafter32(got, 0)) > 0.1 {
		t.Errorf("thresholdAbove(0.1) = %g", got)
	}
}

// TestLIFMapping maps LIF parameters to NIR and back.
func TestLIFMapping(t *testing.T) {
	dt := DefaultDT
	def := spiking.DefaultLIF()
	n, err := neuronNode(def, []int{2, 3}, dt)
	if err != nil {
		t.Fatal(err)
	}
	lif := n.(*nir.LIF)
	for _, c := range []struct {
		name string
		t    nir.Tensor
		want float64
	}{{"tau", lif.Tau, 2 * dt}, {"r", lif.R, 2}, {"v_leak", lif.VLeak, 0}, {"v_reset", lif.VReset, 0},
		{"v_threshold", lif.VThreshold, float64(math.Nextafter32(1, 0))}} {
		if v, ok := c.t.Uniform(); !ok || v != c.want || !slices.Equal(c.t.Shape, []int{2, 3}) {
			t.Errorf("%s = %v %v, want %g everywhere", c.name, c.t.Shape, c.t.Data, c.want)
		}
	}
	for _, p := range []spiking.LIFParams{
		def,
		{Tau: 1, VThreshold: 0.3, VReset: -0.5, SurrogateAlpha: 1},
		{Tau: 1.5, VThreshold: 2, DecayInput: true, SurrogateAlpha: 1},
		{Tau: 10, VThreshold: 1, SurrogateAlpha: 1},
		{Tau: 1e6, VThreshold: 1e-3, DecayInput: true, SurrogateAlpha: 1},
		{Tau: float32(math.Inf(1)), VThreshold: 1, SurrogateAlpha: 1},
	} {
		n, err := neuronNode(p, []int{4}, dt)
		if err != nil {
			t.Fatal(err)
		}
		var m lifMapping
		switch n := n.(type) {
		case *nir.LIF:
			m, err = fromLIF(n, dt)
		case *nir.IF:
			m, err = fromIF(n, dt)
		}
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		q := m.params
		if q.Tau != p.Tau || q.VThreshold != p.VThreshold || q.VReset != p.VReset || q.DecayInput != p.DecayInput || m.gain != 1 {
			t.Errorf("%+v came back as %+v (gain %g)", p, q, m.gain)
		}
	}
	if _, err := neuronNode(spiking.LIFParams{Tau: 2, VThreshold: 1, SoftReset: true, SurrogateAlpha: 1}, []int{1}, dt); err == nil {
		t.Error("soft reset exported")
	}
}

// TestLIFFromOtherTools reads neurons as snnTorch, SpikingJelly and Norse
// write them, and refuses what our LIF cannot express.
func TestLIFFromOtherTools(t *testing.T) {
	full := func(v float64) nir.Tensor { return nir.Full([]int{3}, v) }
	dt := 1e-4
	snntorch := &nir.LIF{Tau: full(dt / (1 - 0.9)), R: full(1 / (1 - 0.9)), VLeak: full(0), VThreshold: full(1), VReset: full(0)}
	m, err := fromLIF(snntorch, dt)
	if err != nil || m.params.Tau != 10 || m.params.DecayInput || m.gain != 1 || m.params.VThreshold != math.Nextafter32(1, 2) {
		t.Errorf("snnTorch Leaky(beta 0.9): %+v gain %g, %v", m.params, m.gain, err)
	}
	// Norse: tau = 1/tau_mem_inv, r = 1, its own dt (here 1e-3).
	norse := &nir.LIF{Tau: full(0.01), R: full(1), VLeak: full(0), VThreshold: full(1), VReset: full(0)}
	if m, err = fromLIF(norse, 1e-3); err != nil || m.params.Tau != 10 || !m.params.DecayInput {
		t.Errorf("Norse LIF: %+v, %v", m.params, err)
	}
	other := &nir.LIF{Tau: full(2 * dt), R: full(3), VLeak: full(0), VThreshold: full(1), VReset: full(0)}
	if m, err = fromLIF(other, dt); err != nil || m.gain != 1.5 {
		t.Errorf("r = 3, tau = 2 steps: gain %g, %v", m.gain, err)
	}
	uneven := *snntorch
	uneven.VThreshold = nir.F64([]int{3}, []float64{1, 1, 2})
	leak := *snntorch
	leak.VLeak = full(0.5)
	fast := *snntorch
	fast.Tau = full(dt / 2)
	for name, n := range map[string]*nir.LIF{"per-neuron threshold": &uneven, "v_leak": &leak, "tau < dt": &fast} {
		if _, err := fromLIF(n, dt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestEulerIsOurLIF integrates NIR's LIF by forward Euler in float32, as a
// NIR simulator does, with the parameters Export writes, and compares the
// spikes with our LIF kernel on inputs that put the membrane exactly on the
// threshold. Without lowering the threshold the strict v > θ would miss
// those spikes.
func TestEulerIsOurLIF(t *testing.T) {
	p := spiking.DefaultLIF()
	const T, M = 8, 6
	x := make([]float32, T*M)
	for i := range x {
		x[i] = float32(i%5) * 0.25 // membranes land on 0.5, 1, ...
	}
	want := make([]float32, T*M)
	if err := spiking.LIFForward(p, T, M, x, want, nil); err != nil {
		t.Fatal(err)
	}
	n, err := neuronNode(p, []int{M}, DefaultDT)
	if err != nil {
		t.Fatal(err)
	}
	lif := n.(*nir.LIF)
	euler := func(theta float32) []float32 {
		tau, r, leak, reset := lif.Tau.At(0), lif.R.At(0), float32(lif.VLeak.At(0)), float32(lif.VReset.At(0))
		k, g := float32(DefaultDT/tau), float32(DefaultDT*r/tau)
		v := make([]float32, M)
		s := make([]float32, T*M)
		for step := 0; step < T; step++ {
			for i := range v {
				v[i] = v[i] + k*(leak-v[i]) + g*x[step*M+i]
				if v[i] > theta {
					s[step*M+i], v[i] = 1, reset
				}
			}
		}
		return s
	}
	if got := euler(float32(lif.VThreshold.At(0))); !slices.Equal(got, want) {
		t.Errorf("Euler spikes %v\nour LIF      %v", got, want)
	}
	if slices.Equal(euler(p.VThreshold), want) {
		t.Error("the test puts no membrane on the threshold: it cannot show why the threshold is lowered")
	}
}

// TestExportAnyProfile: a BSNN written in the plain (unrolled) or packed
// profile exports to the same NIR graph as its portable form.
func TestExportAnyProfile(t *testing.T) {
	c := quickstartCase(t, 1)
	want, err := Export(c.model, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []bsnn.Profile{bsnn.ProfilePlain, bsnn.ProfilePacked} {
		m, err := export.Export(c.model, p, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Export(m, ExportOptions{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !slices.Equal(got.Names(), want.Names()) || !slices.Equal(got.Edges, want.Edges) {
			t.Errorf("%s: graph differs:\n%v\n%v", p, got.Names(), want.Names())
			continue
		}
		for _, name := range want.Names() {
			pa, pb := params(want.Nodes[name]), params(got.Nodes[name])
			for k, v := range pa {
				if !slices.Equal(v, pb[k]) {
					t.Errorf("%s: node %s: %s differs", p, name, k)
				}
			}
		}
	}
}
