package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strings"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/internal/ort"
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
	TimeSteps int      `name:"timesteps" short:"T" default:"4" help:"Time steps T: how often the input is repeated (direct input), or how many frames the BSNN reads (--input events)."`
	Input     string   `name:"input" enum:",direct,events" default:"" placeholder:"direct|events" help:"How the BSNN reads its input: direct (default: the ANN's input [N, C, H, W], repeated T times) or events (time-major [T, N, C, H, W], one frame of the ANN's input shape per step, e.g. event-camera frames with C = 2 polarities)."`
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
	if c.Input != "" && c.NIR.InputEncoding != "" && c.Input != c.NIR.InputEncoding {
		return fmt.Errorf("--input %s and --nir-input-encoding %s disagree", c.Input, c.NIR.InputEncoding)
	}
	return nil
}

// importVerification is what the pre-conversion check found.
type importVerification struct {
	Ran        bool  `json:"ran"`
	ProbeShape []int `json:"probe_shape,omitempty"`
	// OnnxGo and Onnxruntime say how each reference fared: "agree",
	// "disagree", "disagree: NaN or Inf in an output", "unsupported: ..."
	// (onnx-go cannot run the network), "unavailable: ..." (no onnxruntime
	// library, or a build without cgo) or "failed: ..." (onnxruntime
	// rejected the network). onnxruntime is tried only when onnx-go cannot
	// run the network.
	OnnxGo      string `json:"onnx_go"`
	Onnxruntime string `json:"onnxruntime,omitempty"`
	// CrossChecked is true when our engine's outputs were compared with a
	// reference (Reference names it); false means the network was not
	// cross-checked.
	CrossChecked bool    `json:"cross_checked"`
	Reference    string  `json:"reference,omitempty"`
	MaxRelDiff   float64 `json:"max_rel_diff,omitempty"`
}

// verifyTolerance is the relative agreement required between our engine
// and the reference on the probe input.
const verifyTolerance = 1e-4

// checkORT compares our engine with onnxruntime (tests replace it to
// simulate a machine without onnxruntime).
var checkORT = (*crosscheck.Ours).ORT

// importGCPercent is the garbage collector's target while importing (GOGC;
// one set in the environment wins). What stays live is the weights, large
// and pointer-free, among much short-lived memory (the activations of our
// engine and of the references' pieces): collecting more often than Go's
// default 100 (the heap grows to twice what is live before a collection)
// costs little, since marking skips pointer-free memory, and keeps the
// peak near what is live (ResNet-50: 1.4 times the file instead of 2.8).
const importGCPercent = 25

// Run converts the model.
//
// Memory: the weights are the bulk of a network, and the import holds them
// once: decoding reads them into place, our engine's check reads them
// there, onnx-go runs the network a piece at a time beside them (or
// onnxruntime reads the file while the model is dropped, see
// verifySource), and the BSNN shares the weights it keeps unchanged and is
// written streaming.
func (c *ImportCmd) Run(ctx context.Context, g *Globals) error {
	if isNIRFile(c.Model) {
		return c.runNIR(ctx, g)
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(importGCPercent))
	}
	m, sum, err := decodeSource(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	var ver importVerification
	if !c.NoVerify {
		if ver, m, err = verifySource(c.Model, m, sum); err != nil {
			return fileErr(c.Model, err)
		}
		if ver.CrossChecked {
			g.Log.Info("verified the source network", "probe", ver.ProbeShape, "reference", ver.Reference, "max_rel_diff", ver.MaxRelDiff)
		} else {
			g.Log.Warn("the source network was not cross-checked", "probe", ver.ProbeShape, "onnx-go", ver.OnnxGo, "onnxruntime", ver.Onnxruntime)
		}
	}
	opts := convert.DefaultOptions()
	opts.TimeSteps = c.TimeSteps
	opts.InputEncoding = bsnn.InputEncoding(c.Input)
	opts.AGMM = !c.NoAGMM
	opts.KeepFloat = c.KeepFP
	opts.SourceSHA256 = sum
	opts.ProducerVersion = Version
	res, err := convert.Convert(m, opts)
	if err != nil {
		return fileErr(c.Model, err)
	}
	if err := onnx.EncodeFile(c.Out, res.Model); err != nil {
		return err
	}
	g.Log.Info("wrote the BSNN", "file", c.Out, "binary_layers", len(bsnn.BinaryLayers(res.Model)))
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
	switch {
	case ver.CrossChecked:
		fmt.Fprintf(g.Stdout, "verified %s on a probe input %v: our engine and %s agree (max relative difference %.2g)\n\n",
			c.Model, ver.ProbeShape, ver.Reference, ver.MaxRelDiff)
	case ver.Ran:
		fmt.Fprintf(g.Stdout, "%s ran in our engine on a probe input %v but was NOT cross-checked: onnx-go: %s; onnxruntime: %s\n\n",
			c.Model, ver.ProbeShape, ver.OnnxGo, ver.Onnxruntime)
	}
	if err := res.Report.Write(g.Stdout); err != nil {
		return err
	}
	input := "direct input, repeated T times"
	if opts.InputEncoding == bsnn.EncodingEvents {
		input = "event input: one frame per step"
	}
	fmt.Fprintf(g.Stdout, "\nwrote %s (T=%d, %s, AGMM %v)\n", c.Out, c.TimeSteps, input, opts.AGMM)
	return nil
}

// decodeSource decodes the network in path and returns it with the
// file's sha256 (hex).
func decodeSource(path string) (*onnx.Model, string, error) {
	h := sha256.New()
	m, err := onnx.DecodeFileHashed(path, h)
	if err != nil {
		return nil, "", err
	}
	return m, hex.EncodeToString(h.Sum(nil)), nil
}

// verifySource runs the float network m, decoded from the file path whose
// sha256 is sum, on a seeded random probe in our engine and compares it
// with onnx-go, or with onnxruntime when onnx-go cannot run it. It fails if
// our engine cannot run the network or a reference disagrees (a NaN or Inf
// on either side is a disagreement); with no reference available it
// reports the network as not cross-checked. It returns the model to
// convert: m, or the file decoded again when onnxruntime ran, which reads
// the file itself and allocates outside Go's heap: m is dropped and Go's
// free memory handed back to the system meanwhile.
func verifySource(path string, m *onnx.Model, sum string) (importVerification, *onnx.Model, error) {
	v := importVerification{}
	probe, err := probeInput(m)
	if err != nil {
		return v, nil, err
	}
	ours, err := crosscheck.RunOurs(m, probe)
	if err != nil {
		return v, nil, fmt.Errorf("our engine cannot run the source network: %w", err)
	}
	v.Ran, v.ProbeShape = true, probe.Shape()
	r := ours.OnnxGo()
	v.OnnxGo = outcome(r)
	if !r.Compared() {
		m = nil
		debug.FreeOSMemory()
		r = checkORT(ours, path)
		v.Onnxruntime = outcome(r)
		var again string
		if m, again, err = decodeSource(path); err != nil {
			return v, nil, err
		}
		if again != sum {
			return v, nil, errors.New("the file changed while it was being imported")
		}
		if !r.Compared() {
			return v, m, nil
		}
	}
	v.CrossChecked, v.Reference, v.MaxRelDiff = true, r.Reference, r.MaxRelDiff
	switch {
	case r.NonFinite:
		v.MaxRelDiff = 0 // +Inf has no JSON form; the outcome says it
		return v, nil, fmt.Errorf("our engine and %s disagree on this network: an output holds NaN or Inf on the probe input: refusing to convert", r.Reference)
	case !r.Agrees(verifyTolerance):
		return v, nil, fmt.Errorf("our engine and %s disagree on this network (max relative difference %.3g > %g): refusing to convert; please report it with the model", r.Reference, r.MaxRelDiff, verifyTolerance)
	}
	return v, m, nil
}

// outcome describes how a reference fared (importVerification's fields).
func outcome(r *crosscheck.Report) string {
	switch {
	case r.ReferenceErr != nil:
		msg := r.ReferenceErr.Error()
		if i := strings.Index(msg, "\n"); i >= 0 {
			msg = msg[:i]
		}
		switch {
		case r.Reference == crosscheck.OnnxGo:
			return "unsupported: " + msg
		case errors.Is(r.ReferenceErr, ort.ErrUnavailable):
			return "unavailable: " + msg
		}
		return "failed: " + msg
	case r.NonFinite:
		return "disagree: NaN or Inf in an output"
	case !r.Agrees(verifyTolerance):
		return "disagree"
	}
	return "agree"
}

// probeInput is a seeded random input for the network's one graph input,
// with batch 2 for a symbolic batch dimension.
func probeInput(m *onnx.Model) (*onnx.Tensor, error) {
	if err := ops.CheckModel(m); err != nil {
		return nil, err
	}
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("the network has %d inputs; import handles networks with one input", len(g.Inputs))
	}
	in := g.Inputs[0]
	dims := make([]int64, len(in.Shape))
	for i, d := range in.Shape {
		switch {
		case d.Known():
			dims[i] = d.Value
		case i == 0:
			dims[i] = 2
		default:
			return nil, fmt.Errorf("input %q dimension %d (%s) is not fixed", in.Name, i, d)
		}
	}
	n, err := onnx.NumElements(dims)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", in.Name, err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	probe := &onnx.Tensor{Type: onnx.Float, Dims: dims, Float32: make([]float32, n)}
	for i := range probe.Float32 {
		probe.Float32[i] = float32(rng.NormFloat64())
	}
	return probe, nil
}
