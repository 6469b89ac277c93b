package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train"
)

// ExportCmd is `bsnnctl export MODEL.onnx -o OUT.onnx [--profile
// portable|plain|packed|train] [--plain-form unrolled|step] [--json]`.
type ExportCmd struct {
	Model     string `arg:"" name:"model.onnx" help:"BSNN model in any profile (portable, plain, packed, train), as bsnnctl wrote it or as QONNX/FINN cleaned it."`
	Output    string `short:"o" name:"output" required:"" placeholder:"OUT.onnx" help:"File to write (atomically)."`
	Profile   string `enum:"portable,plain,packed,train,nir" default:"portable" help:"portable: custom ops with model-local functions; plain: standard ops only, ±1 weights; packed: 1 bit per binary weight, unpacked in-graph; train: portable plus the optimizer state; nir: a NIR graph (HDF5, docs/spec/nir.md) for snnTorch, Norse, SpikingJelly and neuromorphic toolchains (${enum}, default ${default})."`
	PlainForm string `name:"plain-form" enum:"unrolled,step" default:"unrolled" help:"Plain profile only: unrolled writes all T time steps; step writes one step with <lif>.v_in/<lif>.v_out membrane inputs/outputs and a time_onehot input, to be called T times (${enum}, default ${default})."`
	JSON      bool   `name:"json" help:"Print what was written as JSON."`

	NIR nirExportFlags `embed:"" prefix:"nir-"`
}

// exportJSON is the --json output: the export.Report of the written file
// plus the paths and where the training state came from.
type exportJSON struct {
	Input  string `json:"input"`
	Output string `json:"output"`
	*export.Report
	// TrainState is "kept" (the input's training_info), "fresh" (a new
	// optimizer state at step 0) or omitted (not the train profile).
	TrainState string `json:"train_state,omitempty"`
}

// Validate rejects --plain-form step without --profile plain (exit 80).
func (c *ExportCmd) Validate() error {
	if c.PlainForm != "unrolled" && c.Profile != "plain" {
		return fmt.Errorf("--plain-form %s applies to --profile plain only", c.PlainForm)
	}
	return c.NIR.validate(c.Profile)
}

// Run converts the model to the profile and writes it.
func (c *ExportCmd) Run(ctx context.Context, g *Globals) error {
	if c.Profile == "nir" {
		return c.runNIR(ctx, g)
	}
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	profile, err := bsnn.ParseProfile(c.Profile)
	if err != nil {
		return err
	}
	trainState := ""
	if profile == bsnn.ProfileTrain {
		trainState = "kept"
		if len(m.Proto.TrainingInfo) == 0 {
			trainState = "fresh"
		}
	}
	out, err := export.Export(m, profile, export.Options{
		PlainForm:       bsnn.PlainForm(c.PlainForm),
		ProducerVersion: Version,
		TrainState:      freshTrainState,
	})
	if err != nil {
		return fileErr(c.Model, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := onnx.EncodeFile(c.Output, out); err != nil {
		return fileErr(c.Output, err)
	}
	st, err := os.Stat(c.Output)
	if err != nil {
		return fileErr(c.Output, err)
	}
	rep, err := export.Describe(out)
	if err != nil {
		return fileErr(c.Output, err)
	}
	rep.FileBytes = st.Size()
	g.Log.Debug("exported", "input", c.Model, "output", c.Output, "profile", c.Profile, "bytes", st.Size())
	if c.JSON {
		return g.PrintJSON(exportJSON{Input: c.Model, Output: c.Output, Report: rep, TrainState: trainState})
	}
	fmt.Fprintf(g.Stdout, "wrote %s\n", c.Output)
	if err := rep.WriteText(g.Stdout); err != nil {
		return err
	}
	switch trainState {
	case "kept":
		fmt.Fprintln(g.Stdout, "training state: kept from the input")
	case "fresh":
		fmt.Fprintln(g.Stdout, "training state: fresh optimizer state (the input had none): sgd, momentum 0.9, step 0")
	}
	return nil
}

// freshTrainState gives a model without training_info the optimizer state
// a new fine-tuning run starts from (train's defaults: SGD, momentum 0.9,
// zero velocity, step 0) over the parameters the engine trains (the float
// initializers runtime ops read), weight decay on the compute layers'
// weights, and stores it with train.EncodeTrainState.
func freshTrainState(m *onnx.Model) error {
	st, err := train.InitialTrainState(m, train.Config{})
	if err != nil {
		return fmt.Errorf("listing the trainable parameters: %w", err)
	}
	return train.EncodeTrainState(m, st)
}
