package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/bsnnctl/bsnnctl/train"
)

// PlotCmd is `bsnnctl plot RUNDIR [COMPARE...]`.
type PlotCmd struct {
	RunDir  string   `arg:"" name:"rundir" help:"Run folder with metrics.jsonl."`
	Compare []string `arg:"" optional:"" name:"compare" help:"Other run folders to draw on the same charts (e.g. the --agmm off run)."`
}

// Run renders the curves into RUNDIR/plots.
func (c *PlotCmd) Run(ctx context.Context, g *Globals) error {
	if err := train.Plot(c.RunDir, c.Compare...); err != nil {
		return err
	}
	dir := filepath.Join(c.RunDir, train.PlotsDir)
	if len(c.Compare) > 0 {
		dir = filepath.Join(dir, "compare")
	}
	fmt.Fprintf(g.Stdout, "wrote %s\n", dir)
	return nil
}
