package cli_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
)

// TestBenchConv runs a tiny block in both engines and checks the report: a
// ratio whenever PyTorch is present (required under BSNNCTL_INTEROP=1).
func TestBenchConv(t *testing.T) {
	r := bsnnctl(t, "bench", "conv", "--batch", "2", "--channels", "8", "--size", "8", "--iters", "2", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		GoS        float64 `json:"go_s"`
		TorchS     float64 `json:"torch_s"`
		Ratio      float64 `json:"ratio"`
		TorchError string  `json:"torch_error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if res.GoS <= 0 {
		t.Fatalf("no Go timing: %s", r.stdout)
	}
	if res.TorchError != "" {
		if _, err := os.Stat("/usr/bin/python3"); err != nil || !interop.Required() {
			t.Skipf("PyTorch not measured: %s", res.TorchError)
		}
		t.Fatalf("PyTorch not measured: %s", res.TorchError)
	}
	if res.TorchS <= 0 || res.Ratio != res.GoS/res.TorchS {
		t.Fatalf("inconsistent report: %s", r.stdout)
	}
}
