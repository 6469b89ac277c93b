package nirbsnn

import (
	"slices"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/nir"
)

// TestRoundTrip exports BSNNs to NIR, writes and reads the file, imports
// it and runs both models in our engine: every LIF's spikes are identical
// and the logits within 1e-5, in both batch-norm modes. ResNet-20's
// residual additions are edges into one LIF node.
func TestRoundTrip(t *testing.T) {
	cases := []func(t *testing.T) bsnnCase{
		func(t *testing.T) bsnnCase { return quickstartCase(t, 8) },
		func(t *testing.T) bsnnCase { return fixtureCase(t, "lenet_op13_keepbn_static") },
		func(t *testing.T) bsnnCase { return fixtureCase(t, "resnet20_op13_folded_dynamic") },
	}
	for _, mk := range cases {
		c := mk(t)
		want := run(t, c.model, c.x)
		for _, mode := range []BatchNorm{BatchNormLayer, BatchNormFold} {
			t.Run(c.name+"/"+string(mode), func(t *testing.T) {
				g, _ := exportNIR(t, c.model, ExportOptions{BatchNorm: mode})
				res, err := Import(g, ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got := run(t, res.Model, c.x)
				if d := maxAbsDiff(t, got.out, want.out); d > 1e-5 {
					t.Errorf("logits differ by %g", d)
				}
				lifs := 0
				for _, name := range g.Names() {
					meta := g.Nodes[name].Meta()
					if _, ok := g.Nodes[name].(*nir.LIF); !ok {
						continue
					}
					lifs++
					src, _ := meta.String(MetaONNXNode)
					a, b := want.spikes[src], got.spikes[name]
					if a == nil || b == nil {
						t.Fatalf("LIF %q (from %q): missing spikes in one model", name, src)
					}
					if !slices.Equal(a, b) {
						t.Errorf("LIF %q: spikes differ", name)
					}
				}
				if lifs != len(want.spikes) || lifs != len(got.spikes) {
					t.Errorf("%d NIR LIF nodes, %d and %d LIF nodes in the models", lifs, len(want.spikes), len(got.spikes))
				}
				if c.name == "resnet20_op13_folded_dynamic" {
					checkResidualEdges(t, g)
				}
			})
		}
	}
}

// checkResidualEdges checks that ResNet's additions are LIF nodes with two
// incoming edges (NIR sums a node's inputs), nine of them (three blocks of
// three).
func checkResidualEdges(t *testing.T, g *nir.Graph) {
	t.Helper()
	sums := 0
	for _, name := range g.Names() {
		if _, ok := g.Nodes[name].(*nir.LIF); ok && len(g.Predecessors(name)) == 2 {
			sums++
		}
	}
	if sums != 9 {
		t.Errorf("%d LIF nodes sum two inputs, want 9 residual additions", sums)
	}
}

// TestReexportIsStable: exporting the imported model again gives the same
// graph (names, types, edges, parameters).
func TestReexportIsStable(t *testing.T) {
	c := quickstartCase(t, 1)
	g1, _ := exportNIR(t, c.model, ExportOptions{})
	res, err := Import(g1, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := exportNIR(t, res.Model, ExportOptions{})
	if !slices.Equal(g1.Names(), g2.Names()) {
		t.Fatalf("nodes differ:\n%v\n%v", g1.Names(), g2.Names())
	}
	if !slices.Equal(g1.Edges, g2.Edges) {
		t.Errorf("edges differ:\n%v\n%v", g1.Edges, g2.Edges)
	}
	for _, name := range g1.Names() {
		a, b := g1.Nodes[name], g2.Nodes[name]
		if a.Type() != b.Type() {
			t.Errorf("node %s: %s then %s", name, a.Type(), b.Type())
			continue
		}
		pa, pb := params(a), params(b)
		for k, v := range pa {
			if !slices.Equal(v, pb[k]) {
				t.Errorf("node %s: %s differs", name, k)
			}
		}
	}
	// The imported model is a BSNN the exporter reads in every profile.
	for _, p := range bsnn.Profiles {
		if p == bsnn.ProfileTrain {
			continue
		}
		if _, err := export.Export(res.Model, p, export.Options{}); err != nil {
			t.Errorf("profile %s: %v", p, err)
		}
	}
}

// params lists a node's float parameters.
func params(n nir.Node) map[string][]float64 {
	out := map[string][]float64{}
	add := func(k string, t nir.Tensor) { out[k] = t.Float64s() }
	switch n := n.(type) {
	case *nir.Conv2d:
		add("weight", n.Weight)
		add("bias", n.Bias)
	case *nir.Affine:
		add("weight", n.Weight)
		add("bias", n.Bias)
	case *nir.Linear:
		add("weight", n.Weight)
	case *nir.LIF:
		add("tau", n.Tau)
		add("r", n.R)
		add("v_leak", n.VLeak)
		add("v_threshold", n.VThreshold)
		add("v_reset", n.VReset)
	case *nir.IF:
		add("r", n.R)
		add("v_threshold", n.VThreshold)
		add("v_reset", n.VReset)
	}
	return out
}
