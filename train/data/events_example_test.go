package data_test

import (
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// An event dataset is opened with frame options, binned once (the frames are cached next
// to the data) and served as frame-major batches [T, N, 2, H, W]. Here a small synthetic
// N-MNIST folder in the real layout and format.
func ExampleOpenEvents() {
	dir, err := os.MkdirTemp("", "nmnist")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := eventtest.WriteNMNIST(dir, eventtest.NMNISTConfig{Train: 2, Test: 1, Seed: 1}); err != nil {
		log.Fatal(err)
	}
	spec, err := data.ParseSpec("nmnist:" + dir)
	if err != nil {
		log.Fatal(err)
	}
	opt := data.EventOptions{T: 4, Bin: data.BinByTime, Size: data.FrameSize{H: 17, W: 17}, Log: slog.New(slog.DiscardHandler)}
	train, err := data.OpenEvents(spec, data.Train, opt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.N, "samples of", train.T, "frames", train.FrameShape(), "from", train.Cache.Parsed, "files")
	again, err := data.OpenEvents(spec, data.Train, opt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("second open: from the cache:", again.Cache.Hit, "files parsed:", again.Cache.Parsed)

	loader, err := data.NewEventLoader(train, data.EventInput{Augment: data.EventAugment{Roll: 5, HFlip: true}},
		data.LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	b, err := loader.BatchAt(0, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Release()
	fmt.Printf("batch X [T=%d, N=%d, %v]: %d values, Y=%v\n", loader.Frames(), b.N, loader.Shape(), len(b.X), b.Y)
	// Output:
	// 20 samples of 4 frames [2, 17, 17] from 20 files
	// second open: from the cache: true files parsed: 0
	// batch X [T=4, N=8, [2, 17, 17]]: 18496 values, Y=[3 4 6 0 0 8 1 5]
}
