package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// fixtureBSNN converts testmodels/fixtures/<name>/model.onnx into a BSNN
// with T time steps (AGMM gates on).
func fixtureBSNN(t testing.TB, name string, T int) *onnx.Model {
	t.Helper()
	src, err := onnx.DecodeFile(filepath.Join("..", "testmodels", "fixtures", name, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	opts := convert.DefaultOptions()
	opts.TimeSteps = T
	res, err := convert.Convert(src, opts)
	if err != nil {
		t.Fatalf("convert %s: %v", name, err)
	}
	return res.Model
}

// mlpTrainer compiles the MLP fixture's BSNN (T = 4) for training with cfg
// and returns the model, its analysis, the program and an optimizer for it.
func mlpTrainer(t *testing.T, cfg Config) (*onnx.Model, *netInfo, *trainProgram, *Optimizer) {
	t.Helper()
	m := fixtureBSNN(t, "mlp_op13_keepbn_dynamic", 4)
	ni, tp := compileFixture(t, m, cfg)
	return m, ni, tp, NewOptimizer(cfg, tp.params, func(n string) bool { return ni.Weights[n] })
}

// compileFixture analyzes m and compiles its training program with cfg.
func compileFixture(t testing.TB, m *onnx.Model, cfg Config) (*netInfo, *trainProgram) {
	t.Helper()
	ni, err := analyze(m)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := compileTrain(m, ni, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ni, tp
}

// runWithHook runs cfg as Run does, calling hook after every optimizer
// step.
func runWithHook(cfg Config, hook func(step int, tp *trainProgram)) (*Summary, error) {
	tr, err := NewTrainer(cfg)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	tr.testHook = hook
	return tr.Run(context.Background())
}

// classImage draws a 3-channel image of class c: a bright bar whose
// position and colour depend on the class, on a noisy background.
func classImage(r *rand.Rand, c, h, w int) []uint8 {
	px := make([]uint8, 3*h*w)
	for i := range px {
		px[i] = uint8(r.IntN(60))
	}
	row := (c * h / 10) % h
	for ch := 0; ch < 3; ch++ {
		if (c+ch)%3 == 0 {
			continue
		}
		for y := row; y < min(row+3, h); y++ {
			for x := 0; x < w; x++ {
				px[(ch*h+y)*w+x] = uint8(180 + r.IntN(70))
			}
		}
	}
	return px
}

// writeCIFAR10 writes a CIFAR-10 binary data set (data_batch_1.bin and
// test_batch.bin, records of 1 label byte + 3072 pixel bytes) into dir.
func writeCIFAR10(t testing.TB, dir string, nTrain, nTest int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	write := func(name string, n int) {
		var buf bytes.Buffer
		for i := 0; i < n; i++ {
			c := i % 10
			buf.WriteByte(byte(c))
			buf.Write(classImage(r, c, 32, 32))
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("data_batch_1.bin", nTrain)
	write("test_batch.bin", nTest)
}

// writeFolder writes an image-folder data set: dir/train/<class>/*.png and
// dir/test/<class>/*.png, RGB 16x16.
func writeFolder(t testing.TB, dir string, classes, perClassTrain, perClassTest int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	for _, split := range []struct {
		name string
		n    int
	}{{"train", perClassTrain}, {"test", perClassTest}} {
		for c := 0; c < classes; c++ {
			d := filepath.Join(dir, split.name, fmt.Sprintf("class%02d", c))
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < split.n; i++ {
				px := classImage(r, c*3, 16, 16)
				img := image.NewRGBA(image.Rect(0, 0, 16, 16))
				for y := 0; y < 16; y++ {
					for x := 0; x < 16; x++ {
						img.Set(x, y, color.RGBA{px[(0*16+y)*16+x], px[(1*16+y)*16+x], px[(2*16+y)*16+x], 255})
					}
				}
				var buf bytes.Buffer
				if err := png.Encode(&buf, img); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("img%03d.png", i)), buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// readLines returns the lines of a metrics file.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// withoutTiming removes the keys that measure time from a metrics line.
func withoutTiming(t testing.TB, line string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("metrics line %q: %v", line, err)
	}
	for k := range timingKeys {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkRunDir checks that no temporary file remains in dir and that every
// .onnx decodes.
func checkRunDir(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		names = append(names, n)
		if strings.Contains(n, ".tmp") {
			t.Errorf("temporary file %s left in %s", n, dir)
		}
		if strings.HasSuffix(n, ".onnx") {
			if _, err := onnx.DecodeFile(filepath.Join(dir, n)); err != nil {
				t.Errorf("%s does not decode: %v", n, err)
			}
		}
		if strings.HasSuffix(n, ".json") || n == MetricsFile {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
				if n == MetricsFile && !json.Valid([]byte(l)) {
					t.Errorf("%s line %d is not JSON", n, i+1)
				}
			}
			if n != MetricsFile && !json.Valid(b) {
				t.Errorf("%s is not JSON", n)
			}
		}
	}
	sort.Strings(names)
	t.Logf("%s: %v", dir, names)
}
