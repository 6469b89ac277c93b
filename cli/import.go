package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/crosscheck"
)

// ImportCmd is `bsnnctl import ANN.onnx -o BSNN.onnx`: verify a float
// network in our engine (cross-checked with onnx-go), convert it into a
// BSNN (portable profile) and report its layers and size.
type ImportCmd struct {
	Model     string   `arg:"" name:"ann.onnx" help:"Float ONNX network (any exporter, opsets 7-21)."`
	Out       string   `short:"o" name:"out" required:"" placeholder:"BSNN.onnx" help:"Where to write the BSNN (written atomically)."`
	TimeSteps int      `name:"timesteps" short:"T" default:"4" help:"Time steps T the input is repeated for."`
	NoAGMM    bool     `name:"no-agmm" help:"Leave out the AGMMGate in front of each binary layer."`
	KeepFP    []string `name:"keep-fp" sep:"," placeholder:"LIST" help:"Extra layers to keep float: shortcuts, depthwise (default on), no-depthwise, all, or layer/node names (comma separated)."`
	NoVerify  bool     `name:"no-verify" help:"Skip running the source network before converting."`
	JSON      bool     `name:"json" help:"Print the report as JSON."`

	NIR nirImportFlags `embed:"" prefix:"nir-"`
}

// Validate rejects impossible flag values (usage error).
func (c *ImportCmd) Validate() error {
	if c.TimeSteps < 1 {
		return fmt.Errorf("--timesteps must be at least 1, got %d", c.TimeSteps)
	}
	return nil
}

// importVerification is what the pre-conversion check found.
type importVerification struct {
	Ran        bool    `json:"ran"`
	ProbeShape []int   `json:"probe_shape,omitempty"`
	OnnxGo     string  `json:"onnx_go"` // "agree", "disagree" or "unsupported: ..."
	MaxRelDiff float64 `json:"max_rel_diff,omitempty"`
}

// verifyTolerance is the relative agreement required between our engine
// and onnx-go on the probe input.
const verifyTolerance = 1e-4

// Run converts the model.
func (c *ImportCmd) Run(ctx context.Context, g *Globals) error {
	if isNIRFile(c.Model) {
		return c.runNIR(ctx, g)
	}
	src, err := os.ReadFile(c.Model)
	if err != nil {
		return err
	}
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	var ver importVerification
	if !c.NoVerify {
		if ver, err = verifySource(m); err != nil {
			return fileErr(c.Model, err)
		}
		g.Log.Info("verified the source network", "probe", ver.ProbeShape, "onnx-go", ver.OnnxGo, "max_rel_diff", ver.MaxRelDiff)
	}
	opts := convert.DefaultOptions()
	opts.TimeSteps = c.TimeSteps
	opts.AGMM = !c.NoAGMM
	opts.KeepFloat = c.KeepFP
	opts.SourcePath = c.Model
	opts.SourceBytes = src
	opts.ProducerVersion = Version
	res, err := convert.Convert(m, opts)
	if err != nil {
		return fileErr(c.Model, err)
	}
	if err := onnx.EncodeFile(c.Out, res.Model); err != nil {
		return err
	}
	g.Log.Info("wrote the BSNN", "file", c.Out, "binary_layers", len(res.Model.BinaryLayers()))
	if c.JSON {
		rep, err := res.Report.JSON()
		if err != nil {
			return err
		}
		return g.PrintJSON(struct {
			Output       string             `json:"output"`
			Verification importVerification `json:"verification"`
			Report       json.RawMessage    `json:"report"`
		}{c.Out, ver, rep})
	}
	if ver.Ran {
		fmt.Fprintf(g.Stdout, "verified %s on a probe input %v: our engine ran it; onnx-go: %s\n\n", c.Model, ver.ProbeShape, ver.OnnxGo)
	}
	if err := res.Report.Write(g.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "\nwrote %s (T=%d, AGMM %v)\n", c.Out, c.TimeSteps, opts.AGMM)
	return nil
}

// verifySource runs the float network on a seeded random probe in our
// engine and in onnx-go; it fails if our engine cannot run it or disagrees
// with onnx-go.
func verifySource(m *onnx.Model) (importVerification, error) {
	v := importVerification{}
	if err := ops.CheckModel(m); err != nil {
		return v, err
	}
	g, err := m.Graph()
	if err != nil {
		return v, err
	}
	if len(g.Inputs) != 1 {
		return v, fmt.Errorf("the network has %d inputs; import handles networks with one input", len(g.Inputs))
	}
	in := g.Inputs[0]
	shape := make([]int, len(in.Shape))
	dims := make([]int64, len(in.Shape))
	for i, d := range in.Shape {
		switch {
		case d.Known():
			shape[i] = int(d.Value)
		case i == 0:
			shape[i] = 2
		default:
			return v, fmt.Errorf("input %q dimension %d (%s) is not fixed", in.Name, i, d)
		}
		dims[i] = int64(shape[i])
	}
	rng := rand.New(rand.NewPCG(1, 1))
	probe := &onnx.Tensor{Type: onnx.Float, Dims: dims, Float32: make([]float32, prodInts(shape))}
	for i := range probe.Float32 {
		probe.Float32[i] = float32(rng.NormFloat64())
	}
	r, err := crosscheck.Check(m, probe)
	if err != nil {
		return v, fmt.Errorf("our engine cannot run the source network: %w", err)
	}
	v.Ran, v.ProbeShape = true, shape
	switch {
	case r.ReferenceErr != nil:
		msg := r.ReferenceErr.Error()
		if i := strings.Index(msg, "\n"); i >= 0 {
			msg = msg[:i]
		}
		v.OnnxGo = "unsupported: " + msg
	case r.MaxRelDiff > verifyTolerance:
		v.OnnxGo, v.MaxRelDiff = "disagree", r.MaxRelDiff
		return v, fmt.Errorf("our engine and onnx-go disagree on this network (max relative difference %.3g > %g): refusing to convert; please report it with the model", r.MaxRelDiff, verifyTolerance)
	default:
		v.OnnxGo, v.MaxRelDiff = "agree", r.MaxRelDiff
	}
	return v, nil
}

func prodInts(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
