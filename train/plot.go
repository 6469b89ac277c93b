package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// runMetrics is a run's metrics.jsonl, parsed.
type runMetrics struct {
	label  string
	steps  []StepLine
	epochs []EpochLine
}

// ReadMetrics parses RUNDIR/metrics.jsonl into its step and epoch lines.
func ReadMetrics(rundir string) (steps []StepLine, epochs []EpochLine, err error) {
	f, err := os.Open(filepath.Join(rundir, MetricsFile))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	ln := 0
	for sc.Scan() {
		ln++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var k struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(b, &k); err != nil {
			return nil, nil, fmt.Errorf("%s line %d: %w", f.Name(), ln, err)
		}
		switch k.Kind {
		case "step":
			var s StepLine
			if err := json.Unmarshal(b, &s); err != nil {
				return nil, nil, fmt.Errorf("%s line %d: %w", f.Name(), ln, err)
			}
			steps = append(steps, s)
		case "epoch":
			var e EpochLine
			if err := json.Unmarshal(b, &e); err != nil {
				return nil, nil, fmt.Errorf("%s line %d: %w", f.Name(), ln, err)
			}
			epochs = append(epochs, e)
		}
	}
	return steps, epochs, sc.Err()
}

// runLabel names a run in legends: the folder name and its AGMM setting.
func runLabel(dir string) string {
	label := filepath.Base(filepath.Clean(dir))
	cks, err := checkpoints(dir)
	if err == nil && len(cks) > 0 {
		b, err := os.ReadFile(filepath.Join(dir, cks[len(cks)-1]+".json"))
		if err == nil {
			var ls loopState
			if json.Unmarshal(b, &ls) == nil && ls.Config.AGMM != "" && !strings.Contains(strings.ToLower(label), "agmm") {
				label += " (agmm " + ls.Config.AGMM + ")"
			}
		}
	}
	return label
}

// Plot renders the curves of RUNDIR/metrics.jsonl as PNG files under
// RUNDIR/plots: loss.png, accuracy.png, flip_rate.png,
// flip_rate_layers.png, firing_rate.png and (when the network has AGMM
// gates) agmm_alpha.png. Further run folders (for example the same network
// trained with --agmm off) are overlaid on the loss, accuracy, flip-rate
// and firing-rate plots, which then go to RUNDIR/plots/compare.
func Plot(rundir string, compare ...string) error {
	var runs []*runMetrics
	for _, d := range append([]string{rundir}, compare...) {
		s, e, err := ReadMetrics(d)
		if err != nil {
			return err
		}
		runs = append(runs, &runMetrics{label: runLabel(d), steps: s, epochs: e})
	}
	if len(compare) == 0 {
		runs[0].label = ""
	}
	out := filepath.Join(rundir, PlotsDir)
	if len(compare) > 0 {
		out = filepath.Join(out, "compare")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	name := func(r *runMetrics, what string) string {
		if r.label == "" {
			return what
		}
		return r.label + " " + what
	}

	// Loss: per logged step and per epoch (training), test loss per epoch.
	p := newPlot("Loss", "step", "loss")
	var vs []any
	for _, r := range runs {
		vs = append(vs, name(r, "train (step)"), stepXY(r.steps, func(s StepLine) float64 { return s.Loss }))
		vs = append(vs, name(r, "test (epoch)"), epochXY(r.epochs, func(e EpochLine) float64 { return e.TestLoss }))
	}
	if err := save(p, filepath.Join(out, "loss.png"), vs); err != nil {
		return err
	}

	// Accuracy per epoch.
	p = newPlot("Accuracy", "epoch", "accuracy")
	p.Legend.Top = false // the curves rise
	vs = nil
	for _, r := range runs {
		vs = append(vs, name(r, "train"), epochNumXY(r.epochs, func(e EpochLine) float64 { return e.TrainAcc }))
		vs = append(vs, name(r, "test"), epochNumXY(r.epochs, func(e EpochLine) float64 { return e.TestAcc }))
	}
	if err := save(p, filepath.Join(out, "accuracy.png"), vs); err != nil {
		return err
	}

	// Flip rate: per logged step (FR_k) and epoch means, network-wide.
	p = newPlot("Sign-flip rate of binary weights", "step", "fraction flipped")
	vs = nil
	for _, r := range runs {
		vs = append(vs, name(r, "FR_k (step)"), stepXY(r.steps, func(s StepLine) float64 { return s.FlipRate }))
		vs = append(vs, name(r, "epoch mean"), epochXY(r.epochs, func(e EpochLine) float64 { return e.FlipRate }))
	}
	if err := save(p, filepath.Join(out, "flip_rate.png"), vs); err != nil {
		return err
	}
	// Flip rate per layer per epoch.
	p = newPlot("Epoch flip rate per binary layer", "epoch", "mean FR_k")
	vs = nil
	for _, r := range runs {
		for _, ln := range layerNames(r.epochs) {
			vs = append(vs, name(r, ln), epochNumXY(r.epochs, func(e EpochLine) float64 {
				for _, l := range e.Layers {
					if l.Name == ln {
						return l.FlipRate
					}
				}
				return 0
			}))
		}
	}
	if err := save(p, filepath.Join(out, "flip_rate_layers.png"), vs); err != nil {
		return err
	}

	// Firing rate per LIF layer (training epoch mean) and network-wide per step.
	p = newPlot("Firing rate", "step", "spikes per neuron and step")
	vs = nil
	for _, r := range runs {
		vs = append(vs, name(r, "network (step)"), stepXY(r.steps, func(s StepLine) float64 { return s.FiringRate }))
		if len(r.epochs) > 0 {
			for _, l := range r.epochs[0].LIF {
				node := l.Node
				vs = append(vs, name(r, node+" (epoch)"), epochXY(r.epochs, func(e EpochLine) float64 {
					for _, x := range e.LIF {
						if x.Node == node {
							return x.Rate
						}
					}
					return 0
				}))
			}
		}
	}
	if err := save(p, filepath.Join(out, "firing_rate.png"), vs); err != nil {
		return err
	}

	// AGMM alpha[t] per gate, per logged step.
	if len(runs[0].steps) > 0 && len(runs[0].steps[0].AGMM) > 0 {
		p = newPlot("AGMM alpha[t]", "step", "alpha")
		vs = nil
		for gi, g := range runs[0].steps[0].AGMM {
			for t := range g.Alpha {
				gi, t := gi, t
				vs = append(vs, fmt.Sprintf("%s t=%d", g.Node, t), stepXY(runs[0].steps, func(s StepLine) float64 {
					if gi < len(s.AGMM) && t < len(s.AGMM[gi].Alpha) {
						return s.AGMM[gi].Alpha[t]
					}
					return 0
				}))
			}
		}
		if err := save(p, filepath.Join(out, "agmm_alpha.png"), vs); err != nil {
			return err
		}
	}
	return nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	return p
}

// save adds the named lines (skipping empty ones; point markers only on
// short series) and writes the PNG atomically.
func save(p *plot.Plot, path string, vs []any) error {
	k := 0
	for i := 0; i+1 < len(vs); i += 2 {
		xy := vs[i+1].(plotter.XYs)
		if len(xy) == 0 {
			continue
		}
		name := vs[i].(string)
		if len(xy) > 40 {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			l.Color = plotutil.Color(k)
			l.Dashes = plotutil.Dashes(k)
			p.Add(l)
			p.Legend.Add(name, l)
		} else {
			l, pts, err := plotter.NewLinePoints(xy)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			l.Color, pts.Color = plotutil.Color(k), plotutil.Color(k)
			l.Dashes = plotutil.Dashes(k)
			pts.Shape = plotutil.Shape(k)
			p.Add(l, pts)
			p.Legend.Add(name, l, pts)
		}
		k++
	}
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	return onnx.WriteAtomic(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}

func stepXY(s []StepLine, f func(StepLine) float64) plotter.XYs {
	out := make(plotter.XYs, 0, len(s))
	for _, l := range s {
		out = append(out, plotter.XY{X: float64(l.Step), Y: f(l)})
	}
	return out
}

func epochXY(e []EpochLine, f func(EpochLine) float64) plotter.XYs {
	out := make(plotter.XYs, 0, len(e))
	for _, l := range e {
		out = append(out, plotter.XY{X: float64(l.Step), Y: f(l)})
	}
	return out
}

func epochNumXY(e []EpochLine, f func(EpochLine) float64) plotter.XYs {
	out := make(plotter.XYs, 0, len(e))
	for _, l := range e {
		out = append(out, plotter.XY{X: float64(l.Epoch), Y: f(l)})
	}
	return out
}

func layerNames(e []EpochLine) []string {
	set := map[string]bool{}
	for _, l := range e {
		for _, x := range l.Layers {
			set[x.Name] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
