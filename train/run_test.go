package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// decodeLines parses metrics.jsonl into generic maps.
func decodeLines(t testing.TB, dir string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range readLines(t, filepath.Join(dir, MetricsFile)) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestRunCIFAR10 trains the BSNN converted from the MLP fixture for a few
// steps on CIFAR-10 binary files written here, and checks RUNDIR.
func TestRunCIFAR10(t *testing.T) {
	m := fixtureBSNN(t, "mlp_op13_keepbn_dynamic", 4)
	dataDir, out := t.TempDir(), t.TempDir()
	writeCIFAR10(t, dataDir, 100, 30, 1)
	sum, err := Run(context.Background(), Config{ModelProto: m, Data: "cifar10:" + dataDir, Out: out, Epochs: 2,
		Batch: 16, EvalBatch: 8, Optimizer: SGD, LR: 0.05, WeightDecay: 1e-4, WarmupSteps: 2, LogEvery: 2,
		CheckpointEvery: 4, KeepCheckpoints: 2, AugPad: 2, AugFlip: true, LabelSmoothing: 0.1, ClipNorm: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != 12 || sum.StepsPerEpoch != 6 || sum.DroppedPerEpoch != 4 || len(sum.TestAcc) != 2 || sum.AGMMGates != 1 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Final == nil || sum.Final.Samples != 30 || sum.Final.Remainder != 6 {
		t.Errorf("final evaluation %+v", sum.Final)
	}
	lines := decodeLines(t, out)
	var steps, epochs int
	for _, l := range lines {
		for _, k := range []string{"epoch", "step", "loss", "train_acc", "flip_rate", "firing_rate", "lr", "step_time_s"} {
			if _, ok := l[k]; !ok {
				t.Errorf("%s line lacks %q: %v", l["kind"], k, l)
			}
		}
		switch l["kind"] {
		case "step":
			steps++
		case "epoch":
			epochs++
			for _, k := range []string{"test_acc", "net_flip_fraction", "energy_pj", "sops", "layers", "lif", "agmm", "costs"} {
				if _, ok := l[k]; !ok {
					t.Errorf("epoch line lacks %q", k)
				}
			}
		}
	}
	// Step lines at steps 1, 2, 4, ..., 12.
	if steps != 7 || epochs != 2 {
		t.Errorf("%d step and %d epoch lines, want 7 and 2", steps, epochs)
	}
	// Warm-up: lr of step 1 is lr/2.
	if lr := lines[0]["lr"].(float64); math.Abs(lr-0.025) > 1e-12 {
		t.Errorf("first lr %v, want 0.025", lr)
	}
	// Kept: the last 2 checkpoints (steps 8 and 12), best, final.
	for _, f := range []string{"ckpt-00000008.onnx", "ckpt-00000012.json", BestFile, FinalFile, "plots/accuracy.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "ckpt-00000004.onnx")); err == nil {
		t.Error("checkpoint 4 was not pruned")
	}
	checkRunDir(t, out)
	fm, err := onnx.DecodeFile(filepath.Join(out, FinalFile))
	if err != nil {
		t.Fatal(err)
	}
	st, err := DecodeTrainState(fm)
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind != SGD || st.Step != 12 || fm.Metadata()[bsnn.MetaProfile] != ProfileTrain {
		t.Errorf("final.onnx state %s step %d profile %q", st.Kind, st.Step, fm.Metadata()[bsnn.MetaProfile])
	}
}

// TestRunFolder trains the BSNN converted from the LeNet fixture on an
// image folder (PNG) with the ce loss and agmm off.
func TestRunFolder(t *testing.T) {
	m := fixtureBSNN(t, "lenet_op13_keepbn_dynamic", 2)
	dataDir, out := t.TempDir(), t.TempDir()
	writeFolder(t, dataDir, 3, 8, 4, 5)
	sum, err := Run(context.Background(), Config{ModelProto: m, Data: "folder:" + dataDir, Out: out, Epochs: 1,
		Batch: 8, Optimizer: AdamW, LR: 1e-3, WeightDecay: 0.01, Loss: LossCE, AGMM: "off", LogEvery: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != 3 || sum.AGMMGates != 0 || sum.Final.Samples != 12 {
		t.Errorf("summary %+v, final %+v", sum, sum.Final)
	}
	fm, err := onnx.DecodeFile(filepath.Join(out, FinalFile))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := fm.Graph()
	if n := g.OpCounts()[bsnn.DomainSNN+"::AGMMGate"]; n != 0 {
		t.Errorf("final.onnx of an agmm-off run has %d AGMMGate nodes", n)
	}
	if !strings.Contains(fm.Metadata()[bsnn.MetaAGMM], `"enabled":false`) {
		t.Errorf("bsnn.agmm = %s", fm.Metadata()[bsnn.MetaAGMM])
	}
	checkRunDir(t, out)
}

// TestLossDecreasesOnRepeatedBatch trains on one small batch over and over:
// the loss must fall well below its start, with AGMM on and off.
func TestLossDecreasesOnRepeatedBatch(t *testing.T) {
	for _, agmm := range []string{"on", "off"} {
		t.Run("agmm_"+agmm, func(t *testing.T) {
			m := fixtureBSNN(t, "mlp_op13_keepbn_dynamic", 4)
			if agmm == "off" {
				if _, err := bypassAGMM(m); err != nil {
					t.Fatal(err)
				}
			}
			dataDir := t.TempDir()
			writeCIFAR10(t, dataDir, 16, 10, 3)
			ds, err := data.Open(data.Spec{Kind: data.CIFAR10, Dir: dataDir}, data.Train)
			if err != nil {
				t.Fatal(err)
			}
			ni, err := analyze(m)
			if err != nil {
				t.Fatal(err)
			}
			tf, err := makeTransform(ds, ni, nil, data.FitResize)
			if err != nil {
				t.Fatal(err)
			}
			ld, err := data.NewLoader(ds, tf, data.LoaderConfig{BatchSize: 16})
			if err != nil {
				t.Fatal(err)
			}
			bt, err := ld.BatchAt(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Batch: 16, Optimizer: Adam, LR: 3e-3}.Defaults()
			tp, err := compileTrain(m, ni, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			opt := NewOptimizer(cfg, tp.params, func(n string) bool { return ni.Weights[n] })
			var losses []float64
			for i := 0; i < 60; i++ {
				if err := tp.run(ni.Input, bt.X, bt.Y); err != nil {
					t.Fatal(err)
				}
				losses = append(losses, tp.loss.loss)
				if err := opt.Step(cfg.LR, tp.grads); err != nil {
					t.Fatal(err)
				}
			}
			first, last := losses[0], losses[len(losses)-1]
			t.Logf("loss %.4f -> %.4f, accuracy %d/16", first, last, tp.loss.correct)
			if !(last < 0.5*first) {
				t.Errorf("loss %v -> %v: did not halve", first, last)
			}
		})
	}
}

// TestEvaluateRemainderAndFiring evaluates 50 images in batches of 16 (a
// program for the last 2 images) and compares with one batch of 50; the
// binary layer's input firing rate equals the firing rate of the LIF layer
// feeding its AGMM gate.
func TestEvaluateRemainderAndFiring(t *testing.T) {
	m := fixtureBSNN(t, "mlp_op13_keepbn_dynamic", 4)
	dataDir := t.TempDir()
	writeCIFAR10(t, dataDir, 10, 50, 4)
	ds, err := data.Open(data.Spec{Kind: data.CIFAR10, Dir: dataDir}, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Evaluate(m, ds, EvalOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(m, ds, EvalOptions{Batch: 50})
	if err != nil {
		t.Fatal(err)
	}
	if a.Samples != 50 || a.Remainder != 2 || b.Remainder != 0 {
		t.Fatalf("samples %d remainder %d / %d", a.Samples, a.Remainder, b.Remainder)
	}
	if a.Accuracy != b.Accuracy || math.Abs(a.Loss-b.Loss) > 1e-6 || math.Abs(a.FiringRate-b.FiringRate) > 1e-9 {
		t.Errorf("batch 16: acc %v loss %v fr %v; batch 50: acc %v loss %v fr %v",
			a.Accuracy, a.Loss, a.FiringRate, b.Accuracy, b.Loss, b.FiringRate)
	}
	if a.LossTET == nil || len(a.LIF) != 2 || len(a.AGMM) != 1 || len(a.Layers) != 3 {
		t.Fatalf("result %+v", a)
	}
	// fc1 float (784x64 per step), fc2 binary (64x32), fc3 float (32x10).
	want := []struct {
		binary bool
		macs   float64
	}{{false, 784 * 64}, {true, 64 * 32}, {false, 32 * 10}}
	for i, l := range a.Layers {
		if l.Binary != want[i].binary || l.MACsPerStep != want[i].macs || l.Steps != 4 {
			t.Errorf("layer %d: %+v, want binary %v, %v MACs per step, 4 steps", i, l, want[i].binary, want[i].macs)
		}
	}
	bin := a.Layers[1]
	if math.Abs(bin.FrIn-a.LIF[0].Rate) > 1e-9 {
		t.Errorf("fr_in of %s = %v, firing rate of %s = %v", bin.Name, bin.FrIn, a.LIF[0].Node, a.LIF[0].Rate)
	}
	wantE := 4.6*4*(784*64+32*10) + 0.9*4*bin.FrIn*64*32
	if math.Abs(a.EnergyPJ-wantE) > 1e-6*wantE || math.Abs(a.SOPs-4*bin.FrIn*64*32) > 1e-6 {
		t.Errorf("energy %v pJ SOPs %v, want %v pJ", a.EnergyPJ, a.SOPs, wantE)
	}
	js, err := json.Marshal(a)
	if err != nil || !json.Valid(js) {
		t.Fatalf("EvalResult JSON: %v", err)
	}
}

// TestCheckpointRoundTrip encodes optimizer states of each kind into a
// train-profile file, decodes it and compares; the Python onnx checker and
// onnxruntime must accept the file.
func TestCheckpointRoundTrip(t *testing.T) {
	for _, kind := range []string{SGD, Adam, AdamW} {
		t.Run(kind, func(t *testing.T) {
			cfg := Config{Batch: 4, Optimizer: kind, WeightDecay: 0.01, Nesterov: kind == SGD}.Defaults()
			m, ni, tp, opt := mlpTrainer(t, cfg)
			x := make([]float32, 4*784)
			for i := range x {
				x[i] = float32(i%13) / 13
			}
			for s := 0; s < 3; s++ {
				if err := tp.run(ni.Input, x, []int{1, 2, 3, 4}); err != nil {
					t.Fatal(err)
				}
				if err := opt.Step(0.01*float64(s+1), tp.grads); err != nil {
					t.Fatal(err)
				}
			}
			mm := m.Clone()
			if err := tp.b.WriteBack(mm); err != nil {
				t.Fatal(err)
			}
			if err := EncodeTrainState(mm, opt.State()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "train.onnx")
			if err := onnx.EncodeFile(path, mm); err != nil {
				t.Fatal(err)
			}
			back, err := onnx.DecodeFile(path)
			if err != nil {
				t.Fatal(err)
			}
			st, err := DecodeTrainState(back)
			if err != nil {
				t.Fatal(err)
			}
			want := opt.State()
			if st.Kind != kind || st.Step != 3 || float32(st.CurLR) != float32(0.03) || st.Nesterov != want.Nesterov ||
				float32(st.Momentum) != float32(want.Momentum) || float32(st.Beta2) != float32(want.Beta2) ||
				float32(st.WeightDecay) != float32(want.WeightDecay) || len(st.Params) != len(want.Params) {
				t.Fatalf("decoded %+v", st)
			}
			for i, p := range want.Params {
				q := st.Params[i]
				if q.Name != p.Name || q.Decay != p.Decay || len(q.Slots) != len(p.Slots) {
					t.Fatalf("param %d: %s decay %v %d slots, want %s %v %d", i, q.Name, q.Decay, len(q.Slots), p.Name, p.Decay, len(p.Slots))
				}
				for k := range p.Slots {
					for j := range p.Slots[k] {
						if q.Slots[k][j] != p.Slots[k][j] {
							t.Fatalf("%s slot %d [%d] = %v, want %v", p.Name, k, j, q.Slots[k][j], p.Slots[k][j])
						}
					}
				}
			}
			// The weights are the trained ones.
			for _, p := range tp.params {
				w, err := back.Initializer(p.Name)
				if err != nil {
					t.Fatal(err)
				}
				for j, v := range p.Data() {
					if w.Floats()[j] != v {
						t.Fatalf("%s[%d] = %v in the file, %v trained", p.Name, j, w.Floats()[j], v)
					}
				}
			}
			// A fresh optimizer loads the decoded state.
			opt2 := NewOptimizer(cfg, tp.params, func(n string) bool { return ni.Weights[n] })
			if err := opt2.Load(st); err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeTrainState(m); !errors.Is(err, ErrNoTrainState) {
				t.Errorf("portable model: %v, want ErrNoTrainState", err)
			}
			if kind != Adam {
				return
			}
			if err := interop.PythonONNXAvailable(); err == nil || interop.Required() {
				interop.NeedPythonONNX(t)
				if err := interop.CheckModel(path); err != nil {
					t.Errorf("onnx checker rejects the train-profile file: %v", err)
				}
			}
			interop.NeedORT(t)
			x1 := make([]float32, 784)
			outs, err := interop.RunORT(path, map[string]interop.Tensor{"input": {Shape: []int64{1, 1, 28, 28}, Float: x1}}, []string{"output"})
			if err != nil {
				t.Fatalf("onnxruntime on the train-profile file: %v", err)
			}
			if len(outs["output"].Float) != 10 {
				t.Errorf("onnxruntime output %v", outs["output"])
			}
		})
	}
}

// TestNaNStops: a NaN injected after step 3 stops the run at step 4 with a
// message naming the step and the culprit; the checkpoint of step 2 stays
// and no final.onnx is written. A NaN in a first-layer weight stops at the
// LIF neurons (NaN >= threshold is false) so the loss stays finite and the
// gradient names the weight; a NaN in the last layer's bias makes the loss
// NaN.
func TestNaNStops(t *testing.T) {
	for _, c := range []struct {
		param string
		value float32
		want  []string
	}{
		{"fc1.weight", float32(math.NaN()), []string{"step 4 (epoch 1, batch 4)", `parameter "fc1.weight" (layer fc1) holds non-finite values (loss 2.3`}},
		{"fc3.bias", float32(math.NaN()), []string{"step 4 (epoch 1, batch 4)", `the loss is NaN; parameter "fc3.bias" holds non-finite values`}},
		// Finite weights whose products overflow: the gradient names the
		// parameter nearest the output.
		{"fc3.weight", 3e38, []string{"step 4 (epoch 1, batch 4)", "the loss is NaN", `the gradient of "fc3.bias" is not finite`}},
	} {
		t.Run(c.param, func(t *testing.T) {
			m := fixtureBSNN(t, "mlp_op13_keepbn_dynamic", 2)
			dataDir, out := t.TempDir(), t.TempDir()
			writeCIFAR10(t, dataDir, 64, 10, 6)
			cfg := Config{ModelProto: m, Data: "cifar10:" + dataDir, Out: out, Epochs: 2, Batch: 8, CheckpointEvery: 2, LogEvery: 1}
			_, err := runWithHook(cfg, func(step int, tp *trainProgram) {
				if step == 3 {
					for i := range tp.b.Param(c.param).Data() {
						tp.b.Param(c.param).Data()[i] = c.value
					}
				}
			})
			if err == nil {
				t.Fatal("the run did not stop")
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if _, err := os.Stat(filepath.Join(out, FinalFile)); err == nil {
				t.Error("final.onnx written after a NaN")
			}
			ck, ls, ok, err := loadCheckpoint(out)
			if err != nil || !ok || ls.GlobalStep != 2 {
				t.Fatalf("last good checkpoint: ok %v err %v state %+v", ok, err, ls)
			}
			w, _ := ck.Initializer(c.param)
			for _, v := range w.Floats() {
				if math.IsNaN(float64(v)) || v == c.value {
					t.Fatal("the kept checkpoint holds the injected value")
				}
			}
			checkRunDir(t, out)
		})
	}
}

// TestTimeStepsMismatch: a T other than the model's is refused.
func TestTimeStepsMismatch(t *testing.T) {
	m := fixtureBSNN(t, "mlp_op13_keepbn_dynamic", 4)
	dataDir := t.TempDir()
	writeCIFAR10(t, dataDir, 16, 4, 1)
	_, err := Run(context.Background(), Config{ModelProto: m, Data: "cifar10:" + dataDir, Out: t.TempDir(), TimeSteps: 2, Batch: 8}, nil)
	if err == nil || !strings.Contains(err.Error(), "T=4") || !strings.Contains(err.Error(), "re-convert") {
		t.Fatalf("error %v", err)
	}
}

// TestAGMMBypass removes the gates of the ResNet-20 BSNN: no gate remains,
// every former gate consumer reads the gate's input, the alpha tensors and
// the AGMMGate function are gone, and the model still compiles.
func TestAGMMBypass(t *testing.T) {
	m := fixtureBSNN(t, "resnet20_op13_folded_dynamic", 4)
	g, _ := m.Graph()
	gateIn := map[string]string{}
	for _, n := range g.Nodes {
		if n.OpType == "AGMMGate" {
			gateIn[n.Outputs[0]] = n.Inputs[0]
		}
	}
	removed, err := bypassAGMM(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != len(gateIn) || len(removed) != 20 {
		t.Fatalf("removed %d gates, the model had %d (want 20: 18 block convs + 2 shortcuts)", len(removed), len(gateIn))
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	g2, _ := m.Graph()
	for _, n := range g2.Nodes {
		if n.OpType == "AGMMGate" {
			t.Fatalf("gate %s left", n.Label())
		}
		for _, in := range n.Inputs {
			if _, was := gateIn[in]; was {
				t.Fatalf("node %s still reads gate output %s", n.Label(), in)
			}
		}
	}
	for _, ini := range m.Proto.Graph.Initializer {
		if strings.HasSuffix(ini.GetName(), "agmm_alpha") {
			t.Errorf("alpha %s left", ini.GetName())
		}
	}
	for _, f := range m.Proto.Functions {
		if f.GetName() == "AGMMGate" {
			t.Error("AGMMGate function left")
		}
	}
	ni, err := analyze(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileEval(m, ni, 2, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPlotCompare renders the plots of a run overlaid with a second run.
func TestPlotCompare(t *testing.T) {
	m := fixtureBSNN(t, "mlp_op13_keepbn_dynamic", 2)
	dataDir := t.TempDir()
	writeCIFAR10(t, dataDir, 48, 16, 8)
	var dirs []string
	for _, agmm := range []string{"on", "off"} {
		out := filepath.Join(t.TempDir(), "agmm_"+agmm)
		if _, err := Run(context.Background(), Config{ModelProto: m, Data: "cifar10:" + dataDir, Out: out, Epochs: 2,
			Batch: 8, AGMM: agmm, LogEvery: 1, NoPlots: true}, nil); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, out)
	}
	if err := Plot(dirs[0], dirs[1]); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"loss.png", "accuracy.png", "flip_rate.png", "flip_rate_layers.png", "firing_rate.png", "agmm_alpha.png"} {
		b, err := os.ReadFile(filepath.Join(dirs[0], PlotsDir, "compare", f))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if img.Bounds().Dx() < 100 {
			t.Errorf("%s is %v", f, img.Bounds())
		}
	}
	checkRunDir(t, filepath.Join(dirs[0], PlotsDir, "compare"))
}

// TestInitialTrainState: a portable model exported to the train profile
// with a fresh state decodes to zero moments for every parameter the
// trainer would update, and finetune continues from it.
func TestInitialTrainState(t *testing.T) {
	m := fixtureBSNN(t, "lenet_op13_keepbn_dynamic", 2)
	st, err := InitialTrainState(m, Config{Optimizer: Adam, WeightDecay: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]ParamState{}
	for _, p := range st.Params {
		names[p.Name] = p
		if len(p.Slots) != 2 {
			t.Fatalf("%s has %d slots", p.Name, len(p.Slots))
		}
	}
	for _, want := range []struct {
		name  string
		decay bool
	}{{"conv2.weight_latent", true}, {"conv2.agmm_alpha", false}, {"conv2.bn.weight", false}} {
		p, ok := names[want.name]
		if !ok {
			t.Errorf("no state for %s (have %d tensors)", want.name, len(names))
			continue
		}
		if p.Decay != want.decay {
			t.Errorf("%s decay %v, want %v", want.name, p.Decay, want.decay)
		}
	}
	if p, ok := names["conv1.weight"]; !ok || !p.Decay {
		t.Errorf("float first-layer weight conv1.weight: state %v, decay %v (want decay)", ok, p.Decay)
	}
	for n, p := range names {
		if strings.HasSuffix(n, ".bias") && p.Decay {
			t.Errorf("bias %s is decayed", n)
		}
	}
	for n := range names {
		if strings.HasSuffix(n, "running_mean") || strings.HasSuffix(n, "running_var") || strings.HasSuffix(n, "weight_scale") {
			t.Errorf("state for non-trainable %s", n)
		}
	}
	if err := EncodeTrainState(m, st); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "train.onnx")
	if err := onnx.EncodeFile(path, m); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	writeCIFAR10(t, dataDir, 32, 8, 2)
	sum, err := Run(context.Background(), Config{Model: path, Data: "cifar10:" + dataDir, Out: t.TempDir(), Epochs: 1,
		Batch: 8, Optimizer: Adam, NoPlots: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fm, err := onnx.DecodeFile(sum.FinalModel)
	if err != nil {
		t.Fatal(err)
	}
	fst, err := DecodeTrainState(fm)
	if err != nil || fst.Step != 4 {
		t.Fatalf("final state step %v err %v, want 4 updates", fst, err)
	}
}
