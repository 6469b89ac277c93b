package ops

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/bsnnctl/bsnnctl/dist"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// bnSyncCase is a training-mode BatchNormalization with the loss
// sum(y * R), compiled for a batch of n samples (or a replica's slice).
type bnSyncCase struct {
	ins   []refIn // x, scale, B, mean, var; x's data is the global batch
	shape []int   // of the global batch
	r     []float32
}

func newBNSyncCase(seed uint64, shape []int, offset float32) bnSyncCase {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := shape[1]
	ins := bnInputs(rng, shape, c, []int{c})
	for i := range ins {
		if ins[i].f == nil {
			ins[i].f = randF32(rng, static.Prod(ins[i].shape))
		}
	}
	// A channel far from zero: its statistics need the shifted sums.
	per := static.Prod(shape[2:])
	for n := range shape[0] {
		for j := range per {
			ins[0].f[(n*c+c-1)*per+j] += offset
		}
	}
	return bnSyncCase{ins: ins, shape: shape, r: randF32(rng, static.Prod(shape))}
}

// compile builds the program for samples [lo, hi) of the global batch.
func (bc bnSyncCase) compile(t *testing.T, lo, hi int, red BatchStatsReducer) (*Builder, *Program) {
	t.Helper()
	shape := append([]int{hi - lo}, bc.shape[1:]...)
	per := static.Prod(bc.shape[1:])
	ins := append([]refIn(nil), bc.ins...)
	ins[0] = refIn{name: "x", shape: shape}
	b, err := NewBuilder(refModel("BatchNormalization", 15, []*onnxpb.AttributeProto{onnx.AttrFloat("momentum", 0.8)}, ins, 3, 3),
		Options{InputShapes: map[string][]int{"x": shape}, Training: true, InputGrads: true, BatchStatsReducer: red})
	if err != nil {
		t.Fatal(err)
	}
	loss, err := b.WeightedSum(b.Outputs[0], bc.r[lo*per:hi*per])
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Compile(loss)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetInput("x", bc.ins[0].f[lo*per:hi*per]); err != nil {
		t.Fatal(err)
	}
	return b, p
}

// bnResult is what one run of a BatchNormalization program produced.
type bnResult struct {
	y, dx, dScale, dB, runMean, runVar []float32
}

func bnRun(b *Builder, p *Program) (bnResult, error) {
	if err := p.Run(); err != nil {
		return bnResult{}, err
	}
	cp := func(v []float32) []float32 { return append([]float32(nil), v...) }
	return bnResult{y: cp(ValueData(b.Outputs[0])), dx: cp(p.InputGrad("x")),
		dScale: cp(p.Grad(b.Param("scale"))), dB: cp(p.Grad(b.Param("B"))),
		runMean: cp(ValueData(b.Outputs[1])), runVar: cp(ValueData(b.Outputs[2]))}, nil
}

// TestBatchNormSynchronized: replicas that each run their slice of a batch
// with their statistics summed over the group (Options.BatchStatsReducer)
// compute what one program computes on the whole batch: their slices of Y
// and dX, the same running statistics, and scale and B gradients that add
// up to the whole batch's, over two steps.
func TestBatchNormSynchronized(t *testing.T) {
	for _, tc := range []struct {
		replicas int
		shape    []int
		offset   float32
	}{
		{2, []int{6, 3, 4, 5}, 0},
		{3, []int{6, 4, 3, 3}, 50}, // a channel with mean 50 and unit spread
		{2, []int{4, 5}, 0},        // [N, C]
	} {
		t.Run(fmt.Sprintf("%dx%v", tc.replicas, tc.shape), func(t *testing.T) {
			bc := newBNSyncCase(uint64(tc.replicas), tc.shape, tc.offset)
			n := tc.shape[0]
			wb, wp := bc.compile(t, 0, n, nil)
			defer wp.Close()
			comms := dist.InProcess(tc.replicas)
			got := make([][]bnResult, tc.replicas)
			errs := make([]error, tc.replicas)
			var wg sync.WaitGroup
			for r, c := range comms {
				lo, hi := r*n/tc.replicas, (r+1)*n/tc.replicas
				b, p := bc.compile(t, lo, hi, c)
				defer p.Close()
				wg.Go(func() {
					for range 2 {
						res, err := bnRun(b, p)
						if err != nil {
							errs[r] = err
							return
						}
						got[r] = append(got[r], res)
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			per := len(bc.r) / n
			for step := range 2 {
				want, err := bnRun(wb, wp)
				if err != nil {
					t.Fatal(err)
				}
				dScale, dB := make([]float64, len(want.dScale)), make([]float64, len(want.dB))
				for r := range comms {
					lo, hi := r*n/tc.replicas*per, (r+1)*n/tc.replicas*per
					res := got[r][step]
					for name, e := range map[string]float64{
						"Y":            relErr(res.y, want.y[lo:hi]),
						"dX":           relErr(res.dx, want.dx[lo:hi]),
						"running mean": relErr(res.runMean, want.runMean),
						"running var":  relErr(res.runVar, want.runVar),
					} {
						if e > 1e-5 {
							t.Errorf("step %d, replica %d: %s differs from the whole batch's by %.3g", step, r, name, e)
						}
					}
					for i := range dScale {
						dScale[i] += float64(res.dScale[i])
						dB[i] += float64(res.dB[i])
					}
				}
				if e := relErr64(want.dScale, dScale); e > 1e-5 {
					t.Errorf("step %d: the replicas' scale gradients add up to the whole batch's within %.3g", step, e)
				}
				if e := relErr64(want.dB, dB); e > 1e-5 {
					t.Errorf("step %d: the replicas' B gradients add up to the whole batch's within %.3g", step, e)
				}
			}
		})
	}
}

// failingReducer fails every reduction.
type failingReducer struct{}

func (failingReducer) AllreduceSum64([]float64) error { return errors.New("link down") }

// TestBatchNormSynchronizedError: a reducer's error ends the run with a
// message naming it.
func TestBatchNormSynchronizedError(t *testing.T) {
	bc := newBNSyncCase(1, []int{2, 3, 2, 2}, 0)
	b, p := bc.compile(t, 0, 2, failingReducer{})
	defer p.Close()
	_, err := bnRun(b, p)
	if err == nil || !strings.Contains(err.Error(), "link down") || !strings.Contains(err.Error(), "replicas") {
		t.Errorf("run with a failing reducer: %v", err)
	}
}

// TestBatchNormSynchronizedAllocs: synchronizing the statistics allocates
// nothing per step.
func TestBatchNormSynchronizedAllocs(t *testing.T) {
	bc := newBNSyncCase(2, []int{4, 3, 4, 4}, 0)
	_, plain := bc.compile(t, 0, 4, nil)
	defer plain.Close()
	_, synced := bc.compile(t, 0, 4, dist.Local{})
	defer synced.Close()
	allocs := func(p *Program) float64 {
		return testing.AllocsPerRun(20, func() {
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if a, b := allocs(plain), allocs(synced); b > a {
		t.Errorf("a step allocates %v times with synchronized statistics, %v times without", b, a)
	}
}

// TestBNFusedIntoLIFSynchronized: a BatchNormalization fused into the LIF
// after it (fuseIntoLIF, with and without a residual Add) stays
// synchronized: replicas that each run their samples of the batch compute
// the spikes and input gradients one program computes on the whole batch,
// and scale and B gradients that add up to the whole batch's, over two
// steps (the second reuses the row sums the LIF leaves).
func TestBNFusedIntoLIFSynchronized(t *testing.T) {
	const T, N, C, hw, replicas = 3, 4, 5, 8, 2
	for _, residual := range []bool{false, true} {
		t.Run(fmt.Sprintf("residual=%v", residual), func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, 3))
			per := C * hw * hw
			z, res, dy := randF32(r, T*N*per), randF32(r, T*N*per), randF32(r, T*N*per)
			// samples returns the rows of v ([T*N, ...]) of samples [lo, hi).
			samples := func(v []float32, lo, hi int) []float32 {
				var s []float32
				for ts := range T {
					s = append(s, v[(ts*N+lo)*per:(ts*N+hi)*per]...)
				}
				return s
			}
			compile := func(lo, hi int, red BatchStatsReducer) (*Builder, *Program) {
				m := fusionModel(T, hi-lo, C, hw, hw, residual, false, rand.New(rand.NewPCG(1, 2)))
				b, err := NewBuilder(m, Options{Training: true, InputGrads: true, BatchStatsReducer: red})
				if err != nil {
					t.Fatal(err)
				}
				loss, err := b.WeightedSum(b.Outputs[0], samples(dy, lo, hi))
				if err != nil {
					t.Fatal(err)
				}
				p, err := b.Compile(loss)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Close() })
				ins := map[string][]float32{"z": samples(z, lo, hi)}
				if residual {
					ins["res"] = samples(res, lo, hi)
				}
				for name, v := range ins {
					if err := p.SetInput(name, v); err != nil {
						t.Fatal(err)
					}
				}
				for _, nd := range b.G.AllNodes() {
					if k, ok := KernelOf(nd).(*lifKernel); ok && (k.fused == nil || (red != nil) != (k.fused.bn.sync != nil)) {
						t.Fatalf("LIF fused: %v, want a fused BatchNormalization synchronized: %v", k.fused != nil, red != nil)
					}
				}
				return b, p
			}
			type result struct{ spikes, dz, dres, dscale, dbias []float32 }
			run := func(b *Builder, p *Program) (result, error) {
				if err := p.Run(); err != nil {
					return result{}, err
				}
				cp := func(v []float32) []float32 { return append([]float32(nil), v...) }
				return result{cp(p.Output(0).Float32), cp(p.InputGrad("z")), cp(p.InputGrad("res")),
					cp(p.Grad(b.Param("scale"))), cp(p.Grad(b.Param("bias")))}, nil
			}
			wb, wp := compile(0, N, nil)
			comms := dist.InProcess(replicas)
			got := make([][]result, replicas)
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i, c := range comms {
				b, p := compile(i*N/replicas, (i+1)*N/replicas, c)
				wg.Go(func() {
					for range 2 {
						res, err := run(b, p)
						if err != nil {
							errs[i] = err
							return
						}
						got[i] = append(got[i], res)
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for step := range 2 {
				want, err := run(wb, wp)
				if err != nil {
					t.Fatal(err)
				}
				dScale, dB := make([]float64, C), make([]float64, C)
				for i := range comms {
					lo, hi := i*N/replicas, (i+1)*N/replicas
					g := got[i][step]
					checks := map[string][2][]float32{"spikes": {g.spikes, samples(want.spikes, lo, hi)},
						"dZ": {g.dz, samples(want.dz, lo, hi)}}
					if residual {
						checks["dRes"] = [2][]float32{g.dres, samples(want.dres, lo, hi)}
					}
					for name, c := range checks {
						if e := relErr(c[0], c[1]); e > 1e-5 {
							t.Errorf("step %d, replica %d: %s differs from the whole batch's by %.3g", step, i, name, e)
						}
					}
					for j := range C {
						dScale[j] += float64(g.dscale[j])
						dB[j] += float64(g.dbias[j])
					}
				}
				if e := relErr64(want.dscale, dScale); e > 1e-5 {
					t.Errorf("step %d: the replicas' scale gradients add up to the whole batch's within %.3g", step, e)
				}
				if e := relErr64(want.dbias, dB); e > 1e-5 {
					t.Errorf("step %d: the replicas' B gradients add up to the whole batch's within %.3g", step, e)
				}
			}
		})
	}
}
