package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/bsnnctl/bsnnctl/export"
	"github.com/bsnnctl/bsnnctl/infer"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// The engines a model runs in (--engine).
const (
	enginePacked = "packed" // package infer: binary layers on packed spikes
	engineFloat  = "float"  // package ops: everything in float32
)

// checkEngine validates an --engine value ("" chooses).
func checkEngine(name string) error {
	switch name {
	case "", enginePacked, engineFloat:
		return nil
	}
	return fmt.Errorf("--engine must be packed or float, got %q", name)
}

// packedEngine resolves --engine for model m (read from path): with
// "packed" it compiles the packed engine or fails; with "" it compiles it
// when the model has binary layers, and leaves the model to the float
// engine (nil, with a log line saying why) when it has none or the packed
// engine cannot run it; with "float" it returns nil.
func packedEngine(g *Globals, name string, m *onnx.Model, path string, threads int) (*infer.Engine, error) {
	if name == engineFloat {
		return nil, nil
	}
	if name == "" {
		info, err := export.Recognize(m)
		if err != nil || len(info.Layers) == 0 {
			g.Log.Debug("no binary layers: the float engine runs the model", "model", path)
			return nil, nil
		}
	}
	e, err := infer.Compile(m, infer.Options{Threads: threads})
	if err != nil {
		switch {
		case name == "" && errors.Is(err, infer.ErrStepForm):
			g.Log.Debug("a step-form file: the float engine runs it", "model", path)
			return nil, nil
		case name == "":
			g.Log.Info("the packed engine cannot run this model; the float engine runs it", "model", path, "reason", err)
			return nil, nil
		}
		return nil, fileErr(path, err)
	}
	return e, nil
}

// writePlan prints how each node of a packed engine's plan runs.
func writePlan(w io.Writer, plan []infer.LayerPlan) error {
	packed, fallback := 0, 0
	for _, l := range plan {
		switch l.Runs() {
		case "packed":
			packed++
		case "float fallback":
			fallback++
		}
	}
	fmt.Fprintf(w, "packed engine plan: %d layers packed, %d float, %d on the float fallback\n",
		packed, len(plan)-packed-fallback, fallback)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "node\top\truns\tfused\treason")
	for _, l := range plan {
		fused := strings.Join(l.Fused, ", ")
		if fused == "" {
			fused = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Node, l.Op, l.Runs(), fused, l.Reason)
	}
	return tw.Flush()
}
