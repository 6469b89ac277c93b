package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes encodes an IDX file of unsigned bytes.
func idxBytes(magic uint32, dims []uint32, payload []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(payload)
	return b.Bytes()
}

func gzipBytes(t testing.TB, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// idxSet is a synthetic IDX split.
type idxSet struct {
	n, rows, cols int
	pixels        []byte
	labels        []byte
}

func randIDXSet(seed uint64, n, rows, cols int) idxSet {
	r := rand.New(rand.NewPCG(seed, 1))
	s := idxSet{n: n, rows: rows, cols: cols, pixels: make([]byte, n*rows*cols), labels: make([]byte, n)}
	for i := range s.pixels {
		s.pixels[i] = byte(r.IntN(256))
	}
	for i := range s.labels {
		s.labels[i] = byte(r.IntN(10))
	}
	return s
}

func (s idxSet) imageFile() []byte {
	return idxBytes(idxMagicImages, []uint32{uint32(s.n), uint32(s.rows), uint32(s.cols)}, s.pixels)
}

func (s idxSet) labelFile() []byte {
	return idxBytes(idxMagicLabels, []uint32{uint32(s.n)}, s.labels)
}

// writeIDXSplit writes prefix-images-idx3-ubyte[.gz] and prefix-labels-idx1-ubyte[.gz].
func writeIDXSplit(t testing.TB, dir, prefix string, s idxSet, gz bool) {
	t.Helper()
	img, lbl := s.imageFile(), s.labelFile()
	suffix := ""
	if gz {
		img, lbl, suffix = gzipBytes(t, img), gzipBytes(t, lbl), ".gz"
	}
	writeFile(t, filepath.Join(dir, prefix+"-images-idx3-ubyte"+suffix), img)
	writeFile(t, filepath.Join(dir, prefix+"-labels-idx1-ubyte"+suffix), lbl)
}

// cifarRecords builds n CIFAR records with labelBytes label bytes; it returns the file
// bytes and the expected pixels and (fine) labels.
func cifarRecords(seed uint64, n, labelBytes, classes int) (file []byte, pixels []byte, labels []int) {
	r := rand.New(rand.NewPCG(seed, 2))
	for range n {
		lb := make([]byte, labelBytes)
		for k := range lb {
			lb[k] = byte(r.IntN(classes))
		}
		if labelBytes == 2 {
			lb[0] = byte(r.IntN(20))
		}
		px := make([]byte, cifarPixels)
		for k := range px {
			px[k] = byte(r.IntN(256))
		}
		file = append(file, lb...)
		file = append(file, px...)
		pixels = append(pixels, px...)
		labels = append(labels, int(lb[labelBytes-1]))
	}
	return file, pixels, labels
}

func randRGBA(seed uint64, w, h int) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 3))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
		}
	}
	return img
}

func randGray(seed uint64, w, h int) *image.Gray {
	r := rand.New(rand.NewPCG(seed, 4))
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// planarRGB returns img's pixels as [3, h, w] (premultiplied, i.e. over black), the
// layout a colour Dataset stores.
func planarRGB(img image.Image) []byte {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	out := make([]byte, 3*w*h)
	for y := range h {
		for x := range w {
			cr, cg, cb, _ := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
			out[y*w+x] = uint8(cr >> 8)
			out[w*h+y*w+x] = uint8(cg >> 8)
			out[2*w*h+y*w+x] = uint8(cb >> 8)
		}
	}
	return out
}

// wantFormatError checks that err is a *FormatError naming file (by suffix) and record,
// and that its message contains each of the given fragments.
func wantFormatError(t *testing.T, err error, file string, record int, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a FormatError for %s record %d", file, record)
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q (%T) is not a *FormatError", err, err)
	}
	if !strings.HasSuffix(fe.File, file) {
		t.Errorf("error %q names file %q, want %q", err, fe.File, file)
	}
	if fe.Record != record {
		t.Errorf("error %q names record %d, want %d", err, fe.Record, record)
	}
	msg := err.Error()
	if !strings.Contains(msg, file) {
		t.Errorf("message %q does not name %s", msg, file)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("message %q does not contain %q", msg, f)
		}
	}
}
