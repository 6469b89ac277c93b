package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/nir"
	"github.com/bsnnctl/bsnnctl/nir/nirbsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// NIR interchange: `bsnnctl export --profile nir` and `bsnnctl import
// MODEL.nir` (the mapping is docs/spec/nir.md). The flags are embedded in
// ExportCmd and ImportCmd with the prefix "nir-".

// nirExportFlags are export's NIR options.
type nirExportFlags struct {
	DT float64 `name:"dt" placeholder:"SECONDS" help:"Profile nir: the time one step stands for (default 1e-4 s, the dt snnTorch's and SpikingJelly's NIR import assume)."`
	BN string  `name:"bn" enum:"layer,fold" default:"layer" help:"Profile nir: write each BatchNormalization as its own per-channel affine layer after the ±1 layer (layer), or fold it into the layer's weights and bias, one synaptic layer per neuron layer as hardware toolchains want it (fold) (${enum}, default ${default})."`
}

// validate refuses NIR options without --profile nir (exit 80).
func (f nirExportFlags) validate(profile string) error {
	if profile != "nir" && (f.DT != 0 || f.BN != "layer") {
		return fmt.Errorf("--nir-dt and --nir-bn apply to --profile nir only")
	}
	if f.DT < 0 {
		return fmt.Errorf("--nir-dt must be positive, got %g", f.DT)
	}
	return nil
}

// nirExportJSON is export --profile nir --json.
type nirExportJSON struct {
	Input     string `json:"input"`
	Output    string `json:"output"`
	Profile   string `json:"profile"`
	FileBytes int64  `json:"file_bytes"`
	nirbsnn.Summary
}

// runNIR writes the BSNN as a NIR graph.
func (c *ExportCmd) runNIR(ctx context.Context, g *Globals) error {
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	graph, err := nirbsnn.Export(m, nirbsnn.ExportOptions{DT: c.NIR.DT, BatchNorm: nirbsnn.BatchNorm(c.NIR.BN), Producer: "bsnnctl " + Version})
	var ue *onnx.UnsupportedError
	if errors.As(err, &ue) && slices.ContainsFunc(ue.Items, func(u onnx.Unsupported) bool { return u.OpType == "AGMMGate" }) {
		err = fmt.Errorf("%w (for a BSNN without gates: bsnnctl import --no-agmm, or finetune --agmm off)", err)
	}
	if err != nil {
		return fileErr(c.Model, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := nir.WriteFile(c.Output, graph); err != nil {
		return fileErr(c.Output, err)
	}
	st, err := os.Stat(c.Output)
	if err != nil {
		return fileErr(c.Output, err)
	}
	graph.Version = nir.Version
	summary := nirbsnn.Describe(graph)
	g.Log.Debug("exported", "input", c.Model, "output", c.Output, "profile", "nir", "bytes", st.Size())
	if c.JSON {
		return g.PrintJSON(nirExportJSON{Input: c.Model, Output: c.Output, Profile: "nir", FileBytes: st.Size(), Summary: summary})
	}
	fmt.Fprintf(g.Stdout, "wrote %s (NIR %s, %d bytes)\n", c.Output, summary.Version, st.Size())
	return writeNIRSummary(g.Stdout, summary)
}

// writeNIRSummary prints a NIR graph's summary as a short table.
func writeNIRSummary(w io.Writer, s nirbsnn.Summary) error {
	input := fmt.Sprintf("%s, presented at each of the %d steps", s.InputEncoding, s.TimeSteps)
	if s.InputEncoding == "events" {
		input = "events, one frame per step"
	}
	fmt.Fprintf(w, "time steps:     %d (dt %g s; input %s)\n", s.TimeSteps, s.DT, input)
	fmt.Fprintf(w, "nodes:          %d, edges %d, neurons %d (LIF and IF)\n", sum(s.Nodes), s.Edges, s.Neurons)
	if s.BatchNorm != "" {
		fmt.Fprintf(w, "batch norm:     %s\n", s.BatchNorm)
	}
	fmt.Fprintf(w, "binary layers:  %d (±1 weights, metadata bsnn.binary = 1)", len(s.BinaryLayers))
	if len(s.BinaryLayers) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(s.BinaryLayers, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NIR node type\tcount")
	types := make([]string, 0, len(s.Nodes))
	for t := range s.Nodes {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Fprintf(tw, "  %s\t%d\n", t, s.Nodes[t])
	}
	return tw.Flush()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// nirImportFlags are import's options for NIR files.
type nirImportFlags struct {
	DT            float64 `name:"dt" placeholder:"SECONDS" help:"NIR files: the time step to integrate the neurons with (default: the file's dt metadata, else 1e-4 s)."`
	InputEncoding string  `name:"input-encoding" enum:",direct,events" default:"" placeholder:"direct|events" help:"NIR files without bsnn.input_encoding: direct (the input is repeated T times; default) or events (one frame per step)."`
}

// hdf5Signature starts every HDF5 file (a NIR file is one).
var hdf5Signature = []byte("\x89HDF\r\n\x1a\n")

// isNIRFile reports whether path names a NIR (HDF5) file: by its first
// bytes, or by the extension .nir.
func isNIRFile(path string) bool {
	if strings.EqualFold(filepath.Ext(path), ".nir") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(hdf5Signature))
	_, err = io.ReadFull(f, head)
	return err == nil && bytes.Equal(head, hdf5Signature)
}

// nirImportJSON is import MODEL.nir --json.
type nirImportJSON struct {
	Input         string          `json:"input"`
	Output        string          `json:"output"`
	SHA256        string          `json:"sha256"`
	TimeSteps     int             `json:"time_steps"`
	DT            float64         `json:"dt"`
	InputEncoding string          `json:"input_encoding"`
	Verified      bool            `json:"verified"`
	NIR           nirbsnn.Summary `json:"nir"`
	Report        *export.Report  `json:"report"`
}

// runNIR turns a NIR graph into a BSNN (portable profile).
func (c *ImportCmd) runNIR(ctx context.Context, g *Globals) error {
	if len(c.KeepFP) > 0 || c.NoAGMM {
		return fmt.Errorf("--keep-fp and --no-agmm apply to float networks; a NIR graph's layers are binary or float as the file says, and it has no AGMM gates")
	}
	b, err := os.ReadFile(c.Model)
	if err != nil {
		return err
	}
	sha := sha256.Sum256(b)
	graph, err := nir.Decode(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fileErr(c.Model, err)
	}
	enc := c.NIR.InputEncoding
	if enc == "" {
		enc = c.Input
	}
	res, err := nirbsnn.Import(graph, nirbsnn.ImportOptions{TimeSteps: c.TimeSteps, DT: c.NIR.DT,
		InputEncoding: enc, ProducerVersion: Version, SourceSHA256: hex.EncodeToString(sha[:])})
	if err != nil {
		return fileErr(c.Model, err)
	}
	if !c.NoVerify {
		if err := probeRun(res.Model); err != nil {
			return fileErr(c.Model, fmt.Errorf("our engine cannot run the imported BSNN: %w", err))
		}
		g.Log.Info("ran the imported BSNN on a probe input")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := onnx.EncodeFile(c.Out, res.Model); err != nil {
		return fileErr(c.Out, err)
	}
	rep, err := export.Describe(res.Model)
	if err != nil {
		return fileErr(c.Out, err)
	}
	if st, err := os.Stat(c.Out); err == nil {
		rep.FileBytes = st.Size()
	}
	summary := nirbsnn.Describe(graph)
	if c.JSON {
		return g.PrintJSON(nirImportJSON{Input: c.Model, Output: c.Out, SHA256: hex.EncodeToString(sha[:]), TimeSteps: res.TimeSteps,
			DT: res.DT, InputEncoding: res.InputEncoding, Verified: !c.NoVerify, NIR: summary, Report: rep})
	}
	fmt.Fprintf(g.Stdout, "read %s (NIR %s): %d nodes, %d edges\n", c.Model, summary.Version, sum(summary.Nodes), summary.Edges)
	fmt.Fprintf(g.Stdout, "imported with T=%d, dt %g s, input %s\n\n", res.TimeSteps, res.DT, res.InputEncoding)
	if err := rep.WriteText(g.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "\nwrote %s\n", c.Out)
	return nil
}

// probeRun compiles the model in our engine and runs it once on a seeded
// random input, batch 2 for the symbolic batch dimension (also of an
// event-input model's [T, N, ...]).
func probeRun(m *onnx.Model) error {
	gr, err := m.Graph()
	if err != nil {
		return err
	}
	in := gr.Inputs[0]
	shape := make([]int, len(in.Shape))
	n := 1
	for i, d := range in.Shape {
		shape[i] = 2
		if d.Known() {
			shape[i] = int(d.Value)
		}
		n *= shape[i]
	}
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: map[string][]int{in.Name: shape}})
	if err != nil {
		return err
	}
	p, err := b.Compile(nil)
	if err != nil {
		return err
	}
	defer p.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	if err := p.SetInput(in.Name, x); err != nil {
		return err
	}
	return p.Run()
}
