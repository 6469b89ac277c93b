package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// TestImportFixtures imports one fixture of each architecture family and
// checks the written BSNN: it decodes, `inspect` lists exactly the binary
// layers of bsnn.layers, and the JSON report names them too.
func TestImportFixtures(t *testing.T) {
	for _, name := range []string{"mlp_op9_folded_static", "lenet_op11_keepbn_dynamic", "lenet_op13_folded_static", "resnet20_op17_keepbn_static"} {
		src := filepath.Join("..", "testmodels", "fixtures", name, "model.onnx")
		if _, err := os.Stat(src); err != nil {
			t.Fatalf("fixture missing: %v", err)
		}
		out := filepath.Join(t.TempDir(), name+".bsnn.onnx")
		r := bsnnctl(t, "import", src, "-o", out, "--json").ok(t)
		var rep struct {
			Output       string `json:"output"`
			Verification struct {
				Ran          bool   `json:"ran"`
				OnnxGo       string `json:"onnx_go"`
				CrossChecked bool   `json:"cross_checked"`
				Reference    string `json:"reference"`
			} `json:"verification"`
			Report json.RawMessage `json:"report"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, r.stdout)
		}
		if v := rep.Verification; !v.Ran || v.OnnxGo != "agree" || !v.CrossChecked || v.Reference != "onnx-go" {
			t.Errorf("%s: verification %+v, want our engine and onnx-go to agree", name, rep.Verification)
		}
		m, err := onnx.DecodeFile(out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		layers, ok := bsnn.ReadLayers(m)
		if !ok {
			t.Fatalf("%s: no bsnn.layers metadata", name)
		}
		var want []string
		for _, l := range layers {
			if l.Binary {
				want = append(want, l.Name)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: no binary layer", name)
		}
		ins := bsnnctl(t, "inspect", out, "--json").ok(t)
		var sum struct {
			BinaryLayers []string          `json:"binary_layers"`
			OpCounts     map[string]int    `json:"op_counts"`
			Metadata     map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(ins.stdout), &sum); err != nil {
			t.Fatal(err)
		}
		sort.Strings(want)
		got := append([]string(nil), sum.BinaryLayers...)
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: inspect lists binary layers %v, bsnn.layers says %v", name, got, want)
		}
		if sum.OpCounts["qonnx.custom_op.general::BipolarQuant"] != len(want) {
			t.Errorf("%s: %d BipolarQuant nodes for %d binary layers", name, sum.OpCounts["qonnx.custom_op.general::BipolarQuant"], len(want))
		}
		if sum.Metadata["bsnn.time_steps"] != "4" || sum.Metadata["bsnn.profile"] != "portable" {
			t.Errorf("%s: metadata %v", name, sum.Metadata)
		}
	}
}

// TestImportUnsupported reports every unsupported node at once, exits 1
// with one line and writes nothing.
func TestImportUnsupported(t *testing.T) {
	src := filepath.Join("..", "testmodels", "fixtures", "mlp_op13_folded_static", "model.onnx")
	m, err := onnx.DecodeFile(src)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Proto.Graph
	// Route the output through two ops the toolkit does not support.
	last := g.Output[0].GetName()
	s := func(v string) *string { return &v }
	g.Node = append(g.Node,
		&onnxpb.NodeProto{Name: s("weird1"), OpType: s("Erf"), Input: []string{last}, Output: []string{"e1"}},
		&onnxpb.NodeProto{Name: s("weird2"), OpType: s("Hardmax"), Input: []string{"e1"}, Output: []string{"e2"}})
	g.Output[0].Name = s("e2")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.onnx")
	if err := onnx.EncodeFile(bad, m); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	line := bsnnctl(t, "import", bad, "-o", out).runtimeError(t)
	for _, want := range []string{`"weird1" (Erf`, `"weird2" (Hardmax`} {
		if !strings.Contains(line, want) {
			t.Errorf("error does not name %s: %s", want, line)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left behind: %v", entries)
	}
}
