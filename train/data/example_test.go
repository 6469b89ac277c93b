package data_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"testing/fstest"

	"github.com/bsnnctl/bsnnctl/train/data"
)

// A dataset can come from any fs.FS, such as an embed.FS of gzipped IDX files; here an
// in-memory one with four 2x2 images.
func ExampleOpenFS() {
	idx := func(magic byte, dims []byte, payload ...byte) []byte {
		return append(append([]byte{0, 0, 8, magic}, dims...), payload...)
	}
	fsys := fstest.MapFS{
		"slice/train-images-idx3-ubyte": {Data: idx(3, []byte{0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 2},
			0, 0, 0, 0, 255, 255, 255, 255, 0, 255, 0, 255, 10, 20, 30, 40)},
		"slice/train-labels-idx1-ubyte": {Data: idx(1, []byte{0, 0, 0, 4}, 3, 1, 4, 1)},
	}
	train, err := data.OpenFS(fsys, data.Spec{Kind: data.FashionMNIST, Dir: "slice"}, data.Train)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.N, train.Shape(), train.Labels, train.ClassNames[3])

	tf, err := data.NewTransform(train, data.TransformConfig{Out: data.Shape{C: 3, H: 2, W: 2}})
	if err != nil {
		log.Fatal(err)
	}
	loader, err := data.NewLoader(train, tf, data.LoaderConfig{BatchSize: 3})
	if err != nil {
		log.Fatal(err)
	}
	it, err := loader.Start(context.Background(), 0, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for {
		b, err := it.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("batch %d: N=%d len(X)=%d Y=%v first=%.4f\n", b.Index, b.N, len(b.X), b.Y, b.X[0])
		b.Release()
	}
	// Output:
	// 4 [1, 2, 2] [3 1 4 1] Dress
	// batch 0: N=3 len(X)=36 Y=[3 1 4] first=-0.8102
	// batch 1: N=1 len(X)=12 Y=[1] first=-0.6991
}
