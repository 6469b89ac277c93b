package data

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// BenchmarkLoader measures loader throughput on Fashion-MNIST-shaped data (28x28 grey,
// batches of 128, shuffled, random crop with 2-pixel padding and horizontal flip). One
// iteration is one batch; the figure to read is images/s.
func BenchmarkLoader(b *testing.B) {
	ds := synth(FashionMNIST, 60000, 1, 28, 28)
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			tf, err := NewTransform(ds, TransformConfig{})
			if err != nil {
				b.Fatal(err)
			}
			l, err := NewLoader(ds, tf, LoaderConfig{
				BatchSize: 128, Shuffle: true, DropLast: true, Seed: 1, Workers: workers,
				Augment: Augment{Pad: 2, HFlip: true},
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			images, epoch := 0, 0
			it, _ := l.Start(context.Background(), epoch, 0)
			for b.Loop() {
				batch, err := it.Next()
				if err == io.EOF {
					it.Close()
					epoch++
					it, _ = l.Start(context.Background(), epoch, 0)
					batch, err = it.Next()
				}
				if err != nil {
					b.Fatal(err)
				}
				images += batch.N
				batch.Release()
			}
			it.Close()
			b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkOpenFashionMNIST measures reading the installed gzipped training split.
func BenchmarkOpenFashionMNIST(b *testing.B) {
	spec, _ := ParseSpec("fashion-mnist")
	if _, err := Open(spec, Test); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := Open(spec, Train); err != nil {
			b.Fatal(err)
		}
	}
}
