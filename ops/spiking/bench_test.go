package spiking

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// The benchmark shape: X[4, 32, 64, 32, 32] (T = 4, N = 32, 64 channels of 32x32), the input of
// a mid-network binary conv layer. LIF sees M = 32*64*32*32; AGMMGate sees N = 32, D = 64*32*32.
const benchT, benchN, benchD = 4, 32, 64 * 32 * 32

type benchData struct {
	x, s, gs, gx, vT, alpha, g, galpha []float32
}

func newBenchData(b testing.TB) *benchData {
	rng := rand.New(rand.NewPCG(41, 42))
	n, M := benchT*benchN*benchD, benchN*benchD
	d := &benchData{
		x: randVec(rng, n, -1, 3), s: make([]float32, n), gs: randVec(rng, n, -1, 1),
		gx: make([]float32, n), vT: make([]float32, M), alpha: []float32{1, 1, 1, 1},
		g: make([]float32, benchT*benchN), galpha: make([]float32, benchT),
	}
	for i := range d.x[:n/2] { // half the tensor binary, like spike inputs
		d.x[i] = b2f(d.x[i] > 2)
	}
	return d
}

// Bytes moved per call, counting each tensor read or written once (compulsory traffic):
// LIF forward reads X and writes S and V_T; LIF backward reads X and dS and writes dX;
// AGMM forward reads X and writes Y (and g); AGMM backward reads X and dY and writes dX.
func lifFwdBytes() int64  { return 4 * (2*benchT*benchN*benchD + benchN*benchD) }
func lifBwdBytes() int64  { return 4 * 3 * benchT * benchN * benchD }
func agmmFwdBytes() int64 { return 4 * 2 * benchT * benchN * benchD }
func agmmBwdBytes() int64 { return 4 * 3 * benchT * benchN * benchD }

// runBench measures call, after one call outside the measurement so that the pools, the helper
// goroutine and the runtime's wait queues get their memory first.
func runBench(b *testing.B, bytes int64, call func() error) {
	b.SetBytes(bytes)
	if err := call(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
}

func (d *benchData) lifForward() error {
	return LIFForward(DefaultLIF(), benchT, benchN*benchD, d.x, d.s, d.vT)
}

func (d *benchData) lifBackward() error {
	return LIFBackward(DefaultLIF(), benchT, benchN*benchD, d.x, d.gs, nil, d.gx)
}

func (d *benchData) agmmForward() error {
	return AGMMForward(AGMMParams{}, benchT, benchN, benchD, d.x, d.alpha, d.s, d.g)
}

func (d *benchData) agmmBackward() error {
	return AGMMBackward(AGMMParams{}, benchT, benchN, benchD, d.x, d.alpha, d.gs, d.gx, d.galpha)
}

func BenchmarkLIFForward(b *testing.B) {
	runBench(b, lifFwdBytes(), newBenchData(b).lifForward)
}

func BenchmarkLIFBackward(b *testing.B) {
	runBench(b, lifBwdBytes(), newBenchData(b).lifBackward)
}

func BenchmarkLIFForwardBackward(b *testing.B) {
	d := newBenchData(b)
	runBench(b, lifFwdBytes()+lifBwdBytes(), func() error { return errors.Join(d.lifForward(), d.lifBackward()) })
}

func BenchmarkAGMMForward(b *testing.B) {
	runBench(b, agmmFwdBytes(), newBenchData(b).agmmForward)
}

func BenchmarkAGMMBackward(b *testing.B) {
	runBench(b, agmmBwdBytes(), newBenchData(b).agmmBackward)
}

func BenchmarkAGMMForwardBackward(b *testing.B) {
	d := newBenchData(b)
	runBench(b, agmmFwdBytes()+agmmBwdBytes(), func() error { return errors.Join(d.agmmForward(), d.agmmBackward()) })
}

// BenchmarkBipolar binarises a 512x512x3x3 conv weight with a per-channel scale, forward and
// backward.
func BenchmarkBipolar(b *testing.B) {
	rng := rand.New(rand.NewPCG(43, 44))
	const C, K = 512, 512 * 9
	w, y, g := randVec(rng, C*K, -1.5, 1.5), make([]float32, C*K), make([]float32, C*K)
	scale := make([]float32, C)
	if err := MeanAbsPerChannel(w, K, scale); err != nil {
		b.Fatal(err)
	}
	runBench(b, 4*5*C*K, func() error {
		return errors.Join(BipolarForward(w, y, scale, K), BipolarBackward(w, y, g, scale, K, STEClipped))
	})
}

// TestKernelsDoNotAllocate: steady-state calls, parallel ones included, allocate nothing.
func TestKernelsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items on purpose under the race detector")
	}
	rng := rand.New(rand.NewPCG(45, 46))
	const T, N, D = 4, 16, 4096 // large enough to run in parallel, LIFStep included
	M, n := N*D, T*N*D
	x, s, gs, gx := randVec(rng, n, -1, 3), make([]float32, n), randVec(rng, n, -1, 1), make([]float32, n)
	vT, alpha, g, ga := make([]float32, M), []float32{1, 0.9, 0.8, 0.7}, make([]float32, T*N), make([]float32, T)
	p := DefaultLIF()
	p.Surrogate = Sigmoid
	scale := make([]float32, N)
	calls := map[string]func() error{
		"LIFForward":      func() error { return LIFForward(p, T, M, x, s, vT) },
		"LIFBackward":     func() error { return LIFBackward(p, T, M, x, gs, vT, gx) },
		"LIFStep":         func() error { return LIFStep(p, x[:M], x[M:2*M], s[:M], vT) },
		"LIFStepBackward": func() error { return LIFStepBackward(p, x[:M], x[M:2*M], gs[:M], vT, gx[:M], s[:M]) },
		"AGMMForward":     func() error { return AGMMForward(AGMMParams{}, T, N, D, x, alpha, s, g) },
		"AGMMBackward":    func() error { return AGMMBackward(AGMMParams{}, T, N, D, x, alpha, gs, gx, ga) },
		"BipolarForward":  func() error { return BipolarForward(x, s, scale, T*D) },
		"BipolarBackward": func() error { return BipolarBackward(x, gs, gx, scale, T*D, STEClipped) },
		"MeanAbs":         func() error { return MeanAbsPerChannel(x, T*D, scale) },
		// Alternating calls share the pools: one must not drop the other's buffers.
		"LIF fwd+bwd": func() error { return errors.Join(LIFForward(p, T, M, x, s, vT), LIFBackward(p, T, M, x, gs, vT, gx)) },
		"AGMM fwd+bwd": func() error {
			return errors.Join(AGMMForward(AGMMParams{}, T, N, D, x, alpha, s, g), AGMMBackward(AGMMParams{}, T, N, D, x, alpha, gs, gx, ga))
		},
	}
	for name, call := range calls {
		var err error
		allocs := testing.AllocsPerRun(50, func() {
			if e := call(); e != nil {
				err = e
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, allocs)
		}
	}
}
