package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// The resume test runs training in a helper process (this test binary
// re-executed with helperEnv set to the run's JSON config), SIGKILLs it
// mid-epoch, resumes in-process and compares with an uninterrupted run.
const (
	helperEnv     = "BSNNCTL_TRAIN_HELPER_CONFIG"
	helperSlowEnv = "BSNNCTL_TRAIN_HELPER_STEP_DELAY"
)

// TestTrainHelperProcess is not a test: it is the helper process's entry.
func TestTrainHelperProcess(t *testing.T) {
	js := os.Getenv(helperEnv)
	if js == "" {
		t.Skip("helper process entry point (runs only under TestResume)")
	}
	var cfg Config
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var hook func(int, *trainProgram)
	if d, err := time.ParseDuration(os.Getenv(helperSlowEnv)); err == nil {
		hook = func(int, *trainProgram) { time.Sleep(d) }
	}
	if _, err := runWithHook(cfg, hook); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestResume: an uninterrupted run and a run SIGKILLed mid-epoch then
// resumed (same seed) end with the same metrics.jsonl (every key but the
// timings) and byte-identical final.onnx and best.onnx, bitwise, at two
// threads (GOMAXPROCS=2): every kernel splits its work over the threads in
// a fixed way and sums partial results in a fixed order.
func TestResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a helper process")
	}
	tmp := t.TempDir()
	// The LeNet BSNN: float conv, binary conv and linear layers, pooling,
	// BN, LIF and AGMM gates; its convolutions use the parallel kernels.
	m := fixtureBSNN(t, "lenet_op13_keepbn_dynamic", 4)
	modelPath := filepath.Join(tmp, "bsnn.onnx")
	if err := onnx.EncodeFile(modelPath, m); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(tmp, "cifar")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeCIFAR10(t, dataDir, 200, 40, 9)
	// 12 steps per epoch; the checkpoint of step 15 is mid-epoch 2.
	base := Config{Model: modelPath, Data: "cifar10:" + dataDir, Epochs: 3, Batch: 16, EvalBatch: 16,
		Optimizer: SGD, LR: 0.05, WeightDecay: 5e-4, WarmupSteps: 3, AugPad: 2, AugFlip: true,
		LabelSmoothing: 0.05, ClipNorm: 10, Seed: 7, LogEvery: 1, CheckpointEvery: 5, KeepCheckpoints: 2,
		NoPlots: true}
	testResume(t, 2, base, filepath.Join(tmp, "runs"), 15)
}

// testResume runs base (Out is set) uninterrupted, and in a helper process
// SIGKILLed after its checkpoint of step killAfter (which must be
// mid-epoch), then resumed in-process; it compares the two runs' metrics
// lines (without timings) and their final.onnx and best.onnx bytes. The
// runs go under tmp, at GOMAXPROCS threads.
func testResume(t *testing.T, threads int, base Config, tmp string, killAfter int) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))

	// Uninterrupted.
	ref := base
	ref.Out = filepath.Join(tmp, "uninterrupted")
	if _, err := Run(context.Background(), ref, nil); err != nil {
		t.Fatal(err)
	}

	// Killed mid-epoch, then resumed.
	killed := base
	killed.Out = filepath.Join(tmp, "killed")
	js, err := json.Marshal(killed)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTrainHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(js), helperSlowEnv+"=40ms", fmt.Sprintf("GOMAXPROCS=%d", threads))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(killed.Out, checkpointBase(killAfter)+".json")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(want); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no checkpoint at step %d after 2 minutes; helper stderr: %s", killAfter, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let it run into the next steps
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the helper was not killed (it finished: %v); stderr: %s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(killed.Out, FinalFile)); err == nil {
		t.Fatal("the helper finished before the kill")
	}
	// Whatever the kill interrupted, the files under their final names are whole.
	ents, _ := os.ReadDir(killed.Out)
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".onnx" && e.Name()[0] != '.' {
			if _, err := onnx.DecodeFile(filepath.Join(killed.Out, e.Name())); err != nil {
				t.Errorf("after the kill, %s does not decode: %v", e.Name(), err)
			}
		}
	}
	_, ls, ok, err := loadCheckpoint(killed.Out)
	if err != nil || !ok {
		t.Fatalf("no checkpoint to resume from: %v", err)
	}
	t.Logf("killed after the checkpoint of step %d (epoch %d, batch %d)", ls.GlobalStep, ls.Epoch+1, ls.Batch)
	if ls.Batch == 0 {
		t.Fatalf("the newest checkpoint (step %d) is at an epoch boundary, not mid-epoch", ls.GlobalStep)
	}

	resumed := base
	resumed.Out = killed.Out
	resumed.Resume = true
	resumed.Model = "" // the checkpoint holds the model
	sum, err := Run(context.Background(), resumed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Resumed || sum.ResumedStep != ls.GlobalStep {
		t.Errorf("summary: resumed %v from step %d, want step %d", sum.Resumed, sum.ResumedStep, ls.GlobalStep)
	}

	a := readLines(t, filepath.Join(ref.Out, MetricsFile))
	b := readLines(t, filepath.Join(killed.Out, MetricsFile))
	if len(a) != len(b) {
		t.Fatalf("%d metrics lines uninterrupted, %d resumed", len(a), len(b))
	}
	for i := range a {
		if x, y := withoutTiming(t, a[i]), withoutTiming(t, b[i]); x != y {
			t.Fatalf("metrics line %d differs:\nuninterrupted %s\nresumed       %s", i+1, x, y)
		}
	}
	for _, f := range []string{FinalFile, BestFile} {
		x, err := os.ReadFile(filepath.Join(ref.Out, f))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(killed.Out, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between the uninterrupted and the resumed run", f)
		}
	}
	checkRunDir(t, killed.Out)
	checkRunDir(t, ref.Out)
}
