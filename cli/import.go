package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/onnx"
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

// importGCPercent is the garbage collector's target while importing (GOGC;
// one set in the environment wins). What stays live is the weights, large
// and pointer-free, among much short-lived memory (the activations of our
// engine and of the references' pieces): collecting more often than Go's
// default 100 (the heap grows to twice what is live before a collection)
// costs little, since marking skips pointer-free memory, and keeps the
// peak near what is live (ResNet-50: 1.4 times the file instead of 2.8).
const importGCPercent = 15

// importMemoryLimit is the Go runtime's soft memory limit while importing a
// file of size bytes (GOMEMLIMIT; one set in the environment wins): 1.65
// times the file, at least 128 MiB. The memory a collection frees goes
// back to the system only lazily, so the process's resident memory ran 15
// to 25 MB above its heap, and onnx-go's run goes on beside our engine's
// check and then beside the conversion; the limit makes the runtime
// collect and hand memory back before the process outgrows its budget,
// twice the file in all: the program's code takes about 27 MB besides, and
// the runtime overshoots a soft limit by a few MB (ResNet-50: peak RSS 193
// MB at 1.65, up to 205 MB at 1.7; at 1.6 the collector and the page
// faults of memory handed back cost 0.2 s more CPU). The collector works
// harder only when the heap nears the limit; the floor spares small
// networks, whose activations outweigh their weights.
func importMemoryLimit(size int64) int64 {
	return max(size/20*33, 128<<20)
}

// Run converts the model.
//
// Memory: the weights are the bulk of a network, and the import holds them
// once: decoding reads them into place, our engine's check reads them
// there, onnx-go runs the network a piece at a time beside them, the BSNN
// shares the weights it keeps unchanged and is written streaming, and
// onnxruntime, when it must run, reads the file once the models are
// dropped; the BSNN's file takes its name when the verification passed.
func (c *ImportCmd) Run(ctx context.Context, g *Globals) error {
	if isNIRFile(c.Model) {
		return c.runNIR(ctx, g)
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(importGCPercent))
	}
	if st, err := os.Stat(c.Model); err == nil && os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(importMemoryLimit(st.Size())))
	}
	m, sum, err := decodeSource(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	var vf *verification
	if !c.NoVerify {
		if vf, err = startVerification(m); err != nil {
			return fileErr(c.Model, err)
		}
		defer vf.stop()
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
	report, binary := res.Report, len(bsnn.BinaryLayers(res.Model))
	var ver importVerification
	var verErr error
	err = onnx.WriteAtomic(c.Out, func(w io.Writer) error {
		if err := onnx.Encode(w, res.Model); err != nil {
			return err
		}
		if vf == nil {
			return nil
		}
		m, res = nil, nil // written: onnxruntime may need the memory
		ver, verErr = vf.finish(c.Model, sum)
		return verErr
	})
	if verErr != nil {
		return fileErr(c.Model, verErr)
	}
	if err != nil {
		return err
	}
	switch {
	case ver.CrossChecked:
		g.Log.Info("verified the source network", "probe", ver.ProbeShape, "reference", ver.Reference, "max_rel_diff", ver.MaxRelDiff)
	case ver.Ran:
		g.Log.Warn("the source network was not cross-checked", "probe", ver.ProbeShape, "onnx-go", ver.OnnxGo, "onnxruntime", ver.Onnxruntime)
	}
	g.Log.Info("wrote the BSNN", "file", c.Out, "binary_layers", binary)
	if c.JSON {
		rep, err := report.JSON()
		if err != nil {
			return err
		}
		return g.PrintJSON(struct {
			Output       string             `json:"output"`
			Verification importVerification `json:"verification"`
			Report       json.RawMessage    `json:"report"`
			PeakRSS      int64              `json:"peak_rss_bytes"`
		}{c.Out, ver, rep, peakRSS()})
	}
	switch {
	case ver.CrossChecked:
		fmt.Fprintf(g.Stdout, "verified %s on a probe input %v: our engine and %s agree (max relative difference %.2g)\n\n",
			c.Model, ver.ProbeShape, ver.Reference, ver.MaxRelDiff)
	case ver.Ran:
		fmt.Fprintf(g.Stdout, "%s ran in our engine on a probe input %v but was NOT cross-checked: onnx-go: %s; onnxruntime: %s\n\n",
			c.Model, ver.ProbeShape, ver.OnnxGo, ver.Onnxruntime)
	}
	if err := report.Write(g.Stdout); err != nil {
		return err
	}
	input := "direct input, repeated T times"
	if opts.InputEncoding == bsnn.EncodingEvents {
		input = "event input: one frame per step"
	}
	fmt.Fprintf(g.Stdout, "\nwrote %s (T=%d, %s, AGMM %v)\npeak memory %s\n", c.Out, c.TimeSteps, input, opts.AGMM, formatRSS(peakRSS()))
	return nil
}
