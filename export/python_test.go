package export

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
)

const pythonExample = "../docs/python_example.py"

// TestPythonExample runs docs/python_example.py with Debian's python3 (onnx,
// numpy; Python onnxruntime is not installable on CI) on every profile of
// an exported LeNet BSNN: --check must find exactly the binary layers
// conv2, fc1, fc2 from the annotations and from bsnn.layers, and must fail
// for a wrong list. The same files run in onnxruntime through the Go
// binding, with outputs equal to our engine's.
func TestPythonExample(t *testing.T) {
	interop.NeedPythonONNX(t)
	f := loadBSNN(t, "lenet_op13_keepbn_static")
	dir := t.TempDir()
	for _, v := range variants {
		path := writeModel(t, dir, v.String()+".onnx", exportOK(t, f.model, v))
		out, err := exec.Command(interop.Python, "-I", pythonExample, path, "--check", "--expect-binary", "conv2,fc1,fc2").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: python_example.py --check: %v\n%s", v, err, out)
		}
		for _, want := range []string{"check: OK (3 binary layers)", "binary layers (bsnn.layers): conv2, fc1, fc2",
			"bsnn.profile           " + string(v.profile), "spike tensors (finn_datatype BINARY): 4"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: output lacks %q:\n%s", v, want, out)
			}
		}
		// Without Python onnxruntime (CI) the example says so; with it, it runs.
		if !strings.Contains(string(out), "onnxruntime is not installed") && !strings.Contains(string(out), ": output [1, 10], argmax") {
			t.Errorf("%s: the example neither ran the model nor said onnxruntime is missing:\n%s", v, out)
		}
		bad, err := exec.Command(interop.Python, "-I", pythonExample, path, "--check", "--expect-binary", "conv2,fc1").CombinedOutput()
		if err == nil || !strings.Contains(string(bad), "CHECK FAILED") {
			t.Errorf("%s: --check with a wrong list did not fail: %v\n%s", v, err, bad)
		}
	}
	// A plain file whose weight holds a non-±1 value fails the check.
	m := exportOK(t, f.model, variant{bsnn.ProfilePlain, bsnn.PlainUnrolled})
	for _, tp := range m.Proto.Graph.Initializer {
		if tp.GetName() == "fc1.weight_bin" {
			tv, _ := onnx.TensorFromProto(tp)
			vals := append([]float32(nil), tv.Floats()...)
			vals[3] = 0.5
			proto.Reset(tp)
			proto.Merge(tp, onnx.FloatTensor("fc1.weight_bin", tv.Dims, vals))
		}
	}
	path := writeModel(t, dir, "broken.onnx", m)
	bad, err := exec.Command(interop.Python, "-I", pythonExample, path, "--check", "--expect-binary", "conv2,fc1,fc2").CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "fc1.weight_bin holds values other than +/-1") {
		t.Errorf("a non-±1 weight passed the check: %v\n%s", err, bad)
	}

	t.Run("onnxruntime-vs-engine", func(t *testing.T) {
		interop.NeedORT(t)
		canon, _ := Recognize(f.model)
		var spikes []string
		for _, n := range canon.Neurons {
			spikes = append(spikes, n.Spikes)
		}
		in := feeds{"input": f.input}
		ref := newEngine(t, withOutputs(f.model, spikes), in).run(t, in)
		for _, v := range variants {
			m := exportOK(t, f.model, v)
			path := writeModel(t, dir, v.String()+".probe.onnx", withOutputs(m, spikes))
			var got run
			if v.form == bsnn.PlainStep {
				got = runSteps(t, m, canon.TimeSteps, 2, in, spikes, func(fd feeds) run { return ortRun(t, path, fd, nil) })
			} else {
				got = ortRun(t, path, in, nil)
			}
			compareRuns(t, v.String(), got, ref, "output", spikes)
		}
	})
}

// fakeORT stands in for Python onnxruntime so that the example's driving
// code (input names and shapes, the per-step loop) runs on CI: sessions
// check every feed against the model's inputs (names, float32, shapes) and
// return zeros of the outputs' shapes; the numbers themselves are checked
// through the Go binding above.
const fakeORT = `import atexit, sys
import numpy as np
import onnx
__version__ = "fake"
_calls = [0]
atexit.register(lambda: sys.stdout.write("fake onnxruntime: %d runs\n" % _calls[0]))

class _Arg:
    def __init__(self, v):
        self.name = v.name
        self.shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in v.type.tensor_type.shape.dim]

class InferenceSession:
    def __init__(self, path, providers=None):
        m = onnx.load(path)
        inits = {t.name for t in m.graph.initializer}
        self._in = [_Arg(v) for v in m.graph.input if v.name not in inits]
        self._out = [_Arg(v) for v in m.graph.output]
    def get_inputs(self):
        return self._in
    def get_outputs(self):
        return self._out
    def run(self, names, feeds):
        _calls[0] += 1
        want = {a.name: a for a in self._in}
        if set(feeds) != set(want):
            raise ValueError("feeds %s, inputs %s" % (sorted(feeds), sorted(want)))
        sym = {}
        for k, x in feeds.items():
            if x.dtype != np.float32:
                raise ValueError("%s is %s" % (k, x.dtype))
            shape = want[k].shape
            if len(shape) != x.ndim:
                raise ValueError("%s has rank %d, want %d" % (k, x.ndim, len(shape)))
            for d, n in zip(shape, x.shape):
                if isinstance(d, int) and d != n:
                    raise ValueError("%s has shape %s, want %s" % (k, x.shape, shape))
                if isinstance(d, str) and sym.setdefault(d, n) != n:
                    raise ValueError("%s: %s = %d and %d" % (k, d, n, sym[d]))
        outs = self._out if names is None else [a for a in self._out if a.name in names]
        return [np.zeros([d if isinstance(d, int) else sym.get(d, 1) for d in a.shape], np.float32) for a in outs]
`

// TestPythonExampleDrivesOnnxruntime runs the example's onnxruntime part
// against fakeORT: one call per file, T calls with carried membranes for
// the per-step plain form.
func TestPythonExampleDrivesOnnxruntime(t *testing.T) {
	interop.NeedPythonONNX(t)
	f := loadBSNN(t, "lenet_op13_keepbn_static")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "onnxruntime"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "onnxruntime", "__init__.py"), []byte(fakeORT), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(pythonExample)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "python_example.py")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		path := writeModel(t, dir, v.String()+".onnx", exportOK(t, f.model, v))
		// -E -s (not -I): the script's folder, holding the fake, comes first on sys.path.
		out, err := exec.Command(interop.Python, "-E", "-s", script, path).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", v, err, out)
		}
		calls := "fake onnxruntime: 1 runs"
		if v.form == bsnn.PlainStep {
			calls = "fake onnxruntime: 4 runs"
		}
		for _, want := range []string{"onnxruntime fake: output [1, 10]", calls} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: output lacks %q:\n%s", v, want, out)
			}
		}
	}
}
