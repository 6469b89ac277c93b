package train

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// File names in RUNDIR.
const (
	MetricsFile = "metrics.jsonl"
	BestFile    = "best.onnx"
	FinalFile   = "final.onnx"
	PlotsDir    = "plots"
)

// Summary is what Trainer.Run (and Run) returns (and `bsnnctl finetune --json` prints).
type Summary struct {
	RunDir        string `json:"run_dir"`
	Epochs        int    `json:"epochs"` // completed epochs
	Steps         int    `json:"steps"`  // optimizer steps
	StepsPerEpoch int    `json:"steps_per_epoch"`
	// DroppedPerEpoch training images do not fit a whole batch and are
	// left out of each epoch (a different subset every epoch: the order
	// is shuffled).
	DroppedPerEpoch int       `json:"dropped_per_epoch"`
	TestAcc         []float64 `json:"test_acc"` // after each epoch
	BestAcc         float64   `json:"best_acc"`
	BestEpoch       int       `json:"best_epoch"`
	// Final is the evaluation of the final model on the test set.
	Final       *EvalResult `json:"final"`
	FinalModel  string      `json:"final_model"`
	BestModel   string      `json:"best_model"`
	Resumed     bool        `json:"resumed"`
	ResumedStep int         `json:"resumed_step,omitempty"`
	Stopped     string      `json:"stopped"` // "epochs" or "max_steps"
	Seconds     float64     `json:"seconds"`
	AGMMGates   int         `json:"agmm_gates"`
	BinaryCount int         `json:"binary_weights"`
	// Ranks is the number of data-parallel ranks that trained (1: one
	// process).
	Ranks int `json:"ranks"`
}

// MetaTraining is the metadata key holding a short JSON record of how a
// train-profile file was produced (readers ignore unknown bsnn.* keys).
const MetaTraining = "bsnn.training"

func setTrainingInfo(m *onnx.Model, cfg Config, epochsDone, step int, testAcc float64) {
	rec := map[string]any{
		"optimizer": cfg.Optimizer, "lr": cfg.LR, "schedule": cfg.Schedule, "agmm": cfg.AGMM, "loss": cfg.Loss,
		"seed": cfg.Seed, "batch": cfg.Batch, "epochs_done": epochsDone, "global_step": step,
	}
	if testAcc >= 0 {
		rec["test_acc"] = testAcc
	}
	info, _ := json.Marshal(rec)
	m.SetMetadata(MetaTraining, string(info))
}

// epochLine assembles the epoch summary from the accumulators and the test
// evaluation.
func epochLine(epoch, step int, acc *epochAcc, tp *trainProgram, ev *EvalResult) EpochLine {
	steps := float64(max(acc.Steps, 1))
	l := EpochLine{Kind: "epoch", Epoch: epoch, Step: step,
		Loss: acc.LossSum / steps, TestAcc: ev.Accuracy, TestLoss: ev.Loss,
		FlipRate: acc.NetFRSum / steps, Firing: acc.FireSum / steps, TestFire: ev.FiringRate,
		LR: acc.LastLR, GradNorm: acc.GradNormSum / steps, StepTime: acc.StepTimeSum / steps,
		EvalTime: ev.Seconds, EnergyPJ: ev.EnergyPJ, SOPs: ev.SOPs, FloatMACs: ev.FloatMACs, Costs: ev.Layers}
	if acc.Seen > 0 {
		l.TrainAcc = float64(acc.Correct) / float64(acc.Seen)
	}
	var net, weights int
	for _, f := range tp.flips {
		la := acc.Layers[f.Name]
		if la == nil {
			la = &layerAcc{}
		}
		nf := f.netFlips()
		net += nf
		weights += f.N
		l.Layers = append(l.Layers, LayerEpoch{Name: f.Name, Weights: f.N, FlipRate: la.FRSum / steps,
			NetFlip: float64(nf) / float64(f.N), GradMean: la.GradMeanSum / steps, GradVar: la.GradVarSum / steps,
			GradAbsMean: la.GradAbsSum / steps})
	}
	if weights > 0 {
		l.NetFlip = float64(net) / float64(weights)
	}
	testLIF := map[string]LIFRate{}
	for _, r := range ev.LIF {
		testLIF[r.Node] = r
	}
	for _, tap := range tp.b.LIF {
		rt := scaled(acc.LIF[tap.Node], 1/steps)
		ll := LIFLine{Node: tap.Node, RateT: rt, TestRate: testLIF[tap.Node].Rate, TestRateT: testLIF[tap.Node].RateT}
		for _, x := range rt {
			ll.Rate += x / float64(len(rt))
		}
		l.LIF = append(l.LIF, ll)
	}
	testGate := map[string][]float64{}
	for _, g := range ev.AGMM {
		testGate[g.Node] = g.Gate
	}
	for _, tap := range tp.b.AGMM {
		l.AGMM = append(l.AGMM, AGMMLine{Node: tap.Node, Alpha: alphaOf(tap), Gate: scaled(acc.Gate[tap.Node], 1/steps),
			TestGate: testGate[tap.Node]})
	}
	return l
}

// sameMath checks that a resumed run uses the settings of the run it
// continues.
func sameMath(saved, now Config) error {
	a, b := saved.mathKey(), now.mathKey()
	var diff []string
	for k, v := range a {
		if !reflect.DeepEqual(v, b[k]) {
			diff = append(diff, fmt.Sprintf("%s %v (checkpoint) vs %v", k, v, b[k]))
		}
	}
	if len(diff) > 0 {
		sort.Strings(diff)
		return fmt.Errorf("settings differ from the checkpoint's run: %s", strings.Join(diff, "; "))
	}
	return nil
}
