package convert

import (
	"math"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// exactFixtures are the fixtures the run tests use: every committed one
// (mlp, lenet, resnet20 at every opset, folded and kept, static and dynamic).
func exactFixtures(t *testing.T) []fixture {
	var out []fixture
	for _, f := range loadFixtures(t) {
		switch f.Arch {
		case "resnet20":
			if !testing.Short() {
				out = append(out, f)
			}
		case "mlp", "lenet":
			out = append(out, f)
		}
	}
	return out
}

// allFloat are the options under which the converted graph must compute
// the source network exactly: no binarization, Relu kept, T steps of the
// same input averaged.
func allFloat(T int) Options {
	return Options{TimeSteps: T, KeepFloat: []string{PolicyAll}, ReLUAsReLU: true}
}

// doubled returns the input with its batch repeated twice, to run the
// converted (batch-agnostic) model at another batch size.
func doubled(in *onnx.Tensor) *onnx.Tensor {
	d := append([]int64{}, in.Dims...)
	d[0] *= 2
	f := append(append([]float32{}, in.Floats()...), in.Floats()...)
	return &onnx.Tensor{Type: onnx.Float, Dims: d, Float32: f}
}

// TestORTRewriteLosesNothing runs the all-float conversion (T = 1 and 4,
// Relu kept) in onnxruntime: it reproduces PyTorch's output, also at twice
// the batch size (the Reshape targets are batch-agnostic).
func TestORTRewriteLosesNothing(t *testing.T) {
	interop.NeedORT(t)
	for _, f := range exactFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			src := decode(t, f.model())
			in, want := fixtureIO(t, f)
			for _, T := range []int{1, 4} {
				res := mustConvert(t, src, allFloat(T))
				got := runORT(t, res.Model, "input", in)
				if e := relErr(got.Float, want.Floats()); e > 1e-4 {
					t.Errorf("T=%d: rel err %.3g vs PyTorch", T, e)
				}
				got2 := runORT(t, res.Model, "input", doubled(in))
				if got2.Shape[0] != 2*want.Dims[0] || relErr(got2.Float, doubled(want).Float32) > 1e-4 {
					t.Errorf("T=%d: at batch %d the output differs (shape %v)", T, 2*want.Dims[0], got2.Shape)
				}
			}
		})
	}
}

// signStructured returns a copy of src whose hidden layers' weights are
// replaced by sign(W) * mean|W| per output channel: then W_latent =
// α ⊙ W_bin exactly, and by spec §3.3 the converted BSNN (T = 1, Relu
// kept, no AGMM) computes exactly the same function as the source.
func signStructured(t *testing.T, src *onnx.Model) *onnx.Model {
	t.Helper()
	m := src.Clone()
	sl := sourceLayers(t, m)
	hidden := map[string]*srcLayer{}
	for _, l := range sl {
		if !l.first && !l.last && !l.depthwise {
			hidden[l.weight] = l
		}
	}
	for i, tp := range m.Proto.Graph.Initializer {
		l := hidden[tp.GetName()]
		if l == nil {
			continue
		}
		w, dims := initFloats(t, m, tp.GetName())
		out := make([]float32, len(w))
		matmulLayout := l.node.OpType == "MatMul" || l.node.OpType == "Gemm" && l.node.Int("transB", 0) == 0
		alpha := alphaOf(w, dims, matmulLayout)
		for k, v := range w {
			c := k / int(numel(dims[1:]))
			if matmulLayout {
				c = k % int(dims[1])
			}
			out[k] = float32(sign(v) * alpha[c])
		}
		m.Proto.Graph.Initializer[i] = onnx.FloatTensor(tp.GetName(), dims, out)
	}
	return m
}

// TestORTBinaryExact: with sign-structured weights the BSNN's binary
// layers (BipolarQuant function, [in,out] MatMul, tdBN absorbing bias and
// BN) reproduce the source network in onnxruntime.
func TestORTBinaryExact(t *testing.T) {
	interop.NeedORT(t)
	for _, f := range exactFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			src := signStructured(t, decode(t, f.model()))
			in, _ := fixtureIO(t, f)
			want := runORT(t, src, "input", in)
			for _, T := range []int{1, 3} {
				o := Options{TimeSteps: T, ReLUAsReLU: true}
				res := mustConvert(t, src, o)
				if len(bsnn.BinaryLayers(res.Model)) == 0 {
					t.Fatal("no binary layer")
				}
				got := runORT(t, res.Model, "input", in)
				if e := relErr(got.Float, want.Float); e > 1e-4 {
					t.Errorf("T=%d: rel err %.3g vs the sign-structured source", T, e)
				}
			}
		})
	}
}

// TestORTRunsBSNN runs the default BSNN (LIF, AGMM, binary weights) of
// every committed fixture in onnxruntime, with the registry's function
// bodies: output [N, classes], finite, batch-agnostic.
func TestORTRunsBSNN(t *testing.T) {
	interop.NeedORT(t)
	for _, f := range exactFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			res := mustConvert(t, decode(t, f.model()), DefaultOptions())
			in, want := fixtureIO(t, f)
			got := runORT(t, res.Model, "input", in)
			if len(got.Shape) != 2 || got.Shape[0] != want.Dims[0] || got.Shape[1] != want.Dims[1] {
				t.Fatalf("output shape %v, want %v", got.Shape, want.Dims)
			}
			for _, v := range got.Float {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("non-finite output %v", got.Float)
				}
			}
			got2 := runORT(t, res.Model, "input", doubled(in))
			if relErr(got2.Float, append(append([]float32{}, got.Float...), got.Float...)) > 1e-6 {
				t.Error("batch of two copies gives different outputs")
			}
		})
	}
}

// checkEngineCanBuild fails the test naming every op the engine lacks.
func checkEngineCanBuild(t *testing.T, m *onnx.Model, what string) {
	t.Helper()
	if err := ops.CheckModel(m); err != nil {
		t.Fatalf("the engine cannot run the %s: %v", what, err)
	}
}

// TestEngineRewriteLosesNothing: with T = 1, KeepFloat "all" and Relu kept
// the converted graph reproduces the source ANN's output within 1e-4, both
// run by the engine (ops.NewBuilder + Compile(nil)); T = 4 too.
func TestEngineRewriteLosesNothing(t *testing.T) {
	for _, f := range exactFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			if testing.Short() && f.Arch == "resnet20" {
				t.Skip("short")
			}
			src := decode(t, f.model())
			in, pt := fixtureIO(t, f)
			checkEngineCanBuild(t, src, "source ANN")
			want := runEngine(t, src, "input", in)
			if e := relErr(want, pt.Floats()); e > 1e-4 {
				t.Errorf("engine vs PyTorch on the source: rel err %.3g", e)
			}
			for _, T := range []int{1, 4} {
				res := mustConvert(t, src, allFloat(T))
				checkEngineCanBuild(t, res.Model, "converted model")
				got := runEngine(t, res.Model, "input", in)
				if e := relErr(got, want); e > 1e-4 {
					t.Errorf("T=%d: converted vs source rel err %.3g", T, e)
				}
			}
		})
	}
}

// TestEngineBinaryExact: the engine runs the binary layers (BipolarQuant)
// of a sign-structured network exactly like the source.
func TestEngineBinaryExact(t *testing.T) {
	for _, f := range exactFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			if testing.Short() && f.Arch == "resnet20" {
				t.Skip("short")
			}
			src := signStructured(t, decode(t, f.model()))
			in, _ := fixtureIO(t, f)
			checkEngineCanBuild(t, src, "source ANN")
			want := runEngine(t, src, "input", in)
			res := mustConvert(t, src, Options{TimeSteps: 1, ReLUAsReLU: true})
			checkEngineCanBuild(t, res.Model, "converted model")
			got := runEngine(t, res.Model, "input", in)
			if e := relErr(got, want); e > 1e-4 {
				t.Errorf("binary layers: rel err %.3g", e)
			}
		})
	}
}

// TestEngineMatchesORT runs the default BSNN in the engine and in
// onnxruntime (function bodies) and compares them.
func TestEngineMatchesORT(t *testing.T) {
	interop.NeedORT(t)
	for _, f := range exactFixtures(t) {
		if !strings.HasSuffix(f.Name, "_dynamic") {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			res := mustConvert(t, decode(t, f.model()), DefaultOptions())
			in, _ := fixtureIO(t, f)
			checkEngineCanBuild(t, res.Model, "BSNN")
			got := runEngine(t, res.Model, "input", in)
			want := runORT(t, res.Model, "input", in)
			if e := relErr(got, want.Float); e > 1e-4 {
				t.Errorf("engine vs onnxruntime: rel err %.3g", e)
			}
		})
	}
}

// TestEngineSupportsConvertedGraphs: the engine's registry accepts every
// node of every converted fixture (default options and all-float), so
// `bsnnctl run` and the trainer can load them; a failure names the ops the
// engine lacks.
func TestEngineSupportsConvertedGraphs(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			skipLargeInShort(t, f)
			src := decode(t, f.model())
			checkEngineCanBuild(t, mustConvert(t, src, DefaultOptions()).Model, "BSNN")
			checkEngineCanBuild(t, mustConvert(t, src, allFloat(2)).Model, "all-float conversion")
		})
	}
}
