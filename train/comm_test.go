package train

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// replicas is an in-process Comm group: size goroutines that all-reduce
// through shared memory (what an MPI Comm does across processes).
type replicas struct {
	size int
	mu   sync.Mutex
	cond *sync.Cond
	in   [][]float32 // each replica's vector of the current reduction
	seen int         // replicas that arrived at the barrier
	gen  int         // barrier generation
}

func newReplicas(size int) *replicas {
	r := &replicas{size: size, in: make([][]float32, size)}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// barrier blocks until every replica has called it.
func (r *replicas) barrier() {
	r.mu.Lock()
	defer r.mu.Unlock()
	gen := r.gen
	if r.seen++; r.seen == r.size {
		r.seen, r.gen = 0, r.gen+1
		r.cond.Broadcast()
		return
	}
	for gen == r.gen {
		r.cond.Wait()
	}
}

// member is replica rank's Comm.
type member struct {
	r    *replicas
	rank int
}

func (m member) Rank() int { return m.rank }
func (m member) Size() int { return m.r.size }
func (m member) AllReduceSum(v []float32) error {
	m.r.mu.Lock()
	m.r.in[m.rank] = v
	m.r.mu.Unlock()
	m.r.barrier()
	sum := make([]float32, len(v)) // every replica adds in rank order: the same bits everywhere
	for _, x := range m.r.in {
		for i := range sum {
			sum[i] += x[i]
		}
	}
	m.r.barrier()
	copy(v, sum)
	return nil
}

// TestDataParallelReplicas runs two replicas of a run through the Comm
// seams: each trains on its half of every batch, the gradients are
// all-reduced and the batch-norm statistics averaged, so both end with the
// same parameters and statistics, bit for bit; only replica 0 writes its
// run folder.
func TestDataParallelReplicas(t *testing.T) {
	dataDir := t.TempDir()
	writeCIFAR10(t, dataDir, 48, 16, 8)
	m := fixtureBSNN(t, "lenet_op13_keepbn_dynamic", 2)
	group := newReplicas(2)
	trainers := make([]*Trainer, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for rank := range trainers {
		out := filepath.Join(t.TempDir(), "run")
		tr, err := NewTrainer(Config{ModelProto: m, Data: "cifar10:" + dataDir, Out: out, Batch: 16, EvalBatch: 16,
			Epochs: 2, Seed: 3, LogEvery: 1, NoPlots: true}, WithComm(member{group, rank}))
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if tr.tp.batch != 8 {
			t.Fatalf("replica %d trains on %d samples per step, want 8", rank, tr.tp.batch)
		}
		trainers[rank] = tr
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[rank] = tr.Run(context.Background())
		}()
	}
	wg.Wait()
	for rank, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", rank, err)
		}
	}
	a, b := trainers[0].tp.b, trainers[1].tp.b
	for i, p := range a.Params {
		if !slices.Equal(p.Data(), b.Params[i].Data()) {
			t.Errorf("parameter %s differs between the replicas", p.Name)
		}
	}
	for i, s := range a.States {
		if !slices.Equal(s.Data, b.States[i].Data) {
			t.Errorf("batch-norm statistics %s differ between the replicas", s.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(trainers[0].cfg.Out, FinalFile)); err != nil {
		t.Errorf("replica 0 wrote no %s: %v", FinalFile, err)
	}
	ents, _ := os.ReadDir(trainers[1].cfg.Out)
	for _, e := range ents {
		t.Errorf("replica 1 wrote %s", e.Name())
	}
}
