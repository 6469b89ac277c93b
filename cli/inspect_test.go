package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

const fixturesDir = "../testmodels/fixtures"

// summaryKeys are the keys of `inspect --json` (shared/spec/cli.md).
var summaryKeys = []string{"ir_version", "producer", "opsets", "inputs", "outputs", "nodes",
	"op_counts", "params", "binary_layers", "metadata"}

// manifestFixture is one entry of testmodels/fixtures/manifest.json: its
// name, arch and the summary computed with Python's onnx API.
type manifestFixture struct {
	Name    string
	Arch    string
	Summary map[string]any
}

func loadManifest(t testing.TB) []manifestFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Fixtures []map[string]any `json:"fixtures"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(m.Fixtures) == 0 {
		t.Fatal("manifest.json lists no fixtures")
	}
	var out []manifestFixture
	for _, f := range m.Fixtures {
		name, _ := f["name"].(string)
		arch, _ := f["arch"].(string)
		s := map[string]any{}
		for _, k := range summaryKeys {
			v, ok := f[k]
			if !ok {
				t.Fatalf("manifest.json: fixture %q has no %q", name, k)
			}
			s[k] = v
		}
		out = append(out, manifestFixture{Name: name, Arch: arch, Summary: s})
	}
	return out
}

// inspectJSON runs `inspect --json` and decodes the output generically (so
// numbers compare as float64, like the manifest's).
func inspectJSON(t testing.TB, path string, extra ...string) map[string]any {
	t.Helper()
	r := bsnnctl(t, append([]string{"inspect", "--json", path}, extra...)...).ok(t)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("inspect --json output is not JSON: %v\n%s", err, r.stdout)
	}
	return got
}

// compareSummaries reports every summary key on which got differs from want.
func compareSummaries(t testing.TB, what string, got, want map[string]any) {
	t.Helper()
	for _, k := range summaryKeys {
		if !reflect.DeepEqual(got[k], want[k]) {
			g, _ := json.Marshal(got[k])
			w, _ := json.Marshal(want[k])
			t.Errorf("%s: %q = %s, want %s", what, k, g, w)
		}
	}
}

func TestInspectAgreesWithManifest(t *testing.T) {
	fixtures := loadManifest(t)
	listed := map[string]bool{}
	for _, f := range fixtures {
		listed[f.Name] = true
		t.Run(f.Name, func(t *testing.T) {
			got := inspectJSON(t, filepath.Join(fixturesDir, f.Name, "model.onnx"))
			compareSummaries(t, f.Name, got, f.Summary)
		})
	}
	// Every committed fixture is in the manifest, so every one was checked.
	models, _ := filepath.Glob(filepath.Join(fixturesDir, "*", "model.onnx"))
	for _, m := range models {
		if name := filepath.Base(filepath.Dir(m)); !listed[name] {
			t.Errorf("%s is not in manifest.json", m)
		}
	}
}

func TestInspectText(t *testing.T) {
	for _, f := range loadManifest(t) {
		if f.Arch != "lenet" {
			continue
		}
		r := bsnnctl(t, "inspect", filepath.Join(fixturesDir, f.Name, "model.onnx")).ok(t)
		for op, n := range f.Summary["op_counts"].(map[string]any) {
			if !containsFields(r.stdout, op, jsonNumber(n)) {
				t.Errorf("%s: the report has no line %q %s:\n%s", f.Name, op, jsonNumber(n), r.stdout)
			}
		}
		for _, want := range [][]string{
			{"nodes", jsonNumber(f.Summary["nodes"])},
			{"parameters", jsonNumber(f.Summary["params"])},
		} {
			if !containsFields(r.stdout, want...) {
				t.Errorf("%s: the report has no line %q:\n%s", f.Name, want, r.stdout)
			}
		}
		return
	}
	t.Fatal("no lenet fixture in the manifest")
}

// containsFields reports whether some line of s consists of exactly the
// given whitespace-separated fields.
func containsFields(s string, fields ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		if reflect.DeepEqual(strings.Fields(line), fields) {
			return true
		}
	}
	return false
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestInspectMatchesPythonONNX runs testmodels/onnx_summary.py (Python's
// onnx API) on a few fixtures and compares every key with inspect --json.
func TestInspectMatchesPythonONNX(t *testing.T) {
	interop.NeedPythonONNX(t)
	fixtures := loadManifest(t)
	// One fixture of each arch, plus the first dynamic-batch one.
	var paths []string
	seen := map[string]bool{}
	dynamic := false
	for _, f := range fixtures {
		isDyn := strings.HasSuffix(f.Name, "_dynamic")
		if seen[f.Arch] && (dynamic || !isDyn) {
			continue
		}
		seen[f.Arch] = true
		dynamic = dynamic || isDyn
		paths = append(paths, filepath.Join(fixturesDir, f.Name, "model.onnx"))
	}
	if len(paths) < 2 {
		t.Fatalf("want several fixtures, got %v", paths)
	}
	cmd := exec.Command(interop.Python, append([]string{"-I", "../testmodels/onnx_summary.py"}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("onnx_summary.py: %v\n%s", err, stderr.String())
	}
	var want map[string]map[string]any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("onnx_summary.py output: %v\n%s", err, out)
	}
	for _, p := range paths {
		w, ok := want[p]
		if !ok {
			t.Fatalf("onnx_summary.py printed no summary for %s", p)
		}
		compareSummaries(t, p, inspectJSON(t, p), w)
	}
}

func TestInspectInvalidModels(t *testing.T) {
	files, err := filepath.Glob("../onnx/testdata/invalid-*.onnx")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid models in ../onnx/testdata (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, args := range [][]string{{"inspect", f}, {"inspect", "--json", f}, {"inspect", "--check", f}} {
				r := bsnnctl(t, args...)
				line := r.runtimeError(t)
				if want := "bsnnctl: " + f + ": onnx: malformed model: "; !strings.HasPrefix(line, want) {
					t.Errorf("%v: stderr %q does not start with %q", args, line, want)
				}
				if r.stdout != "" {
					t.Errorf("%v: wrote to stdout:\n%s", args, r.stdout)
				}
			}
		})
	}
}

func TestInspectMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.onnx")
	line := bsnnctl(t, "inspect", path).runtimeError(t)
	if want := "bsnnctl: " + path + ": no such file or directory"; line != want {
		t.Errorf("stderr %q, want %q", line, want)
	}
}

func TestInspectCheckSupported(t *testing.T) {
	f := filepath.Join(fixturesDir, "mlp_op9_folded_static", "model.onnx")
	r := bsnnctl(t, "inspect", "--check", f).ok(t)
	if !strings.Contains(r.stdout, "supported: all 6 nodes") {
		t.Errorf("--check report does not say all nodes are supported:\n%s", r.stdout)
	}
	got := inspectJSON(t, f, "--check")
	if u, ok := got["unsupported"].([]any); !ok || len(u) != 0 {
		t.Errorf("inspect --json --check: unsupported = %v, want []", got["unsupported"])
	}
	if _, ok := inspectJSON(t, f)["unsupported"]; ok {
		t.Error("inspect --json without --check has an \"unsupported\" key")
	}
}

// TestInspectCheckListsEveryUnsupportedOp writes a model with two nodes of
// an op no registry entry covers between supported ones.
func TestInspectCheckListsEveryUnsupportedOp(t *testing.T) {
	f := filepath.Join(t.TempDir(), "custom.onnx")
	writeCustomOpModel(t, f)

	r := bsnnctl(t, "inspect", "--check", f)
	line := r.runtimeError(t)
	for _, want := range []string{f, "2 unsupported", "com.example::Frob"} {
		if !strings.Contains(line, want) {
			t.Errorf("stderr %q does not mention %q", line, want)
		}
	}
	for _, node := range []string{`"frob1"`, `"frob2"`} {
		if !strings.Contains(r.stdout, node) {
			t.Errorf("the report does not list node %s:\n%s", node, r.stdout)
		}
	}
	if strings.Contains(r.stdout, `"relu"`) {
		t.Errorf("the report lists the supported Relu node:\n%s", r.stdout)
	}

	r = bsnnctl(t, "inspect", "--json", "--check", f)
	r.runtimeError(t)
	var got struct {
		OpCounts    map[string]int `json:"op_counts"`
		Unsupported []struct {
			Node, Op, Reason string
			Opset            int
		} `json:"unsupported"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("inspect --json --check output: %v\n%s", err, r.stdout)
	}
	var nodes []string
	for _, u := range got.Unsupported {
		nodes = append(nodes, u.Node)
		if u.Op != "com.example::Frob" || u.Opset != 1 || u.Reason == "" {
			t.Errorf("unsupported entry %+v", u)
		}
	}
	sort.Strings(nodes)
	if !reflect.DeepEqual(nodes, []string{"frob1", "frob2"}) {
		t.Errorf("unsupported nodes %v, want [frob1 frob2]", nodes)
	}
	if got.OpCounts["com.example::Frob"] != 2 || got.OpCounts["Relu"] != 1 {
		t.Errorf("op_counts %v", got.OpCounts)
	}

	// Without --check the model is fine to inspect.
	bsnnctl(t, "inspect", f).ok(t)
}

func writeCustomOpModel(t testing.TB, path string) {
	t.Helper()
	s := func(v string) *string { return &v }
	i64 := func(v int64) *int64 { return &v }
	node := func(name, domain, op, in, out string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{Name: s(name), Domain: s(domain), OpType: s(op), Input: []string{in}, Output: []string{out}}
	}
	vi := func(name string) *onnxpb.ValueInfoProto {
		return onnx.ValueInfoProto(name, onnx.Float, onnx.Shape{{Value: 2}, {Value: 3}})
	}
	m := &onnx.Model{Proto: &onnxpb.ModelProto{
		IrVersion:    i64(8),
		ProducerName: s("cli test"),
		OpsetImport: []*onnxpb.OperatorSetIdProto{
			{Domain: s(""), Version: i64(13)},
			{Domain: s("com.example"), Version: i64(1)},
		},
		Graph: &onnxpb.GraphProto{
			Name: s("g"),
			Node: []*onnxpb.NodeProto{
				node("frob1", "com.example", "Frob", "x", "a"),
				node("relu", "", "Relu", "a", "b"),
				node("frob2", "com.example", "Frob", "b", "y"),
			},
			Input:  []*onnxpb.ValueInfoProto{vi("x")},
			Output: []*onnxpb.ValueInfoProto{vi("y")},
		},
	}}
	if err := onnx.EncodeFile(path, m); err != nil {
		t.Fatal(err)
	}
}
