package cli

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/bsnnctl/bsnnctl/train"
)

// progress draws a run's events as progress bars on stderr: one bar per
// epoch's training batches (ETA, loss, running accuracy) and one per
// evaluation. Commands make one with Globals.progress, which returns nil
// when bars must not be drawn; a nil *progress draws nothing.
type progress struct {
	out io.Writer
	bar *progressbar.ProgressBar
}

// progress returns a progress drawer when stderr is a terminal and
// --no-progress was not given, else nil.
func (g *Globals) progress() *progress {
	if !g.ShowProgress() {
		return nil
	}
	return &progress{out: g.Stderr}
}

// observer returns the train.Observer that draws into p (nil for a nil p).
func (p *progress) observer() train.Observer {
	if p == nil {
		return nil
	}
	return p.observe
}

func (p *progress) observe(e train.Event) {
	switch e.Kind {
	case train.EpochStarted:
		p.start(e.StepsPerEpoch, fmt.Sprintf("epoch %d/%d", e.Epoch, e.Epochs))
		_ = p.bar.Set(e.EpochStep)
	case train.StepDone:
		if p.bar != nil {
			p.bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f acc %.3f", e.Epoch, e.Epochs, e.Loss, e.TrainAcc))
			_ = p.bar.Add(1)
		}
	case train.EvalProgress:
		if e.Done == 0 {
			p.start(e.Total, "evaluating")
			return
		}
		if p.bar != nil {
			_ = p.bar.Set(e.Done)
		}
		if e.Done == e.Total {
			p.finish()
		}
	case train.EpochTrained, train.EpochDone:
		p.finish()
	}
}

// start replaces the current bar by a new one of total steps.
func (p *progress) start(total int, desc string) {
	p.finish()
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(200*time.Millisecond),
	)
}

// finish clears the current bar, if any (nil-safe: commands defer it).
func (p *progress) finish() {
	if p != nil && p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}

// withThreads runs f with GOMAXPROCS set to threads (0: unchanged), the
// --threads flag of the commands that compute.
func withThreads(threads int, f func() error) error {
	if threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	}
	return f()
}
