package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/internal/npy"
)

const quickstartANN = "../testmodels/lenet_fmnist.onnx"

// TestExportNIRThenImport: the quickstart's network imported without AGMM
// gates goes to NIR and back, and the model read back runs as the original
// and exports to another profile.
func TestExportNIRThenImport(t *testing.T) {
	dir := t.TempDir()
	bsnn, nirFile, back := filepath.Join(dir, "q.onnx"), filepath.Join(dir, "q.nir"), filepath.Join(dir, "back.onnx")
	bsnnctl(t, "import", quickstartANN, "-o", bsnn, "--no-agmm", "--no-verify").ok(t)

	r := bsnnctl(t, "export", bsnn, "-o", nirFile, "--profile", "nir", "--json").ok(t)
	var ex struct {
		Profile      string         `json:"profile"`
		FileBytes    int64          `json:"file_bytes"`
		TimeSteps    int            `json:"time_steps"`
		DT           float64        `json:"dt"`
		Nodes        map[string]int `json:"nodes"`
		BinaryLayers []string       `json:"binary_layers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if st, err := os.Stat(nirFile); err != nil || st.Size() != ex.FileBytes {
		t.Errorf("file_bytes %d, file %v", ex.FileBytes, err)
	}
	if ex.Profile != "nir" || ex.TimeSteps != 4 || ex.DT != 1e-4 || ex.Nodes["LIF"] != 3 || !slices.Equal(ex.BinaryLayers, []string{"conv2", "fc1"}) {
		t.Errorf("export --json: %+v", ex)
	}

	r = bsnnctl(t, "import", nirFile, "-o", back, "--json").ok(t)
	var im struct {
		TimeSteps int  `json:"time_steps"`
		Verified  bool `json:"verified"`
		Report    struct {
			Profile      string `json:"profile"`
			BinaryLayers []struct {
				Name string `json:"name"`
			} `json:"binary_layers"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &im); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if im.TimeSteps != 4 || !im.Verified || im.Report.Profile != "portable" || len(im.Report.BinaryLayers) != 2 {
		t.Errorf("import --json: %+v", im)
	}

	// Same outputs, and the other profiles take the model.
	x := filepath.Join("..", "testmodels", "fixtures", "lenet_op13_keepbn_static", "input.npy")
	for _, m := range []string{bsnn, back} {
		bsnnctl(t, "run", m, "--input", "input="+x, "-o", filepath.Join(dir, filepath.Base(m)+".out")).ok(t)
	}
	a, err := npy.ReadFile(filepath.Join(dir, "q.onnx.out", "output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := npy.ReadFile(filepath.Join(dir, "back.onnx.out", "output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Float32, b.Float32) {
		t.Errorf("outputs differ after the NIR round trip:\n%v\n%v", a.Float32, b.Float32)
	}
	bsnnctl(t, "export", back, "-o", filepath.Join(dir, "packed.onnx"), "--profile", "packed").ok(t)

	// Text output.
	r = bsnnctl(t, "export", bsnn, "-o", filepath.Join(dir, "fold.nir"), "--profile", "nir", "--nir-bn", "fold").ok(t)
	for _, want := range []string{"wrote ", "batch norm:     fold", "binary layers:  2", "LIF"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("export text output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestExportNIRRefusesGates: a BSNN with AGMM gates in forward mode is
// refused in one line naming the gates, with the way out.
func TestExportNIRRefusesGates(t *testing.T) {
	in := lenetBSNN(t)
	line := bsnnctl(t, "export", in, "-o", filepath.Join(t.TempDir(), "x.nir"), "--profile", "nir").runtimeError(t)
	for _, want := range []string{"AGMMGate", "conv2/agmm", "--no-agmm"} {
		if !strings.Contains(line, want) {
			t.Errorf("error lacks %q: %s", want, line)
		}
	}
}

// TestNIRFlags: NIR flags need --profile nir (usage error); float-network
// flags do not apply to NIR files; a broken NIR file is one line.
func TestNIRFlags(t *testing.T) {
	dir := t.TempDir()
	r := bsnnctl(t, "export", "m.onnx", "-o", "x.onnx", "--nir-bn", "fold")
	if r.code != 80 {
		t.Errorf("--nir-bn without --profile nir: exit %d", r.code)
	}
	bad := filepath.Join(dir, "broken.nir")
	if err := os.WriteFile(bad, []byte("\x89HDF\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	line := bsnnctl(t, "import", bad, "-o", filepath.Join(dir, "y.onnx")).runtimeError(t)
	if !strings.Contains(line, bad) || !strings.Contains(line, "hdf5") {
		t.Errorf("broken file: %s", line)
	}
	line = bsnnctl(t, "import", bad, "-o", filepath.Join(dir, "y.onnx"), "--keep-fp", "all").runtimeError(t)
	if !strings.Contains(line, "--keep-fp") {
		t.Errorf("--keep-fp with a NIR file: %s", line)
	}
}
