package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/train"
)

const lenetFixture = "../testmodels/fixtures/lenet_op13_keepbn_static/model.onnx"

// lenetBSNN converts the LeNet fixture and writes the BSNN (portable).
func lenetBSNN(t *testing.T) string {
	t.Helper()
	src, err := onnx.DecodeFile(lenetFixture)
	if err != nil {
		t.Fatal(err)
	}
	res, err := convert.Convert(src, convert.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lenet_bsnn.onnx")
	if err := onnx.EncodeFile(path, res.Model); err != nil {
		t.Fatal(err)
	}
	return path
}

type exportOut struct {
	Input        string `json:"input"`
	Output       string `json:"output"`
	Profile      string `json:"profile"`
	PlainForm    string `json:"plain_form"`
	TimeSteps    int    `json:"time_steps"`
	FileBytes    int64  `json:"file_bytes"`
	BinaryLayers []struct {
		Name   string  `json:"name"`
		Source string  `json:"source"`
		Shape  []int64 `json:"shape"`
		Params int64   `json:"params"`
	} `json:"binary_layers"`
	BinaryParams      int64           `json:"binary_params"`
	BinaryBytesPacked int64           `json:"binary_bytes_packed"`
	PackedRatio       float64         `json:"packed_ratio"`
	StoredPacked      bool            `json:"stored_packed"`
	SizeReport        json.RawMessage `json:"size_report"`
	TrainState        string          `json:"train_state"`
}

func TestExportEveryProfile(t *testing.T) {
	in := lenetBSNN(t)
	dir := t.TempDir()
	cases := []struct {
		profile, form, source string
	}{
		{"portable", "", "bipolarquant"},
		{"plain", "unrolled", "folded"},
		{"plain", "step", "folded"},
		{"packed", "", "packed"},
		{"train", "", "bipolarquant"},
	}
	for _, c := range cases {
		name := c.profile + c.form
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".onnx")
			args := []string{"export", in, "-o", out, "--profile", c.profile, "--json"}
			if c.form != "" {
				args = append(args, "--plain-form", c.form)
			}
			r := bsnnctl(t, args...).ok(t)
			var got exportOut
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("--json output: %v\n%s", err, r.stdout)
			}
			st, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if got.Profile != c.profile || got.PlainForm != c.form || got.FileBytes != st.Size() || got.Output != out || got.TimeSteps != 4 {
				t.Errorf("reported profile %q form %q, %d bytes, output %q, T %d; want %q %q %d %q 4",
					got.Profile, got.PlainForm, got.FileBytes, got.Output, got.TimeSteps, c.profile, c.form, st.Size(), out)
			}
			var names []string
			for _, l := range got.BinaryLayers {
				names = append(names, l.Name)
				if l.Source != c.source {
					t.Errorf("layer %s stored as %s, want %s", l.Name, l.Source, c.source)
				}
			}
			if strings.Join(names, ",") != "conv2,fc1,fc2" || got.BinaryParams != 2400+48000+10080 {
				t.Errorf("binary layers %v (%d weights), want conv2,fc1,fc2 (60480)", names, got.BinaryParams)
			}
			if got.PackedRatio > 1.0/25 || got.BinaryBytesPacked != 300+6000+1260 {
				t.Errorf("packed ratio %g (%d bytes), want <= 1/25 (7560 bytes)", got.PackedRatio, got.BinaryBytesPacked)
			}
			if got.StoredPacked != (c.profile == "packed") {
				t.Errorf("stored_packed = %v", got.StoredPacked)
			}
			if len(got.SizeReport) == 0 || string(got.SizeReport) == "null" {
				t.Errorf("no size report")
			}
			m, err := onnx.DecodeFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if p := m.Metadata()[bsnn.MetaProfile]; p != c.profile {
				t.Errorf("bsnn.profile = %q", p)
			}
			if c.profile == "train" {
				if got.TrainState != "fresh" {
					t.Errorf("train_state = %q, want fresh", got.TrainState)
				}
				st, err := train.DecodeTrainState(m)
				if err != nil {
					t.Fatalf("DecodeTrainState: %v", err)
				}
				if st.Kind != train.SGD || st.Step != 0 || len(st.Params) == 0 {
					t.Errorf("fresh state: %s step %d, %d tensors", st.Kind, st.Step, len(st.Params))
				}
			}
			// Exporting the written file again gives the same bytes.
			again := filepath.Join(dir, name+".again.onnx")
			args[1], args[3] = out, again
			r2 := bsnnctl(t, args...).ok(t)
			a, _ := os.ReadFile(out)
			b, _ := os.ReadFile(again)
			if !bytes.Equal(a, b) {
				t.Errorf("export of the written file differs (%d vs %d bytes)", len(a), len(b))
			}
			if c.profile == "train" && !strings.Contains(r2.stdout, `"train_state": "kept"`) {
				t.Errorf("second train export did not keep the state:\n%s", r2.stdout)
			}
		})
	}
}

func TestExportText(t *testing.T) {
	in := lenetBSNN(t)
	out := filepath.Join(t.TempDir(), "packed.onnx")
	r := bsnnctl(t, "export", in, "-o", out, "--profile", "packed").ok(t)
	for _, want := range []string{"wrote " + out, "profile:        packed", "binary layers:  3 (60480 weights)", "fc1", "packed ratio:   7560 / 241920 bytes = 1/32.0 (stored 1 bit each in this file)", "size report:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestExportErrors(t *testing.T) {
	in := lenetBSNN(t)
	dir := t.TempDir()
	// Usage errors: exit 80.
	for _, args := range [][]string{
		{"export", in},
		{"export", in, "-o", filepath.Join(dir, "x.onnx"), "--profile", "deploy"},
		{"export", in, "-o", filepath.Join(dir, "x.onnx"), "--plain-form", "rolled", "--profile", "plain"},
		{"export", in, "-o", filepath.Join(dir, "x.onnx"), "--plain-form", "step", "--profile", "packed"},
	} {
		if r := bsnnctl(t, args...); r.code != 80 {
			t.Errorf("%v: exit %d, want 80\n%s", args, r.code, r.stderr)
		}
	}
	// Runtime errors: one line, exit 1, nothing written.
	line := bsnnctl(t, "export", filepath.Join(dir, "missing.onnx"), "-o", filepath.Join(dir, "x.onnx")).runtimeError(t)
	if !strings.Contains(line, "missing.onnx") {
		t.Errorf("error does not name the file: %s", line)
	}
	line = bsnnctl(t, "export", in, "-o", filepath.Join(dir, "no", "such", "dir", "x.onnx")).runtimeError(t)
	if !strings.Contains(line, "x.onnx") {
		t.Errorf("error does not name the output: %s", line)
	}
	// A float ANN is not a BSNN; an existing output is left alone.
	out := filepath.Join(dir, "keep.onnx")
	if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	line = bsnnctl(t, "export", lenetFixture, "-o", out).runtimeError(t)
	if !strings.Contains(line, "not a BSNN") || !strings.Contains(line, "model.onnx") {
		t.Errorf("float ANN: %s", line)
	}
	if b, _ := os.ReadFile(out); string(b) != "previous" {
		t.Errorf("the existing output was changed")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
