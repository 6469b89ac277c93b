package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkFinetuneRanks times a finetune step of the ResNet-20 and LeNet
// BSNNs (T=4, global batch 32) in three layouts on this machine: one
// process on one thread (1x1), one process on two threads (1x2), and two
// ranks of one thread each under mpirun (2x1). Each iteration is a round
// that runs the three layouts one after the other (rotating which goes
// first), every run its own process; the step times are rank 0's
// step_time_s of metrics.jsonl after two warm-up steps. It reports the
// minimum and median step time of each layout, the all-reduce's share of
// the 2x1 steps (comm_s), and logs the load average around every run.
//
//	go test -run '^$' -bench FinetuneRanks -benchtime 3x ./cli
func BenchmarkFinetuneRanks(b *testing.B) {
	for _, tc := range []struct {
		fixture string
		steps   int
	}{{"resnet20_op13_folded_dynamic", 10}, {"lenet_op13_keepbn_dynamic", 30}} {
		b.Run(strings.SplitN(tc.fixture, "_", 2)[0], func(b *testing.B) {
			benchRanks(b, tc.fixture, tc.steps)
		})
	}
}

// layout is one way to run a step.
type layout struct {
	name        string
	np, threads int // np 0: one process without mpirun
}

var layouts = []layout{{"1x1", 0, 1}, {"1x2", 0, 2}, {"2x1", 2, 1}}

func benchRanks(b *testing.B, fixture string, steps int) {
	data := fashionMNIST(b)
	model := bsnnModel(b, fixture)
	const batch, warmup = 32, 2
	times := map[string][]float64{}
	var comm []float64
	round := 0
	for b.Loop() {
		for i := range layouts {
			l := layouts[(i+round)%len(layouts)]
			out := filepath.Join(b.TempDir(), l.name)
			args := finetuneArgs(model, data, out, "sgd", batch, steps)
			args = slices.Replace(args, slices.Index(args, "--threads")+1, slices.Index(args, "--threads")+2, strconv.Itoa(l.threads))
			before := loadavg()
			start := time.Now()
			runMPI(b, l.np, args...).ok(b)
			st, cs := stepTimes(b, out, warmup)
			times[l.name] = append(times[l.name], st...)
			if l.np > 1 {
				comm = append(comm, cs...)
			}
			b.Logf("round %d %s: %d steps, median %.3f s/step, run %.1f s; load average %s -> %s",
				round+1, l.name, len(st), median(st), time.Since(start).Seconds(), before, loadavg())
		}
		round++
	}
	for _, l := range layouts {
		b.ReportMetric(slices.Min(times[l.name]), "min-s/step-"+l.name)
		b.ReportMetric(median(times[l.name]), "med-s/step-"+l.name)
	}
	b.ReportMetric(median(comm), "med-comm-s/step-2x1")
	b.ReportMetric(median(times["1x1"])/median(times["2x1"]), "speedup-2x1/1x1")
	b.ReportMetric(median(times["1x2"])/median(times["2x1"]), "speedup-2x1/1x2")
}

// stepTimes returns step_time_s and comm_s of a run's step lines after
// the first warmup.
func stepTimes(b *testing.B, dir string, warmup int) (step, comm []float64) {
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	for l := range strings.Lines(string(raw)) {
		var s struct {
			Kind     string  `json:"kind"`
			Step     int     `json:"step"`
			StepTime float64 `json:"step_time_s"`
			CommTime float64 `json:"comm_s"`
		}
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			b.Fatal(err)
		}
		if s.Kind == "step" && s.Step > warmup {
			step = append(step, s.StepTime)
			comm = append(comm, s.CommTime)
		}
	}
	return step, comm
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

// loadavg is the 1-minute load average.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
