package train

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/graph"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/bench"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/testmodels"
)

// BenchmarkTrainStepResNet20 times one training step (forward, backward,
// SGD update) of the BSNN ResNet-20 converted from
// testmodels/fixtures/resnet20_op11_keepbn_dynamic: T=4, batch 32,
// 32x32x3 inputs. It reports the step time as step_s.
func BenchmarkTrainStepResNet20(b *testing.B) {
	tp, ni, cfg := resnet20Program(b, 32)
	defer tp.prog.Close()
	opt := NewOptimizer(cfg, tp.params, func(name string) bool { return ni.Weights[name] })
	x := make([]float32, 32*ni.InputShape.Size())
	for i := range x {
		x[i] = float32(i%97)/97 - 0.5
	}
	y := make([]int, 32)
	for i := range y {
		y[i] = i % 10
	}
	step := func() {
		if err := tp.run(ni.Input, x, y); err != nil {
			b.Fatal(err)
		}
		if err := opt.Step(0.01, tp.grads); err != nil {
			b.Fatal(err)
		}
	}
	step() // warm-up: buffers are allocated on the first run
	cpu0, cpuOK := bench.ProcessCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "step_s")
	// The CPU time of the process per step: on a machine shared with
	// other jobs it moves far less than the wall time.
	if cpu1, _ := bench.ProcessCPU(); cpuOK {
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(b.N), "cpu_s")
	}
	b.ReportMetric(ops.Flops(tp.prog)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// resnet20Program compiles the BSNN ResNet-20 (T = 4) of the fixture
// resnet20_op11_keepbn_dynamic for training at the given batch.
func resnet20Program(t testing.TB, batch int) (*trainProgram, *netInfo, Config) {
	t.Helper()
	m := fixtureBSNN(t, "resnet20_op11_keepbn_dynamic", 4)
	cfg := Config{Batch: batch, Out: "-", Data: "-", ModelProto: m}.Defaults()
	ni, tp := compileFixture(t, m, cfg)
	return tp, ni, cfg
}

// TestBenchTrainStep runs the training-step benchmark of the ResNet-20 BSNN
// at batch 2 and one thread against its PyTorch twin (required under BSNNCTL_INTEROP=1):
// the twin takes the layers and weights of the file, and the parity check
// (parameter count, firing rates and loss on the probe batch) passes, for
// the BN-kept and the BN-folded source alike (the folded one has a first
// conv with a bias and no BatchNormalization).
func TestBenchTrainStep(t *testing.T) {
	interop.NeedTorch(t)
	for _, fixture := range []string{"resnet20_op11_keepbn_dynamic", "resnet20_op13_folded_dynamic"} {
		t.Run(fixture, func(t *testing.T) {
			m := fixtureBSNN(t, fixture, 4)
			path := filepath.Join(t.TempDir(), "bsnn.onnx")
			if err := onnx.EncodeFile(path, m); err != nil {
				t.Fatal(err)
			}
			// One thread: this checks parity, not speed, and two OpenMP
			// threads on a loaded machine wait a scheduler slice at
			// every parallel region.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			opts := BenchOptions{Batch: 2, Rounds: 2, Warmup: -1,
				Twin: &TorchTwin{Arch: "resnet20", Model: path, Script: string(testmodels.TorchBenchTrainScript())}}
			r, err := BenchTrainStep(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			p := r.Parity
			t.Logf("params %d, rates within %.4f, loss %.5f vs %.5f, outputs %.3g apart; ratio of minimums %.2f",
				p.Params, p.MaxRateDiff, p.Loss, p.TorchLoss, p.OutputRelDiff, r.RatioMin)
			if r.T != 4 || r.InputShape[1] != 3 || r.Params < 270000 || p.Params != p.TorchParams {
				t.Errorf("result %+v, parity %+v", r, p)
			}
			if len(r.Results) != 2 || r.Results[1].Engine != "pytorch" || len(r.Results[0].All) != 2 || len(r.Results[1].All) != 2 {
				t.Fatalf("results %+v", r.Results)
			}
			if r.RatioMin != r.Results[0].Min/r.Results[1].Min || r.Flops < 1e8 {
				t.Errorf("ratio %v, flops %v: %+v", r.RatioMin, r.Flops, r.Results)
			}
		})
	}
}

// TestBenchTrainStepRefusesADifferentNetwork: with the AGMM metadata
// removed from the file, the PyTorch network has no gates while ours still
// runs the file's AGMMGate nodes, so the parameter counts differ by 20
// alphas of T values and the benchmark refuses.
func TestBenchTrainStepRefusesADifferentNetwork(t *testing.T) {
	interop.NeedTorch(t)
	m := fixtureBSNN(t, "resnet20_op13_folded_dynamic", 4)
	m.SetMetadata(bsnn.MetaAGMM, `{"enabled":false,"gates":[]}`)
	path := filepath.Join(t.TempDir(), "bsnn.onnx")
	if err := onnx.EncodeFile(path, m); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	_, err := BenchTrainStep(m, BenchOptions{Batch: 2, Rounds: 1,
		Twin: &TorchTwin{Arch: "resnet20", Model: path, Script: string(testmodels.TorchBenchTrainScript())}})
	var pe *ParityError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "272538 trainable parameters in ours, 272458 in PyTorch's") {
		t.Fatalf("got %v, want a ParityError on the parameter counts", err)
	}
}

// TestBenchTrainStepNamesTheWrongArch: a LeNet BSNN benched against the
// ResNet-20 twin is refused with a line that says so and names --arch.
func TestBenchTrainStepNamesTheWrongArch(t *testing.T) {
	interop.NeedTorch(t)
	m := fixtureBSNN(t, "lenet_op13_keepbn_dynamic", 4)
	path := filepath.Join(t.TempDir(), "bsnn.onnx")
	if err := onnx.EncodeFile(path, m); err != nil {
		t.Fatal(err)
	}
	_, err := BenchTrainStep(m, BenchOptions{Batch: 2, Rounds: 1,
		Twin: &TorchTwin{Arch: "resnet20", Model: path, Script: string(testmodels.TorchBenchTrainScript())}})
	if err == nil || !strings.Contains(err.Error(), "compute layers are not those of --arch resnet20") || !strings.Contains(err.Error(), "--arch none") {
		t.Fatalf("got %v, want an error naming the --arch mismatch", err)
	}
}

// TestTrainStepReproducible runs the same training step of the ResNet-20
// BSNN (forward and backward, no update) three times at two threads and
// requires bit-identical gradients: every kernel splits its work over the
// threads in a fixed way and sums in a fixed order (the resume test relies
// on it).
func TestTrainStepReproducible(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	tp, ni, _ := resnet20Program(t, 8)
	defer tp.prog.Close()
	x, y := benchBatch(8, ni.InputShape.Size(), tp.loss.C)
	var first [][]float32
	for run := 0; run < 3; run++ {
		if err := tp.run(ni.Input, x, y); err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			for _, g := range tp.grads {
				first = append(first, append([]float32(nil), g...))
			}
			continue
		}
		for i, g := range tp.grads {
			for k := range g {
				if math.Float32bits(g[k]) != math.Float32bits(first[i][k]) {
					t.Fatalf("run %d: gradient of %s[%d] = %v, first run %v", run+1, tp.params[i].Name, k, g[k], first[i][k])
				}
			}
		}
	}
}

// BenchmarkTrainStepPhases breaks a ResNet-20 training step (T=4, batch
// 32) into phases for docs/performance.md: after a full step, it replays
// every kernel of the program in topological order, each into memory of
// its own (the program's arena reuses memory, so its intermediate values
// are gone after a run), and times each kernel's work, its parallel parts
// included, without the other kernels around it. Reported per phase:
// milliseconds per step (_ms, the fastest of the b.N replays; _cpu_ms the
// CPU time of all threads, which a busy machine inflates less), bytes each
// tensor read or written once (_MB, compulsory traffic) and dense flops
// (_GFLOP). Views (reshapes, passed-through gradients) cost nothing and are
// not listed.
func BenchmarkTrainStepPhases(b *testing.B) {
	tp, ni, _ := resnet20Program(b, 32)
	defer tp.prog.Close()
	x, y := benchBatch(32, ni.InputShape.Size(), tp.loss.C)
	if err := tp.run(ni.Input, x, y); err != nil {
		b.Fatal(err)
	}
	sorted, err := G.Sort(tp.b.G)
	if err != nil {
		b.Fatal(err)
	}
	// Per phase: the fastest of the b.N replays (the machine is shared),
	// bytes and flops of one.
	type phase struct{ ns, cpu, best, bestCPU, bytes, flops float64 }
	phases := map[string]*phase{}
	vals := map[*G.Node][]float32{} // the replayed values
	for i := 0; i < b.N; i++ {
		for _, p := range phases {
			p.ns, p.cpu, p.bytes, p.flops = 0, 0, 0, 0
		}
		for j := len(sorted) - 1; j >= 0; j-- { // Sort lists consumers first
			n := sorted[j]
			var in [][]float32
			bytes := 0
			for _, c := range graph.NodesOf(tp.b.G.From(n.ID())) {
				d, ok := vals[c.(*G.Node)]
				if !ok { // an input, a parameter or a constant
					d = floatsOf(c.(*G.Node).Value())
				}
				in = append(in, d)
				bytes += 4 * len(d)
			}
			name, k := phaseOf(n)
			switch {
			case k == nil && name == "":
				continue
			case k == nil:
				b.Fatalf("%v: not a kernel of the engine", n)
			case name == "": // a view of its input
				vals[n] = in[0]
				continue
			}
			out := vals[n]
			if out == nil {
				out = make([]float32, max(1, n.Shape().TotalSize()))
				vals[n] = out
			}
			cpu0, _ := bench.ProcessCPU()
			t0 := time.Now()
			err := k.Forward(out, in...)
			d := time.Since(t0)
			cpu1, _ := bench.ProcessCPU()
			if err != nil {
				b.Fatalf("%v: %v", n, err)
			}
			p := phases[name]
			if p == nil {
				p = &phase{}
				phases[name] = p
			}
			p.ns += float64(d)
			p.cpu += float64(cpu1 - cpu0)
			p.bytes += float64(bytes + 4*len(out))
			if fc, ok := k.(interface{ Flops() float64 }); ok {
				p.flops += fc.Flops()
			}
		}
		for _, p := range phases {
			if i == 0 || p.ns < p.best {
				p.best = p.ns
			}
			if i == 0 || p.cpu < p.bestCPU {
				p.bestCPU = p.cpu
			}
		}
	}
	for name, p := range phases {
		b.ReportMetric(p.best/1e6, name+"_ms")
		b.ReportMetric(p.bestCPU/1e6, name+"_cpu_ms")
		b.ReportMetric(p.bytes/1e6, name+"_MB")
		if p.flops > 0 {
			b.ReportMetric(p.flops/1e9, name+"_GFLOP")
		}
	}
}

// phaseOf names the phase of a node's work and returns its kernel (nil for
// a Gorgonia op); the name is "" for a view (free) and for a node that is
// no work (an input, a parameter, a constant: no kernel).
func phaseOf(n *G.Node) (string, ops.Kernel) {
	if n.Op() == nil {
		return "", nil
	}
	k := ops.KernelOf(n)
	if k == nil {
		if _, isConst := n.Op().(interface{ Value() G.Value }); isConst {
			return "", nil
		}
		return "gorgonia", nil
	}
	t := fmt.Sprintf("%T", k)
	if strings.HasPrefix(t, "*ops.conv") && t != "*ops.convBiasGradKernel" {
		// The convolutions by kind: the first layer's (3 input channels),
		// the strided ones, the others.
		suffix := ""
		switch name := k.Name(); {
		case strings.Contains(name, ",C=3,"):
			suffix = "_first"
		case strings.Contains(name, ",s=2,2,"):
			suffix = "_strided"
		}
		switch t {
		case "*ops.convKernel":
			return "conv_fwd" + suffix, k
		case "*ops.convDataGradKernel":
			return "conv_bwd_data" + suffix, k
		case "*ops.convFilterGradKernel":
			return "conv_bwd_filter" + suffix, k
		}
	}
	switch t {
	case "*ops.reshapeKernel", "*ops.passGradKernel":
		return "", k // views
	case "*ops.convKernel", "*ops.repeatKernel":
		return "conv_fwd", k
	case "*ops.convDataGradKernel":
		return "conv_bwd_data", k
	case "*ops.convFilterGradKernel", "*ops.convBiasGradKernel":
		return "conv_bwd_filter", k
	case "*ops.bnKernel":
		return "bn_fwd", k
	case "*ops.bnDXKernel", "*ops.bnReduceKernel", "*ops.bnPickKernel":
		return "bn_bwd", k
	case "*ops.lifKernel":
		return "lif_fwd", k
	case "*ops.lifGradKernel":
		return "lif_bwd", k
	case "*ops.agmmKernel":
		return "agmm_fwd", k
	case "*ops.agmmGradKernel", "*ops.agmmAlphaGradKernel":
		return "agmm_bwd", k
	case "*ops.binaryKernel":
		return "add_fwd", k
	case "*ops.binaryGradKernel":
		return "add_bwd", k
	case "*ops.bipolarKernel", "*ops.bipolarGradKernel":
		return "bipolar", k
	case "*ops.gradSumKernel":
		return "gradsum", k
	case "*train.nzProbe":
		return "probe", k
	}
	return "other", k
}

func floatsOf(v G.Value) []float32 {
	switch x := v.(type) {
	case *tensor.Dense:
		if d, ok := x.Data().([]float32); ok {
			return d
		}
		return []float32{x.Data().(float32)}
	case *G.F32:
		return []float32{float32(*x)}
	}
	return nil
}
