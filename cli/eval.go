package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/bsnnctl/bsnnctl/infer"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// EvalCmd is `bsnnctl eval MODEL.onnx --data SPEC`.
type EvalCmd struct {
	Model   string `arg:"" name:"model.onnx" help:"BSNN (any profile our engine runs) or float network."`
	Data    string `required:"" placeholder:"SPEC" help:"Data set (its test split is used): fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR, folder:DIR; for event-input BSNNs nmnist:DIR, dvsgesture:DIR, cifar10dvs:DIR."`
	Batch   int    `default:"256" help:"Evaluation batch size."`
	Limit   int    `help:"Evaluate the first N test images only (0: all)."`
	AGMM    string `name:"agmm" default:"on" enum:"on,off" help:"off: bypass the AGMMGate nodes (for models fine-tuned with --agmm off)."`
	Threads int    `help:"Threads (0: all)."`
	JSON    bool   `name:"json" help:"Print JSON."`
	Engine  string `placeholder:"packed|float" help:"packed: binary layers on bit-packed spikes; float: everything in float32. Default: packed when the model has binary layers and the packed engine runs it, else float."`
	Explain bool   `help:"Also print the packed engine's plan (which layers run packed, which on float kernels, and why)."`

	Events eventFlags `embed:""`
}

// Validate rejects flag values that cannot work (a usage error, exit 80).
func (c *EvalCmd) Validate() error {
	if _, err := c.Events.parse(); err != nil {
		return err
	}
	return checkEngine(c.Engine)
}

// Run evaluates the model on the test split.
func (c *EvalCmd) Run(ctx context.Context, g *Globals) error {
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	spec, err := data.ParseSpec(c.Data)
	if err != nil {
		return err
	}
	testSet, err := c.openTestSet(g, m, spec)
	if err != nil {
		return err
	}
	bar := g.progress()
	defer bar.finish()
	var res train.EvalResult
	var e *infer.Engine
	err = withThreads(c.Threads, func() (err error) {
		if e, err = packedEngine(g, c.Engine, m, c.Model, 0); err != nil {
			return err
		}
		engine := engineFloat
		if e != nil {
			engine = enginePacked
		}
		res, err = testSet(train.EvalOptions{Context: ctx, Batch: c.Batch, Limit: c.Limit, AGMM: c.AGMM,
			Observer: bar.observer(), Engine: engine})
		return err
	})
	if err != nil {
		return fileErr(c.Model, err)
	}
	out := evalOutput{EvalResult: res, Engine: engineFloat}
	if e != nil {
		out.Engine, out.Plan = enginePacked, e.Plan()
	}
	if c.JSON {
		return g.PrintJSON(out)
	}
	if err := writeEval(g, &out); err != nil {
		return err
	}
	if c.Explain && e != nil {
		fmt.Fprintln(g.Stdout)
		return writePlan(g.Stdout, out.Plan)
	}
	return nil
}

// openTestSet reads the test split of spec: event frames binned for the
// model (train.OpenEvents) or images. It returns the evaluation of m on it.
func (c *EvalCmd) openTestSet(g *Globals, m *onnx.Model, spec data.Spec) (func(train.EvalOptions) (train.EvalResult, error), error) {
	ev, _ := c.Events.parse() // checked by Validate
	if err := train.CheckData(m, spec.Kind); err != nil {
		return nil, fileErr(c.Model, err)
	}
	if !spec.Kind.IsEvent() {
		if err := c.Events.imageDataErr(ev, spec.Kind); err != nil {
			return nil, err
		}
		ds, err := data.Open(spec, data.Test)
		if err != nil {
			return nil, err
		}
		return func(o train.EvalOptions) (train.EvalResult, error) { return train.Evaluate(m, ds, o) }, nil
	}
	opt := c.Events.options(ev)
	opt.Log = g.Log
	ds, err := train.OpenEvents(m, spec, data.Test, opt)
	if err != nil {
		return nil, err
	}
	return func(o train.EvalOptions) (train.EvalResult, error) {
		o.FrameValues = ev.values
		return train.EvaluateEvents(m, ds, o)
	}, nil
}

// evalOutput is eval's report: the evaluation, the engine that ran it and
// the packed engine's plan.
type evalOutput struct {
	train.EvalResult
	Engine string            `json:"engine"`
	Plan   []infer.LayerPlan `json:"plan,omitempty"`
}

func writeEval(g *Globals, r *evalOutput) error {
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "engine\t%s\n", r.Engine)
	fmt.Fprintf(tw, "samples\t%d\n", r.Samples)
	fmt.Fprintf(tw, "accuracy\t%.4f\n", r.Accuracy)
	fmt.Fprintf(tw, "loss\t%.4f\n", r.Loss)
	fmt.Fprintf(tw, "time steps\t%d\n", r.T)
	fmt.Fprintf(tw, "firing rate\t%.4f\n", r.FiringRate)
	for _, l := range r.LIF {
		fmt.Fprintf(tw, "  %s\t%.4f (%d neurons)\n", l.Node, l.Rate, l.Neurons)
	}
	fmt.Fprintf(tw, "SOPs per sample\t%.0f\n", r.SOPs)
	fmt.Fprintf(tw, "float MACs per sample\t%.0f\n", r.FloatMACs)
	fmt.Fprintf(tw, "energy per sample\t%.3f uJ (4.6 pJ/MAC, 0.9 pJ/SOP)\n", r.EnergyUJ)
	return tw.Flush()
}
