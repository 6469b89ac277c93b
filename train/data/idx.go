package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

const (
	idxMagicImages = 0x00000803 // unsigned byte, 3 dimensions
	idxMagicLabels = 0x00000801 // unsigned byte, 1 dimension
	idxClasses     = 10
)

var (
	fashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
		"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
	mnistClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
)

// idxNames lists the file names accepted for one IDX file, in order of preference:
// `train-images-idx3-ubyte[.gz]` and the `train-images.idx3-ubyte[.gz]` spelling of some
// mirrors. Whether a file is gzipped is decided by its content, not its name.
func idxNames(prefix, what string, dims int) []string {
	a := fmt.Sprintf("%s-%s-idx%d-ubyte", prefix, what, dims)
	b := fmt.Sprintf("%s-%s.idx%d-ubyte", prefix, what, dims)
	return []string{a + ".gz", a, b + ".gz", b}
}

func openIDX(src source, kind Kind, split Split) (*Dataset, error) {
	prefix := "train"
	if split == Test {
		prefix = "t10k"
	}
	imgNames := idxNames(prefix, "images", 3)
	lblNames := idxNames(prefix, "labels", 1)
	imgPath, ok := src.find(imgNames...)
	if !ok {
		return nil, fmt.Errorf("%s %s images: none of %s in %s: %w",
			kind, split, strings.Join(imgNames, ", "), src.name("."), fs.ErrNotExist)
	}
	lblPath, ok := src.find(lblNames...)
	if !ok {
		return nil, fmt.Errorf("%s %s labels: none of %s in %s: %w",
			kind, split, strings.Join(lblNames, ", "), src.name("."), fs.ErrNotExist)
	}
	imgFile, lblFile := src.name(imgPath), src.name(lblPath)

	pix, n, rows, cols, err := readIDX(src.fsys, imgPath, imgFile, idxMagicImages)
	if err != nil {
		return nil, err
	}
	lbl, nl, _, _, err := readIDX(src.fsys, lblPath, lblFile, idxMagicLabels)
	if err != nil {
		return nil, err
	}
	if nl != n {
		return nil, formatErr(lblFile, -1, "holds %d labels but %s holds %d images", nl, imgFile, n)
	}
	labels := make([]int, n)
	for i, v := range lbl {
		if int(v) >= idxClasses {
			return nil, formatErr(lblFile, i, "label %d out of range [0, %d)", v, idxClasses)
		}
		labels[i] = int(v)
	}
	names := mnistClasses
	if kind == FashionMNIST {
		names = fashionMNISTClasses
	}
	return &Dataset{
		N: n, C: 1, H: rows, W: cols,
		Pixels:     pix,
		Labels:     labels,
		NumClasses: idxClasses,
		ClassNames: append([]string(nil), names...),
		Files:      []string{imgFile, lblFile},
	}, nil
}

// readIDX reads an IDX file of unsigned bytes with the given magic (images: 3 dimensions,
// labels: 1), gzipped or not, and checks that its length agrees with its header. It returns
// the payload and the dimensions (rows and cols are 1 for labels).
func readIDX(fsys fs.FS, p, file string, magic uint32) (payload []byte, n, rows, cols int, err error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, 0, 0, 0, ioErr(file, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	gz := false
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, 0, 0, 0, &FormatError{File: file, Record: -1, Msg: "bad gzip header", Err: err}
		}
		defer zr.Close()
		r, gz = zr, true
	}

	ndims := 3
	what := "images"
	if magic == idxMagicLabels {
		ndims, what = 1, "labels"
	}
	hdr := make([]byte, 4+4*ndims)
	if got, err := io.ReadFull(r, hdr); err != nil {
		if isEOF(err) {
			return nil, 0, 0, 0, formatErr(file, -1, "truncated IDX header (%d of %d bytes)", got, len(hdr))
		}
		return nil, 0, 0, 0, &FormatError{File: file, Record: -1, Msg: "reading IDX header", Err: err}
	}
	if m := binary.BigEndian.Uint32(hdr); m != magic {
		msg := fmt.Sprintf("bad magic 0x%08x, want 0x%08x (IDX %s: unsigned bytes, %d dimension(s))", m, magic, what, ndims)
		switch m {
		case idxMagicImages:
			msg += "; this is an image file"
		case idxMagicLabels:
			msg += "; this is a label file"
		}
		return nil, 0, 0, 0, formatErr(file, -1, "%s", msg)
	}
	dims := make([]uint32, ndims)
	for i := range dims {
		dims[i] = binary.BigEndian.Uint32(hdr[4+4*i:])
	}
	rows, cols = 1, 1
	if ndims == 3 {
		if dims[1] == 0 || dims[2] == 0 || dims[1] > 1<<14 || dims[2] > 1<<14 {
			return nil, 0, 0, 0, formatErr(file, -1, "bad image size %dx%d in header", dims[1], dims[2])
		}
		rows, cols = int(dims[1]), int(dims[2])
	}
	if dims[0] > 1<<31-1 {
		return nil, 0, 0, 0, formatErr(file, -1, "bad record count %d in header", dims[0])
	}
	n = int(dims[0])
	rec := int64(rows) * int64(cols)
	want := int64(n) * rec

	// Size hint for the buffer: the file's size (a gzipped payload is a few times larger).
	var hint int64
	if st, err := f.Stat(); err == nil {
		hint = st.Size()
		if gz {
			hint *= 4
		}
	}
	payload, err = readUpTo(r, want, hint)
	if int64(len(payload)) < want {
		first := int64(len(payload)) / rec
		if err != nil && !isEOF(err) {
			return nil, 0, 0, 0, &FormatError{File: file, Record: int(first),
				Msg: fmt.Sprintf("corrupt data after %d of %d %s", first, n, what), Err: err}
		}
		return nil, 0, 0, 0, formatErr(file, int(first),
			"truncated: header says %d %s, the file ends after %d complete records (%d of %d payload bytes)",
			n, what, first, len(payload), want)
	}
	// The header must account for the whole file; reading to EOF also makes gzip verify
	// its checksum.
	var one [1]byte
	k, err := io.ReadFull(r, one[:])
	if k > 0 {
		return nil, 0, 0, 0, formatErr(file, n, "file is longer than its header says (%d %s of %d bytes): trailing data", n, what, rec)
	}
	if err != nil && !isEOF(err) {
		msg := "reading past the last record"
		if gz {
			msg = "corrupt gzip stream"
		}
		return nil, 0, 0, 0, &FormatError{File: file, Record: -1, Msg: msg, Err: err}
	}
	return payload, n, rows, cols, nil
}

// readUpTo reads up to want bytes into a buffer of initially about hint bytes that grows
// as data arrives, so a corrupt header claiming a huge count does not allocate the claimed
// size up front.
func readUpTo(r io.Reader, want, hint int64) ([]byte, error) {
	buf := make([]byte, 0, min(want, max(hint, 1<<16)))
	for int64(len(buf)) < want {
		if len(buf) == cap(buf) {
			grow := min(want-int64(len(buf)), int64(len(buf)))
			nb := make([]byte, len(buf), int64(len(buf))+grow)
			copy(nb, buf)
			buf = nb
		}
		end := min(int64(cap(buf)), want)
		k, err := r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
