package onnx

import (
	"bufio"
	"bytes"
	"io"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Encode writes the model to w with deterministic marshalling, so encoding
// the same model twice gives the same bytes (those Marshal returns), after
// the registered write checks (RegisterWriteCheck) accepted it. It streams:
// the initializers' raw_data goes to w from the model's own memory, and no
// buffer ever holds the whole serialization.
func Encode(w io.Writer, m *Model) error {
	if err := checkWrite(m); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if err := encodeModel(bw, m.Proto); err != nil {
		return err
	}
	return bw.Flush()
}

// Marshal returns the deterministic serialization of the model, after the
// registered write checks (RegisterWriteCheck) accepted it.
func Marshal(m *Model) ([]byte, error) {
	if err := checkWrite(m); err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, proto.Size(m.Proto)))
	if err := encodeModel(buf, m.Proto); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EncodeFile writes the model to path atomically: it writes a temporary file
// in the same folder and renames it, so a killed run never leaves a truncated
// file under the final name.
func EncodeFile(path string, m *Model) error {
	if err := checkWrite(m); err != nil {
		return err
	}
	return WriteAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 256<<10)
		if err := encodeModel(bw, m.Proto); err != nil {
			return err
		}
		return bw.Flush()
	})
}

var writeChecks struct {
	sync.RWMutex
	list []func(*Model) error
}

// RegisterWriteCheck adds a check that Marshal, and so Encode and
// EncodeFile, runs before serializing a model: its error stops the write.
// A file format defined on top of ONNX registers its rules from an init
// function (package bsnn refuses to write a BSNN file that breaks its
// naming rules), so that no writer can skip them.
func RegisterWriteCheck(check func(*Model) error) {
	writeChecks.Lock()
	defer writeChecks.Unlock()
	writeChecks.list = append(writeChecks.list, check)
}

func checkWrite(m *Model) error {
	writeChecks.RLock()
	checks := writeChecks.list
	writeChecks.RUnlock()
	for _, check := range checks {
		if err := check(m); err != nil {
			return err
		}
	}
	return nil
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// streamedRawData is the raw_data size from which encodeModel writes a
// tensor's data straight from its memory rather than marshalling the
// tensor whole.
const streamedRawData = 4 << 10

// encodeModel writes the bytes proto.MarshalOptions{Deterministic: true}
// makes of mp without marshalling the weights into a buffer. Protobuf
// writes a message's known fields in field-number order and then its
// unknown fields, so the graph goes between the model's fields numbered
// below and above it, each initializer likewise inside the graph, and each
// large raw_data inside its tensor, written from the tensor's memory; the
// parts around are marshalled on their own.
func encodeModel(w io.Writer, mp *onnxpb.ModelProto) error {
	e := &wireWriter{w: w}
	if mp.Graph == nil {
		e.marshal(mp)
		return e.err
	}
	e.around(mp, modelGraph, func() {
		e.field(modelGraph, proto.Size(mp.Graph))
		e.graph(mp.Graph)
	})
	return e.err
}

// A wireWriter writes protobuf wire format, keeping the first error.
type wireWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func (e *wireWriter) write(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// marshal writes m's deterministic serialization.
func (e *wireWriter) marshal(m proto.Message) {
	if e.err != nil {
		return
	}
	e.buf, e.err = deterministic.MarshalAppend(e.buf[:0], m)
	e.write(e.buf)
}

// field writes the tag and length of a bytes field numbered num.
func (e *wireWriter) field(num protowire.Number, size int) {
	e.buf = protowire.AppendTag(e.buf[:0], num, protowire.BytesType)
	e.buf = protowire.AppendVarint(e.buf, uint64(size))
	e.write(e.buf)
}

// around writes m with its field numbered num written by body: m's fields
// numbered below num, body, then the fields numbered above and the unknown
// fields.
func (e *wireWriter) around(m proto.Message, num protoreflect.FieldNumber, body func()) {
	src := m.ProtoReflect()
	head, tail := src.New(), src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Number() < num:
			head.Set(fd, v)
		case fd.Number() > num:
			tail.Set(fd, v)
		}
		return true
	})
	tail.SetUnknown(src.GetUnknown())
	e.marshal(head.Interface())
	body()
	e.marshal(tail.Interface())
}

func (e *wireWriter) graph(g *onnxpb.GraphProto) {
	e.around(g, graphInitializer, func() {
		for _, t := range g.Initializer {
			e.field(graphInitializer, proto.Size(t))
			e.tensor(t)
		}
	})
}

func (e *wireWriter) tensor(t *onnxpb.TensorProto) {
	if len(t.RawData) < streamedRawData {
		e.marshal(t)
		return
	}
	e.around(t, tensorRawData, func() {
		e.field(tensorRawData, len(t.RawData))
		e.write(t.RawData)
	})
}
