package data

import (
	"fmt"
	"strings"
)

// EventAugment configures training-time augmentation of event frames, the one commonly
// used for DVS data (TET, Deng et al. 2022, and the works that follow it): a random
// horizontal flip, then a random circular shift (torch.roll) of the frames. The zero value
// means none. The same flip and shift apply to all T frames of a sample.
type EventAugment struct {
	// Roll > 0 shifts every frame circularly by dy rows and dx columns, each drawn
	// uniformly from [-Roll, Roll] (Roll 5 is the customary ±5 pixels).
	Roll int
	// HFlip mirrors the frames left-right with probability 1/2 (before the shift).
	HFlip bool
}

// Enabled reports whether a draws any random augmentation.
func (a EventAugment) Enabled() bool { return a.Roll > 0 || a.HFlip }

// EventAug is one sample's drawn event augmentation: a left-right flip, then a circular
// shift by DY rows and DX columns (positive: down and right). The zero value is the
// identity.
type EventAug struct {
	Flip   bool
	DY, DX int
}

// Draw returns the augmentation of dataset sample index in the given epoch. Like
// Augment.Draw it depends only on (seed, epoch, index), through a math/rand/v2 PCG read by
// its raw outputs, so batches do not depend on workers or timing and stay the same across
// Go releases; its stream is separate from the image augmentation's and the shuffle's.
func (a EventAugment) Draw(seed uint64, epoch, index int) EventAug {
	if !a.Enabled() {
		return EventAug{}
	}
	src := drawSource(eventAugDomain, seed, epoch, index)
	var g EventAug
	if a.HFlip {
		g.Flip = src.Uint64()>>63 == 1
	}
	if a.Roll > 0 {
		span := uint64(2*a.Roll + 1)
		g.DY = int(uintN(src, span)) - a.Roll
		g.DX = int(uintN(src, span)) - a.Roll
	}
	return g
}

const eventAugDomain = 0x65766e74_c2b2ae35

// FrameValues says what a frame cell holds in the model's input.
type FrameValues int

const (
	// FrameCounts: the number of events (SpikingJelly's and tonic's frames).
	FrameCounts FrameValues = iota
	// FrameBinary: 1 where at least one event occurred, else 0 (a spike frame).
	FrameBinary
)

func (v FrameValues) String() string {
	switch v {
	case FrameCounts:
		return "counts"
	case FrameBinary:
		return "binary"
	}
	return fmt.Sprintf("FrameValues(%d)", int(v))
}

// MarshalText returns "counts" or "binary".
func (v FrameValues) MarshalText() ([]byte, error) {
	if v != FrameCounts && v != FrameBinary {
		return nil, fmt.Errorf("data: invalid %v", v)
	}
	return []byte(v.String()), nil
}

// UnmarshalText parses "counts" or "binary" (a command-line flag of this type accepts them).
func (v *FrameValues) UnmarshalText(b []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "counts":
		*v = FrameCounts
	case "binary":
		*v = FrameBinary
	default:
		return fmt.Errorf("frame values %q, want counts or binary", b)
	}
	return nil
}
