package train

// EventKind says what an Event reports.
type EventKind int

const (
	// EpochStarted: the training batches of epoch Epoch begin (EpochStep
	// of StepsPerEpoch are already done when a run resumes mid-epoch).
	EpochStarted EventKind = iota + 1
	// StepDone: optimizer step Step finished with Loss; TrainAcc is the
	// epoch's running training accuracy.
	StepDone
	// EpochTrained: the epoch's training batches are done; its evaluation
	// follows.
	EpochTrained
	// EvalProgress: Done of Total evaluation batches are done (Done = 0
	// when an evaluation starts).
	EvalProgress
	// EpochDone: the epoch's evaluation finished; Eval holds it.
	EpochDone
)

// An Event is one thing a run reports while it goes, for a caller that
// draws progress (`bsnnctl` draws a progress bar from them). Fields that do
// not apply to an event's Kind are zero.
type Event struct {
	Kind EventKind
	// Epoch is 1-based; Epochs is the run's epoch count.
	Epoch, Epochs int
	// Step is the global optimizer step (1-based, after the step).
	Step int
	// EpochStep of StepsPerEpoch training batches are done in this epoch.
	EpochStep, StepsPerEpoch int
	Loss, TrainAcc           float64
	// Done of Total batches of an evaluation.
	Done, Total int
	Eval        *EvalResult
}

// An Observer receives a run's events, synchronously, on the goroutine that
// trains: it must return quickly and must not call back into the Trainer.
type Observer func(Event)

func (o Observer) send(e Event) {
	if o != nil {
		o(e)
	}
}
