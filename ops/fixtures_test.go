package ops

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// fixture is one entry of testmodels/*/manifest.json.
type fixture struct {
	Name       string   `json:"name"`
	Arch       string   `json:"arch"`
	Opset      int      `json:"opset"`
	BN         string   `json:"bn"`
	Batch      string   `json:"batch"`
	InputShape []int    `json:"input_shape"`
	GradKeys   []string `json:"grad_keys"`
	dir        string
}

func loadFixtures(t testing.TB) []fixture {
	var out []fixture
	for _, root := range []string{"../testmodels/fixtures", "../testmodels/generated"} {
		b, err := os.ReadFile(filepath.Join(root, "manifest.json"))
		if err != nil {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var list []fixture
		if raw, ok := m["fixtures"]; ok {
			if err := json.Unmarshal(raw, &list); err != nil {
				var mp map[string]fixture
				if err := json.Unmarshal(raw, &mp); err != nil {
					t.Fatal(err)
				}
				for _, f := range mp {
					list = append(list, f)
				}
			}
		} else {
			for _, raw := range m {
				var f fixture
				if json.Unmarshal(raw, &f) == nil && f.Name != "" {
					list = append(list, f)
				}
			}
		}
		for _, f := range list {
			f.dir = filepath.Join(root, f.Name)
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// relErr is max|a-b| / max(max|b|, tiny).
func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	return num / math.Max(den, 1e-12)
}

// TestFixturesMatchPyTorch runs every fixture through the engine and
// compares the output and the gradients (of sum(output * R)) with
// PyTorch's.
func TestFixturesMatchPyTorch(t *testing.T) {
	fs := loadFixtures(t)
	if len(fs) == 0 {
		t.Skip("no fixtures")
	}
	for _, f := range fs {
		f := f
		t.Run(f.Name, func(t *testing.T) {
			if testing.Short() && strings.HasPrefix(f.Arch, "resnet") {
				t.Skip("short")
			}
			m, err := onnx.DecodeFile(filepath.Join(f.dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			in, err := npy.ReadFile(filepath.Join(f.dir, "input.npy"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := npy.ReadFile(filepath.Join(f.dir, "output.npy"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := npy.ReadFile(filepath.Join(f.dir, "dloss_doutput.npy"))
			if err != nil {
				t.Fatal(err)
			}
			grads, err := npy.ReadNPZ(filepath.Join(f.dir, "grads.npz"))
			if err != nil {
				t.Fatal(err)
			}
			g, _ := m.Graph()
			inName := g.Inputs[0].Name
			b, err := NewBuilder(m, Options{InputShapes: map[string][]int{inName: in.Shape()}, InputGrads: true})
			if err != nil {
				t.Fatal(err)
			}
			loss, err := b.WeightedSum(b.Outputs[0], r.Floats())
			if err != nil {
				t.Fatal(err)
			}
			p, err := b.Compile(loss)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.SetInput(inName, in.Floats()); err != nil {
				t.Fatal(err)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			got := p.Output(0)
			if e := relErr(got.Float32, want.Floats()); e > 1e-4 {
				t.Errorf("output rel err %.3g > 1e-4", e)
			}
			checked := 0
			for name, gw := range grads {
				var gg []float32
				if name == "input" {
					gg = p.InputGrad(inName)
				} else if prm := b.Param(name); prm != nil {
					gg = p.Grad(prm)
				}
				if gg == nil {
					t.Errorf("no gradient for %q", name)
					continue
				}
				if e := relErr(gg, gw.Floats()); e > 1e-3 {
					t.Errorf("gradient %q rel err %.3g > 1e-3 (L2 %.3g)", name, e, relL2(gg, gw.Floats()))
				}
				checked++
			}
			t.Logf("output ok, %d gradients checked", checked)
		})
	}
}

// relL2 is ||a-b|| / ||b||.
func relL2(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / math.Max(den, 1e-300))
}
