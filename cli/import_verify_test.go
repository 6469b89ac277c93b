package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/ort"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops/crosscheck"
)

// tinyMLP writes an opset-13 network input [N, 4] -> Gemm -> (act) -> Gemm
// -> output [N, 2] and returns its path; act adds the nodes between the two
// layers, reading "h" and writing "a".
func tinyMLP(t *testing.T, act func(g *onnxpb.GraphProto)) string {
	t.Helper()
	w := func(name string, rows, cols int64) *onnxpb.TensorProto {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = float32(i%7)/7 - 0.4
		}
		return onnx.FloatTensor(name, []int64{rows, cols}, v)
	}
	g := &onnxpb.GraphProto{Name: proto.String("tiny"),
		Initializer: []*onnxpb.TensorProto{w("w1", 3, 4), w("w2", 2, 3)},
		Input:       []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("x", onnx.Float, onnx.Shape{{Value: -1, Param: "N"}, {Value: 4}})},
		Output:      []*onnxpb.ValueInfoProto{onnx.ValueInfoProto("y", onnx.Float, onnx.Shape{{Value: -1, Param: "N"}, {Value: 2}})},
		Node:        []*onnxpb.NodeProto{onnx.NewNode("fc1", "Gemm", "", []string{"x", "w1"}, []string{"h"}, onnx.AttrInt("transB", 1))},
	}
	act(g)
	g.Node = append(g.Node, onnx.NewNode("fc2", "Gemm", "", []string{"a", "w2"}, []string{"y"}, onnx.AttrInt("transB", 1)))
	m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(7), ProducerName: proto.String("test"), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := onnx.EncodeFile(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

// relu6 is Clip(0, 6), which onnx-go cannot run.
func relu6(g *onnxpb.GraphProto) {
	g.Initializer = append(g.Initializer, onnx.FloatTensor("lo", nil, []float32{0}), onnx.FloatTensor("hi", nil, []float32{6}))
	g.Node = append(g.Node, onnx.NewNode("relu6", "Clip", "", []string{"h", "lo", "hi"}, []string{"a"}))
}

// importJSON runs `import --json` and decodes the verification.
func importJSON(t *testing.T, src string) (importVerification, string, int, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.onnx")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"import", src, "-o", out, "--json"}, &stdout, &stderr)
	var rep struct {
		Verification importVerification `json:"verification"`
	}
	if code == 0 {
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("%v\n%s", err, stdout.String())
		}
	}
	return rep.Verification, out, code, stderr.String()
}

// TestVerifyFallsBackToOnnxruntime: a network onnx-go cannot run is
// cross-checked with onnxruntime.
func TestVerifyFallsBackToOnnxruntime(t *testing.T) {
	interop.NeedORT(t)
	v, _, code, stderr := importJSON(t, tinyMLP(t, relu6))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(v.OnnxGo, "unsupported: ") || v.Onnxruntime != "agree" || !v.CrossChecked || v.Reference != crosscheck.Onnxruntime {
		t.Errorf("verification %+v, want onnx-go unsupported and onnxruntime agreeing", v)
	}
}

// TestVerifyNotCrossChecked: with neither reference available the network
// is converted, and the text and JSON say plainly that it was not
// cross-checked.
func TestVerifyNotCrossChecked(t *testing.T) {
	defer func(f func(*crosscheck.Ours, string) *crosscheck.Report) { checkORT = f }(checkORT)
	checkORT = func(ours *crosscheck.Ours, _ string) *crosscheck.Report {
		return &crosscheck.Report{Ours: ours.Outputs, Reference: crosscheck.Onnxruntime,
			ReferenceErr: fmt.Errorf("%w: onnxruntime: no library here", ort.ErrUnavailable)}
	}
	src := tinyMLP(t, relu6)
	v, out, code, stderr := importJSON(t, src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if v.CrossChecked || v.Reference != "" || !strings.HasPrefix(v.Onnxruntime, "unavailable: ") || !v.Ran {
		t.Errorf("verification %+v, want not cross-checked, onnxruntime unavailable", v)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the BSNN was not written: %v", err)
	}
	var stdout, stderr2 bytes.Buffer
	if code := Main(context.Background(), []string{"import", src, "-o", out}, &stdout, &stderr2); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr2.String())
	}
	if s := stdout.String(); !strings.Contains(s, "NOT cross-checked") || strings.Contains(s, "agree") {
		t.Errorf("text output:\n%s", s)
	}
	if !strings.Contains(stderr2.String(), "not cross-checked") {
		t.Errorf("no warning on stderr:\n%s", stderr2.String())
	}
}

// TestVerifyRefusesDisagreement: a reference that disagrees, or outputs
// holding NaN or Inf, stop the import before anything is written.
func TestVerifyRefusesDisagreement(t *testing.T) {
	divZero := func(g *onnxpb.GraphProto) {
		g.Initializer = append(g.Initializer, onnx.FloatTensor("zero", nil, []float32{0}))
		g.Node = append(g.Node, onnx.NewNode("div", "Div", "", []string{"h", "zero"}, []string{"a"}))
	}
	_, out, code, stderr := importJSON(t, tinyMLP(t, divZero))
	if code != 1 || !strings.Contains(stderr, "NaN or Inf") {
		t.Errorf("non-finite outputs: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a BSNN was written")
	}

	defer func(f func(*crosscheck.Ours, string) *crosscheck.Report) { checkORT = f }(checkORT)
	checkORT = func(ours *crosscheck.Ours, _ string) *crosscheck.Report {
		return &crosscheck.Report{Ours: ours.Outputs, Reference: crosscheck.Onnxruntime, MaxRelDiff: 0.5}
	}
	_, out, code, stderr = importJSON(t, tinyMLP(t, relu6))
	if code != 1 || !strings.Contains(stderr, "our engine and onnxruntime disagree") {
		t.Errorf("onnxruntime disagreeing: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a BSNN was written")
	}
}

// TestVerifyRefusesAChangedFile: onnxruntime reads the file after the
// conversion; a file that changed meanwhile is refused, and no BSNN kept.
func TestVerifyRefusesAChangedFile(t *testing.T) {
	defer func(f func(*crosscheck.Ours, string) *crosscheck.Report) { checkORT = f }(checkORT)
	checkORT = func(ours *crosscheck.Ours, path string) *crosscheck.Report {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte{0})
		f.Close()
		return &crosscheck.Report{Ours: ours.Outputs, Reference: crosscheck.Onnxruntime}
	}
	_, out, code, stderr := importJSON(t, tinyMLP(t, relu6))
	if code != 1 || !strings.Contains(stderr, "changed while it was being imported") {
		t.Errorf("exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a BSNN was written")
	}
}
