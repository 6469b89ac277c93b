package train

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train/data"
)

// A run reads one of two kinds of data, as the model's input encoding
// says (bsnn.input_encoding, netInfo.Encoding):
//
//   - images (data.Open, data.NewLoader): batches [N, C, H, W] through a
//     data.Transform, for models that repeat their input over time;
//   - event frames (data.OpenEvents, data.NewEventLoader): T frames per
//     sample, time-major batches [T, N, 2, H, W], for event-input models
//     (spec §8). The frames are binned for the model: T is its time steps
//     and H×W its input's size.
//
// A data set of the other kind is an error naming both (netInfo.checkData).
// Data-parallel ranks each take their slice of every batch along N
// (data.LoaderConfig's shards), and a contiguous part of the test set.

// testSet is a test split as an evaluation reads it: its size and the
// loader of its batches.
type testSet struct {
	n      int
	loader func(batch, workers int) (*data.Loader, error)
}

// imageTestSet batches ds's images through tf.
func imageTestSet(ds *data.Dataset, tf *data.Transform) testSet {
	return testSet{n: ds.N, loader: func(batch, workers int) (*data.Loader, error) {
		return data.NewLoader(ds, tf, data.LoaderConfig{BatchSize: batch, Workers: workers})
	}}
}

// eventTestSet batches ds's frames as values v.
func eventTestSet(ds *data.EventDataset, v data.FrameValues) testSet {
	return testSet{n: ds.N, loader: func(batch, workers int) (*data.Loader, error) {
		return data.NewEventLoader(ds, data.EventInput{Values: v}, data.LoaderConfig{BatchSize: batch, Workers: workers})
	}}
}

// rankPart returns the part [lo, hi) of n test samples that one of size
// ranks evaluates.
func rankPart(n, size, rank int) (lo, hi int, err error) {
	if n < size {
		return 0, 0, fmt.Errorf("the test set has %d samples, fewer than the %d ranks that share it", n, size)
	}
	return rank * n / size, (rank + 1) * n / size, nil
}

// openData reads the splits and makes this rank's training loader and
// test set; it returns the number of training samples.
func (t *Trainer) openData() (int, error) {
	cfg := t.cfg
	lc := data.LoaderConfig{BatchSize: cfg.Batch, Shuffle: true, DropLast: true, Seed: cfg.Seed, Workers: cfg.Workers,
		Shards: t.comm.Size(), Shard: t.comm.Rank()}
	if t.ni.events() {
		return t.openEventData(lc)
	}
	return t.openImageData(lc)
}

// openImageData opens an image data set.
func (t *Trainer) openImageData(lc data.LoaderConfig) (int, error) {
	cfg := t.cfg
	trainDS, testDS, err := openImageSplits(cfg, t.ni)
	if err != nil {
		return 0, err
	}
	if cfg.AugRoll > 0 || cfg.Bin != data.BinByCount || cfg.FrameValues != data.FrameCounts || !cfg.FrameSize.IsZero() ||
		cfg.FrameCache != "" || cfg.NoFrameCache {
		return 0, fmt.Errorf("the event-frame settings (binning, frame size, values and cache, roll augmentation) apply to event data sets; %s is an image data set", trainDS.Kind)
	}
	var norm *data.Norm
	if trainDS.Kind == data.Folder {
		n := data.ComputeNorm(trainDS)
		norm = &n
	}
	trainTF, err := makeTransform(trainDS, t.ni, norm, data.FitResize)
	if err != nil {
		return 0, err
	}
	testTF, err := makeTransform(testDS, t.ni, norm, data.FitResize)
	if err != nil {
		return 0, err
	}
	if trainDS.N < cfg.Batch {
		return 0, fmt.Errorf("the training set has %d images, fewer than one batch of %d", trainDS.N, cfg.Batch)
	}
	lo, hi, err := rankPart(testDS.N, t.comm.Size(), t.comm.Rank())
	if err != nil {
		return 0, err
	}
	if testDS, err = testDS.Slice(lo, hi); err != nil {
		return 0, err
	}
	lc.Augment = data.Augment{Pad: cfg.AugPad, HFlip: cfg.AugFlip}
	if t.loader, err = data.NewLoader(trainDS, trainTF, lc); err != nil {
		return 0, err
	}
	t.test = imageTestSet(testDS, testTF)
	return trainDS.N, nil
}

// openImageSplits reads the training and test images (Config.TrainSet and
// TestSet, or the data set Config.Data names), within the limits.
func openImageSplits(cfg Config, ni *netInfo) (trainDS, testDS *data.Dataset, err error) {
	if cfg.TrainSet != nil {
		trainDS, testDS = cfg.TrainSet, cfg.TestSet
		if err := ni.checkData(trainDS.Kind); err != nil {
			return nil, nil, err
		}
	} else {
		spec, err := data.ParseSpec(cfg.Data)
		if err != nil {
			return nil, nil, err
		}
		if err := ni.checkData(spec.Kind); err != nil {
			return nil, nil, err
		}
		if trainDS, err = data.Open(spec, data.Train); err != nil {
			return nil, nil, err
		}
		if testDS, err = data.Open(spec, data.Test); err != nil {
			return nil, nil, err
		}
	}
	if trainDS, err = limit(trainDS, cfg.TrainLimit); err != nil {
		return nil, nil, err
	}
	if testDS, err = limit(testDS, cfg.TestLimit); err != nil {
		return nil, nil, err
	}
	if testDS.N == 0 {
		return nil, nil, fmt.Errorf("the test set is empty")
	}
	return trainDS, testDS, nil
}

// split is an image or an event data set split.
type split[D any] interface {
	Len() int
	Slice(lo, hi int) (D, error)
}

// limit returns the first k samples of ds (all of them for k <= 0).
func limit[D split[D]](ds D, k int) (D, error) {
	if k > 0 && k < ds.Len() {
		return ds.Slice(0, k)
	}
	return ds, nil
}

// openEventData opens an event data set binned for the model.
func (t *Trainer) openEventData(lc data.LoaderConfig) (int, error) {
	cfg := t.cfg
	if cfg.TrainSet != nil {
		return 0, t.ni.checkData(cfg.TrainSet.Kind)
	}
	if cfg.AugPad != 0 {
		return 0, fmt.Errorf("augmentation pad %d: random crops apply to images; event frames are shifted with the roll augmentation (--aug-roll)", cfg.AugPad)
	}
	spec, err := data.ParseSpec(cfg.Data)
	if err != nil {
		return 0, err
	}
	opt := data.EventOptions{Bin: cfg.Bin, Size: cfg.FrameSize, CacheDir: cfg.FrameCache, NoCache: cfg.NoFrameCache,
		Workers: cfg.Workers, Log: t.log}
	trainDS, err := openEvents(t.ni, spec, data.Train, opt)
	if err != nil {
		return 0, err
	}
	testDS, err := openEvents(t.ni, spec, data.Test, opt)
	if err != nil {
		return 0, err
	}
	if trainDS, err = limit(trainDS, cfg.TrainLimit); err != nil {
		return 0, err
	}
	if testDS, err = limit(testDS, cfg.TestLimit); err != nil {
		return 0, err
	}
	if trainDS.N < cfg.Batch {
		return 0, fmt.Errorf("the training set has %d samples, fewer than one batch of %d", trainDS.N, cfg.Batch)
	}
	lo, hi, err := rankPart(testDS.N, t.comm.Size(), t.comm.Rank())
	if err != nil {
		return 0, err
	}
	if testDS, err = testDS.Slice(lo, hi); err != nil {
		return 0, err
	}
	in := data.EventInput{Values: cfg.FrameValues, Augment: data.EventAugment{Roll: cfg.AugRoll, HFlip: cfg.AugFlip}}
	if t.loader, err = data.NewEventLoader(trainDS, in, lc); err != nil {
		return 0, err
	}
	t.test = eventTestSet(testDS, cfg.FrameValues)
	return trainDS.N, nil
}

// CheckData reports whether model can read a data set of the given kind:
// an event data set needs an event-input model (bsnn.input_encoding
// "events", spec §8), an image data set any other. The error names the
// model's input and what to do.
func CheckData(model *onnx.Model, kind data.Kind) error {
	ni, err := analyze(model)
	if err != nil {
		return err
	}
	return ni.checkData(kind)
}

// OpenEvents opens one split of the event data set spec binned into the
// frames model reads (spec §8): T frames per sample, T the model's time
// steps, of its input's H×W (downsampled from the sensor). opt gives the
// binning and the frame cache; opt.T and opt.Size, when set, must be the
// model's. A model that reads images, or whose frames do not have two
// channels, is an error naming the model's input.
func OpenEvents(model *onnx.Model, spec data.Spec, split data.Split, opt data.EventOptions) (*data.EventDataset, error) {
	ni, err := analyze(model)
	if err != nil {
		return nil, err
	}
	return openEvents(ni, spec, split, opt)
}

func openEvents(ni *netInfo, spec data.Spec, split data.Split, opt data.EventOptions) (*data.EventDataset, error) {
	if err := ni.checkData(spec.Kind); err != nil {
		return nil, err
	}
	if opt.T != 0 && opt.T != ni.T {
		return nil, fmt.Errorf("%d frames per sample, but the model runs T=%d time steps", opt.T, ni.T)
	}
	s := ni.InputShape
	want := data.FrameSize{H: s.H, W: s.W}
	if !opt.Size.IsZero() && opt.Size != want {
		return nil, fmt.Errorf("frame size %v, but the model's input %q takes %v frames", opt.Size, ni.Input, want)
	}
	if s.C != 2 {
		return nil, fmt.Errorf("the model's input %q has %d channels per frame; event frames have 2 (OFF and ON events)", ni.Input, s.C)
	}
	opt.T, opt.Size = ni.T, want
	ds, err := data.OpenEvents(spec, split, opt)
	if err != nil {
		return nil, fmt.Errorf("%s frames for the model's input %q (T=%d, %v): %w", spec.Kind, ni.Input, ni.T, want, err)
	}
	return ds, nil
}

// checkFrames reports event frames that do not fit the model's input.
func (ni *netInfo) checkFrames(ds *data.EventDataset) error {
	if err := ni.checkData(ds.Kind); err != nil {
		return err
	}
	if s := ni.InputShape; ds.T != ni.T || ds.FrameShape() != s {
		return fmt.Errorf("the %s frames are %d x %v per sample, but the model's input %q takes %d x %v", ds.Kind, ds.T, ds.FrameShape(), ni.Input, ni.T, s)
	}
	return nil
}
