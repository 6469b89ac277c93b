package data

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func checkIDX(t *testing.T, d *Dataset, s idxSet) {
	t.Helper()
	if d.N != s.n || d.C != 1 || d.H != s.rows || d.W != s.cols {
		t.Fatalf("shape N=%d [%d %d %d], want N=%d [1 %d %d]", d.N, d.C, d.H, d.W, s.n, s.rows, s.cols)
	}
	if !bytes.Equal(d.Pixels, s.pixels) {
		t.Fatal("pixels differ")
	}
	for i, l := range s.labels {
		if d.Labels[i] != int(l) {
			t.Fatalf("label %d = %d, want %d", i, d.Labels[i], l)
		}
	}
	if d.NumClasses != 10 || len(d.ClassNames) != 10 {
		t.Fatalf("classes %d %v", d.NumClasses, d.ClassNames)
	}
	// The image rows/cols are not swapped: check one pixel through Image().
	img := d.Image(s.n - 1)
	if img[s.rows*s.cols-1] != s.pixels[len(s.pixels)-1] || img[1] != s.pixels[(s.n-1)*s.rows*s.cols+1] {
		t.Fatal("Image() does not address the right pixels")
	}
}

func TestIDXFormats(t *testing.T) {
	train := randIDXSet(1, 9, 5, 4) // non-square, to catch transposition
	test := randIDXSet(2, 4, 5, 4)
	for _, gz := range []bool{false, true} {
		for _, kind := range []Kind{FashionMNIST, MNIST} {
			t.Run(string(kind)+map[bool]string{false: "/raw", true: "/gz"}[gz], func(t *testing.T) {
				dir := t.TempDir()
				writeIDXSplit(t, dir, "train", train, gz)
				writeIDXSplit(t, dir, "t10k", test, gz)
				d, err := Open(Spec{Kind: kind, Dir: dir}, Train)
				if err != nil {
					t.Fatal(err)
				}
				checkIDX(t, d, train)
				if d.Kind != kind || d.Split != Train {
					t.Errorf("kind/split %v %v", d.Kind, d.Split)
				}
				suffix := map[bool]string{false: "", true: ".gz"}[gz]
				wantFiles := []string{filepath.Join(dir, "train-images-idx3-ubyte"+suffix), filepath.Join(dir, "train-labels-idx1-ubyte"+suffix)}
				if !slices.Equal(d.Files, wantFiles) {
					t.Errorf("Files %v, want %v", d.Files, wantFiles)
				}
				d, err = Open(Spec{Kind: kind, Dir: dir}, Test)
				if err != nil {
					t.Fatal(err)
				}
				checkIDX(t, d, test)
				if kind == FashionMNIST && d.ClassNames[9] != "Ankle boot" || kind == MNIST && d.ClassNames[9] != "9" {
					t.Errorf("class names %v", d.ClassNames)
				}
			})
		}
	}
}

// Gzip is detected by content: a gzipped file without .gz, a raw file named .gz, and the
// "train-images.idx3-ubyte" spelling all load.
func TestIDXDetectByMagic(t *testing.T) {
	s := randIDXSet(3, 6, 3, 3)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "train-images-idx3-ubyte"), gzipBytes(t, s.imageFile()))
	writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte.gz"), s.labelFile())
	d, err := Open(Spec{Kind: MNIST, Dir: dir}, Train)
	if err != nil {
		t.Fatal(err)
	}
	checkIDX(t, d, s)

	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "t10k-images.idx3-ubyte"), s.imageFile())
	writeFile(t, filepath.Join(dir, "t10k-labels.idx1-ubyte"), s.labelFile())
	d, err = Open(Spec{Kind: MNIST, Dir: dir}, Test)
	if err != nil {
		t.Fatal(err)
	}
	checkIDX(t, d, s)
}

func TestIDXOpenFS(t *testing.T) {
	train := randIDXSet(4, 8, 28, 28)
	test := randIDXSet(5, 3, 28, 28)
	fsys := fstest.MapFS{
		"fmnist/train-images-idx3-ubyte.gz": {Data: gzipBytes(t, train.imageFile())},
		"fmnist/train-labels-idx1-ubyte.gz": {Data: gzipBytes(t, train.labelFile())},
		"fmnist/t10k-images-idx3-ubyte.gz":  {Data: gzipBytes(t, test.imageFile())},
		"fmnist/t10k-labels-idx1-ubyte.gz":  {Data: gzipBytes(t, test.labelFile())},
	}
	d, err := OpenFS(fsys, Spec{Kind: FashionMNIST, Dir: "fmnist"}, Train)
	if err != nil {
		t.Fatal(err)
	}
	checkIDX(t, d, train)
	if d.Files[0] != "fmnist/train-images-idx3-ubyte.gz" {
		t.Errorf("Files %v", d.Files)
	}
	// Slice shares memory and keeps the metadata.
	part, err := d.Slice(2, 5)
	if err != nil || part.N != 3 || part.Labels[0] != d.Labels[2] || &part.Image(0)[0] != &d.Image(2)[0] || part.NumClasses != 10 {
		t.Errorf("Slice(2, 5): %+v %v", part, err)
	}
	if _, err := d.Slice(5, 9); err == nil {
		t.Error("Slice past the end succeeded")
	}
	sub, _ := fs.Sub(fsys, "fmnist")
	d, err = OpenFS(sub, Spec{Kind: FashionMNIST}, Test)
	if err != nil {
		t.Fatal(err)
	}
	checkIDX(t, d, test)

	// A corrupt embedded file is reported with its fs path.
	fsys["fmnist/t10k-labels-idx1-ubyte.gz"] = &fstest.MapFile{Data: gzipBytes(t, test.labelFile()[:6])}
	_, err = OpenFS(fsys, Spec{Kind: FashionMNIST, Dir: "fmnist"}, Test)
	wantFormatError(t, err, "fmnist/t10k-labels-idx1-ubyte.gz", -1, "truncated IDX header")

	_, err = OpenFS(fsys, Spec{Kind: FashionMNIST, Dir: "nope"}, Test)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "t10k-images-idx3-ubyte") {
		t.Errorf("missing folder: %v", err)
	}
}

func TestIDXCorrupt(t *testing.T) {
	good := randIDXSet(6, 10, 4, 3) // 12-byte records
	img, lbl := good.imageFile(), good.labelFile()
	const imgName, lblName = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
	setU32 := func(b []byte, off int, v uint32) []byte {
		b = slices.Clone(b)
		b[off], b[off+1], b[off+2], b[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		return b
	}
	badLabel := slices.Clone(lbl)
	badLabel[8+7] = 10
	cases := []struct {
		name      string
		img, lbl  []byte
		gz        bool
		file      string
		record    int
		fragments []string
	}{
		{"bad image magic", setU32(img, 0, 0x00000804), lbl, false, imgName, -1, []string{"bad magic 0x00000804", "0x00000803"}},
		{"label file as images", lbl, lbl, false, imgName, -1, []string{"bad magic 0x00000801", "label file"}},
		{"bad label magic", img, setU32(lbl, 0, 0x00000803), false, lblName, -1, []string{"bad magic 0x00000803", "image file"}},
		{"truncated header", img[:10], lbl, false, imgName, -1, []string{"truncated IDX header"}},
		{"zero image size", setU32(img, 8, 0), lbl, false, imgName, -1, []string{"bad image size"}},
		{"truncated images", img[:16+5*12+7], lbl, false, imgName, 5, []string{"truncated", "10 images", "5 complete records"}},
		{"truncated images at record boundary", img[:16+8*12], lbl, false, imgName, 8, []string{"truncated"}},
		{"truncated images gz", img[:16+3*12+1], lbl, true, imgName + ".gz", 3, []string{"truncated"}},
		{"truncated labels", img, lbl[:8+6], false, lblName, 6, []string{"truncated", "10 labels"}},
		{"trailing image data", append(slices.Clone(img), 1, 2, 3), lbl, false, imgName, 10, []string{"longer than its header"}},
		{"count mismatch", img, idxBytes(idxMagicLabels, []uint32{9}, good.labels[:9]), false, lblName, -1, []string{"9 labels", "10 images"}},
		{"label out of range", img, badLabel, false, lblName, 7, []string{"label 10 out of range [0, 10)"}},
		{"huge count", setU32(img, 4, 1<<30), lbl, false, imgName, 10, []string{"truncated", "1073741824 images"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ib, lb, suffix := c.img, c.lbl, ""
			if c.gz {
				ib, lb, suffix = gzipBytes(t, ib), gzipBytes(t, lb), ".gz"
			}
			writeFile(t, filepath.Join(dir, imgName+suffix), ib)
			writeFile(t, filepath.Join(dir, lblName+suffix), lb)
			_, err := Open(Spec{Kind: FashionMNIST, Dir: dir}, Train)
			wantFormatError(t, err, filepath.Join(dir, c.file), c.record, c.fragments...)
		})
	}

	// Damaged gzip streams: cut short, and a flipped checksum.
	t.Run("gzip stream cut", func(t *testing.T) {
		big := randIDXSet(7, 200, 28, 28)
		dir := t.TempDir()
		z := gzipBytes(t, big.imageFile())
		writeFile(t, filepath.Join(dir, imgName+".gz"), z[:len(z)/2])
		writeFile(t, filepath.Join(dir, lblName+".gz"), gzipBytes(t, big.labelFile()))
		_, err := Open(Spec{Kind: MNIST, Dir: dir}, Train)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != filepath.Join(dir, imgName+".gz") || fe.Record < 0 || fe.Record >= 200 {
			t.Fatalf("got %v, want a FormatError naming %s and the first missing record", err, imgName)
		}
	})
	t.Run("gzip checksum", func(t *testing.T) {
		dir := t.TempDir()
		z := gzipBytes(t, img)
		z[len(z)-8] ^= 0xff // CRC-32 in the trailer
		writeFile(t, filepath.Join(dir, imgName+".gz"), z)
		writeFile(t, filepath.Join(dir, lblName), lbl)
		_, err := Open(Spec{Kind: MNIST, Dir: dir}, Train)
		wantFormatError(t, err, filepath.Join(dir, imgName+".gz"), -1, "corrupt gzip stream")
	})
	t.Run("missing labels", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, imgName), img)
		_, err := Open(Spec{Kind: MNIST, Dir: dir}, Train)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), lblName) {
			t.Fatalf("got %v", err)
		}
	})
}
