package data

import (
	"fmt"
	"strconv"
	"strings"
)

// Event is one address event of an event camera.
type Event struct {
	T    int64  // time stamp in microseconds (absolute, after timestamp-overflow handling)
	X, Y uint16 // pixel column and row; (0, 0) is the top-left corner
	P    uint8  // polarity: 0 OFF (darker), 1 ON (brighter); also the frame channel
}

// Sensor is the pixel array of an event camera (or of a dataset's recordings).
type Sensor struct{ W, H int }

func (s Sensor) String() string { return fmt.Sprintf("%dx%d", s.W, s.H) }

// The sensors of the event datasets.
var (
	NMNISTSensor     = Sensor{W: 34, H: 34}
	DVSGestureSensor = Sensor{W: 128, H: 128}
	CIFAR10DVSSensor = Sensor{W: 128, H: 128}
)

// BinMode says how a sample's events are split into its T frames.
type BinMode int

const (
	// BinByCount gives every frame the same number of events: with N events in stream
	// order and k = max(N / T, 1) (integer division), event i goes to frame min(i / k, T-1);
	// the last frame also takes the N mod T remaining events. For N >= T this is
	// SpikingJelly's split_by="number".
	BinByCount BinMode = iota
	// BinByTime gives every frame the same duration: with t0 and t1 the time stamps of
	// the first and last event in stream order and dt = max((t1 - t0) / T, 1) µs (integer
	// division), an event at time t goes to frame clamp((t - t0) / dt, 0, T-1); the last
	// frame also takes the events after t0 + T*dt. For time-ordered streams with
	// t1 - t0 >= T this is SpikingJelly's split_by="time".
	BinByTime
)

func (m BinMode) String() string {
	switch m {
	case BinByCount:
		return "count"
	case BinByTime:
		return "time"
	}
	return fmt.Sprintf("BinMode(%d)", int(m))
}

// MarshalText returns "count" or "time".
func (m BinMode) MarshalText() ([]byte, error) {
	if m != BinByCount && m != BinByTime {
		return nil, fmt.Errorf("data: invalid %v", m)
	}
	return []byte(m.String()), nil
}

// UnmarshalText parses "count" or "time" (a command-line flag of this type accepts them).
func (m *BinMode) UnmarshalText(b []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "count":
		*m = BinByCount
	case "time":
		*m = BinByTime
	default:
		return fmt.Errorf("binning %q, want count or time", b)
	}
	return nil
}

// FrameSize is the size of a frame after spatial downsampling. The zero value keeps the
// sensor's size.
type FrameSize struct{ H, W int }

// IsZero reports whether s keeps the sensor's size.
func (s FrameSize) IsZero() bool { return s == FrameSize{} }

func (s FrameSize) String() string {
	if s.IsZero() {
		return "sensor"
	}
	return fmt.Sprintf("%dx%d", s.H, s.W)
}

// MarshalText returns "HxW" ("sensor" for the zero value).
func (s FrameSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "N" (N x N), "HxW" (height x width) or "sensor" (the zero value).
func (s *FrameSize) UnmarshalText(b []byte) error {
	str := strings.ToLower(strings.TrimSpace(string(b)))
	if str == "sensor" || str == "" {
		*s = FrameSize{}
		return nil
	}
	hs, ws, two := strings.Cut(str, "x")
	if !two {
		ws = hs
	}
	h, err1 := strconv.Atoi(hs)
	w, err2 := strconv.Atoi(ws)
	if err1 != nil || err2 != nil || h <= 0 || w <= 0 {
		return fmt.Errorf("frame size %q, want N, HxW or sensor", b)
	}
	*s = FrameSize{H: h, W: w}
	return nil
}

// resolve returns the frame size for sensor: s, or the sensor's size for the zero value.
func (s FrameSize) resolve(sensor Sensor) (h, w int, err error) {
	if s.IsZero() {
		return sensor.H, sensor.W, nil
	}
	if s.H <= 0 || s.W <= 0 || s.H > sensor.H || s.W > sensor.W {
		return 0, 0, fmt.Errorf("frame size %v: want 1..%d x 1..%d (downsampling the %v sensor, never upsampling)",
			s, sensor.H, sensor.W, sensor)
	}
	return s.H, s.W, nil
}

// MaxFrames bounds T: more frames than this is a mistake, not a model.
const MaxFrames = 1 << 12

// BinEvents turns one sample's events into T frames of event counts, dst = [T, 2, H, W]
// (len T*2*H*W, overwritten), channel 0 counting OFF events and channel 1 ON events.
// mode selects the frame of each event (see BinByCount and BinByTime). size downsamples
// spatially by integer-scaled coordinates: the event at pixel (x, y) of the sensor lands
// in cell (x*W/sensor.W, y*H/sensor.H) (floor), so a 128-pixel axis binned to 48 cells
// gives every cell 2 or 3 sensor pixels. Counts saturate at 65535. Events outside the
// sensor or with a polarity other than 0 and 1 are an error.
func BinEvents(dst []uint16, events []Event, sensor Sensor, t int, mode BinMode, size FrameSize) error {
	if t <= 0 || t > MaxFrames {
		return fmt.Errorf("data: %d frames per sample, want 1..%d", t, MaxFrames)
	}
	if mode != BinByCount && mode != BinByTime {
		return fmt.Errorf("data: invalid %v", mode)
	}
	h, w, err := size.resolve(sensor)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	plane := h * w
	frame := 2 * plane
	if len(dst) != t*frame {
		return fmt.Errorf("data: BinEvents: dst has %d values, want %d = %d frames of [2, %d, %d]", len(dst), t*frame, t, h, w)
	}
	clear(dst)
	n := len(events)
	if n == 0 {
		return nil
	}
	per := max(n/t, 1)
	t0, t1 := events[0].T, events[n-1].T
	dt := max((t1-t0)/int64(t), 1)
	for i, e := range events {
		if int(e.X) >= sensor.W || int(e.Y) >= sensor.H || e.P > 1 {
			return fmt.Errorf("data: BinEvents: event %d (x=%d y=%d p=%d) is outside the %v sensor's two polarities",
				i, e.X, e.Y, e.P, sensor)
		}
		var f int
		if mode == BinByCount {
			f = min(i/per, t-1)
		} else if e.T > t0 {
			f = int(min((e.T-t0)/dt, int64(t-1)))
		}
		k := f*frame + int(e.P)*plane + int(e.Y)*h/sensor.H*w + int(e.X)*w/sensor.W
		if dst[k] != 0xffff {
			dst[k]++
		}
	}
	return nil
}
