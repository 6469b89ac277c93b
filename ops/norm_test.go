package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// refBN is BatchNormalization on x viewed as [n, c, s] with the given
// statistics (nil: batch statistics, biased variance).
func refBN(x, scale, bias, mean, vr []float64, n, c, s int, eps float64) []float64 {
	if mean == nil {
		mean, vr = refBatchStats(x, n, c, s)
	}
	y := make([]float64, len(x))
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < s; j++ {
				p := (i*c+ch)*s + j
				y[p] = (x[p]-mean[ch])/math.Sqrt(vr[ch]+eps)*scale[ch] + bias[ch]
			}
		}
	}
	return y
}

// refBatchStats returns the per-channel mean and biased variance.
func refBatchStats(x []float64, n, c, s int) (mean, vr []float64) {
	mean, vr = make([]float64, c), make([]float64, c)
	cnt := float64(n * s)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < n; i++ {
			for j := 0; j < s; j++ {
				mean[ch] += x[(i*c+ch)*s+j]
			}
		}
		mean[ch] /= cnt
		for i := 0; i < n; i++ {
			for j := 0; j < s; j++ {
				d := x[(i*c+ch)*s+j] - mean[ch]
				vr[ch] += d * d
			}
		}
		vr[ch] /= cnt
	}
	return
}

func bnInputs(r *rand.Rand, shape []int, c int, pshape []int) []refIn {
	vr := make([]float32, c)
	for i := range vr {
		vr[i] = 0.2 + float32(r.Float64())
	}
	return []refIn{
		{name: "x", shape: shape},
		{name: "scale", shape: pshape, param: true},
		{name: "B", shape: pshape, param: true},
		{name: "mean", shape: pshape, fixed: true, f: randF32(r, c)},
		{name: "var", shape: pshape, fixed: true, f: vr},
	}
}

func TestBatchNormalization(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type tc struct {
		name     string
		opset    int
		shape    []int
		training bool
		spatial0 bool
		attrs    []*onnxpb.AttributeProto
		eps      float64
	}
	cases := []tc{
		{name: "infer_op9_nchw", opset: 9, shape: []int{3, 4, 5, 6}},
		{name: "infer_op15_nc", opset: 15, shape: []int{5, 7}},
		{name: "infer_op14_eps", opset: 14, shape: []int{2, 3, 4}, attrs: []*onnxpb.AttributeProto{onnx.AttrFloat("epsilon", 0.1)}, eps: 0.1},
		{name: "infer_op7_spatial1", opset: 7, shape: []int{2, 3, 4, 4}, attrs: []*onnxpb.AttributeProto{onnx.AttrInt("spatial", 1)}},
		{name: "infer_op7_spatial0", opset: 7, shape: []int{2, 3, 2, 2}, spatial0: true, attrs: []*onnxpb.AttributeProto{onnx.AttrInt("spatial", 0)}},
		{name: "train_op9_nchw", opset: 9, shape: []int{3, 4, 5, 6}, training: true},
		{name: "train_op15_nc", opset: 15, shape: []int{6, 5}, training: true},
		{name: "train_op14_mode1", opset: 14, shape: []int{4, 3, 3, 3}, training: true, attrs: []*onnxpb.AttributeProto{onnx.AttrInt("training_mode", 1)}},
		{name: "train_op7_spatial0", opset: 7, shape: []int{4, 2, 2, 3}, training: true, spatial0: true, attrs: []*onnxpb.AttributeProto{onnx.AttrInt("spatial", 0)}},
		// Large enough for several parts (>= 32K floats): [T*N, C, H, W].
		{name: "train_parallel", opset: 15, shape: []int{8, 8, 24, 24}, training: true},
		{name: "infer_parallel", opset: 15, shape: []int{8, 8, 24, 24}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, ch, s := c.shape[0], c.shape[1], static.Prod(c.shape[2:])
			pshape := []int{ch}
			if c.spatial0 {
				ch, s = ch*s, 1
				pshape = c.shape[1:]
			}
			eps := c.eps
			if eps == 0 {
				eps = 1e-5
			}
			ins := bnInputs(r, c.shape, ch, pshape)
			tol := 1e-4
			if c.training {
				// The gradient through batch statistics sums many terms.
				tol = 2e-4
			}
			runRefCase(t, refCase{name: c.name, op: "BatchNormalization", opset: c.opset, attrs: c.attrs, ins: ins,
				training: c.training, outShape: c.shape, tolGrad: tol,
				ref: func(x [][]float64) []float64 {
					if c.training {
						return refBN(x[0], x[1], x[2], nil, nil, n, ch, s, eps)
					}
					return refBN(x[0], x[1], x[2], x[3], x[4], n, ch, s, eps)
				}})
		})
	}
}

// TestBatchNormRunningStats checks the training-mode update of the running
// statistics (ONNX momentum, biased batch variance as ONNX defines it), that they are
// builder state written back into the model, and the optional outputs.
func TestBatchNormRunningStats(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	shape := []int{4, 3, 2, 5}
	n, c, s := 4, 3, 10
	for _, opset := range []int{9, 14} {
		t.Run(fmt.Sprint("opset", opset), func(t *testing.T) {
			ins := bnInputs(r, shape, c, []int{c})
			ins[0].f = randF32(r, static.Prod(shape))
			outs := 3
			if opset < 14 {
				outs = 5
			}
			attrs := []*onnxpb.AttributeProto{onnx.AttrFloat("momentum", 0.8)}
			m := refModel("BatchNormalization", opset, attrs, ins, outs, outs)
			b, err := NewBuilder(m, Options{InputShapes: map[string][]int{"x": shape}, Training: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(b.States) != 2 || b.States[0].Name != "mean" || b.States[1].Name != "var" {
				t.Fatalf("states %v, want mean and var", b.States)
			}
			p, err := b.Compile(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.SetInput("x", ins[0].f); err != nil {
				t.Fatal(err)
			}
			bm, bv := refBatchStats(toF64s(ins[0].f), n, c, s)
			runM, runV := toF64s(ins[3].f), toF64s(ins[4].f)
			for step := 0; step < 2; step++ {
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				for i := range runM {
					runM[i] = 0.8*runM[i] + 0.2*bm[i]
					runV[i] = 0.8*runV[i] + 0.2*bv[i] // ONNX: biased batch variance
				}
				if e := relErr64(ValueData(b.Outputs[1]), runM); e > 1e-6 {
					t.Errorf("step %d: running mean output rel err %.3g", step, e)
				}
				if e := relErr64(ValueData(b.Outputs[2]), runV); e > 1e-6 {
					t.Errorf("step %d: running var output rel err %.3g", step, e)
				}
				if opset < 14 {
					if e := relErr64(ValueData(b.Outputs[3]), bm); e > 1e-6 {
						t.Errorf("saved mean rel err %.3g", e)
					}
					if e := relErr64(ValueData(b.Outputs[4]), bv); e > 1e-5 {
						t.Errorf("saved var rel err %.3g", e)
					}
				}
			}
			if err := b.WriteBack(m); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"mean", "var"} {
				tv, err := m.Initializer(name)
				if err != nil {
					t.Fatal(err)
				}
				want := runM
				if name == "var" {
					want = runV
				}
				if e := relErr64(tv.Floats(), want); e > 1e-6 {
					t.Errorf("written-back %s rel err %.3g", name, e)
				}
			}
		})
	}
}

// TestBatchNormInferenceKeepsStats checks that inference mode neither
// updates nor registers the running statistics and never turns them into
// parameters.
func TestBatchNormInferenceKeepsStats(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	ins := bnInputs(r, []int{2, 3, 4, 4}, 3, []int{3})
	b, err := NewBuilder(refModel("BatchNormalization", 15, nil, ins, 1, 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.States) != 0 {
		t.Errorf("inference registered states %v", b.States)
	}
	if b.Param("mean") != nil || b.Param("var") != nil {
		t.Errorf("running statistics became parameters")
	}
	if b.Param("scale") == nil || b.Param("B") == nil {
		t.Errorf("scale and B are not parameters")
	}
}

func TestBatchNormRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	ins := bnInputs(r, []int{2, 3, 4, 4}, 3, []int{3})
	checkUnsupported(t, "BatchNormalization", 15, nil, ins, 4, "has 4 outputs, want 1..3")
	checkUnsupported(t, "BatchNormalization", 15, []*onnxpb.AttributeProto{onnx.AttrInt("training_mode", 2)}, ins, 1, "training_mode 2")
	checkUnsupported(t, "BatchNormalization", 9, []*onnxpb.AttributeProto{onnx.AttrInt("spatial", 0)}, ins, 1, `attribute "spatial" not supported`)
	bad := bnInputs(r, []int{2, 3, 4, 4}, 4, []int{4})
	buildErr(t, "BatchNormalization", 15, nil, bad, "scale has shape [4], want 3 values")
	// Runtime statistics.
	rt := bnInputs(r, []int{2, 3}, 3, []int{3})
	rt[3].fixed = false
	buildErr(t, "BatchNormalization", 15, nil, rt, "input_mean must be a constant")
	// Training on one value per channel.
	one := bnInputs(r, []int{1, 3}, 3, []int{3})
	for i := range one {
		if one[i].f == nil {
			one[i].f = make([]float32, static.Prod(one[i].shape))
		}
	}
	_, err := NewBuilder(refModel("BatchNormalization", 15, nil, one, 1, 1), Options{InputShapes: map[string][]int{"x": {1, 3}}, Training: true})
	if err == nil {
		t.Errorf("training on [1, 3] was accepted")
	}
	// Saved statistics exist only in training mode.
	five := bnInputs(r, []int{2, 3}, 3, []int{3})
	for i := range five {
		if five[i].f == nil {
			five[i].f = make([]float32, static.Prod(five[i].shape))
		}
	}
	_, err = NewBuilder(refModel("BatchNormalization", 9, nil, five, 5, 5), Options{InputShapes: map[string][]int{"x": {2, 3}}})
	if err == nil {
		t.Errorf("saved_mean in inference mode was accepted")
	}
}

// BenchmarkBatchNormTrain times a training-mode BatchNormalization forward
// and backward (dX, dScale, dB) on ResNet-20's first-stage activations at
// batch 32 x T=4.
func BenchmarkBatchNormTrain(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	shape := []int{128, 16, 32, 32}
	ins := bnInputs(r, shape, 16, []int{16})
	for i := range ins {
		if ins[i].f == nil {
			ins[i].f = randF32(r, static.Prod(ins[i].shape))
		}
	}
	ins[0].param = false
	bld, err := NewBuilder(refModel("BatchNormalization", 15, nil, ins, 1, 1), Options{InputShapes: map[string][]int{"x": shape}, Training: true, InputGrads: true})
	if err != nil {
		b.Fatal(err)
	}
	loss, err := bld.WeightedSum(bld.Outputs[0], randF32(r, static.Prod(shape)))
	if err != nil {
		b.Fatal(err)
	}
	p, err := bld.Compile(loss)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	p.SetInput("x", ins[0].f)
	benchRuns(b, p)
}

// TestBatchNormGradPaths checks that the scale and B gradients are the same
// whether the dX kernel (training, input gradient wanted) or the reduction
// kernel (no input gradient) computes the channel sums.
func TestBatchNormGradPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	shape := []int{4, 3, 5, 5}
	ins := bnInputs(r, shape, 3, []int{3})
	for i := range ins {
		if ins[i].f == nil {
			ins[i].f = randF32(r, static.Prod(ins[i].shape))
		}
	}
	R := randF32(r, static.Prod(shape))
	for _, training := range []bool{true, false} {
		var got [2][][]float32
		for j, inputGrads := range []bool{true, false} {
			b, err := NewBuilder(refModel("BatchNormalization", 15, nil, ins, 1, 1),
				Options{InputShapes: map[string][]int{"x": shape}, Training: training, InputGrads: inputGrads})
			if err != nil {
				t.Fatal(err)
			}
			loss, _ := b.WeightedSum(b.Outputs[0], R)
			p, err := b.Compile(loss)
			if err != nil {
				t.Fatal(err)
			}
			p.SetInput("x", ins[0].f)
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, n := range b.G.AllNodes() {
				switch KernelOf(n).(type) {
				case *bnReduceKernel:
					kinds["reduce"]++
				case *bnDXKernel:
					kinds["dx"]++
				}
			}
			wantReduce := 0
			if !inputGrads || !training {
				wantReduce = 1
			}
			if kinds["reduce"] != wantReduce || kinds["dx"] != map[bool]int{true: 1, false: 0}[inputGrads] {
				t.Errorf("training=%v inputGrads=%v: gradient kernels %v", training, inputGrads, kinds)
			}
			got[j] = [][]float32{append([]float32(nil), p.Grad(b.Param("scale"))...), append([]float32(nil), p.Grad(b.Param("B"))...)}
			p.Close()
		}
		for i, name := range []string{"scale", "B"} {
			if e := relErr(got[1][i], got[0][i]); e > 1e-6 {
				t.Errorf("training=%v: d%s differs between the paths: %v vs %v", training, name, got[1][i], got[0][i])
			}
		}
	}
}
