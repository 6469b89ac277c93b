package train

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/bsnnctl/bsnnctl/ops"
)

// ---- sign flips (spec §6, paper notes §3.3) ----

// signBits writes the sign mask of w into dst: bit i is 1 when w[i] is
// binarized to -1. BipolarQuant maps x >= 0 to +1 (sign(0) = +1) and
// anything else, NaN included, to -1.
func signBits(w []float32, dst []uint64) {
	for i := range dst {
		dst[i] = 0
	}
	for i, v := range w {
		if !(v >= 0) {
			dst[i>>6] |= 1 << (uint(i) & 63)
		}
	}
}

// diffBits counts the positions where a and b differ.
func diffBits(a, b []uint64) int {
	n := 0
	for i := range a {
		n += bits.OnesCount64(a[i] ^ b[i])
	}
	return n
}

// flipTracker keeps a 1-bit-per-weight sign mask of one binary layer.
type flipTracker struct {
	Name  string
	Param *ops.Param
	N     int
	prev  []uint64 // signs after the last optimizer step
	start []uint64 // signs at the start of the epoch
	cur   []uint64 // scratch
}

func newFlipTracker(name string, p *ops.Param) *flipTracker {
	w := p.Data()
	words := (len(w) + 63) / 64
	f := &flipTracker{Name: name, Param: p, N: len(w),
		prev: make([]uint64, words), start: make([]uint64, words), cur: make([]uint64, words)}
	signBits(w, f.prev)
	copy(f.start, f.prev)
	return f
}

// step compares the signs after an optimizer step with those before it and
// returns how many flipped.
func (f *flipTracker) step() int {
	signBits(f.Param.Data(), f.cur)
	n := diffBits(f.prev, f.cur)
	f.prev, f.cur = f.cur, f.prev
	return n
}

// netFlips returns how many signs differ from the epoch start.
func (f *flipTracker) netFlips() int { return diffBits(f.start, f.prev) }

// newEpoch makes the current signs the epoch's start.
func (f *flipTracker) newEpoch() { copy(f.start, f.prev) }

func encodeBits(b []uint64) string {
	buf := make([]byte, 8*len(b))
	for i, w := range b {
		binary.LittleEndian.PutUint64(buf[8*i:], w)
	}
	return base64.StdEncoding.EncodeToString(buf)
}

func decodeBits(s string, dst []uint64) error {
	buf, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	if len(buf) != 8*len(dst) {
		return fmt.Errorf("sign mask has %d bytes, want %d", len(buf), 8*len(dst))
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	return nil
}

// gradStats returns the mean, the (population) variance and the mean
// absolute value of g.
func gradStats(g []float32) (mean, variance, absMean float64) {
	if len(g) == 0 {
		return 0, 0, 0
	}
	var s, a float64
	for _, v := range g {
		s += float64(v)
		a += math.Abs(float64(v))
	}
	mean = s / float64(len(g))
	var q float64
	for _, v := range g {
		d := float64(v) - mean
		q += d * d
	}
	return mean, q / float64(len(g)), a / float64(len(g))
}

// ---- metrics.jsonl lines ----

// StepLine is a metrics.jsonl line written every log_every steps; its values
// are those of that optimizer step.
type StepLine struct {
	Kind       string  `json:"kind"` // "step"
	Epoch      int     `json:"epoch"`
	Step       int     `json:"step"`       // global optimizer step, from 1
	EpochStep  int     `json:"epoch_step"` // step within the epoch, from 1
	Loss       float64 `json:"loss"`
	TrainAcc   float64 `json:"train_acc"` // of this batch
	FlipRate   float64 `json:"flip_rate"` // FR_k over all binary weights
	FiringRate float64 `json:"firing_rate"`
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"` // global, before clipping
	StepTime   float64 `json:"step_time_s"`
	// Ranks is the number of data-parallel ranks; CommBytes the bytes rank
	// 0 contributed to the step's collective operations (dist.Stats: the
	// gradient all-reduce, batch-normalization statistics, metrics), and
	// CommTime the wall time it spent in them (0 in a single process).
	Ranks     int     `json:"ranks"`
	CommBytes int64   `json:"comm_bytes"`
	CommTime  float64 `json:"comm_s"`

	Layers []LayerStep `json:"layers,omitempty"`
	LIF    []LIFLine   `json:"lif,omitempty"`
	AGMM   []AGMMLine  `json:"agmm,omitempty"`
}

// LayerStep is one binary layer's values at a step.
type LayerStep struct {
	Name        string  `json:"name"`
	FlipRate    float64 `json:"flip_rate"`
	Flips       int     `json:"flips"`
	GradMean    float64 `json:"grad_mean"`
	GradVar     float64 `json:"grad_var"`
	GradAbsMean float64 `json:"grad_abs_mean"`
}

// LIFLine is a LIF layer's firing rate (overall and per time step).
type LIFLine struct {
	Node  string    `json:"node"`
	Rate  float64   `json:"rate"`
	RateT []float64 `json:"rate_t"`
	// TestRate / TestRateT: on the test set (epoch lines).
	TestRate  float64   `json:"test_rate,omitempty"`
	TestRateT []float64 `json:"test_rate_t,omitempty"`
}

// AGMMLine is an AGMM gate's alpha[t] and mean gate g[t].
type AGMMLine struct {
	Node     string    `json:"node"`
	Alpha    []float64 `json:"alpha"`
	Gate     []float64 `json:"gate"`
	TestGate []float64 `json:"test_gate,omitempty"`
}

// EpochLine is the metrics.jsonl line written after every epoch.
type EpochLine struct {
	Kind      string  `json:"kind"` // "epoch"
	Epoch     int     `json:"epoch"`
	Step      int     `json:"step"`
	Partial   bool    `json:"partial,omitempty"` // stopped by max-steps before the epoch's end
	Loss      float64 `json:"loss"`              // mean training loss of the epoch
	TrainAcc  float64 `json:"train_acc"`         // over the epoch's training batches
	TestAcc   float64 `json:"test_acc"`
	TestLoss  float64 `json:"test_loss"` // CE of the time-averaged output
	FlipRate  float64 `json:"flip_rate"` // mean of FR_k over the epoch
	NetFlip   float64 `json:"net_flip_fraction"`
	Firing    float64 `json:"firing_rate"` // training, epoch mean
	TestFire  float64 `json:"test_firing_rate"`
	LR        float64 `json:"lr"` // of the epoch's last step
	GradNorm  float64 `json:"grad_norm"`
	StepTime  float64 `json:"step_time_s"` // mean
	EpochTime float64 `json:"epoch_time_s"`
	EvalTime  float64 `json:"eval_time_s"`
	// Per-sample cost on the test set.
	EnergyPJ  float64 `json:"energy_pj"`
	SOPs      float64 `json:"sops"`
	FloatMACs float64 `json:"float_macs"`

	Layers []LayerEpoch `json:"layers,omitempty"`
	LIF    []LIFLine    `json:"lif,omitempty"`
	AGMM   []AGMMLine   `json:"agmm,omitempty"`
	Costs  []LayerCost  `json:"costs,omitempty"`
}

// LayerEpoch is one binary layer's epoch summary.
type LayerEpoch struct {
	Name        string  `json:"name"`
	Weights     int     `json:"weights"`
	FlipRate    float64 `json:"flip_rate"` // mean FR_k
	NetFlip     float64 `json:"net_flip_fraction"`
	GradMean    float64 `json:"grad_mean"` // epoch means of the per-step statistics
	GradVar     float64 `json:"grad_var"`
	GradAbsMean float64 `json:"grad_abs_mean"`
}

// timingKeys are the metrics.jsonl keys that measure time (they differ
// between otherwise identical runs).
var timingKeys = map[string]bool{"step_time_s": true, "epoch_time_s": true, "eval_time_s": true, "comm_s": true}

// ---- epoch accumulators (saved in checkpoints so a resumed epoch ends with
// the same epoch line) ----

type layerAcc struct {
	FRSum, GradMeanSum, GradVarSum, GradAbsSum float64
}

type epochAcc struct {
	Steps       int                  `json:"steps"`
	LossSum     float64              `json:"loss_sum"`
	Correct     int                  `json:"correct"`
	Seen        int                  `json:"seen"`
	NetFRSum    float64              `json:"net_fr_sum"`
	FireSum     float64              `json:"fire_sum"`
	GradNormSum float64              `json:"grad_norm_sum"`
	StepTimeSum float64              `json:"step_time_sum"`
	LastLR      float64              `json:"last_lr"`
	Layers      map[string]*layerAcc `json:"layers"`
	LIF         map[string][]float64 `json:"lif"`  // per t sums of rates
	Gate        map[string][]float64 `json:"gate"` // per t sums of mean gates
}

func newEpochAcc() *epochAcc {
	return &epochAcc{Layers: map[string]*layerAcc{}, LIF: map[string][]float64{}, Gate: map[string][]float64{}}
}

func addTo(dst map[string][]float64, key string, v []float64) {
	s := dst[key]
	if s == nil {
		s = make([]float64, len(v))
		dst[key] = s
	}
	for i := range v {
		s[i] += v[i]
	}
}

// lifFiring returns the network-wide firing rate (neuron-weighted over LIF
// layers and steps) given each tap's rates per step.
func lifFiring(taps []*ops.LIFTap, rates [][]float64) float64 {
	var s, n float64
	for i, t := range taps {
		for _, r := range rates[i] {
			s += r * float64(t.M)
			n += float64(t.M)
		}
	}
	if n == 0 {
		return 0
	}
	return s / n
}

func alphaOf(t *ops.AGMMTap) []float64 {
	out := make([]float64, t.T)
	if t.Alpha != nil {
		for i, v := range t.Alpha.Data() {
			if i < len(out) {
				out[i] = float64(v)
			}
		}
	}
	return out
}

func scaled(v []float64, c float64) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		out[i] = v[i] * c
	}
	return out
}

// meanOf is the mean of v (0 when empty).
func meanOf(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}
