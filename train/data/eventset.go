package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
)

// EventOptions configures OpenEvents: how events become frames and where the frames are
// cached. T, Bin and Size define the frames (and the cache file); the rest does not change
// them.
type EventOptions struct {
	// T is the number of frames per sample, normally the model's time steps (1..MaxFrames).
	T int
	// Bin splits a sample's events into frames by equal event count (default) or equal time.
	Bin BinMode
	// Size downsamples the frames (for example 48x48 for CIFAR10-DVS); the zero value keeps
	// the sensor's size. See BinEvents.
	Size FrameSize
	// NoCache neither reads nor writes the frame cache.
	NoCache bool
	// CacheDir, when set, is the only folder the frame cache is read from and written to,
	// instead of DIR/.bsnnctl-frames with the user cache folder as a fallback.
	CacheDir string
	// Workers is the number of files parsed in parallel when the frames are built
	// (0: GOMAXPROCS).
	Workers int
	// Log receives the cache decisions and the label-range reports (nil: slog.Default()).
	Log *slog.Logger
}

// EventDataset is one split of an event dataset, binned into frames and held in memory.
type EventDataset struct {
	Kind   Kind
	Split  Split
	Sensor Sensor // the recordings' pixel array
	// N samples, each T frames of [2, H, W] event counts; channel 0 counts OFF events,
	// channel 1 ON events.
	N, T, H, W int
	Bin        BinMode
	// Labels[i] is the class of sample i, in [0, NumClasses).
	Labels     []int
	NumClasses int
	ClassNames []string // len NumClasses
	// Samples[i] names sample i's source: its file, as a slash path relative to the dataset
	// folder, with "#k" appended for the gesture of data row k (0-based) of a DVS128
	// Gesture recording's label file.
	Samples []string
	// Issues lists the DVS128 Gesture label rows whose time range is not inside the events
	// of their recording (each also logged as a warning whenever the split is opened).
	Issues []LabelIssue
	// Cache says where the frames came from.
	Cache CacheInfo

	// counts[i] is sample i's [T, 2, H, W] counts: one byte per count, or two
	// (little-endian) when some count of the sample exceeds 255.
	counts [][]byte
}

// LabelIssue is a DVS128 Gesture label row whose range [Start, End) is not inside its
// recording's events [First, Last]. A row with events in its range is kept (those events
// are the sample); a row without any is dropped, since it has no sample to learn from.
// Neither is an error: the published label files are what every user has, and refusing
// them would make the dataset unusable; each is logged as a warning instead.
type LabelIssue struct {
	File   string `json:"file"`  // the label file, relative to the dataset folder
	Row    int    `json:"row"`   // 0-based data row (line Row+2 of the file)
	Class  int    `json:"class"` // 0-based
	Start  int64  `json:"start_us"`
	End    int64  `json:"end_us"`
	First  int64  `json:"first_us"` // the recording's first and last event times
	Last   int64  `json:"last_us"`
	Events int    `json:"events"` // events inside [Start, End)
	Kept   bool   `json:"kept"`
}

func (i LabelIssue) String() string {
	what := "dropped: no events in the range"
	if i.Kept {
		what = fmt.Sprintf("kept with the %d events inside", i.Events)
	}
	return fmt.Sprintf("%s row %d (line %d, class %d): label range [%d, %d) µs is not inside the recording's events [%d, %d] µs; %s",
		i.File, i.Row, i.Row+2, i.Class+1, i.Start, i.End, i.First, i.Last, what)
}

// FrameShape returns the shape of one frame, [2, H, W].
func (d *EventDataset) FrameShape() Shape { return Shape{2, d.H, d.W} }

// Len returns the number of samples.
func (d *EventDataset) Len() int { return d.N }

// SampleLen returns the number of values of one sample, T*2*H*W.
func (d *EventDataset) SampleLen() int { return d.T * 2 * d.H * d.W }

// Counts writes sample i's event counts, [T, 2, H, W], into dst (len SampleLen()).
func (d *EventDataset) Counts(i int, dst []uint16) error {
	if i < 0 || i >= d.N || len(dst) != d.SampleLen() {
		return fmt.Errorf("data: Counts(%d) with %d values: want a sample in [0, %d) and %d values", i, len(dst), d.N, d.SampleLen())
	}
	c := d.counts[i]
	if len(c) == len(dst) {
		for k, v := range c {
			dst[k] = uint16(v)
		}
		return nil
	}
	for k := range dst {
		dst[k] = binary.LittleEndian.Uint16(c[2*k:])
	}
	return nil
}

// Sample writes sample i as the model sees it, [T, 2, H, W] float32 (len SampleLen()):
// its counts as values v, with augmentation a (the zero EventAug for none).
func (d *EventDataset) Sample(i int, dst []float32, v FrameValues, a EventAug) error {
	if i < 0 || i >= d.N || len(dst) != d.SampleLen() {
		return fmt.Errorf("data: Sample(%d) with %d values: want a sample in [0, %d) and %d values", i, len(dst), d.N, d.SampleLen())
	}
	if v != FrameCounts && v != FrameBinary {
		return fmt.Errorf("data: invalid %v", v)
	}
	d.put(dst, 2*d.H*d.W, i, v, a)
	return nil
}

// put writes sample i's T frames into dst, frame t at dst[t*stride:] (stride 2*H*W for
// one sample, N*2*H*W for frame-major batches): flipped horizontally if a.Flip, then
// rolled (circularly) by a.DY rows and a.DX columns, as torch.roll does.
func (d *EventDataset) put(dst []float32, stride, i int, v FrameValues, a EventAug) {
	h, w := d.H, d.W
	c := d.counts[i]
	wide := len(c) != d.SampleLen()
	srcX := make([]int, w) // output column x reads source column srcX[x]
	for x := range srcX {
		sx := mod(x-a.DX, w)
		if a.Flip {
			sx = w - 1 - sx
		}
		srcX[x] = sx
	}
	var lut [256]float32 // one-byte count -> value
	for k := range lut {
		lut[k] = float32(k)
		if v == FrameBinary {
			lut[k] = float32(min(k, 1))
		}
	}
	for t := range d.T {
		for ch := range 2 {
			plane := dst[t*stride+ch*h*w : t*stride+(ch+1)*h*w]
			for y := range h {
				row := plane[y*w : (y+1)*w]
				src := ((t*2+ch)*h + mod(y-a.DY, h)) * w
				if !wide {
					srow := c[src : src+w]
					for x, sx := range srcX {
						row[x] = lut[srow[sx]]
					}
					continue
				}
				for x, sx := range srcX {
					n := binary.LittleEndian.Uint16(c[2*(src+sx):])
					if v == FrameBinary {
						n = min(n, 1)
					}
					row[x] = float32(n)
				}
			}
		}
	}
}

func mod(a, n int) int { return ((a % n) + n) % n }

// Slice returns the samples [lo, hi) as an EventDataset sharing d's memory.
func (d *EventDataset) Slice(lo, hi int) (*EventDataset, error) {
	if lo < 0 || hi > d.N || lo > hi {
		return nil, fmt.Errorf("data: Slice(%d, %d) out of range [0, %d]", lo, hi, d.N)
	}
	s := *d
	s.N = hi - lo
	s.Labels = d.Labels[lo:hi:hi]
	s.Samples = d.Samples[lo:hi:hi]
	s.counts = d.counts[lo:hi:hi]
	return &s, nil
}

// OpenEvents reads one split of an event dataset (nmnist, dvsgesture or cifar10dvs) and
// bins every sample into opt.T frames. The first time, it parses the event files and
// caches the frames on disk (see CacheInfo); later calls with the same frame options read
// the cache instead, as long as no source file changed.
func OpenEvents(spec Spec, split Split, opt EventOptions) (*EventDataset, error) {
	if !spec.Kind.IsEvent() {
		return nil, fmt.Errorf("%s is not an event dataset (event datasets: %s, %s, %s)", spec.Kind, NMNIST, DVSGesture, CIFAR10DVS)
	}
	if split != Train && split != Test {
		return nil, fmt.Errorf("data: invalid split %v", split)
	}
	if opt.T <= 0 || opt.T > MaxFrames {
		return nil, fmt.Errorf("%s: %d frames per sample, want 1..%d", spec.Kind, opt.T, MaxFrames)
	}
	if opt.Bin != BinByCount && opt.Bin != BinByTime {
		return nil, fmt.Errorf("%s: invalid %v", spec.Kind, opt.Bin)
	}
	if spec.Dir == "" {
		return nil, fmt.Errorf("%s: no folder given (accepted forms: %s)", spec.Kind, SpecForms)
	}
	src, err := dirSource(spec.Kind, spec.Dir)
	if err != nil {
		return nil, err
	}
	log := opt.Log
	if log == nil {
		log = slog.Default()
	}
	p, err := planEvents(src, spec.Kind, split)
	if err != nil {
		return nil, err
	}
	h, w, err := opt.Size.resolve(p.sensor)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Kind, err)
	}
	key := frameKey{Kind: spec.Kind, Split: split, T: opt.T, Bin: opt.Bin, H: h, W: w}
	var fc *frameCache
	if !opt.NoCache {
		if fc, err = newFrameCache(spec.Dir, opt.CacheDir, key, src, p); err != nil {
			return nil, err
		}
		if d := fc.load(log); d != nil {
			d.logIssues(log, src)
			return d, nil
		}
	}
	log.Info("binning events into frames", "dataset", spec.Kind, "split", split, "files", len(p.files),
		"frames", opt.T, "bin", opt.Bin, "size", fmt.Sprintf("%dx%d", h, w), "cache", fc != nil)
	d, err := buildEvents(src, p, key, opt.Workers)
	if err != nil {
		return nil, err
	}
	if fc != nil {
		fc.store(d, log)
	}
	d.logIssues(log, src)
	return d, nil
}

func (d *EventDataset) logIssues(log *slog.Logger, src source) {
	for _, is := range d.Issues {
		log.Warn("DVS128 Gesture label range outside the recording's events", "file", src.name(is.File), "row", is.Row,
			"line", is.Row+2, "class", is.Class+1, "start_us", is.Start, "end_us", is.End,
			"first_event_us", is.First, "last_event_us", is.Last, "events", is.Events, "kept", is.Kept)
	}
}

// eventPlan is what a split of an event dataset is made of, before any event is read.
type eventPlan struct {
	sensor  Sensor
	classes []string
	decode  func([]byte) ([]Event, error)
	files   []eventFile
	deps    []string // further files the samples depend on (DVS128 Gesture's lists and labels)
}

// eventFile is one event file of a plan and the samples it holds.
type eventFile struct {
	path   string     // slash path inside the dataset folder
	label  int        // the class of the file's single sample (cuts == nil)
	labels string     // DVS128 Gesture: the recording's label file
	cuts   []labelRow // DVS128 Gesture: the recording's gestures, one sample each
}

func (f eventFile) samples() int {
	if f.cuts == nil {
		return 1
	}
	return len(f.cuts)
}

func planEvents(src source, kind Kind, split Split) (*eventPlan, error) {
	switch kind {
	case NMNIST:
		return planNMNIST(src, split)
	case DVSGesture:
		return planDVSGesture(src, split)
	case CIFAR10DVS:
		return planCIFAR10DVS(src, split)
	}
	return nil, fmt.Errorf("%s is not an event dataset", kind)
}

// buildEvents parses every file of p and bins its samples.
func buildEvents(src source, p *eventPlan, k frameKey, workers int) (*EventDataset, error) {
	first := make([]int, len(p.files)+1) // first sample of each file
	for i, f := range p.files {
		first[i+1] = first[i] + f.samples()
	}
	n := first[len(p.files)]
	d := &EventDataset{
		Kind: k.Kind, Split: k.Split, Sensor: p.sensor, N: n, T: k.T, H: k.H, W: k.W, Bin: k.Bin,
		Labels: make([]int, n), NumClasses: len(p.classes), ClassNames: p.classes,
		Samples: make([]string, n), counts: make([][]byte, n),
	}
	issues := make([][]LabelIssue, len(p.files))
	size := FrameSize{H: k.H, W: k.W}
	err := forEach(len(p.files), workers, func(j int) error {
		f := p.files[j]
		b, err := fs.ReadFile(src.fsys, f.path)
		if err != nil {
			return ioErr(src.name(f.path), err)
		}
		events, err := p.decode(b)
		if err != nil {
			var fe *EventFormatError
			if errors.As(err, &fe) {
				fe.File = src.name(f.path)
			}
			return err
		}
		scratch := make([]uint16, d.SampleLen())
		bin := func(i int, ev []Event, label int, name string) error {
			if err := BinEvents(scratch, ev, p.sensor, k.T, k.Bin, size); err != nil {
				return fmt.Errorf("%s: %w", src.name(f.path), err)
			}
			d.counts[i], d.Labels[i], d.Samples[i] = packCounts(scratch), label, name
			return nil
		}
		if f.cuts == nil {
			return bin(first[j], events, f.label, f.path)
		}
		lo, hi := timeRange(events)
		var cut []Event
		for r, row := range f.cuts {
			cut = cut[:0]
			for _, e := range events {
				if e.T >= row.Start && e.T < row.End {
					cut = append(cut, e)
				}
			}
			if len(events) == 0 || row.Start < lo || row.End > hi+1 || len(cut) == 0 {
				issues[j] = append(issues[j], LabelIssue{File: f.labels, Row: row.Row, Class: row.Class,
					Start: row.Start, End: row.End, First: lo, Last: hi, Events: len(cut), Kept: len(cut) > 0})
			}
			if len(cut) > 0 {
				if err := bin(first[j]+r, cut, row.Class, fmt.Sprintf("%s#%d", f.path, row.Row)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.Issues = slices.Concat(issues...)
	d.Cache.Parsed = len(p.files)
	// Drop the gestures without events (each reported in Issues).
	keep := 0
	for i := range n {
		if d.counts[i] != nil {
			d.counts[keep], d.Labels[keep], d.Samples[keep] = d.counts[i], d.Labels[i], d.Samples[i]
			keep++
		}
	}
	d.N, d.counts, d.Labels, d.Samples = keep, d.counts[:keep], d.Labels[:keep], d.Samples[:keep]
	if keep == 0 {
		return nil, fmt.Errorf("%s %s: no samples with events", k.Kind, k.Split)
	}
	return d, nil
}

// timeRange returns the smallest and largest time stamp of events (0, 0 for none).
func timeRange(events []Event) (lo, hi int64) {
	for i, e := range events {
		if i == 0 || e.T < lo {
			lo = e.T
		}
		if i == 0 || e.T > hi {
			hi = e.T
		}
	}
	return lo, hi
}

// packCounts stores counts in one byte each when they all fit, else in two (little-endian).
func packCounts(c []uint16) []byte {
	if slices.Max(c) <= 0xff {
		b := make([]byte, len(c))
		for i, v := range c {
			b[i] = byte(v)
		}
		return b
	}
	b := make([]byte, 2*len(c))
	for i, v := range c {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}
