package npy

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/onnx"
)

func TestRoundTrip(t *testing.T) {
	cases := []*onnx.Tensor{
		{Type: onnx.Float, Dims: []int64{2, 3}, Float32: []float32{1, -2, 3.5, 0, 1e-8, -7}},
		{Type: onnx.Double, Dims: []int64{1}, Float64: []float64{3.25}},
		{Type: onnx.Int64, Dims: []int64{2}, Int64: []int64{-1, 1 << 40}},
		{Type: onnx.Bool, Dims: []int64{}, Bool: []bool{true}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, c); err != nil {
			t.Fatal(err)
		}
		got, err := Read(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != c.Type || len(got.Dims) != len(c.Dims) {
			t.Fatalf("got %+v want %+v", got, c)
		}
		for i, v := range c.Floats() {
			if got.Floats()[i] != v {
				t.Fatalf("element %d: %v != %v", i, got.Floats()[i], v)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	var buf bytes.Buffer
	Write(&buf, &onnx.Tensor{Type: onnx.Float, Dims: []int64{4}, Float32: []float32{1, 2, 3, 4}})
	full := buf.Bytes()
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "short header"},
		{"magic", []byte("PK\x03\x04 not npy at all"), "bad magic"},
		{"truncated", full[:len(full)-3], "data ends early"},
		{"huge", []byte(strings.Replace(string(full), "(4,)", "(99999999,)", 1)), "data ends early"},
	} {
		if _, err := Read(bytes.NewReader(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

func TestFixtureFiles(t *testing.T) {
	files, _ := filepath.Glob("../../testmodels/fixtures/mlp_op9_folded_static/*.np?")
	if len(files) == 0 {
		t.Fatal("committed fixture testmodels/fixtures/mlp_op9_folded_static is missing")
	}
	in, err := ReadFile("../../testmodels/fixtures/mlp_op9_folded_static/input.npy")
	if err != nil {
		t.Fatal(err)
	}
	if in.Type != onnx.Float || in.Len() != 2*28*28 {
		t.Fatalf("input %v %v", in.Type, in.Dims)
	}
	g, err := ReadNPZ("../../testmodels/fixtures/mlp_op9_folded_static/grads.npz")
	if err != nil {
		t.Fatal(err)
	}
	if g["input"] == nil || g["input"].Len() != in.Len() {
		t.Fatalf("grads %v", g)
	}
}
