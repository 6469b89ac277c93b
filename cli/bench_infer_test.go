package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/cli"
	"github.com/bsnnctl/bsnnctl/internal/interop"
)

// benchInferJSON is the contract of `bench infer --json` (extra keys are
// allowed and not read here).
type benchInferJSON struct {
	Threads *int `json:"threads"`
	Results []struct {
		Engine     *string  `json:"engine"`
		Batch      *int     `json:"batch"`
		MinS       *float64 `json:"min_s"`
		MedianS    *float64 `json:"median_s"`
		ImagesPerS *float64 `json:"images_per_s"`
	} `json:"results"`
	PeakRSS *int64 `json:"peak_rss_bytes"`
}

// TestBenchInferJSON times the LeNet BSNN, and an event-input BSNN (whose
// ANN reads one frame), at batches 1 and 2 with the fewest rounds allowed
// and checks the JSON contract: every engine at every batch, onnxruntime
// and onnxruntime on the ANN included when onnxruntime is present
// (required under BSNNCTL_INTEROP=1).
func TestBenchInferJSON(t *testing.T) {
	benchInfer(t, lenetBSNN(t), "../testmodels/fixtures/lenet_op13_folded_dynamic/model.onnx")
	events := filepath.Join(t.TempDir(), "events.onnx")
	bsnnctl(t, "import", dvsnetANN, "-o", events, "--input", "events").ok(t)
	benchInfer(t, events, dvsnetANN)
}

func benchInfer(t *testing.T, model, ann string) {
	t.Helper()
	r := bsnnctl(t, "bench", "infer", model, "--ann", ann, "--batch", "1,2", "--threads", "1",
		"--rounds", "5", "--warmup", "1", "--json").ok(t)
	var res benchInferJSON
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if res.Threads == nil || *res.Threads != 1 || res.PeakRSS == nil || *res.PeakRSS <= 0 {
		t.Fatalf("threads or peak_rss_bytes missing or wrong: %s", r.stdout)
	}
	engines := []string{"packed", "float"}
	if interop.InitORT() == nil || interop.Required() {
		engines = append(engines, "onnxruntime", "onnxruntime-ann")
	}
	var seen []string
	for _, x := range res.Results {
		if x.Engine == nil || x.Batch == nil || x.MinS == nil || x.MedianS == nil || x.ImagesPerS == nil {
			t.Fatalf("a result lacks a key: %s", r.stdout)
		}
		if *x.MinS <= 0 || *x.MedianS < *x.MinS || *x.ImagesPerS != float64(*x.Batch) / *x.MedianS {
			t.Fatalf("%s at batch %d: min %g, median %g, images/s %g", *x.Engine, *x.Batch, *x.MinS, *x.MedianS, *x.ImagesPerS)
		}
		seen = append(seen, *x.Engine+"@"+itoa(*x.Batch))
	}
	var want []string
	for _, b := range []int{1, 2} {
		for _, e := range engines {
			want = append(want, e+"@"+itoa(b))
		}
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("results for %v, want %v", seen, want)
	}
}

// TestBenchInferFixedBatch: a batch the ANN's fixed batch cannot take is
// skipped with the reason; the other engines are measured.
func TestBenchInferFixedBatch(t *testing.T) {
	interop.NeedORT(t)
	model := lenetBSNN(t)
	r := bsnnctl(t, "bench", "infer", model, "--ann", "../testmodels/fixtures/lenet_op13_folded_static/model.onnx",
		"--batch", "3", "--threads", "1", "--rounds", "5", "--warmup", "1").ok(t)
	if !strings.Contains(r.stdout, "onnxruntime-ann, batch 3: not measured: input \"input\" has a fixed batch of 2") {
		t.Fatalf("no line about the fixed batch:\n%s", r.stdout)
	}
}

// TestBenchInferWithoutONNXRuntime runs the command in a child process
// whose onnxruntime library does not exist (the library is loaded once per
// process): one line says so, and our engines are reported.
func TestBenchInferWithoutONNXRuntime(t *testing.T) {
	if os.Getenv("BSNNCTL_BENCH_CHILD") == "1" {
		os.Exit(cli.Main(context.Background(), []string{"bench", "infer", os.Args[len(os.Args)-1], "--ann", lenetFixture,
			"--batch", "1", "--threads", "1", "--rounds", "5", "--warmup", "1"}, os.Stdout, os.Stderr))
	}
	model := lenetBSNN(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchInferWithoutONNXRuntime$", "--", model)
	cmd.Env = append(os.Environ(), "BSNNCTL_BENCH_CHILD=1", "BSNNCTL_ORT_LIB="+filepath.Join(t.TempDir(), "missing.so"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "onnxruntime") && !strings.HasPrefix(l, "threads") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "onnxruntime and onnxruntime-ann: not measured: onnxruntime is not available") {
		t.Fatalf("want one line saying onnxruntime is not available, got %q:\n%s", lines, out.String())
	}
	for _, e := range []string{"\npacked ", "\nfloat "} {
		if !strings.Contains(out.String(), e) {
			t.Fatalf("no %q line:\n%s", strings.TrimSpace(e), out.String())
		}
	}
}
