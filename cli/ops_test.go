package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/ops"
)

type opEntry struct {
	Domain     string   `json:"domain"`
	OpType     string   `json:"op_type"`
	Since      int      `json:"since"`
	Until      int      `json:"until"`
	Opsets     string   `json:"opsets"`
	MinInputs  int      `json:"min_inputs"`
	MaxInputs  int      `json:"max_inputs"`
	Attributes []string `json:"attributes"`
	Doc        string   `json:"doc"`
}

func opsJSON(t *testing.T, args ...string) []opEntry {
	t.Helper()
	r := bsnnctl(t, append([]string{"ops", "--json"}, args...)...).ok(t)
	var got struct{ Ops []opEntry }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("ops --json output: %v\n%s", err, r.stdout)
	}
	return got.Ops
}

// TestOpsListsTheRegistry checks `ops --json` against ops.Specs(), entry by
// entry, and the table's rows.
func TestOpsListsTheRegistry(t *testing.T) {
	specs := ops.Specs()
	if len(specs) == 0 {
		t.Fatal("the registry is empty")
	}
	got := opsJSON(t)
	if len(got) != len(specs) {
		t.Fatalf("ops --json lists %d entries, the registry has %d", len(got), len(specs))
	}
	for i, s := range specs {
		g := got[i]
		domain := s.Domain
		if domain == "ai.onnx" {
			domain = ""
		}
		if g.Domain != domain || g.OpType != s.OpType || g.Since != s.Since || g.Until != s.Until ||
			g.Doc != s.Doc || g.MinInputs != s.MinInputs || g.MaxInputs != s.MaxInputs || len(g.Attributes) != len(s.Attrs) {
			t.Errorf("entry %d = %+v, registry has %s::%s %d..%d %q", i, g, s.Domain, s.OpType, s.Since, s.Until, s.Doc)
		}
		if want := opsetText(s.Since, s.Until); g.Opsets != want {
			t.Errorf("%s: opsets %q, want %q", s.OpType, g.Opsets, want)
		}
	}

	r := bsnnctl(t, "ops").ok(t)
	for _, s := range specs {
		domain := s.Domain
		if domain == "" {
			domain = "ai.onnx"
		}
		found := false
		for _, line := range strings.Split(r.stdout, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == domain && f[1] == s.OpType && f[2] == opsetText(s.Since, s.Until) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("the table has no row for %s %s (opset %d):\n%s", domain, s.OpType, s.Since, r.stdout)
		}
	}
}

func TestOpsDomainFilter(t *testing.T) {
	all := opsJSON(t)
	def := opsJSON(t, "--domain", "ai.onnx")
	n := 0
	for _, o := range all {
		if o.Domain == "" {
			n++
		}
	}
	if len(def) != n || n == 0 {
		t.Errorf("--domain ai.onnx lists %d entries, want %d", len(def), n)
	}
	for _, o := range def {
		if o.Domain != "" {
			t.Errorf("--domain ai.onnx lists %s::%s", o.Domain, o.OpType)
		}
	}
	if none := opsJSON(t, "--domain", "no.such.domain"); len(none) != 0 {
		t.Errorf("--domain no.such.domain lists %v", none)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func opsetText(since, until int) string {
	if until == 0 {
		return itoa(since) + "+"
	}
	return itoa(since) + "-" + itoa(until)
}
