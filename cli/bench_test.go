package cli_test

import (
	"encoding/json"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/bench"
	"github.com/bsnnctl/bsnnctl/internal/interop"
)

// TestBenchConv runs a tiny block in both engines, interleaved, and checks
// the report (PyTorch is required under BSNNCTL_INTEROP=1).
func TestBenchConv(t *testing.T) {
	interop.NeedTorch(t)
	r := bsnnctl(t, "bench", "conv", "--batch", "2", "--channels", "8", "--size", "8", "--rounds", "3", "--warmup", "1", "--threads", "1", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var res bench.BlockComparison
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if res.ReferenceError != "" || len(res.Results) != 2 {
		t.Fatalf("PyTorch not measured: %s", r.stdout)
	}
	ours, torch := res.Results[0], res.Results[1]
	if ours.Engine != "bsnnctl" || torch.Engine != "pytorch" || len(ours.All) != 3 || len(torch.All) != 3 {
		t.Fatalf("results %+v", res.Results)
	}
	if !(ours.Min > 0 && ours.Min <= ours.Median && ours.Median <= ours.Max) || torch.Min <= 0 {
		t.Fatalf("inconsistent stats: %s", r.stdout)
	}
	if res.RatioMin != ours.Min/torch.Min || res.RatioMedian != ours.Median/torch.Median {
		t.Fatalf("inconsistent ratios: %s", r.stdout)
	}
	// Two 3x3 convolutions of 8 channels on 2 x 8x8: forward, data and
	// filter gradients, except the data gradient of the graph input.
	const conv = 2 * 2 * 8 * 8 * 8 * 8 * 9
	if res.Flops != 5*conv {
		t.Errorf("flops %v, want %v", res.Flops, 5*conv)
	}
}
