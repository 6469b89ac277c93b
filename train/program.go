package train

import (
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// trainProgram is the BSNN compiled in training mode with the loss.
type trainProgram struct {
	b      *ops.Builder
	prog   *ops.Program
	loss   *softmaxCE
	params []*ops.Param // parameters with a gradient, in builder order
	grads  [][]float32  // scratch: their gradients after a run
	layers []*layer
	flips  []*flipTracker
	batch  int
}

// compileTrain compiles m for training batches of cfg.Batch samples, its
// intermediate values in arena (nil: its own).
func compileTrain(m *onnx.Model, ni *netInfo, cfg Config, arena *ops.Arena) (*trainProgram, error) {
	return compileTrainWith(m, ni, cfg, ops.Options{Arena: arena})
}

// compileTrainWith is compileTrain with the engine's options opts (its
// Arena and BatchStatsReducer; Training, Batch and STE come from cfg, the
// input shape from ni).
func compileTrainWith(m *onnx.Model, ni *netInfo, cfg Config, opts ops.Options) (*trainProgram, error) {
	opts = ni.opsOptions(opts, cfg.Batch)
	opts.Training, opts.STE = true, cfg.STE
	b, err := ops.NewBuilder(m, opts)
	if err != nil {
		return nil, err
	}
	var (
		v *ops.Value
		T = 1
	)
	switch cfg.Loss {
	case LossTET:
		if ni.Logits == "" {
			return nil, fmt.Errorf("loss tet needs the per-step logits, but the model's output %q is not a mean over time (metadata %s); use loss ce",
				ni.Output, bsnn.MetaOutputDecoding)
		}
		v, T = b.Value(ni.Logits), ni.T
	default:
		v = b.Value(ni.Output)
	}
	if v == nil || v.Node == nil {
		return nil, fmt.Errorf("the loss input %q is not computed at run time", ni.Output)
	}
	n := static.Prod(v.Shape)
	if n%(T*cfg.Batch) != 0 {
		return nil, fmt.Errorf("logits of shape %v do not split into T=%d steps of %d samples", v.Shape, T, cfg.Batch)
	}
	lk, err := newSoftmaxCE(v.Shape, T, cfg.Batch, n/(T*cfg.Batch), cfg.LabelSmoothing)
	if err != nil {
		return nil, err
	}
	lossNode, err := ops.Apply(lk, b.Node(v))
	if err != nil {
		return nil, err
	}
	layers, err := findLayers(b, m, cfg.Batch, ni.T)
	if err != nil {
		return nil, err
	}
	prog, err := b.Compile(lossNode)
	if err != nil {
		return nil, err
	}
	tp := &trainProgram{b: b, prog: prog, loss: lk, layers: layers, batch: cfg.Batch}
	for _, p := range b.Params {
		if _, ok := prog.Grads[p]; ok {
			tp.params = append(tp.params, p)
		}
	}
	if len(tp.params) == 0 {
		return nil, fmt.Errorf("the model has no trainable parameters")
	}
	tp.grads = make([][]float32, len(tp.params))
	trainable := map[*ops.Param]bool{}
	for _, p := range tp.params {
		trainable[p] = true
	}
	for _, l := range layers {
		if !l.Binary {
			continue
		}
		if p := b.Param(l.Latent); p != nil && trainable[p] {
			tp.flips = append(tp.flips, newFlipTracker(l.Name, p))
		}
	}
	return tp, nil
}

// step runs forward and backward on one batch and collects the gradients.
func (tp *trainProgram) run(input string, x []float32, y []int) error {
	if err := tp.prog.SetInput(input, x); err != nil {
		return err
	}
	if err := tp.loss.SetLabels(y); err != nil {
		return err
	}
	if err := tp.prog.Run(); err != nil {
		return err
	}
	for i, p := range tp.params {
		tp.grads[i] = tp.prog.Grad(p)
	}
	return nil
}

// nonFinite describes where a non-finite value is ("" if nowhere): a
// parameter holding NaN or Inf, else the parameter closest to the output
// whose gradient is not finite (parameters are in forward order, so the
// last one with a bad gradient is where the bad values entered the
// backward pass).
func (tp *trainProgram) nonFinite() string {
	bad := func(v []float32) bool {
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return true
			}
		}
		return false
	}
	label := func(name string) string {
		for _, l := range tp.layers {
			if l.Latent == name || l.Weight == name {
				return fmt.Sprintf("%q (layer %s)", name, l.Name)
			}
		}
		return fmt.Sprintf("%q", name)
	}
	for _, p := range tp.params {
		if bad(p.Data()) {
			return "parameter " + label(p.Name) + " holds non-finite values"
		}
	}
	for i := len(tp.grads) - 1; i >= 0; i-- {
		if bad(tp.grads[i]) {
			return "the gradient of " + label(tp.params[i].Name) + " is not finite"
		}
	}
	return ""
}

// evalProgram is the model compiled in inference mode for one batch size.
type evalProgram struct {
	b      *ops.Builder
	prog   *ops.Program
	logits *copyProbe
	// logitsName is the value logits copies (the packed engine reads it).
	logitsName string
	T, N       int
	C          int
	layers     []*layer
}

// compileEval compiles m in inference mode for batches of batch samples,
// its intermediate values in arena (nil: its own).
func compileEval(m *onnx.Model, ni *netInfo, batch int, arena *ops.Arena) (*evalProgram, error) {
	b, err := ops.NewBuilder(m, ni.opsOptions(ops.Options{Arena: arena}, batch))
	if err != nil {
		return nil, err
	}
	name, T := ni.Output, 1
	if ni.Logits != "" {
		name, T = ni.Logits, ni.T
	}
	v := b.Value(name)
	if v == nil || v.Node == nil {
		return nil, fmt.Errorf("the model's output %q is not computed at run time", name)
	}
	n := static.Prod(v.Shape)
	if n%(T*batch) != 0 || n/(T*batch) < 1 {
		return nil, fmt.Errorf("logits %q of shape %v do not split into T=%d steps of %d samples", name, v.Shape, T, batch)
	}
	cp := &copyProbe{shape: v.Shape}
	if _, err := ops.Apply(cp, v.Node); err != nil {
		return nil, err
	}
	layers, err := findLayers(b, m, batch, ni.T)
	if err != nil {
		return nil, err
	}
	prog, err := b.Compile(nil)
	if err != nil {
		return nil, err
	}
	return &evalProgram{b: b, prog: prog, logits: cp, logitsName: name, T: T, N: batch, C: n / (T * batch), layers: layers}, nil
}
