package data_test

import (
	"math/rand/v2"
	"testing"

	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// BenchmarkDecodeBinNMNIST measures the first-open cost per N-MNIST-sized file (about
// 4000 events): decoding and binning into 10 frames. The figure to read is files/s.
func BenchmarkDecodeBinNMNIST(b *testing.B) {
	ev := eventtest.ClassEvents(3, 10, data.NMNISTSensor, 4000, 300_000, rand.New(rand.NewPCG(1, 1)))
	raw, err := eventtest.EncodeNMNIST(ev)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]uint16, 10*2*34*34)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		ev, err := data.DecodeNMNIST(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := data.BinEvents(dst, ev, data.NMNISTSensor, 10, data.BinByCount, data.FrameSize{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkEventLoader measures batches of CIFAR10-DVS-shaped frames (T=10, 2x48x48,
// batch 64, flip and roll ±5) from an in-memory EventDataset. One iteration is one batch;
// the figure to read is samples/s.
func BenchmarkEventLoader(b *testing.B) {
	dir := b.TempDir()
	if err := eventtest.WriteCIFAR10DVS(dir, eventtest.CIFAR10DVSConfig{PerClass: 13, Events: 3000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	d, err := data.OpenEvents(data.Spec{Kind: data.CIFAR10DVS, Dir: dir}, data.Train,
		data.EventOptions{T: 10, Size: data.FrameSize{H: 48, W: 48}, NoCache: true})
	if err != nil {
		b.Fatal(err)
	}
	l, err := data.NewEventLoader(d, data.EventInput{Augment: data.EventAugment{Roll: 5, HFlip: true}},
		data.LoaderConfig{BatchSize: 64, Shuffle: true, DropLast: true, Seed: 1, Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		bt, err := l.BatchAt(0, k%l.Len())
		if err != nil {
			b.Fatal(err)
		}
		bt.Release()
		k++
	}
	b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "samples/s")
}
