package bench

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
)

//go:embed torch_block.py
var torchBlockScript string

// BlockConfig is one ResNet basic block workload.
type BlockConfig struct {
	Batch, Channels, Size int
	Threads               int // torch.set_num_threads for PyTorch (RunBlock: the caller's GOMAXPROCS)
	Warmup, Rounds        int // untimed and timed interleaved rounds
}

// DefaultBlock is the block of the float-engine issue: batch 32, 64
// channels, 32x32.
var DefaultBlock = BlockConfig{Batch: 32, Channels: 64, Size: 32, Threads: 2, Warmup: 2, Rounds: 10}

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

// Name implements Engine.
func (s *BlockStep) Name() string { return "bsnnctl" }

// Step implements Engine: one timed Run.
func (s *BlockStep) Step() (time.Duration, error) {
	t0 := time.Now()
	err := s.Run()
	return time.Since(t0), err
}

// Flops is the dense work of one Run.
func (s *BlockStep) Flops() float64 { return ops.Flops(s.prog) }

// Close releases the program.
func (s *BlockStep) Close() error { return s.prog.Close() }

// BlockComparison is `bsnnctl bench conv`'s result: the interleaved
// comparison and the block's shape.
type BlockComparison struct {
	Batch    int `json:"batch"`
	Channels int `json:"channels"`
	Size     int `json:"size"`
	// AllocBytes is what our engine allocated per step in the timed rounds.
	AllocBytes uint64 `json:"go_alloc_bytes_per_step"`
	Comparison
}

// RunBlock compiles the block, starts PyTorch's twin (unless noTorch) and
// interleaves them. Our engine runs on the caller's GOMAXPROCS and PyTorch
// on as many threads (c.Threads is not used). When PyTorch cannot be
// started, only our engine is timed and ReferenceError says why.
func RunBlock(ctx context.Context, c BlockConfig, noTorch bool) (*BlockComparison, error) {
	c.Threads = runtime.GOMAXPROCS(0)
	s, err := NewBlockStep(c)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	engines := []Engine{s}
	var refErr string
	if !noTorch {
		tb, err := StartTorch(ctx, torchBlockScript, c.Threads, fmt.Sprint(c.Batch), fmt.Sprint(c.Channels), fmt.Sprint(c.Size), fmt.Sprint(c.Threads))
		switch {
		case errors.Is(err, ErrNoTorch):
			refErr = err.Error()
		case err != nil:
			return nil, err
		default:
			defer tb.Close()
			engines = append(engines, tb)
		}
	}
	for k := 0; k < 2; k++ { // our buffers are allocated on the first runs
		if err := s.Run(); err != nil {
			return nil, err
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cmp, err := Compare(ctx, DetectMachine(c.Threads), s.Flops(), c.Warmup, c.Rounds, engines...)
	if err != nil {
		return nil, err
	}
	runtime.ReadMemStats(&after)
	cmp.ReferenceError = refErr
	res := &BlockComparison{Batch: c.Batch, Channels: c.Channels, Size: c.Size, Comparison: *cmp}
	// The PyTorch steps allocate nothing in this process, so the bytes
	// allocated over all rounds are ours.
	res.AllocBytes = (after.TotalAlloc - before.TotalAlloc) / uint64(c.Warmup+c.Rounds)
	return res, nil
}
