package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bsnnctl/bsnnctl/dist"
	"github.com/bsnnctl/bsnnctl/internal/runcmp"
)

// The data-parallel tests run the ranks of a group as goroutines
// (dist.InProcess); the same runs under mpirun, one process per rank, are
// cli's TestFinetuneMPI*.

// rankRun is one rank's outcome.
type rankRun struct {
	tr  *Trainer
	sum *Summary
	err error
}

// runRanks runs cfg on size in-process ranks. perRank, when set, adapts
// each rank's copy of cfg (its own RUNDIR, to see what each rank wrote);
// setup, when set, sees each rank's Trainer before it runs.
func runRanks(t *testing.T, cfg Config, size int, perRank func(rank int, c *Config), setup func(rank int, tr *Trainer), opts ...Option) []rankRun {
	t.Helper()
	comms := dist.InProcess(size)
	runs := make([]rankRun, size)
	var wg sync.WaitGroup
	for r, c := range comms {
		rc := cfg
		if perRank != nil {
			perRank(r, &rc)
		}
		wg.Go(func() {
			defer c.Close()
			tr, err := NewTrainer(rc, append(opts, WithComm(c))...)
			if err != nil {
				runs[r].err = err
				return
			}
			runs[r].tr = tr
			if setup != nil {
				setup(r, tr)
			}
			runs[r].sum, runs[r].err = tr.Run(context.Background())
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, r := range runs {
			if r.tr != nil {
				r.tr.Close()
			}
		}
	})
	return runs
}

// ownDirs gives every rank its own RUNDIR, <Out>-rank<r>.
func ownDirs(r int, c *Config) { c.Out = fmt.Sprintf("%s-rank%d", c.Out, r) }

// compareRuns checks that the run in got trained as the one-process run
// in want (runcmp.Check).
func compareRuns(t *testing.T, got, want string, cfg Config) {
	t.Helper()
	runcmp.Check(t, got, want, cfg.ModelProto)
}

// dataParallelConfig is a LeNet BSNN run of 20 steps (batch 16) on a
// synthetic CIFAR-10.
func dataParallelConfig(t *testing.T, optimizer string) Config {
	t.Helper()
	dataDir := t.TempDir()
	writeCIFAR10(t, dataDir, 160, 24, 8)
	return Config{ModelProto: fixtureBSNN(t, "lenet_op13_keepbn_dynamic", 2), Data: "cifar10:" + dataDir,
		Out: filepath.Join(t.TempDir(), "run"), Batch: 16, EvalBatch: 8, Epochs: 2, Seed: 3, Optimizer: optimizer,
		LogEvery: 1, CheckpointEvery: 5, NoPlots: true}
}

// TestDataParallel: two ranks train the run one process trains (SGD and
// Adam, AGMM on, batch-normalization statistics synchronized): the same
// per-step losses and final weights within 1e-5; identical parameters and
// statistics on both ranks, bit for bit; only rank 0 writes RUNDIR, with
// the rank count and communication in every step line.
func TestDataParallel(t *testing.T) {
	for _, opt := range []string{SGD, Adam} {
		t.Run(opt, func(t *testing.T) {
			cfg := dataParallelConfig(t, opt)
			one := cfg
			one.Out += "-one"
			if _, err := Run(context.Background(), one, nil); err != nil {
				t.Fatal(err)
			}
			runs := runRanks(t, cfg, 2, ownDirs, nil)
			for r, run := range runs {
				if run.err != nil {
					t.Fatalf("rank %d: %v", r, run.err)
				}
			}
			compareRuns(t, cfg.Out+"-rank0", one.Out, cfg)
			a, b := runs[0].tr.tp.b, runs[1].tr.tp.b
			for i, p := range a.Params {
				if !slices.Equal(p.Data(), b.Params[i].Data()) {
					t.Errorf("parameter %s differs between the ranks", p.Name)
				}
			}
			for i, s := range a.States {
				if !slices.Equal(s.Data, b.States[i].Data) {
					t.Errorf("batch-normalization statistics %s differ between the ranks", s.Name)
				}
			}
			if ents, _ := os.ReadDir(cfg.Out + "-rank1"); len(ents) > 0 {
				t.Errorf("rank 1 wrote %d files into its RUNDIR", len(ents))
			}
			if s0, s1 := runs[0].sum, runs[1].sum; s0.Ranks != 2 || !slices.Equal(s0.TestAcc, s1.TestAcc) || s0.BestEpoch != s1.BestEpoch {
				t.Errorf("summaries: rank 0 %+v, rank 1 %+v", s0, s1)
			}
			for i, l := range readLines(t, filepath.Join(cfg.Out+"-rank0", MetricsFile)) {
				var s StepLine
				if err := json.Unmarshal([]byte(l), &s); err != nil {
					t.Fatal(err)
				}
				if s.Kind == "step" && (s.Ranks != 2 || s.CommBytes <= 0 || s.CommTime <= 0) {
					t.Errorf("line %d: ranks %d, comm_bytes %d, comm_s %v", i+1, s.Ranks, s.CommBytes, s.CommTime)
				}
			}
		})
	}
}

// TestDataParallelResumeAcrossRanks: a checkpoint written by two ranks
// resumes in one process, and one written by one process on two and four
// ranks, all ending as the uninterrupted one-process run.
func TestDataParallelResumeAcrossRanks(t *testing.T) {
	cfg := dataParallelConfig(t, SGD)
	one := cfg
	one.Out += "-one"
	if _, err := Run(context.Background(), one, nil); err != nil {
		t.Fatal(err)
	}
	two := cfg
	two.Out += "-two"
	for r, run := range runRanks(t, two, 2, nil, nil) {
		if run.err != nil {
			t.Fatalf("rank %d: %v", r, run.err)
		}
	}
	for _, tc := range []struct {
		name  string
		from  string
		ranks int
	}{{"2to1", two.Out, 1}, {"1to2", one.Out, 2}, {"1to4", one.Out, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			truncateRun(t, tc.from, dir, 15) // mid-epoch 2 (10 steps per epoch)
			rc := cfg
			rc.Out, rc.Resume, rc.ModelProto = dir, true, nil
			for r, run := range runRanks(t, rc, tc.ranks, nil, nil) {
				if run.err != nil {
					t.Fatalf("rank %d: %v", r, run.err)
				}
				if !run.sum.Resumed || run.sum.ResumedStep != 15 {
					t.Errorf("rank %d: resumed %v from step %d, want step 15", r, run.sum.Resumed, run.sum.ResumedStep)
				}
			}
			compareRuns(t, dir, one.Out, cfg)
		})
	}
}

// truncateRun copies the state of run src at its checkpoint of step into
// dst, as a run killed after that checkpoint leaves it.
func truncateRun(t *testing.T, src, dst string, step int) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{checkpointBase(step) + ".onnx", checkpointBase(step) + ".json", MetricsFile} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDataParallelErrors: a failure on one rank, or on all, stops every
// rank at the same point with the same *dist.RankError, which only rank 0
// prints (dist.Quiet); RUNDIR keeps whole files.
func TestDataParallelErrors(t *testing.T) {
	cfg := dataParallelConfig(t, SGD)
	check := func(t *testing.T, runs []rankRun, want string) {
		t.Helper()
		for r, run := range runs {
			var re *dist.RankError
			if !errors.As(run.err, &re) || !strings.Contains(run.err.Error(), want) || dist.Quiet(run.err) != (r != 0) {
				t.Errorf("rank %d: %v; want a *dist.RankError containing %q, printed by rank 0 only", r, run.err, want)
			}
		}
		if runs[0].err != nil && runs[1].err != nil && runs[0].err.Error() != runs[1].err.Error() {
			t.Errorf("the ranks stopped with different errors: %q and %q", runs[0].err, runs[1].err)
		}
	}
	t.Run("batch", func(t *testing.T) {
		c := cfg
		c.Batch = 15
		check(t, runRanks(t, c, 2, nil, nil), "--batch 15 (the global batch) does not split evenly over 2 ranks")
	})
	t.Run("data", func(t *testing.T) {
		// Rank 1 cannot read the data set.
		runs := runRanks(t, cfg, 2, func(r int, c *Config) {
			if r == 1 {
				c.Data = "cifar10:" + filepath.Join(t.TempDir(), "missing")
			}
		}, nil)
		check(t, runs, "rank 1 of 2: ")
	})
	t.Run("nan", func(t *testing.T) {
		// Rank 1's replica turns NaN after step 3: every rank stops at step
		// 4, the last checkpoint (step 2) is whole.
		c := cfg
		c.CheckpointEvery = 2
		runs := runRanks(t, c, 2, nil, func(r int, tr *Trainer) {
			if r == 1 {
				tr.testHook = func(step int, tp *trainProgram) {
					if step == 3 {
						tp.params[0].Data()[0] = float32(math.NaN())
					}
				}
			}
		})
		check(t, runs, "step 4 (epoch 1, batch 4): ")
		check(t, runs, "training stopped")
		if _, ls, ok, err := loadCheckpoint(c.Out); err != nil || !ok || ls.GlobalStep != 2 {
			t.Errorf("last checkpoint: ok %v, err %v, state %+v; want step 2", ok, err, ls)
		}
		checkRunDir(t, c.Out)
	})
}

// TestDataParallelReplicaCheck: with a debug logger on rank 0 every step
// checks that the ranks hold identical replicas, and a divergence stops
// the run.
func TestDataParallelReplicaCheck(t *testing.T) {
	cfg := dataParallelConfig(t, SGD)
	cfg.MaxSteps = 3
	var logs strings.Builder
	var mu sync.Mutex
	debug := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for r, run := range runRanks(t, cfg, 2, ownDirs, nil, WithLogger(debug)) {
		if run.err != nil {
			t.Fatalf("rank %d: %v", r, run.err)
		}
	}
	if n := strings.Count(logs.String(), "replicas identical"); n < 2*3 {
		t.Errorf("%d replica checks logged, want one per step and rank", n)
	}

	// A rank whose weights drift.
	runs := runRanks(t, cfg, 2, func(r int, c *Config) { c.Out = filepath.Join(t.TempDir(), "run") },
		func(r int, tr *Trainer) {
			if r == 1 {
				tr.tp.params[0].Data()[0] += 1e-3
			}
		}, WithLogger(debug))
	for r, run := range runs {
		if run.err == nil || !strings.Contains(run.err.Error(), "the replicas diverged") {
			t.Errorf("rank %d: %v; want the divergence reported", r, run.err)
		}
	}
}

// lockedWriter serializes the ranks' log writes.
type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
