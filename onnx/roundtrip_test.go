package onnx

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// TestdataDir is where ONNX's own operator conformance cases are (Debian's
// libonnx-testdata, or $BSNNCTL_ONNX_TESTDATA).
var TestdataDir = interop.ONNXTestdataDir()

// fixtureModels returns the ONNX files of the committed and generated
// fixtures.
func fixtureModels(t testing.TB) []string {
	var files []string
	for _, pattern := range []string{
		"../testmodels/fixtures/*/model.onnx",
		"../testmodels/generated/*/model.onnx",
		"../testmodels/*.onnx",
	} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	return files
}

// roundTrip checks that the streaming codec agrees with protobuf on the
// file, Decode -> Encode gives a proto-equal model and a second round trip
// is byte-identical.
func roundTrip(t *testing.T, path string) {
	t.Helper()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkStreamDecode(t, orig)
	m, err := DecodeFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var first bytes.Buffer
	if err := Encode(&first, m); err != nil {
		t.Fatal(err)
	}
	want := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(orig, want); err != nil {
		t.Fatal(err)
	}
	got := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(first.Bytes(), got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(want, got) {
		t.Fatalf("%s: re-encoded model is not proto-equal to the original", path)
	}
	m2, err := Decode(bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatalf("%s: second decode: %v", path, err)
	}
	var second bytes.Buffer
	if err := Encode(&second, m2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatalf("%s: second round trip is not byte-identical", path)
	}
}

func TestRoundTripFixtures(t *testing.T) {
	files := fixtureModels(t)
	if len(files) == 0 {
		t.Fatal("no fixtures under testmodels/ (committed fixtures)")
	}
	for _, f := range files {
		roundTrip(t, f)
	}
	t.Logf("%d fixture models round-tripped", len(files))
}

func TestRoundTripONNXTestdata(t *testing.T) {
	var files []string
	for _, suite := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		m, _ := filepath.Glob(filepath.Join(TestdataDir, suite, "*", "model.onnx"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		interop.Need(t, "libonnx-testdata", fmt.Errorf("no models under %s", TestdataDir))
	}
	for _, f := range files {
		roundTrip(t, f)
	}
	t.Logf("%d libonnx-testdata models round-tripped", len(files))
}

func TestInputTensorsDecode(t *testing.T) {
	// Every tensor .pb of the node suite converts (or is reported as an
	// unsupported element type, never a panic or a format error).
	files, _ := filepath.Glob(filepath.Join(TestdataDir, "node", "*", "test_data_set_0", "*.pb"))
	if len(files) == 0 {
		interop.Need(t, "libonnx-testdata", fmt.Errorf("no tensors under %s", TestdataDir))
	}
	ok := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(b, tp); err != nil || tp.DataType == nil {
			continue // sequences and optionals
		}
		if _, err := TensorFromProto(tp); err != nil {
			// Sequence and optional protos parse as nonsense tensors: they
			// must be refused with a typed error.
			var ue *UnsupportedError
			var fe *FormatError
			if !errors.As(err, &ue) && !errors.As(err, &fe) {
				t.Errorf("%s: %v", f, err)
			}
			continue
		}
		ok++
	}
	t.Logf("%d tensors decoded", ok)
}

// FuzzDecode feeds arbitrary bytes to Decode: it must return a model or an
// error, never panic, and a model it accepts must survive a round trip and
// building its graph view.
func FuzzDecode(f *testing.F) {
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
	f.Add(mustMarshal(f, tinyModel()))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(bytes.NewReader(data))
		if err != nil {
			var fe *FormatError
			var ue *UnsupportedError
			if !errors.As(err, &fe) && !errors.As(err, &ue) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if _, err := m.Graph(); err != nil {
			t.Fatalf("validated model has no graph view: %v", err)
		}
		if _, err := Summarize(m); err != nil {
			t.Fatalf("summary: %v", err)
		}
		for _, init := range m.Proto.Graph.Initializer {
			m.TensorValue(init) // must not panic
		}
		b, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("re-encoded model fails to decode: %v", err)
		}
	})
}

// BenchmarkDecodeResNet18 decodes the ~47 MB ResNet-18 fixture (generated
// by testmodels/make_fixtures.py --large).
func BenchmarkDecodeResNet18(b *testing.B) {
	files, _ := filepath.Glob("../testmodels/generated/resnet18_*/model.onnx")
	if len(files) == 0 {
		b.Skip("ResNet-18 fixture not generated (python3 testmodels/make_fixtures.py --large --out testmodels/generated)")
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	var live float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		// Heap in use right after decoding, relative to the file size:
		// the read buffer plus the decoded model.
		live = max(live, float64(after.HeapInuse-before.HeapInuse)/float64(len(data)))
		runtime.KeepAlive(m)
	}
	b.ReportMetric(live, "heap/filesize")
}
