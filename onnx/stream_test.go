package onnx

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// bigModel is tinyModel with a weight large enough to be streamed (more
// than streamedRawData bytes), a float_data weight, and unknown fields at
// every level the codec takes apart: model, graph and tensor, on both
// sides of the fields it streams.
func bigModel() *onnxpb.ModelProto {
	m := tinyModel()
	v := make([]float32, 3*2*1000)
	for i := range v {
		v[i] = float32(i%13) - 6.5
	}
	big := FloatTensor("W", []int64{3, 2000}, v)
	big.DocString = ptr("the big weight")
	unknown := protowire.AppendTag(nil, 1000, protowire.BytesType)
	unknown = protowire.AppendString(unknown, "unknown field")
	big.ProtoReflect().SetUnknown(unknown)
	m.Graph.Initializer[0] = big
	m.Graph.Initializer = append(m.Graph.Initializer,
		&onnxpb.TensorProto{Name: ptr("typed"), DataType: ptr(int32(Float)), Dims: []int64{2}, FloatData: []float32{1, 2}},
		&onnxpb.TensorProto{Name: ptr("empty"), DataType: ptr(int32(Float)), Dims: []int64{0}, RawData: []byte{}})
	m.Graph.Node[0].Output = []string{"XW"}
	m.Graph.ProtoReflect().SetUnknown(unknown)
	m.ProtoReflect().SetUnknown(unknown)
	m.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: ptr("k"), Value: ptr("v")}}
	return m
}

// TestStreamCodecMatchesProtobuf: the streaming decoder makes the message
// proto.Unmarshal makes, and Encode and Marshal write the bytes
// deterministic proto.Marshal writes, for a model with streamed weights,
// typed and empty weights and unknown fields.
func TestStreamCodecMatchesProtobuf(t *testing.T) {
	want := bigModel()
	data := mustMarshal(t, want)
	got, err := unmarshalStream(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Fatal("the streamed decode differs from the original message")
	}
	if got.Graph.Initializer[3].RawData == nil {
		t.Error("an empty raw_data lost its presence")
	}
	m := &Model{Proto: got}
	enc, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, data) {
		t.Fatal("Marshal differs from deterministic proto.Marshal")
	}
	var w bytes.Buffer
	if err := Encode(&w, m); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Bytes(), data) {
		t.Fatal("Encode differs from deterministic proto.Marshal")
	}
	path := filepath.Join(t.TempDir(), "big.onnx")
	if err := EncodeFile(path, m); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, data) {
		t.Fatal("EncodeFile differs from deterministic proto.Marshal")
	}
}

// TestDecodedWeightsAreShared: a decoded float weight is aligned raw_data
// that TensorFromProto views without copying, ProtoView hands back the
// same memory, and Proto copies.
func TestDecodedWeightsAreShared(t *testing.T) {
	if !littleEndian {
		t.Skip("raw_data is copied on a big-endian machine")
	}
	data := mustMarshal(t, bigModel())
	m, err := Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := m.Proto.Graph.Initializer[0]
	w, err := TensorFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	raw := unsafe.Pointer(unsafe.SliceData(p.RawData))
	if unsafe.Pointer(unsafe.SliceData(w.Float32)) != raw || cap(w.Float32) != len(w.Float32) {
		t.Error("TensorFromProto copied an aligned float raw_data")
	}
	if v := w.ProtoView(); unsafe.Pointer(unsafe.SliceData(v.RawData)) != raw || !bytes.Equal(v.RawData, p.RawData) {
		t.Error("ProtoView copied a float tensor")
	}
	if c := w.Proto(); unsafe.Pointer(unsafe.SliceData(c.RawData)) == raw || !bytes.Equal(c.RawData, p.RawData) {
		t.Error("Proto shares memory with its tensor")
	}
	// Unaligned raw_data (as protobuf may leave it) is copied, with the
	// same values.
	buf := make([]byte, len(p.RawData)+1)
	odd := &onnxpb.TensorProto{DataType: p.DataType, Dims: p.Dims, RawData: buf[1:]}
	copy(odd.RawData, p.RawData)
	u, err := TensorFromProto(odd)
	if err != nil {
		t.Fatal(err)
	}
	for i := range u.Float32 {
		if u.Float32[i] != w.Float32[i] {
			t.Fatalf("unaligned value %d: %v, want %v", i, u.Float32[i], w.Float32[i])
		}
	}
}

// TestDecodeFileHashed hashes the bytes it decodes.
func TestDecodeFileHashed(t *testing.T) {
	data := mustMarshal(t, bigModel())
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	m, err := DecodeFileHashed(path, h)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Error("wrong digest")
	}
	if m.Dir != filepath.Dir(path) {
		t.Errorf("Dir %q", m.Dir)
	}
	trunc := filepath.Join(t.TempDir(), "t.onnx")
	if err := os.WriteFile(trunc, data[:len(data)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = DecodeFileHashed(trunc, sha256.New())
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Where != trunc {
		t.Errorf("truncated file: %v", err)
	}
}

// checkStreamDecode compares the streaming decoder with proto.Unmarshal on
// data: both fail, or both succeed with equal messages that Marshal writes
// as deterministic proto.Marshal does.
func checkStreamDecode(t *testing.T, data []byte) {
	t.Helper()
	want := &onnxpb.ModelProto{}
	wantErr := proto.Unmarshal(data, want)
	got, err := unmarshalStream(bytes.NewReader(data), int64(len(data)))
	switch {
	case len(data) == 0:
		if err == nil {
			t.Fatal("empty input decoded")
		}
		return
	case wantErr != nil && err == nil:
		t.Fatalf("decoded what protobuf refuses (%v)", wantErr)
	case wantErr == nil && err != nil:
		t.Fatalf("refused what protobuf decodes: %v", err)
	case err != nil:
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		return
	}
	if !proto.Equal(got, want) {
		t.Fatal("the streamed decode differs from proto.Unmarshal")
	}
	b, err := Marshal(&Model{Proto: got})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := deterministic.Marshal(want); !bytes.Equal(b, d) {
		t.Fatal("Marshal differs from deterministic proto.Marshal")
	}
}

// FuzzStreamDecode checks the streaming decoder and encoder against
// protobuf on arbitrary bytes.
func FuzzStreamDecode(f *testing.F) {
	for _, p := range fixtureModels(f) {
		if st, err := os.Stat(p); err == nil && st.Size() < 64<<10 {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
	}
	inv, _ := filepath.Glob("testdata/*.onnx")
	for _, p := range inv {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add(mustMarshal(f, bigModel()))
	group := protowire.AppendTag(nil, 7, protowire.StartGroupType)
	group = protowire.AppendTag(group, 3, protowire.VarintType)
	group = protowire.AppendVarint(group, 5)
	group = protowire.AppendTag(group, 7, protowire.EndGroupType)
	f.Add(group)
	f.Fuzz(checkStreamDecode)
}
