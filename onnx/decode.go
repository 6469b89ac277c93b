package onnx

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// MaxModelBytes bounds what Decode reads: ONNX protobuf files cannot exceed
// 2 GiB (larger models use external data).
const MaxModelBytes = 2<<30 - 1

// Decode reads a serialized ModelProto from r and validates it (see Validate).
// External-data initializers are kept as references; use DecodeFile to be
// able to read them.
//
// Decoding streams: the raw_data of the main graph's initializers (the
// weights, nearly all of a model's bytes) is read straight into buffers of
// its own, and only the rest of the message goes through protobuf, so a
// model is held once in memory, never as the file and a decoded copy
// together. A reader that does not know its length (not a bytes.Reader,
// strings.Reader or regular *os.File) is read whole first.
func Decode(r io.Reader) (*Model, error) {
	size, known := streamSize(r)
	if !known {
		data, err := io.ReadAll(io.LimitReader(r, MaxModelBytes+1))
		if err != nil {
			return nil, err
		}
		r, size = bytes.NewReader(data), int64(len(data))
	}
	mp, err := unmarshalStream(r, size)
	if err != nil {
		return nil, err
	}
	return validated(&Model{Proto: mp})
}

// DecodeFile reads and validates the model in path; external data is
// resolved relative to the model's folder.
func DecodeFile(path string) (*Model, error) { return DecodeFileHashed(path, nil) }

// DecodeFileHashed is DecodeFile that also writes the file's bytes to h
// (when not nil), so that the caller gets a digest of the file it decoded
// without reading it twice into memory. The hash reads the same open file
// as the decoder, concurrently with it.
func DecodeFileHashed(path string, h hash.Hash) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	hashed := make(chan error, 1)
	if h != nil {
		go func() {
			_, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size()))
			hashed <- err
		}()
	} else {
		hashed <- nil
	}
	mp, err := unmarshalStream(f, st.Size())
	if herr := <-hashed; err == nil && herr != nil {
		err = fmt.Errorf("%s: %w", path, herr)
	}
	if err != nil {
		if fe, ok := err.(*FormatError); ok && fe.Where == "" {
			fe.Where = path
		} else if !ok {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	m, err := validated(&Model{Proto: mp, Dir: filepath.Dir(path)})
	if fe, ok := err.(*FormatError); ok && fe.Where == "" {
		fe.Where = path
	}
	return m, err
}

func validated(m *Model) (*Model, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// streamSize returns how many bytes r holds when it knows (bytes.Reader,
// strings.Reader, a regular os.File).
func streamSize(r io.Reader) (int64, bool) {
	switch x := r.(type) {
	case interface{ Len() int }:
		return int64(x.Len()), true
	case *os.File:
		if st, err := x.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size(), true
		}
	}
	return 0, false
}

// Field numbers of onnx.proto on the path from a model to its weights.
const (
	modelGraph       protowire.Number = 7
	graphInitializer protowire.Number = 5
	tensorRawData    protowire.Number = 9
)

// unmarshalStream decodes the size bytes of r into a ModelProto equal to
// what proto.Unmarshal makes of them. A wireReader copies every field into
// a compact message except the main graph's initializers' raw_data, which
// it reads into 8-byte-aligned buffers of their own (see float32View);
// proto.Unmarshal decodes the compact message, and the buffers are then
// attached to their initializers.
func unmarshalStream(r io.Reader, size int64) (*onnxpb.ModelProto, error) {
	if size == 0 {
		return nil, formatErrorf("", "empty input")
	}
	if size > MaxModelBytes {
		return nil, formatErrorf("", "larger than the 2 GiB protobuf limit")
	}
	d := &wireReader{r: bufio.NewReaderSize(r, 64<<10)}
	rest, err := d.message(nil, size, modelGraph, d.graph, 0)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, formatErrorf("", "not an ONNX protobuf: truncated at byte offset %d of %d", d.off, size)
	}
	if err != nil {
		return nil, err // a FormatError, or the stream's own read error
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(rest, mp); err != nil {
		return nil, formatErrorf("", "not an ONNX protobuf: %v", err)
	}
	inits := mp.GetGraph().GetInitializer()
	if len(inits) != len(d.raws) {
		return nil, formatErrorf("", "internal error: %d initializers decoded, %d read", len(inits), len(d.raws))
	}
	for i, raw := range d.raws {
		if raw != nil {
			inits[i].RawData = raw
		}
	}
	return mp, nil
}

// A wireReader walks protobuf wire format from a stream, tracking the
// byte offset for errors.
type wireReader struct {
	r    *bufio.Reader
	off  int64
	raws [][]byte // raw_data of each main-graph initializer in order (nil: none)
}

func (d *wireReader) errorf(format string, args ...any) error {
	return formatErrorf("", "not an ONNX protobuf: %s at byte offset %d", fmt.Sprintf(format, args...), d.off)
}

// message copies the fields of a message ending at byte offset end into
// dst. A field numbered sub with the bytes wire type is handed to
// replace, which reads its contents and returns what to write instead
// (keep false drops the field); other fields are copied verbatim.
func (d *wireReader) message(dst []byte, end int64, sub protowire.Number, replace func(end int64) (repl []byte, keep bool, err error), depth int) ([]byte, error) {
	for d.off < end {
		tagAt := len(dst)
		var num protowire.Number
		var typ protowire.Type
		var err error
		if dst, num, typ, err = d.tag(dst, end); err != nil {
			return nil, err
		}
		if num == sub && typ == protowire.BytesType && replace != nil {
			dst = dst[:tagAt]
			n, err := d.length(end)
			if err != nil {
				return nil, err
			}
			repl, keep, err := replace(d.off + n)
			if err != nil {
				return nil, err
			}
			if keep {
				dst = protowire.AppendTag(dst, num, typ)
				dst = protowire.AppendBytes(dst, repl)
			}
			continue
		}
		if typ == protowire.EndGroupType {
			return nil, d.errorf("unexpected end of group %d", num)
		}
		if dst, err = d.value(dst, num, typ, end, depth); err != nil {
			return nil, err
		}
	}
	if d.off != end {
		return nil, d.errorf("a field runs past the end of its message")
	}
	return dst, nil
}

// graph reads a GraphProto's contents, taking its initializers' raw_data
// apart.
func (d *wireReader) graph(end int64) ([]byte, bool, error) {
	g, err := d.message(nil, end, graphInitializer, d.initializer, 1)
	return g, true, err
}

// initializer reads a TensorProto's contents without its raw_data, which
// it keeps in d.raws (the last occurrence wins, as in protobuf).
func (d *wireReader) initializer(end int64) ([]byte, bool, error) {
	var raw []byte
	t, err := d.message(nil, end, tensorRawData, func(end int64) ([]byte, bool, error) {
		raw = alignedBytes(int(end - d.off))
		adviseHugePages(raw)
		_, err := io.ReadFull(d.r, raw)
		d.off = end
		return nil, false, err
	}, 2)
	d.raws = append(d.raws, raw)
	return t, true, err
}

// tag reads a field's tag, appending its bytes to dst.
func (d *wireReader) tag(dst []byte, end int64) ([]byte, protowire.Number, protowire.Type, error) {
	at := len(dst)
	dst, _, err := d.varint(dst, end)
	if err != nil {
		return nil, 0, 0, err
	}
	num, typ, n := protowire.ConsumeTag(dst[at:])
	if n < 0 {
		return nil, 0, 0, d.errorf("invalid field tag")
	}
	return dst, num, typ, nil
}

// varint reads a varint, appending its bytes to dst.
func (d *wireReader) varint(dst []byte, end int64) ([]byte, uint64, error) {
	at := len(dst)
	for i := 0; i < 10; i++ {
		if d.off >= end {
			return nil, 0, io.ErrUnexpectedEOF
		}
		b, err := d.r.ReadByte()
		if err != nil {
			return nil, 0, err
		}
		d.off++
		dst = append(dst, b)
		if b < 0x80 {
			break
		}
	}
	v, n := protowire.ConsumeVarint(dst[at:])
	if n < 0 {
		return nil, 0, d.errorf("invalid varint")
	}
	return dst, v, nil
}

// length reads the length of a bytes field and checks that it fits before
// end.
func (d *wireReader) length(end int64) (int64, error) {
	_, v, err := d.varint(nil, end)
	if err != nil {
		return 0, err
	}
	if v > uint64(end-d.off) {
		return 0, io.ErrUnexpectedEOF
	}
	return int64(v), nil
}

// value copies a field's value of wire type typ, appending it to dst.
func (d *wireReader) value(dst []byte, num protowire.Number, typ protowire.Type, end int64, depth int) ([]byte, error) {
	var err error
	switch typ {
	case protowire.VarintType:
		dst, _, err = d.varint(dst, end)
	case protowire.Fixed32Type:
		dst, err = d.copyN(dst, 4, end)
	case protowire.Fixed64Type:
		dst, err = d.copyN(dst, 8, end)
	case protowire.BytesType:
		at := len(dst)
		if dst, _, err = d.varint(dst, end); err != nil {
			return nil, err
		}
		v, _ := protowire.ConsumeVarint(dst[at:])
		if v > uint64(end-d.off) {
			return nil, io.ErrUnexpectedEOF
		}
		dst, err = d.copyN(dst, int64(v), end)
	case protowire.StartGroupType:
		if depth >= protowire.DefaultRecursionLimit {
			return nil, d.errorf("groups nested too deeply")
		}
		for {
			var n protowire.Number
			var t protowire.Type
			if dst, n, t, err = d.tag(dst, end); err != nil {
				return nil, err
			}
			if t == protowire.EndGroupType {
				if n != num {
					return nil, d.errorf("group %d ended as %d", num, n)
				}
				return dst, nil
			}
			if dst, err = d.value(dst, n, t, end, depth+1); err != nil {
				return nil, err
			}
		}
	default:
		return nil, d.errorf("invalid wire type %d", typ)
	}
	return dst, err
}

// copyN appends the next n bytes to dst.
func (d *wireReader) copyN(dst []byte, n, end int64) ([]byte, error) {
	if n > end-d.off {
		return nil, io.ErrUnexpectedEOF
	}
	at := len(dst)
	dst = slices.Grow(dst, int(n))[:at+int(n)]
	if _, err := io.ReadFull(d.r, dst[at:]); err != nil {
		return nil, err
	}
	d.off += n
	return dst, nil
}
