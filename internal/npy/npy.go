// Package npy reads and writes NumPy .npy files (format versions 1-3, C
// order) and .npz archives of them, converting to and from onnx.Tensor.
package npy

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/bsnnctl/bsnnctl/onnx"
)

var magic = []byte("\x93NUMPY")

var (
	descrRe = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	orderRe = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	shapeRe = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// MaxElements bounds the element count of a file so a corrupt header cannot
// make Read allocate without bound (the data must also be present).
const MaxElements = 1 << 31

// Read decodes one .npy array. Supported dtypes: float32, float64, int64,
// int32, uint8, int8, bool (little-endian). The tensor's name is empty.
func Read(r io.Reader) (*onnx.Tensor, error) {
	br := bufio.NewReader(r)
	head := make([]byte, 8)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("npy: short header: %w", err)
	}
	if !bytes.Equal(head[:6], magic) {
		return nil, fmt.Errorf("npy: not an .npy file (bad magic)")
	}
	var hlen int
	switch head[6] {
	case 1:
		b := make([]byte, 2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("npy: short header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b))
	case 2, 3:
		b := make([]byte, 4)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("npy: short header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b))
		if hlen > 1<<20 {
			return nil, fmt.Errorf("npy: header of %d bytes is too long", hlen)
		}
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d", head[6])
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("npy: short header: %w", err)
	}
	h := string(hdr)
	dm := descrRe.FindStringSubmatch(h)
	om := orderRe.FindStringSubmatch(h)
	sm := shapeRe.FindStringSubmatch(h)
	if dm == nil || om == nil || sm == nil {
		return nil, fmt.Errorf("npy: malformed header %q", strings.TrimSpace(h))
	}
	if om[1] == "True" {
		return nil, fmt.Errorf("npy: Fortran-order arrays are not supported; save with C order")
	}
	var dims []int64
	for _, part := range strings.Split(sm[1], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := strconv.ParseInt(part, 10, 64)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("npy: bad shape %q", sm[1])
		}
		dims = append(dims, d)
	}
	n, err := onnx.NumElements(dims)
	if err != nil || n > MaxElements {
		return nil, fmt.Errorf("npy: shape %v is too large", dims)
	}
	t := &onnx.Tensor{Dims: dims}
	descr := dm[1]
	if len(descr) > 1 && descr[0] == '>' {
		return nil, fmt.Errorf("npy: big-endian dtype %q is not supported", descr)
	}
	descr = strings.TrimLeft(descr, "<|=")
	size := map[string]int{"f4": 4, "f8": 8, "i8": 8, "i4": 4, "u1": 1, "i1": 1, "b1": 1}[descr]
	if size == 0 {
		return nil, fmt.Errorf("npy: dtype %q is not supported (float32, float64, int64, int32, uint8, int8, bool)", dm[1])
	}
	// ReadAll grows with the data actually present, so a header claiming a
	// huge shape over a short file allocates only what the file holds.
	need := n * int64(size)
	raw, err := io.ReadAll(io.LimitReader(br, need))
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if int64(len(raw)) != need {
		return nil, fmt.Errorf("npy: data ends early: shape %v needs %d bytes, file has %d", dims, need, len(raw))
	}
	le := binary.LittleEndian
	switch descr {
	case "f4":
		t.Type = onnx.Float
		t.Float32 = make([]float32, n)
		for i := range t.Float32 {
			t.Float32[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case "f8":
		t.Type = onnx.Double
		t.Float64 = make([]float64, n)
		for i := range t.Float64 {
			t.Float64[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case "i8":
		t.Type = onnx.Int64
		t.Int64 = make([]int64, n)
		for i := range t.Int64 {
			t.Int64[i] = int64(le.Uint64(raw[8*i:]))
		}
	case "i4":
		t.Type = onnx.Int32
		t.Int64 = make([]int64, n)
		for i := range t.Int64 {
			t.Int64[i] = int64(int32(le.Uint32(raw[4*i:])))
		}
	case "u1":
		t.Type = onnx.Uint8
		t.Int64 = make([]int64, n)
		for i := range t.Int64 {
			t.Int64[i] = int64(raw[i])
		}
	case "i1":
		t.Type = onnx.Int8
		t.Int64 = make([]int64, n)
		for i := range t.Int64 {
			t.Int64[i] = int64(int8(raw[i]))
		}
	case "b1":
		t.Type = onnx.Bool
		t.Bool = make([]bool, n)
		for i := range t.Bool {
			t.Bool[i] = raw[i] != 0
		}
	}
	return t, nil
}

// ReadFile reads an .npy file.
func ReadFile(path string) (*onnx.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Write encodes t as a version 1.0 .npy array (float32 as <f4, float64 as
// <f8, integers as <i8, bool as |b1).
func Write(w io.Writer, t *onnx.Tensor) error {
	var descr string
	var data []byte
	le := binary.LittleEndian
	switch {
	case t.Float32 != nil:
		descr = "<f4"
		data = make([]byte, 4*len(t.Float32))
		for i, v := range t.Float32 {
			le.PutUint32(data[4*i:], math.Float32bits(v))
		}
	case t.Float64 != nil:
		descr = "<f8"
		data = make([]byte, 8*len(t.Float64))
		for i, v := range t.Float64 {
			le.PutUint64(data[8*i:], math.Float64bits(v))
		}
	case t.Int64 != nil:
		descr = "<i8"
		data = make([]byte, 8*len(t.Int64))
		for i, v := range t.Int64 {
			le.PutUint64(data[8*i:], uint64(v))
		}
	case t.Bool != nil:
		descr = "|b1"
		data = make([]byte, len(t.Bool))
		for i, v := range t.Bool {
			if v {
				data[i] = 1
			}
		}
	default:
		descr = "<f4"
	}
	dims := make([]string, len(t.Dims))
	for i, d := range t.Dims {
		dims[i] = strconv.FormatInt(d, 10)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	// Pad so that magic+version+len+header+newline is a multiple of 64.
	total := 10 + len(h) + 1
	h += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var buf bytes.Buffer
	buf.Write(magic)
	buf.Write([]byte{1, 0})
	binary.Write(&buf, le, uint16(len(h)))
	buf.WriteString(h)
	buf.Write(data)
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteFile writes t to path atomically.
func WriteFile(path string, t *onnx.Tensor) error {
	return onnx.WriteAtomic(path, func(w io.Writer) error { return Write(w, t) })
}

// ReadNPZ reads every array of an .npz archive, keyed by name without the
// .npy suffix.
func ReadNPZ(path string) (map[string]*onnx.Tensor, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer zr.Close()
	out := map[string]*onnx.Tensor{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
		t, err := Read(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
		name := strings.TrimSuffix(f.Name, ".npy")
		t.Name = name
		out[name] = t
	}
	return out, nil
}
