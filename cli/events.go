package cli

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/train/data"
)

// eventFlags are finetune's and eval's options for the event data sets
// (nmnist, dvsgesture, cifar10dvs), which event-input BSNNs (import
// --input events) read: T frames per sample, T the model's time steps,
// of the model's input size.
type eventFlags struct {
	Bin          string `name:"bin" default:"count" enum:"count,time" help:"Event data: split each sample's events into the T frames by equal event count (count) or equal time (time)."`
	FrameSize    string `name:"frame-size" placeholder:"N|HxW" help:"Event data: the frames' size, downsampled from the sensor. Default: the model's input size, the only size it takes (so a given size must be that one)."`
	FrameValues  string `name:"frame-values" default:"counts" enum:"counts,binary" help:"Event data: feed event counts (counts) or 1 where a pixel had an event (binary)."`
	FrameCache   string `name:"frame-cache" placeholder:"DIR" help:"Event data: the only folder of the frame cache (default: DIR/.bsnnctl-frames in the data set, else the user cache folder)."`
	NoFrameCache bool   `name:"no-frame-cache" help:"Event data: neither read nor write the frame cache (bin the events on every run)."`
}

// eventSettings are eventFlags parsed.
type eventSettings struct {
	bin    data.BinMode
	size   data.FrameSize
	values data.FrameValues
}

// parse parses the flags (an error is a usage error).
func (f *eventFlags) parse() (eventSettings, error) {
	var s eventSettings
	if err := s.bin.UnmarshalText([]byte(f.Bin)); err != nil {
		return s, fmt.Errorf("--bin: %w", err)
	}
	if f.FrameSize != "" {
		if err := s.size.UnmarshalText([]byte(f.FrameSize)); err != nil {
			return s, fmt.Errorf("--frame-size: %w", err)
		}
	}
	if err := s.values.UnmarshalText([]byte(f.FrameValues)); err != nil {
		return s, fmt.Errorf("--frame-values: %w", err)
	}
	return s, nil
}

// options returns the data.EventOptions of the flags (T and the size
// checked against the model by train.OpenEvents).
func (f *eventFlags) options(s eventSettings) data.EventOptions {
	return data.EventOptions{Bin: s.bin, Size: s.size, CacheDir: f.FrameCache, NoCache: f.NoFrameCache}
}

// imageDataErr reports event-data flags given with an image data set.
func (f *eventFlags) imageDataErr(s eventSettings, kind data.Kind) error {
	if s.bin != data.BinByCount || !s.size.IsZero() || s.values != data.FrameCounts || f.FrameCache != "" || f.NoFrameCache {
		return fmt.Errorf("--bin, --frame-size, --frame-values, --frame-cache and --no-frame-cache apply to event data sets; %s is an image data set", kind)
	}
	return nil
}
