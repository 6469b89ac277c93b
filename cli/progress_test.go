package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/train"
)

// TestProgressBars: a run's events draw an epoch bar with the loss and
// accuracy, then an evaluation bar, each cleared when its part ends.
func TestProgressBars(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{out: &buf}
	obs := p.observer()
	obs(train.Event{Kind: train.EpochStarted, Epoch: 1, Epochs: 2, StepsPerEpoch: 3})
	for s := 1; s <= 3; s++ {
		obs(train.Event{Kind: train.StepDone, Epoch: 1, Epochs: 2, Step: s, EpochStep: s, StepsPerEpoch: 3, Loss: 0.5, TrainAcc: 0.75})
	}
	if st := p.bar.State(); st.CurrentNum != 3 || st.Max != 3 || st.Description != "epoch 1/2 loss 0.5000 acc 0.750" {
		t.Errorf("epoch bar at %d of %d, %q", st.CurrentNum, st.Max, st.Description)
	}
	obs(train.Event{Kind: train.EpochTrained, Epoch: 1, Epochs: 2, Step: 3, EpochStep: 3, StepsPerEpoch: 3})
	if p.bar != nil {
		t.Error("the epoch bar is still drawn after the epoch's batches")
	}
	obs(train.Event{Kind: train.EvalProgress, Done: 0, Total: 2})
	obs(train.Event{Kind: train.EvalProgress, Done: 1, Total: 2})
	if p.bar == nil {
		t.Error("no evaluation bar")
	}
	obs(train.Event{Kind: train.EvalProgress, Done: 2, Total: 2})
	obs(train.Event{Kind: train.EpochDone, Epoch: 1, Epochs: 2})
	if p.bar != nil {
		t.Error("the evaluation bar is still drawn after the evaluation")
	}
	out := buf.String()
	for _, want := range []string{"epoch 1/2", "evaluating"} {
		if !strings.Contains(out, want) {
			t.Errorf("the bars lack %q: %q", want, out)
		}
	}
	var none *progress // --no-progress or no terminal
	if none.observer() != nil {
		t.Error("a nil progress has an observer")
	}
	none.finish()
}
