package convert

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
)

func sign(v float32) float64 {
	if v >= 0 {
		return 1
	}
	return -1
}

// TestTDBNInitIdentity checks spec §3.3 numerically in float64: for random
// latent weights, bias, source BN and inputs x,
// BN'(W_bin·x) == BN_src(α ⊙ (W_bin·x) + b), with and without a source BN,
// including a dead channel (all-zero weights, α = 0).
func TestTDBNInitIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const C, K = 24, 75
	w := make([]float32, C*K)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.1)
	}
	for j := 0; j < K; j++ {
		w[5*K+j] = 0 // dead channel
	}
	alpha := alphaOf(w, []int64{C, K}, false)
	if alpha[5] != 0 {
		t.Fatal("dead channel has alpha != 0")
	}
	b := make([]float64, C)
	src := &bnParams{scale: make([]float64, C), bias: make([]float64, C), mean: make([]float64, C), vari: make([]float64, C),
		eps: 1e-5, momentum: 0.9}
	for c := 0; c < C; c++ {
		b[c] = rng.NormFloat64()
		src.scale[c] = rng.NormFloat64() // negative γ too
		src.bias[c] = rng.NormFloat64()
		src.mean[c] = rng.NormFloat64()
		src.vari[c] = 0.01 + rng.Float64()*3
	}
	for _, tc := range []struct {
		name string
		src  *bnParams
		bias []float64
	}{{"with source BN", src, b}, {"with source BN, no bias", src, nil}, {"without source BN", nil, b}, {"without source BN, no bias", nil, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			p := tdBNInit(alpha, tc.bias, tc.src)
			if tc.src != nil && (p.eps != src.eps || p.momentum != src.momentum) {
				t.Errorf("eps/momentum %g/%g, want the source's", p.eps, p.momentum)
			}
			if tc.src == nil && (p.eps != 1e-5 || p.momentum != 0.9) {
				t.Errorf("eps/momentum %g/%g, want 1e-5/0.9", p.eps, p.momentum)
			}
			for c := 0; c < C; c++ {
				if alpha[c] != 0 {
					// Affine parameters keep the source's meaning.
					wantG, wantB := 1.0, 0.0
					if tc.src != nil {
						wantG, wantB = src.scale[c], src.bias[c]
					}
					if p.scale[c] != wantG || p.bias[c] != wantB {
						t.Errorf("channel %d: γ', β' = %g, %g; want %g, %g", c, p.scale[c], p.bias[c], wantG, wantB)
					}
				}
			}
			var worst float64
			for trial := 0; trial < 200; trial++ {
				x := make([]float64, K)
				for j := range x {
					x[j] = rng.NormFloat64() * 2
				}
				for c := 0; c < C; c++ {
					var y float64 // W_bin·x
					for j := 0; j < K; j++ {
						y += sign(w[c*K+j]) * x[j]
					}
					bc := 0.0
					if tc.bias != nil {
						bc = tc.bias[c]
					}
					ref := alpha[c]*y + bc
					if tc.src != nil {
						ref = tc.src.eval(c, ref)
					}
					got := p.eval(c, y)
					e := math.Abs(got-ref) / (1 + math.Abs(ref))
					worst = math.Max(worst, e)
				}
			}
			if worst > 1e-12 {
				t.Errorf("max relative error %.3g > 1e-12", worst)
			}
			t.Logf("max relative error %.3g over %d channels x 200 inputs", worst, C)
		})
	}
}

// readBN reads a BatchNormalization node's parameters from a model.
func readBN(t *testing.T, m *onnx.Model, n *onnx.Node) *bnParams {
	t.Helper()
	p := &bnParams{eps: float64(n.Float("epsilon", 1e-5)), momentum: float64(n.Float("momentum", 0.9))}
	for i, dst := range []*[]float64{&p.scale, &p.bias, &p.mean, &p.vari} {
		v, _ := initFloats(t, m, n.Input(i+1))
		*dst = f64s(v)
	}
	return p
}

// binaryLayerBN returns, for a binary layer of a converted model, its tdBN
// and its sign matrix as [channel][k] in float64.
func binaryLayerBN(t *testing.T, m *onnx.Model, li bsnn.Layer) (*bnParams, [][]float64, []float64) {
	t.Helper()
	g, _ := m.Graph()
	comp := nodeNamed(g, li.Node)
	cs := g.Consumers(comp.Outputs[0])
	if len(cs) != 1 || cs[0].OpType != "BatchNormalization" {
		t.Fatalf("layer %s: no tdBN", li.Name)
	}
	p := readBN(t, m, cs[0])
	lat, dims := initFloats(t, m, li.WeightLatent)
	var signs [][]float64
	if comp.OpType == "Conv" {
		k := int(numel(dims[1:]))
		for c := 0; c < int(dims[0]); c++ {
			row := make([]float64, k)
			for j := range row {
				row[j] = sign(lat[c*k+j])
			}
			signs = append(signs, row)
		}
	} else {
		in, out := int(dims[0]), int(dims[1])
		for c := 0; c < out; c++ {
			row := make([]float64, in)
			for j := range row {
				row[j] = sign(lat[j*out+c])
			}
			signs = append(signs, row)
		}
	}
	return p, signs, alphaOf(lat, dims, comp.OpType != "Conv")
}

// TestTDBNInitInConvertedModels checks the identity on the tdBN written
// into converted fixtures (float32-stored parameters, evaluated in
// float64): the absorbed source BN and bias are the right ones.
func TestTDBNInitInConvertedModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, name := range []string{"lenet_op13_keepbn_static", "lenet_op13_folded_static", "resnet20_op17_keepbn_static", "resnet20_op9_folded_static", "mlp_op11_folded_static"} {
		t.Run(name, func(t *testing.T) {
			f := findFixture(t, name)
			src := decode(t, f.model())
			sg, _ := src.Graph()
			res := mustConvert(t, src, DefaultOptions())
			sl := sourceLayers(t, src)
			checked := 0
			for i, li := range res.Layers {
				if !li.Binary {
					continue
				}
				s := sl[i]
				p, signs, alpha := binaryLayerBN(t, res.Model, li)
				// The source's bias and BN, read from the source graph.
				var bias []float64
				if bn := s.node.Input(2); bn != "" {
					v, _ := initFloats(t, src, bn)
					bias = f64s(v)
				}
				var srcBN *bnParams
				if cs := sg.Consumers(s.node.Outputs[0]); len(cs) == 1 && cs[0].OpType == "BatchNormalization" {
					srcBN = readBN(t, src, cs[0])
				}
				if (srcBN != nil) != (f.BN == "keepbn" && s.node.OpType == "Conv") {
					t.Errorf("layer %s: source BN %v in a %s export", li.Name, srcBN != nil, f.BN)
				}
				var worst float64
				for trial := 0; trial < 50; trial++ {
					x := make([]float64, len(signs[0]))
					for j := range x {
						x[j] = rng.NormFloat64()
					}
					for c, row := range signs {
						var y float64
						for j, sv := range row {
							y += sv * x[j]
						}
						bc := 0.0
						if bias != nil {
							bc = bias[c]
						}
						ref := alpha[c]*y + bc
						if srcBN != nil {
							ref = srcBN.eval(c, ref)
						}
						worst = math.Max(worst, math.Abs(p.eval(c, y)-ref)/(1+math.Abs(ref)))
					}
				}
				if worst > 2e-5 {
					t.Errorf("layer %s: max relative error %.3g", li.Name, worst)
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("no binary layer checked")
			}
		})
	}
}

// TestFoldedAndKeptSameFunction: a BN-folded and a BN-kept export of one
// network convert to the same function (spec §3): for every binary layer,
// per channel, tdBN'(W_bin·x) is the same affine map of the kept export's
// W_bin·x (the folded weight's signs flip with a negative BN scale, and
// its tdBN slope flips with them).
func TestFoldedAndKeptSameFunction(t *testing.T) {
	for _, pair := range [][2]string{{"lenet_op13_folded_static", "lenet_op13_keepbn_static"}, {"resnet20_op13_folded_static", "resnet20_op13_keepbn_static"}} {
		t.Run(pair[0], func(t *testing.T) {
			fa, fb := findFixture(t, pair[0]), findFixture(t, pair[1])
			ra := mustConvert(t, decode(t, fa.model()), DefaultOptions())
			rb := mustConvert(t, decode(t, fb.model()), DefaultOptions())
			if len(ra.Layers) != len(rb.Layers) {
				t.Fatalf("%d vs %d layers", len(ra.Layers), len(rb.Layers))
			}
			flipped := 0
			for i := range ra.Layers {
				la, lb := ra.Layers[i], rb.Layers[i]
				if la.Name != lb.Name || la.Binary != lb.Binary {
					t.Fatalf("layer %d: %s/%v vs %s/%v", i, la.Name, la.Binary, lb.Name, lb.Binary)
				}
				if !la.Binary {
					continue
				}
				pa, sa, _ := binaryLayerBN(t, ra.Model, la)
				pb, sb, _ := binaryLayerBN(t, rb.Model, lb)
				for c := range sa {
					rel := sa[c][0] * sb[c][0]
					for j := range sa[c] {
						if sa[c][j]*sb[c][j] != rel {
							t.Fatalf("layer %s channel %d: sign patterns differ beyond a channel flip", la.Name, c)
						}
					}
					if rel < 0 {
						flipped++
					}
					// BN(y) = s*y + u with s = γ/√(σ²+ε), u = β - s*μ.
					slope := func(p *bnParams) float64 { return p.scale[c] / math.Sqrt(p.vari[c]+p.eps) }
					sA, sB := slope(pa)*rel, slope(pb)
					uA, uB := pa.bias[c]-slope(pa)*pa.mean[c], pb.bias[c]-slope(pb)*pb.mean[c]
					if math.Abs(sA-sB) > 1e-4*math.Abs(sB) || math.Abs(uA-uB) > 1e-4*(1+math.Abs(uB)) {
						t.Errorf("layer %s channel %d: folded %g*y%+g, kept %g*y%+g", la.Name, c, sA, uA, sB, uB)
					}
				}
			}
			t.Logf("%d channels flipped sign through a negative BN scale", flipped)
		})
	}
}
