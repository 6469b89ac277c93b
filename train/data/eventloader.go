package data

import "fmt"

// EventInput says how event frames become the model's input.
type EventInput struct {
	Values  FrameValues  // counts (default) or binary
	Augment EventAugment // training augmentation (the zero value for evaluation)
}

// NewEventLoader returns a Loader of event frames: Batch.X is [T, N, 2, H, W] float32,
// frame-major (the input of an event-input BSNN runs one frame per time step), with the
// values and augmentation of in. Shuffling, resumption and determinism are those of
// image Loaders; cfg.Augment (image augmentation) must be zero.
func NewEventLoader(ds *EventDataset, in EventInput, cfg LoaderConfig) (*Loader, error) {
	if ds == nil {
		return nil, fmt.Errorf("data: NewEventLoader needs a dataset")
	}
	if ds.N == 0 {
		return nil, fmt.Errorf("data: %s %s dataset is empty", ds.Kind, ds.Split)
	}
	if cfg.Augment.Enabled() || cfg.Augment.Pad != 0 {
		return nil, fmt.Errorf("data: image augmentation %+v does not apply to event frames; use EventInput.Augment", cfg.Augment)
	}
	if in.Augment.Roll < 0 {
		return nil, fmt.Errorf("data: event roll %d, want >= 0", in.Augment.Roll)
	}
	if in.Values != FrameCounts && in.Values != FrameBinary {
		return nil, fmt.Errorf("data: invalid %v", in.Values)
	}
	l, err := loaderFor(eventSource{ds: ds, in: in}, cfg)
	if err != nil {
		return nil, err
	}
	l.events = ds
	return l, nil
}

// eventSource writes a sample's T frames into a frame-major batch: frame t of sample pos
// of n goes to x[(t*n+pos)*2*H*W:].
type eventSource struct {
	ds *EventDataset
	in EventInput
}

func (s eventSource) len() int        { return s.ds.N }
func (s eventSource) sampleLen() int  { return s.ds.SampleLen() }
func (s eventSource) label(i int) int { return s.ds.Labels[i] }

func (s eventSource) put(x []float32, n, pos, idx int, seed uint64, epoch int) {
	frame := 2 * s.ds.H * s.ds.W
	s.ds.put(x[pos*frame:], n*frame, idx, s.in.Values, s.in.Augment.Draw(seed, epoch, idx))
}
