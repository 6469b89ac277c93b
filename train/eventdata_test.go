package train

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// eventBSNN converts testmodels/events/dvsnet.onnx (a float CNN for one
// 2x34x34 frame, not trained) into an event-input BSNN of T steps with
// AGMM gates (import --input events).
func eventBSNN(t testing.TB, T int) *onnx.Model {
	t.Helper()
	src, err := onnx.DecodeFile(filepath.Join("..", "testmodels", "events", "dvsnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	o := convert.DefaultOptions()
	o.TimeSteps, o.InputEncoding = T, bsnn.EncodingEvents
	res, err := convert.Convert(src, o)
	if err != nil {
		t.Fatal(err)
	}
	return res.Model
}

// syntheticNMNIST writes an N-MNIST folder in the real layout and format
// (train/data/eventtest) whose class is in where the events are: train
// and test files per digit.
func syntheticNMNIST(t testing.TB, train, test int) string {
	t.Helper()
	dir := t.TempDir()
	if err := eventtest.WriteNMNIST(dir, eventtest.NMNISTConfig{Train: train, Test: test, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// eventConfig fine-tunes the event BSNN (T = 4) on a synthetic N-MNIST of
// 160 training samples (10 steps of 16 per epoch) and 50 test samples,
// with random rolls of 2 pixels (no flips: a mirrored sample is another
// class of this data set, whose classes are places).
func eventConfig(t testing.TB, dataDir string) Config {
	return Config{ModelProto: eventBSNN(t, 4), Data: "nmnist:" + dataDir, Out: filepath.Join(t.TempDir(), "run"),
		Epochs: 4, Batch: 16, EvalBatch: 20, Optimizer: Adam, LR: 3e-3, Seed: 2, LogEvery: 1, CheckpointEvery: 4,
		AugRoll: 2, NoPlots: true}
}

// TestEventFinetune fine-tunes an event-input BSNN on event frames read
// from N-MNIST files: time-major batches [4, 16, 2, 34, 34] binned from the
// events, one frame per time step. The untrained model is at chance (10%)
// and 40 steps bring the test accuracy far above it; the packed engine
// evaluates the result exactly as the float engine does.
func TestEventFinetune(t *testing.T) {
	dataDir := syntheticNMNIST(t, 16, 5)
	cfg := eventConfig(t, dataDir)
	spec, err := data.ParseSpec(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	test, err := OpenEvents(cfg.ModelProto, spec, data.Test, data.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if test.T != 4 || test.H != 34 || test.W != 34 || test.N != 50 {
		t.Fatalf("test frames: %d samples of %d x %dx%d", test.N, test.T, test.H, test.W)
	}
	before, err := EvaluateEvents(cfg.ModelProto, test, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %.3f before, %v after the epochs (%d steps, %.1f s)", before.Accuracy, sum.TestAcc, sum.Steps, sum.Seconds)
	if before.Accuracy > 0.3 {
		t.Errorf("the untrained model already has %.2f test accuracy: the test proves nothing", before.Accuracy)
	}
	if sum.Steps != 40 || sum.Final == nil || sum.Final.Accuracy < 0.6 || sum.BestAcc < 0.6 {
		t.Fatalf("after %d steps: final %+v, best %.2f; want at least 0.6 (chance is 0.1)", sum.Steps, sum.Final, sum.BestAcc)
	}
	if sum.Final.T != 4 || len(sum.Final.LIF) != 4 || sum.Final.FiringRate <= 0 {
		t.Errorf("final evaluation: T %d, %d LIF layers, firing rate %v", sum.Final.T, len(sum.Final.LIF), sum.Final.FiringRate)
	}
	checkRunDir(t, cfg.Out)

	final, err := onnx.DecodeFile(sum.FinalModel)
	if err != nil {
		t.Fatal(err)
	}
	if enc := final.Metadata()[bsnn.MetaInputEncoding]; enc != "events" {
		t.Errorf("final.onnx: %s = %q", bsnn.MetaInputEncoding, enc)
	}
	float, err := EvaluateEvents(final, test, EvalOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	packed, err := EvaluateEvents(final, test, EvalOptions{Batch: 16, Engine: "packed"})
	if err != nil {
		t.Fatal(err)
	}
	if float.Accuracy != sum.Final.Accuracy {
		t.Errorf("final.onnx: accuracy %v, the run's final evaluation %v", float.Accuracy, sum.Final.Accuracy)
	}
	samePackedEval(t, float, packed)
}

// samePackedEval checks that the packed engine's evaluation is the float
// engine's: the same predictions and spike counts (for a gated model a
// gate may move a membrane by a rounding error, docs/inference.md; these
// agree), losses within float32 rounding.
func samePackedEval(t *testing.T, float, packed EvalResult) {
	t.Helper()
	if packed.Accuracy != float.Accuracy || packed.FiringRate != float.FiringRate || packed.SOPs != float.SOPs {
		t.Errorf("packed engine: accuracy %v, firing rate %v, SOPs %v; float engine %v, %v, %v",
			packed.Accuracy, packed.FiringRate, packed.SOPs, float.Accuracy, float.FiringRate, float.SOPs)
	}
	if d := math.Abs(packed.Loss - float.Loss); d > 1e-5*math.Max(1, float.Loss) {
		t.Errorf("packed engine: loss %v, float engine %v", packed.Loss, float.Loss)
	}
}

// TestEventResume: an event-input run SIGKILLed mid-epoch and resumed ends
// with the uninterrupted run's metrics and byte-identical final.onnx and
// best.onnx at two threads (GOMAXPROCS=2), the event augmentation included.
func TestEventResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a helper process")
	}
	tmp := t.TempDir()
	cfg := eventConfig(t, syntheticNMNIST(t, 16, 5))
	cfg.Model = filepath.Join(tmp, "bsnn.onnx")
	if err := onnx.EncodeFile(cfg.Model, cfg.ModelProto); err != nil {
		t.Fatal(err)
	}
	cfg.ModelProto, cfg.Epochs, cfg.CheckpointEvery, cfg.KeepCheckpoints, cfg.AugFlip = nil, 2, 3, 2, true
	// 10 steps per epoch: the checkpoint of step 12 is mid-epoch 2.
	testResume(t, 2, cfg, tmp, 12)
}

// TestEventDataParallel: two ranks train the event run one process trains
// (each rank gets its slice [T, 8, 2, 34, 34] of every batch, along N).
func TestEventDataParallel(t *testing.T) {
	cfg := eventConfig(t, syntheticNMNIST(t, 16, 5))
	cfg.Epochs = 1
	one := cfg
	one.Out += "-one"
	if _, err := Run(context.Background(), one, nil); err != nil {
		t.Fatal(err)
	}
	for r, run := range runRanks(t, cfg, 2, ownDirs, nil) {
		if run.err != nil {
			t.Fatalf("rank %d: %v", r, run.err)
		}
	}
	compareRuns(t, cfg.Out+"-rank0", one.Out, cfg)
}

// TestEventDataErrors: a data set the model cannot read, and settings that
// do not apply to it, are one error naming both.
func TestEventDataErrors(t *testing.T) {
	nmnist := syntheticNMNIST(t, 2, 1)
	cifar := t.TempDir()
	writeCIFAR10(t, cifar, 20, 10, 1)
	events := eventBSNN(t, 4)
	direct := fixtureBSNN(t, "lenet_op13_keepbn_dynamic", 4)
	base := Config{Batch: 4, Epochs: 1, NoPlots: true}
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"event data, direct model", func(c *Config) { c.ModelProto, c.Data = direct, "nmnist:"+nmnist },
			"nmnist is an event data set, but the model reads images (input \"input\" [N, 1, 28, 28]): convert the ANN with `bsnnctl import --input events`"},
		{"image data, event model", func(c *Config) { c.ModelProto, c.Data = events, "cifar10:"+cifar },
			`the model reads event frames (input "input" [T=4, N, 2, 34, 34], bsnn.input_encoding "events"), but cifar10 is an image data set`},
		{"crop padding", func(c *Config) { c.ModelProto, c.Data, c.AugPad = events, "nmnist:"+nmnist, 2 },
			"random crops apply to images; event frames are shifted with the roll augmentation"},
		{"frame size", func(c *Config) {
			c.ModelProto, c.Data, c.FrameSize = events, "nmnist:"+nmnist, data.FrameSize{H: 17, W: 17}
		}, `frame size 17x17, but the model's input "input" takes 34x34 frames`},
		{"roll on images", func(c *Config) { c.ModelProto, c.Data, c.AugRoll = direct, "cifar10:"+cifar, 3 },
			"apply to event data sets; cifar10 is an image data set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			cfg.Out = filepath.Join(t.TempDir(), "run")
			c.edit(&cfg)
			_, err := Run(context.Background(), cfg, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant an error containing %s", err, c.want)
			}
		})
	}
	spec := data.Spec{Kind: data.NMNIST, Dir: nmnist}
	if _, err := OpenEvents(events, spec, data.Test, data.EventOptions{T: 8}); err == nil || !strings.Contains(err.Error(), "8 frames per sample, but the model runs T=4") {
		t.Errorf("OpenEvents with T 8: %v", err)
	}
	ds, err := OpenEvents(eventBSNN(t, 2), spec, data.Test, data.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EvaluateEvents(events, ds, EvalOptions{}); err == nil || !strings.Contains(err.Error(), `the nmnist frames are 2 x [2, 34, 34] per sample, but the model's input "input" takes 4 x [2, 34, 34]`) {
		t.Errorf("EvaluateEvents with 2 frames for a T=4 model: %v", err)
	}
	if _, err := Evaluate(events, mustOpen(t, "cifar10:"+cifar), EvalOptions{}); err == nil || !strings.Contains(err.Error(), "but cifar10 is an image data set") {
		t.Errorf("Evaluate of an event model on images: %v", err)
	}
}

func mustOpen(t *testing.T, spec string) *data.Dataset {
	t.Helper()
	s, err := data.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.Open(s, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
