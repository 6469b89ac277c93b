package onnx

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// DomainONNX is the default domain, ai.onnx (also spelled "ai.onnx").
const DomainONNX = ""

// A Model is a decoded ONNX model. Proto is the message exactly as decoded;
// changing it changes what Encode writes.
type Model struct {
	Proto *onnxpb.ModelProto
	// Dir is the folder external-data paths are resolved against ("" for a
	// model read from a stream: external data cannot be read then).
	Dir string
}

// WriteFileAtomic writes data to path through a temporary file and a rename,
// syncing the file before the rename.
func WriteFileAtomic(path string, data []byte) error {
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}

// WriteAtomic calls write with a temporary file in path's folder and renames
// it to path once write and a sync succeeded; on any error the temporary
// file is removed and path is left untouched.
func WriteAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Clone returns a deep copy of the model.
func (m *Model) Clone() *Model {
	return &Model{Proto: proto.Clone(m.Proto).(*onnxpb.ModelProto), Dir: m.Dir}
}

// Equal reports whether two models are proto-equal.
func Equal(a, b *Model) bool { return proto.Equal(a.Proto, b.Proto) }

// Opset returns the opset version imported for domain ("" and "ai.onnx" are
// the same domain), or 0 if the domain is not imported.
func (m *Model) Opset(domain string) int {
	if domain == "ai.onnx" {
		domain = ""
	}
	for _, o := range m.Proto.OpsetImport {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain {
			return int(o.GetVersion())
		}
	}
	return 0
}

// Opsets returns the imported opsets as domain -> version ("" for ai.onnx).
func (m *Model) Opsets() map[string]int {
	out := map[string]int{}
	for _, o := range m.Proto.OpsetImport {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		out[d] = int(o.GetVersion())
	}
	return out
}

// Metadata returns metadata_props as a map.
func (m *Model) Metadata() map[string]string {
	out := map[string]string{}
	for _, p := range m.Proto.MetadataProps {
		out[p.GetKey()] = p.GetValue()
	}
	return out
}

// SetMetadata sets (or replaces) one metadata_props entry, keeping the
// order of existing entries.
func (m *Model) SetMetadata(key, value string) {
	for _, p := range m.Proto.MetadataProps {
		if p.GetKey() == key {
			p.Value = ptr(value)
			return
		}
	}
	m.Proto.MetadataProps = append(m.Proto.MetadataProps, &onnxpb.StringStringEntryProto{Key: ptr(key), Value: ptr(value)})
}

// MetadataKeys returns the metadata keys, sorted.
func (m *Model) MetadataKeys() []string {
	var keys []string
	for _, p := range m.Proto.MetadataProps {
		keys = append(keys, p.GetKey())
	}
	sort.Strings(keys)
	return keys
}

// Graph returns the typed view of the main graph.
func (m *Model) Graph() (*Graph, error) {
	if m.Proto.Graph == nil {
		return nil, formatErrorf("model", "has no graph")
	}
	return NewGraph(m.Proto.Graph)
}

// Initializer returns the named initializer of the main graph as a Tensor,
// reading external data from the model's folder if needed.
func (m *Model) Initializer(name string) (*Tensor, error) {
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		if t.GetName() == name {
			return m.TensorValue(t)
		}
	}
	return nil, fmt.Errorf("onnx: no initializer %q", name)
}

// TensorValue converts a TensorProto of this model to a Tensor, resolving
// external data against the model's folder.
func (m *Model) TensorValue(t *onnxpb.TensorProto) (*Tensor, error) {
	if t.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
		return TensorFromProto(t)
	}
	raw, err := m.readExternal(t)
	if err != nil {
		return nil, err
	}
	c := proto.Clone(t).(*onnxpb.TensorProto)
	c.DataLocation = nil
	c.ExternalData = nil
	c.RawData = raw
	return TensorFromProto(c)
}
