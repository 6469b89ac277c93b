// Package bench measures the engine against PyTorch on the same
// computation, in the same run and on the same number of threads, for
// `bsnnctl bench` and the Go benchmarks. Ratios, not absolute times, are
// what it reports: the machines it runs on are shared and vary.
package bench

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
)

//go:embed torch_block.py
var torchBlockScript string

// Python is the interpreter with Debian's torch.
var Python = "/usr/bin/python3"

// BlockConfig is one ResNet basic block workload.
type BlockConfig struct {
	Batch, Channels, Size int
	Threads               int // GOMAXPROCS for Go, torch.set_num_threads for PyTorch
	Iters                 int
}

// DefaultBlock is the block of the float-engine issue: batch 32, 64
// channels, 32x32.
var DefaultBlock = BlockConfig{Batch: 32, Channels: 64, Size: 32, Threads: 2, Iters: 10}

// BlockResult holds one side's timings.
type BlockResult struct {
	Median     time.Duration
	Times      []time.Duration
	AllocBytes uint64 // bytes allocated per step (Go side only)
}

// blockModel builds the block as an ONNX graph: conv3x3 -> BN -> Relu ->
// conv3x3 -> BN -> Add(x) -> Relu.
func blockModel(c BlockConfig) *onnx.Model {
	rng := rand.New(rand.NewPCG(1, 2))
	s := func(v string) *string { return &v }
	i := func(v int64) *int64 { return &v }
	ch := int64(c.Channels)
	w := func(name string) *onnxpb.TensorProto {
		d := make([]float32, c.Channels*c.Channels*9)
		scale := float32(1 / (3 * float64(c.Channels)))
		for k := range d {
			d[k] = float32(rng.NormFloat64()) * scale
		}
		return onnx.FloatTensor(name, []int64{ch, ch, 3, 3}, d)
	}
	vec := func(name string, v float32) *onnxpb.TensorProto {
		d := make([]float32, c.Channels)
		for k := range d {
			d[k] = v
		}
		return onnx.FloatTensor(name, []int64{ch}, d)
	}
	conv := func(in, wt, out string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: s("Conv"), Name: s(out), Input: []string{in, wt}, Output: []string{out},
			Attribute: []*onnxpb.AttributeProto{onnx.AttrInts("kernel_shape", 3, 3), onnx.AttrInts("pads", 1, 1, 1, 1), onnx.AttrInts("strides", 1, 1)}}
	}
	bn := func(in, p, out string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: s("BatchNormalization"), Name: s(out), Input: []string{in, p + ".g", p + ".b", p + ".m", p + ".v"}, Output: []string{out}}
	}
	node := func(op string, in []string, out string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: s(op), Name: s(out), Input: in, Output: []string{out}}
	}
	shape := onnx.Shape{{Value: int64(c.Batch)}, {Value: ch}, {Value: int64(c.Size)}, {Value: int64(c.Size)}}
	g := &onnxpb.GraphProto{
		Name: s("resblock"),
		Node: []*onnxpb.NodeProto{
			conv("x", "w1", "c1"), bn("c1", "bn1", "b1"), node("Relu", []string{"b1"}, "r1"),
			conv("r1", "w2", "c2"), bn("c2", "bn2", "b2"), node("Add", []string{"b2", "x"}, "a"), node("Relu", []string{"a"}, "y"),
		},
		Initializer: []*onnxpb.TensorProto{w("w1"), w("w2"),
			vec("bn1.g", 1), vec("bn1.b", 0), vec("bn1.m", 0), vec("bn1.v", 1),
			vec("bn2.g", 1), vec("bn2.b", 0), vec("bn2.m", 0), vec("bn2.v", 1)},
		Input:  []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("x", onnx.Float, shape)},
		Output: []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("y", onnx.Float, shape)},
	}
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: i(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: i(17)}}}}
}

// BlockStep is a compiled training step of the block.
type BlockStep struct {
	prog *ops.Program
}

// NewBlockStep compiles the block in training mode with loss sum(y * r).
func NewBlockStep(c BlockConfig) (*BlockStep, error) {
	m := blockModel(c)
	b, err := ops.NewBuilder(m, ops.Options{Training: true})
	if err != nil {
		return nil, err
	}
	n := c.Batch * c.Channels * c.Size * c.Size
	rng := rand.New(rand.NewPCG(3, 4))
	r := make([]float32, n)
	x := make([]float32, n)
	for k := range r {
		r[k] = float32(rng.NormFloat64())
		x[k] = float32(rng.NormFloat64())
	}
	loss, err := b.WeightedSum(b.Outputs[0], r)
	if err != nil {
		return nil, err
	}
	var _ *G.Node = loss
	p, err := b.Compile(loss)
	if err != nil {
		return nil, err
	}
	if err := p.SetInput("x", x); err != nil {
		return nil, err
	}
	return &BlockStep{prog: p}, nil
}

// Run executes one forward + backward pass.
func (s *BlockStep) Run() error { return s.prog.Run() }

// Close releases the program.
func (s *BlockStep) Close() error { return s.prog.Close() }

// GoBlock times the block in our engine at c.Threads.
func GoBlock(c BlockConfig) (*BlockResult, error) {
	prev := runtime.GOMAXPROCS(c.Threads)
	defer runtime.GOMAXPROCS(prev)
	s, err := NewBlockStep(c)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for k := 0; k < 2; k++ { // warm-up: buffers are allocated on the first run
		if err := s.Run(); err != nil {
			return nil, err
		}
	}
	res := &BlockResult{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for k := 0; k < c.Iters; k++ {
		t0 := time.Now()
		if err := s.Run(); err != nil {
			return nil, err
		}
		res.Times = append(res.Times, time.Since(t0))
	}
	runtime.ReadMemStats(&after)
	res.AllocBytes = (after.TotalAlloc - before.TotalAlloc) / uint64(max(c.Iters, 1))
	res.Median = median(res.Times)
	return res, nil
}

// TorchBlock times the same block in PyTorch (Debian's python3-torch).
func TorchBlock(c BlockConfig) (*BlockResult, error) {
	cmd := exec.Command(Python, "-c", torchBlockScript, fmt.Sprint(c.Batch), fmt.Sprint(c.Channels), fmt.Sprint(c.Size), fmt.Sprint(c.Threads), fmt.Sprint(c.Iters))
	cmd.Env = append(os.Environ(), fmt.Sprintf("OMP_NUM_THREADS=%d", c.Threads), fmt.Sprintf("MKL_NUM_THREADS=%d", c.Threads))
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("PyTorch benchmark failed: %v: %s", err, lastLine(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("PyTorch benchmark: %w", err)
	}
	var r struct {
		Median float64   `json:"median_s"`
		Times  []float64 `json:"times_s"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("PyTorch benchmark printed %q: %w", out, err)
	}
	res := &BlockResult{Median: secs(r.Median)}
	for _, t := range r.Times {
		res.Times = append(res.Times, secs(t))
	}
	return res, nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func median(ts []time.Duration) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	c := append([]time.Duration(nil), ts...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c[len(c)/2]
}

func lastLine(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
