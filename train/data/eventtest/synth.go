package eventtest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bsnnctl/bsnnctl/train/data"
)

// ClassEvents returns n synthetic events of class c (0 <= c < classes) on sensor over
// duration µs, in time order. The class is in where the events are: 80% of them fall in a
// square patch (a fifth of the sensor wide) whose place on a grid of classes cells is
// given by c, with ON events in the first half of the duration and OFF events in the
// second; the other 20% are uniform noise over the sensor and both polarities. So the
// summed frames of a sample identify its class by the brightest patch, a task a small
// network learns well above chance in a few steps.
func ClassEvents(c, classes int, sensor data.Sensor, n int, duration int64, rng *rand.Rand) []data.Event {
	cols := 1
	for cols*cols < classes {
		cols++
	}
	rows := (classes + cols - 1) / cols
	cellW, cellH := sensor.W/cols, sensor.H/rows
	patch := max(min(sensor.W, sensor.H)/5, 2)
	x0 := (c%cols)*cellW + max(cellW-patch, 0)/2
	y0 := (c/cols)*cellH + max(cellH-patch, 0)/2
	events := make([]data.Event, n)
	for i := range events {
		t := rng.Int64N(max(duration, 1))
		if rng.IntN(5) == 0 {
			events[i] = data.Event{T: t, X: uint16(rng.IntN(sensor.W)), Y: uint16(rng.IntN(sensor.H)), P: uint8(rng.IntN(2))}
			continue
		}
		p := uint8(1)
		if t >= duration/2 {
			p = 0
		}
		x := min(x0+rng.IntN(patch), sensor.W-1)
		y := min(y0+rng.IntN(patch), sensor.H-1)
		events[i] = data.Event{T: t, X: uint16(x), Y: uint16(y), P: p}
	}
	slices.SortStableFunc(events, func(a, b data.Event) int { return cmp.Compare(a.T, b.T) })
	return events
}

// NMNISTConfig configures WriteNMNIST.
type NMNISTConfig struct {
	Train, Test int    // files per digit in each split
	Events      int    // events per file (0: 400)
	Seed        uint64 // the same seed writes the same bytes
}

// WriteNMNIST writes a synthetic N-MNIST folder in the real layout and format,
// dir/Train/<digit>/<nnnnn>.bin and dir/Test/<digit>/<nnnnn>.bin, each file a
// ClassEvents sample of its digit over 300 ms on the 34x34 sensor.
func WriteNMNIST(dir string, cfg NMNISTConfig) error {
	if cfg.Events <= 0 {
		cfg.Events = 400
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6e6d6e697374))
	id := 0
	for _, split := range []struct {
		name string
		n    int
	}{{"Train", cfg.Train}, {"Test", cfg.Test}} {
		for digit := range 10 {
			for range split.n {
				id++
				ev := ClassEvents(digit, 10, data.NMNISTSensor, cfg.Events, 300_000, rng)
				path := filepath.Join(dir, split.name, fmt.Sprint(digit), fmt.Sprintf("%05d.bin", id))
				if err := writeEvents(path, EncodeNMNIST, ev); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// CIFAR10DVSConfig configures WriteCIFAR10DVS.
type CIFAR10DVSConfig struct {
	PerClass int    // files per class (the first ceil(PerClass/10) are the test split)
	Events   int    // events per file (0: 2000)
	Seed     uint64 // the same seed writes the same bytes
}

// WriteCIFAR10DVS writes a synthetic CIFAR10-DVS folder in the real layout and format,
// dir/<class>/cifar10_<class>_<i>.aedat, each file a ClassEvents sample of its class over
// 1.2 s on the 128x128 sensor.
func WriteCIFAR10DVS(dir string, cfg CIFAR10DVSConfig) error {
	if cfg.Events <= 0 {
		cfg.Events = 2000
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6369666172))
	classes := []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	for c, class := range classes {
		for i := range cfg.PerClass {
			ev := ClassEvents(c, 10, data.CIFAR10DVSSensor, cfg.Events, 1_200_000, rng)
			path := filepath.Join(dir, class, fmt.Sprintf("cifar10_%s_%d.aedat", class, i))
			if err := writeEvents(path, EncodeCIFAR10DVS, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// Gesture is one labelled gesture of a recording: class 1..11 as in the label files,
// and its time range [Start, End) in µs.
type Gesture struct {
	Class      int
	Start, End int64
}

// Recording is one DVS128 Gesture trial: its name ("user01_fluorescent"), its events and
// its label rows.
type Recording struct {
	Name     string
	Events   []data.Event
	Gestures []Gesture
}

// WriteDVSGesture writes DVS128 Gesture's layout into dir: <name>.aedat (AEDAT 3.1,
// packets of at most perPacket events) and <name>_labels.csv for every recording, and
// trials_to_train.txt and trials_to_test.txt listing them ("<name>.aedat" per line).
func WriteDVSGesture(dir string, train, test []Recording, perPacket int) error {
	for _, split := range []struct {
		list string
		recs []Recording
	}{{"trials_to_train.txt", train}, {"trials_to_test.txt", test}} {
		var list strings.Builder
		for _, r := range split.recs {
			b, err := EncodeAEDAT3(r.Events, perPacket)
			if err != nil {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
			if err := writeFile(filepath.Join(dir, r.Name+".aedat"), b); err != nil {
				return err
			}
			csv := "class,startTime_usec,endTime_usec\r\n"
			for _, g := range r.Gestures {
				csv += fmt.Sprintf("%d,%d,%d\r\n", g.Class, g.Start, g.End)
			}
			if err := writeFile(filepath.Join(dir, r.Name+"_labels.csv"), []byte(csv)); err != nil {
				return err
			}
			fmt.Fprintf(&list, "%s.aedat\r\n", r.Name)
		}
		if err := writeFile(filepath.Join(dir, split.list), []byte(list.String())); err != nil {
			return err
		}
	}
	return nil
}

// SyntheticRecording returns a DVS128 Gesture recording of the given classes (1..11)
// starting at start µs: 0.5 s of background noise (perGesture/10 uniform events), then
// for each class a 1 s gesture (a ClassEvents sample of perGesture events) followed by
// 0.5 s of background noise. The label rows are the gestures' exact ranges.
func SyntheticRecording(name string, classes []int, perGesture int, start int64, rng *rand.Rand) Recording {
	const gesture, gap = 1_000_000, 500_000
	r := Recording{Name: name}
	noise := func(t int64) {
		ev := ClassEvents(0, 1, data.DVSGestureSensor, max(perGesture/10, 1), gap, rng)
		for i := range ev {
			ev[i].T += t
		}
		r.Events = append(r.Events, ev...)
	}
	noise(start)
	t := start + gap
	for _, c := range classes {
		ev := ClassEvents(c-1, 11, data.DVSGestureSensor, perGesture, gesture, rng)
		for i := range ev {
			ev[i].T += t
		}
		r.Events = append(r.Events, ev...)
		r.Gestures = append(r.Gestures, Gesture{Class: c, Start: t, End: t + gesture})
		noise(t + gesture)
		t += gesture + gap
	}
	return r
}

// writeEvents writes events to path in the format of encode.
func writeEvents(path string, encode func([]data.Event) ([]byte, error), events []data.Event) error {
	b, err := encode(events)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFile(path, b)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// NMNISTFrames returns n synthetic N-MNIST samples, of classes 0, 1, 2, ... in turn
// (ClassEvents of 400 events over 300 ms on the 34x34 sensor, as WriteNMNIST writes
// them), binned by event count into T frames and laid out as an event loader serves a
// batch: frame-major [T, n, 2, 34, 34], sample i's frame t at (t*n+i)*2*34*34. It also
// returns the labels.
func NMNISTFrames(n, T int, seed uint64) (x []float32, labels []int, err error) {
	rng := rand.New(rand.NewPCG(seed, 0x6672616d6573))
	s := data.NMNISTSensor
	frame := 2 * s.H * s.W
	x = make([]float32, T*n*frame)
	counts := make([]uint16, T*frame)
	for i := range n {
		c := i % 10
		ev := ClassEvents(c, 10, s, 400, 300_000, rng)
		if err := data.BinEvents(counts, ev, s, T, data.BinByCount, data.FrameSize{}); err != nil {
			return nil, nil, err
		}
		for t := range T {
			dst := x[(t*n+i)*frame:][:frame]
			for j, v := range counts[t*frame:][:frame] {
				dst[j] = float32(v)
			}
		}
		labels = append(labels, c)
	}
	return x, labels, nil
}
