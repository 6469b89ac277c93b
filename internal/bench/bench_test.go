package bench

import (
	"context"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkResBlock is one training step (forward + backward) of the ResNet
// basic block, batch 32, 64 channels, 32x32; -benchmem gives the bytes
// allocated per step.
func BenchmarkResBlock(b *testing.B) {
	s, err := NewBlockStep(DefaultBlock)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Run(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBlockStepAllocations checks the steady-state step allocates far less
// than the block's activations (a regression test for buffer reuse, not a
// timing test): the activations of the block are ~6 tensors of 8 MiB.
func TestBlockStepAllocations(t *testing.T) {
	c := DefaultBlock
	c.Batch = 4
	s, err := NewBlockStep(c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 2; i++ {
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const steps = 3
	for i := 0; i < steps; i++ {
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / steps
	act := uint64(c.Batch * c.Channels * c.Size * c.Size * 4)
	t.Logf("%d bytes allocated per step (one activation is %d bytes)", per, act)
	if per > act {
		t.Errorf("a training step allocates %d bytes, more than one activation tensor (%d): buffers are not reused", per, act)
	}
}

// fakeEngine records the order of steps in a shared log.
type fakeEngine struct {
	name string
	d    time.Duration
	log  *[]string
}

func (e *fakeEngine) Name() string { return e.name }
func (e *fakeEngine) Step() (time.Duration, error) {
	*e.log = append(*e.log, e.name)
	e.d += time.Millisecond
	return e.d, nil
}

func TestInterleave(t *testing.T) {
	var log []string
	a, b := &fakeEngine{name: "a", log: &log}, &fakeEngine{name: "b", log: &log}
	stats, err := Interleave(context.Background(), 2, 3, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log, ""); got != "ababababab" {
		t.Errorf("steps ran in order %q, want alternating", got)
	}
	// The warm-up steps (1 and 2 ms) are not counted.
	want := Stats{Min: 0.003, Median: 0.004, Max: 0.005, All: []float64{0.003, 0.004, 0.005}}
	if !reflect.DeepEqual(stats[0], want) || !reflect.DeepEqual(stats[1], want) {
		t.Errorf("stats %+v, want %+v each", stats, want)
	}
}

func TestNewStats(t *testing.T) {
	s := NewStats([]float64{4, 1, 3, 2})
	if s.Min != 1 || s.Max != 4 || s.Median != 2.5 || !reflect.DeepEqual(s.All, []float64{4, 1, 3, 2}) {
		t.Errorf("%+v", s)
	}
	if s := NewStats([]float64{5, 1, 3}); s.Median != 3 {
		t.Errorf("median of 5 1 3: %v", s.Median)
	}
}

func TestDetectMachine(t *testing.T) {
	m := DetectMachine(2)
	t.Logf("%+v", m)
	if m.GHz < 0.2 || m.GHz > 10 {
		t.Fatalf("clock %v GHz", m.GHz)
	}
	if m.AVX2 && m.FMA {
		lanes := 8.0
		if m.AVX512 {
			lanes = 16
		}
		if want := 2 * 2 * lanes * 2 * m.GHz; m.PeakGFLOPS != want || m.PeakAVX2GFLOPS != 2*2*8*2*m.GHz {
			t.Errorf("peak %v, AVX2 peak %v, want %v and %v", m.PeakGFLOPS, m.PeakAVX2GFLOPS, want, 2*2*8*2*m.GHz)
		}
	}
}

func TestLoadAverage(t *testing.T) {
	if _, err := os.Stat("/proc/loadavg"); err != nil {
		t.Skip("no /proc/loadavg")
	}
	l, err := LoadAverage()
	if err != nil || l[0] < 0 {
		t.Fatalf("%v %v", l, err)
	}
}

// TestTorchProtocol drives a stand-in script through the protocol: the
// ready line, a step, a command the script rejects, and a script that
// fails to start.
func TestTorchProtocol(t *testing.T) {
	if _, err := os.Stat(Python); err != nil {
		t.Skip("no python3")
	}
	const script = `import json, sys
print(json.dumps({"torch": "0.0-test"}), flush=True)
for line in sys.stdin:
    if line.strip() == "step":
        print(json.dumps({"s": 0.25}), flush=True)
    else:
        print(json.dumps({"error": "unknown command %r" % line.strip()}), flush=True)
`
	tp, err := StartTorch(context.Background(), script, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Version() != "0.0-test" {
		t.Errorf("version %q", tp.Version())
	}
	if d, err := tp.Step(); err != nil || d != 250*time.Millisecond {
		t.Errorf("step: %v, %v", d, err)
	}
	if err := tp.Call("frob", nil); err == nil || !strings.Contains(err.Error(), "unknown command 'frob'") {
		t.Errorf("frob: %v", err)
	}
	if err := tp.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	_, err = StartTorch(context.Background(), `import sys; sys.stderr.write("boom\n"); sys.exit(1)`, 1)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing script: %v", err)
	}
}

func TestTorchEnv(t *testing.T) {
	env := torchEnv([]string{"PATH=/bin", "MALLOC_TOP_PAD_=0"}, 3)
	want := []string{"PATH=/bin", "MALLOC_TOP_PAD_=0", "MALLOC_MMAP_THRESHOLD_=33554432",
		"MALLOC_TRIM_THRESHOLD_=4294967296", "OMP_NUM_THREADS=3", "MKL_NUM_THREADS=3"}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("torchEnv:\n got %q\nwant %q (a variable the user set is kept)", env, want)
	}
}
