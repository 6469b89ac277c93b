package train

import (
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/ops"
)

// OptState is an optimizer's hyperparameters and state: what a train-profile
// file stores in training_info (EncodeTrainState) and what a run continues
// from.
type OptState struct {
	Kind        string  `json:"optimizer"` // sgd | adam | adamw
	LR          float64 `json:"lr"`        // base learning rate
	CurLR       float64 `json:"cur_lr"`    // learning rate of the last update
	Momentum    float64 `json:"momentum"`
	Nesterov    bool    `json:"nesterov"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	WeightDecay float64 `json:"weight_decay"`
	// Step is the number of updates applied (Adam's bias correction uses it).
	Step   int64        `json:"step"`
	Params []ParamState `json:"params"`
}

// ParamState is one trainable tensor's optimizer state.
type ParamState struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Decay bool   `json:"decay"` // weight decay applies
	// Slots: sgd with momentum [velocity]; sgd without momentum none;
	// adam/adamw [first moment, second moment].
	Slots [][]float32 `json:"-"`
}

// numSlots returns how many state tensors each parameter has.
func (s *OptState) numSlots() int {
	switch s.Kind {
	case SGD:
		if s.Momentum > 0 {
			return 1
		}
		return 0
	case Adam, AdamW:
		return 2
	}
	return 0
}

// slotNames names the state tensors of each kind.
func slotNames(kind string) []string {
	switch kind {
	case SGD:
		return []string{"momentum"}
	case Adam, AdamW:
		return []string{"exp_avg", "exp_avg_sq"}
	}
	return nil
}

// An Optimizer updates parameters in place from their gradients.
type Optimizer struct {
	st     OptState
	params []*ops.Param
}

// NewOptimizer makes an optimizer of cfg's kind and hyperparameters over
// params; decay tells which parameters get weight decay.
func NewOptimizer(cfg Config, params []*ops.Param, decay func(name string) bool) *Optimizer {
	o := &Optimizer{params: params, st: OptState{
		Kind: cfg.Optimizer, LR: cfg.LR, Momentum: cfg.Momentum, Nesterov: cfg.Nesterov,
		Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay,
	}}
	if o.st.Kind != SGD {
		o.st.Momentum, o.st.Nesterov = 0, false
	} else {
		o.st.Beta1, o.st.Beta2, o.st.Eps = 0, 0, 0
	}
	ns := o.st.numSlots()
	for _, p := range params {
		ps := ParamState{Name: p.Name, Shape: append([]int(nil), p.Shape...), Decay: decay(p.Name)}
		for range ns {
			ps.Slots = append(ps.Slots, make([]float32, len(p.Data())))
		}
		o.st.Params = append(o.st.Params, ps)
	}
	return o
}

// State returns the optimizer's state; the slot slices are shared with the
// optimizer (copy them before the next Step if they must be kept).
func (o *Optimizer) State() *OptState { return &o.st }

// Load replaces the state by st, which must be of the same kind and hold a
// state for every parameter with the same shape. Hyperparameters of st are
// not taken (the run's configuration decides them); the step count is.
func (o *Optimizer) Load(st *OptState) error {
	if st.Kind != o.st.Kind {
		return fmt.Errorf("optimizer state is %s, the run uses %s", st.Kind, o.st.Kind)
	}
	if st.numSlots() != o.st.numSlots() {
		return fmt.Errorf("optimizer state has %d slots per tensor, the run needs %d (momentum differs)", st.numSlots(), o.st.numSlots())
	}
	byName := map[string]*ParamState{}
	for i := range st.Params {
		byName[st.Params[i].Name] = &st.Params[i]
	}
	var missing []string
	for i := range o.st.Params {
		dst := &o.st.Params[i]
		src := byName[dst.Name]
		if src == nil {
			missing = append(missing, dst.Name)
			continue
		}
		if len(src.Slots) != len(dst.Slots) {
			return fmt.Errorf("optimizer state of %q has %d slots, want %d", dst.Name, len(src.Slots), len(dst.Slots))
		}
		for k := range dst.Slots {
			if len(src.Slots[k]) != len(dst.Slots[k]) {
				return fmt.Errorf("optimizer state %q slot %d has %d values, the parameter has %d", dst.Name, k, len(src.Slots[k]), len(dst.Slots[k]))
			}
			copy(dst.Slots[k], src.Slots[k])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("optimizer state lacks tensors %v", missing)
	}
	o.st.Step = st.Step
	o.st.CurLR = st.CurLR
	return nil
}

// Step applies one update with learning rate lr; grads[i] is the gradient of
// params[i] (nil: the parameter is left alone, as PyTorch skips tensors
// without a gradient).
func (o *Optimizer) Step(lr float64, grads [][]float32) error {
	if len(grads) != len(o.params) {
		return fmt.Errorf("optimizer: %d gradients for %d parameters", len(grads), len(o.params))
	}
	o.st.Step++
	o.st.CurLR = lr
	for i, p := range o.params {
		g := grads[i]
		if g == nil {
			continue
		}
		w := p.Data()
		if len(g) != len(w) {
			return fmt.Errorf("optimizer: gradient of %q has %d values, parameter %d", p.Name, len(g), len(w))
		}
		ps := &o.st.Params[i]
		wd := float32(0)
		if ps.Decay {
			wd = float32(o.st.WeightDecay)
		}
		switch o.st.Kind {
		case SGD:
			sgdUpdate(w, g, ps.Slots, float32(lr), float32(o.st.Momentum), wd, o.st.Nesterov)
		case Adam:
			adamUpdate(w, g, ps.Slots[0], ps.Slots[1], lr, o.st.Beta1, o.st.Beta2, o.st.Eps, wd, false, o.st.Step)
		case AdamW:
			adamUpdate(w, g, ps.Slots[0], ps.Slots[1], lr, o.st.Beta1, o.st.Beta2, o.st.Eps, wd, true, o.st.Step)
		default:
			return fmt.Errorf("optimizer: unknown kind %q", o.st.Kind)
		}
	}
	return nil
}

// sgdUpdate is PyTorch's SGD (dampening 0): d = g + wd*w; v = mu*v + d;
// w -= lr * (nesterov ? d + mu*v : v). Without momentum w -= lr*d.
func sgdUpdate(w, g []float32, slots [][]float32, lr, mu, wd float32, nesterov bool) {
	if len(slots) == 0 {
		for i := range w {
			d := g[i] + wd*w[i]
			w[i] -= lr * d
		}
		return
	}
	v := slots[0]
	for i := range w {
		d := g[i] + wd*w[i]
		v[i] = mu*v[i] + d
		if nesterov {
			d += mu * v[i]
		} else {
			d = v[i]
		}
		w[i] -= lr * d
	}
}

// adamUpdate is PyTorch's Adam (decoupled=false: L2 added to the gradient)
// and AdamW (decoupled=true: w *= 1 - lr*wd first), with bias correction:
// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
// w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
func adamUpdate(w, g, m, v []float32, lr, b1, b2, eps float64, wd float32, decoupled bool, step int64) {
	bc1 := 1 - math.Pow(b1, float64(step))
	bc2 := 1 - math.Pow(b2, float64(step))
	stepSize := float32(lr / bc1)
	invSqrtBC2 := float32(1 / math.Sqrt(bc2))
	fb1, fb2, feps := float32(b1), float32(b2), float32(eps)
	decay := float32(1) - float32(lr)*wd
	for i := range w {
		gi := g[i]
		if decoupled {
			w[i] *= decay
		} else {
			gi += wd * w[i]
		}
		m[i] = fb1*m[i] + (1-fb1)*gi
		v[i] = fb2*v[i] + (1-fb2)*gi*gi
		den := float32(math.Sqrt(float64(v[i])))*invSqrtBC2 + feps
		w[i] -= stepSize * m[i] / den
	}
}

// Schedule returns the learning rate of update k (0-based): a linear warm-up
// over warmup updates from lr/warmup to lr, then cosine annealing to minLR at
// update total (or constant).
func Schedule(kind string, lr, minLR float64, warmup, total, k int) float64 {
	if warmup > 0 && k < warmup {
		return lr * float64(k+1) / float64(warmup)
	}
	if kind == ScheduleConstant {
		return lr
	}
	span := total - warmup
	if span <= 0 {
		return lr
	}
	p := float64(k-warmup) / float64(span)
	p = math.Min(math.Max(p, 0), 1)
	return minLR + (lr-minLR)*0.5*(1+math.Cos(math.Pi*p))
}

// clipGlobalNorm scales grads so that their global L2 norm is at most
// maxNorm (when maxNorm > 0) and returns the norm before clipping.
func clipGlobalNorm(grads [][]float32, maxNorm float64) float64 {
	var s float64
	for _, g := range grads {
		for _, v := range g {
			s += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(s)
	if maxNorm > 0 && norm > maxNorm {
		c := float32(maxNorm / (norm + 1e-6))
		for _, g := range grads {
			for i := range g {
				g[i] *= c
			}
		}
	}
	return norm
}
