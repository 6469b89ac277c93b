package export

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/convert"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

// The fixtures the tests convert into BSNNs.
var testFixtures = []string{"lenet_op13_keepbn_static", "resnet20_op13_folded_dynamic", eventFixture}

// eventFixture names the event-input BSNN (spec §8) that loadBSNN converts
// from testmodels/events/dvsnet.onnx (import --input events); its input is
// two synthetic N-MNIST samples, frames [4, 2, 2, 34, 34].
const eventFixture = "dvsnet_events"

type bsnnFixture struct {
	name  string
	model *onnx.Model // the converted BSNN (portable), alphas varied per step
	input *onnx.Tensor
	res   *convert.Result
}

var (
	fixMu    sync.Mutex
	fixCache = map[string]*bsnnFixture{}
)

// loadBSNN converts a fixture with convert.Convert (spec defaults, T = 4)
// and sets every AGMM alpha to 1 + 0.1*t - 0.05*(layer index), so that the
// gates differ per step and per layer (a per-step graph that picked the
// wrong alpha[t] would show).
func loadBSNN(t testing.TB, name string) *bsnnFixture {
	t.Helper()
	fixMu.Lock()
	defer fixMu.Unlock()
	if f, ok := fixCache[name]; ok {
		return f
	}
	res, in := convertFixture(t, name)
	m := res.Model
	info, err := Recognize(m)
	if err != nil {
		t.Fatal(err)
	}
	for li, g := range info.Gates {
		for _, tp := range m.Proto.Graph.Initializer {
			if tp.GetName() != g.Alpha {
				continue
			}
			tv, err := onnx.TensorFromProto(tp)
			if err != nil {
				t.Fatal(err)
			}
			a := make([]float32, tv.Len())
			for i := range a {
				a[i] = 1 + 0.1*float32(i) - 0.05*float32(li%5)
			}
			proto.Reset(tp)
			proto.Merge(tp, onnx.FloatTensor(g.Alpha, tv.Dims, a))
		}
	}
	f := &bsnnFixture{name: name, model: m, input: in, res: res}
	fixCache[name] = f
	return f
}

// convertFixture converts the ANN of a fixture (spec defaults, T = 4)
// and reads its input.
func convertFixture(t testing.TB, name string) (*convert.Result, *onnx.Tensor) {
	t.Helper()
	if name == eventFixture {
		src, err := onnx.DecodeFile(filepath.Join("..", "testmodels", "events", "dvsnet.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		o := convert.DefaultOptions()
		o.InputEncoding = bsnn.EncodingEvents
		res, err := convert.Convert(src, o)
		if err != nil {
			t.Fatalf("convert %s: %v", name, err)
		}
		x, _, err := eventtest.NMNISTFrames(2, 4, 3)
		if err != nil {
			t.Fatal(err)
		}
		return res, &onnx.Tensor{Type: onnx.Float, Dims: []int64{4, 2, 2, 34, 34}, Float32: x}
	}
	dir := filepath.Join("..", "testmodels", "fixtures", name)
	src, err := onnx.DecodeFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatalf("committed fixture %s: %v", name, err)
	}
	res, err := convert.Convert(src, convert.DefaultOptions())
	if err != nil {
		t.Fatalf("convert %s: %v", name, err)
	}
	in, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return res, in
}

// stepInput is the model input of call `step` of a per-step file whose
// unrolled model takes x: x itself for direct input, frame `step` of x,
// [1, N, ...], for an event input [T, N, ...].
func stepInput(t testing.TB, m *onnx.Model, x *onnx.Tensor, step int) *onnx.Tensor {
	t.Helper()
	enc, err := bsnn.InputEncodingOf(m)
	if err != nil {
		t.Fatal(err)
	}
	if enc != bsnn.EncodingEvents {
		return x
	}
	per := x.Len() / int(x.Dims[0])
	dims := append([]int64{1}, x.Dims[1:]...)
	return &onnx.Tensor{Type: onnx.Float, Dims: dims, Float32: x.Floats()[step*per : (step+1)*per]}
}

// batchOf is the number of samples in x, an input of m.
func batchOf(t testing.TB, m *onnx.Model, x *onnx.Tensor) int {
	t.Helper()
	enc, err := bsnn.InputEncodingOf(m)
	if err != nil {
		t.Fatal(err)
	}
	return int(x.Dims[enc.BatchAxis()])
}

// variant is one profile (and plain form) under test.
type variant struct {
	profile bsnn.Profile
	form    bsnn.PlainForm
}

func (v variant) String() string {
	if v.form != "" {
		return string(v.profile) + "-" + string(v.form)
	}
	return string(v.profile)
}

var variants = []variant{
	{bsnn.ProfilePortable, ""}, {bsnn.ProfilePlain, bsnn.PlainUnrolled}, {bsnn.ProfilePlain, bsnn.PlainStep}, {bsnn.ProfilePacked, ""}, {bsnn.ProfileTrain, ""},
}

func (v variant) options() Options {
	return Options{PlainForm: v.form, TrainState: testTrainState}
}

// testTrainState writes training_info in the train package's layout (see
// train/checkpoint.go, EncodeTrainState): SGD with momentum over the
// latent weights and AGMM alphas, velocity tensors as algorithm
// initializers "<X>.agmm_0". The train package cannot be imported while it
// is being written; this stand-in only has to give the exporter an
// optimizer state to carry.
func testTrainState(m *onnx.Model) error {
	info, err := Recognize(m)
	if err != nil {
		return err
	}
	var xs []string
	for _, l := range info.Layers {
		xs = append(xs, l.Latent)
	}
	for _, g := range info.Gates {
		xs = append(xs, g.Alpha)
	}
	alg := &onnxpb.GraphProto{Name: proto.String("bsnn_train_step")}
	alg.Initializer = append(alg.Initializer, onnx.FloatTensor("agmm.R", nil, []float32{0.01}), onnx.Int64Tensor("agmm.T", nil, []int64{3}))
	in := []string{"agmm.R", "agmm.T"}
	var gs, xNew, slots, slotsNew []string
	ti := &onnxpb.TrainingInfoProto{}
	for _, x := range xs {
		tv, err := m.Initializer(x)
		if err != nil {
			return err
		}
		vel := make([]float32, tv.Len())
		for i := range vel {
			vel[i] = float32(i%7) * 0.001
		}
		alg.Initializer = append(alg.Initializer, onnx.FloatTensor(x+".agmm_0", tv.Dims, vel))
		gs, xNew = append(gs, x+".grad"), append(xNew, x+".new")
		slots, slotsNew = append(slots, x+".agmm_0"), append(slotsNew, x+".agmm_0.new")
		alg.Input = append(alg.Input, onnx.ValueInfoProto(x+".grad", onnx.Float, dimsShape(tv.Dims)))
		alg.Output = append(alg.Output, onnx.ValueInfoProto(x+".new", onnx.Float, dimsShape(tv.Dims)))
	}
	for i, x := range xs {
		ti.UpdateBinding = append(ti.UpdateBinding, &onnxpb.StringStringEntryProto{Key: proto.String(x), Value: proto.String(xNew[i])})
	}
	for i := range slots {
		tv, _ := m.Initializer(xs[i])
		alg.Output = append(alg.Output, onnx.ValueInfoProto(slotsNew[i], onnx.Float, dimsShape(tv.Dims)))
		ti.UpdateBinding = append(ti.UpdateBinding, &onnxpb.StringStringEntryProto{Key: proto.String(slots[i]), Value: proto.String(slotsNew[i])})
	}
	in = append(append(append(in, xs...), gs...), slots...)
	out := append(append([]string{}, xNew...), slotsNew...)
	alg.Node = []*onnxpb.NodeProto{onnx.NewNode("agmm_optimizer_step", "AGMM", bsnn.DomainSNN, in, out,
		onnx.AttrString("optimizer", "sgd"), onnx.AttrFloat("lr", 0.01), onnx.AttrFloat("momentum", 0.9), onnx.AttrInt("slots", 1), onnx.AttrInt("step", 3))}
	ti.Algorithm = alg
	m.Proto.TrainingInfo = []*onnxpb.TrainingInfoProto{ti}
	return nil
}

func dimsShape(d []int64) onnx.Shape {
	s := make(onnx.Shape, len(d))
	for i, v := range d {
		s[i] = onnx.Dim{Value: v}
	}
	return s
}

func exportOK(t testing.TB, m *onnx.Model, v variant) *onnx.Model {
	t.Helper()
	out, err := Export(m, v.profile, v.options())
	if err != nil {
		t.Fatalf("Export %s: %v", v, err)
	}
	return out
}

func writeModel(t testing.TB, dir, name string, m *onnx.Model) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := onnx.EncodeFile(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

// withOutputs returns a copy of m with extra graph outputs (float, shape
// left to the runtime).
func withOutputs(m *onnx.Model, names []string) *onnx.Model {
	c := m.Clone()
	for _, n := range names {
		c.Proto.Graph.Output = append(c.Proto.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(n),
			Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.Float))}}}})
	}
	return c
}

// run is one evaluation: every graph output by name.
type run map[string][]float32

// feeds are the inputs of one evaluation.
type feeds map[string]*onnx.Tensor

func ortRun(t testing.TB, path string, in feeds, outputs []string) run {
	t.Helper()
	f := map[string]interop.Tensor{}
	for k, v := range in {
		f[k] = interop.Tensor{Shape: append([]int64(nil), v.Dims...), Float: v.Floats()}
	}
	res, err := interop.RunORT(path, f, outputs)
	if err != nil {
		t.Fatalf("onnxruntime: %v", err)
	}
	out := run{}
	for k, v := range res {
		out[k] = v.Float
	}
	return out
}

// engineProgram compiles m in the toolkit's engine (ops.NewBuilder +
// Compile(nil)) for the given input shapes.
type engineProgram struct {
	p     *ops.Program
	names []string
}

func newEngine(t testing.TB, m *onnx.Model, in feeds) *engineProgram {
	t.Helper()
	shapes := map[string][]int{}
	for k, v := range in {
		shapes[k] = v.Shape()
	}
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: shapes})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	p, err := b.Compile(nil)
	if err != nil {
		t.Fatalf("engine compile: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	e := &engineProgram{p: p}
	for _, o := range m.Proto.Graph.Output {
		e.names = append(e.names, o.GetName())
	}
	return e
}

func (e *engineProgram) run(t testing.TB, in feeds) run {
	t.Helper()
	for k, v := range in {
		if err := e.p.SetInput(k, v.Floats()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.p.Run(); err != nil {
		t.Fatalf("engine run: %v", err)
	}
	out := run{}
	for i, n := range e.names {
		out[n] = append([]float32(nil), e.p.Output(i).Float32...)
	}
	return out
}

// engineMissing returns the ops of m the engine's registry cannot run ("" when
// it runs them all).
func engineMissing(m *onnx.Model) (string, error) {
	err := ops.CheckModel(m)
	var ue *onnx.UnsupportedError
	if errors.As(err, &ue) {
		return strings.Join(ue.OpTypes(), ", "), nil
	}
	return "", err
}

// stepFeeds are the inputs of call t of a per-step file: the model input,
// every membrane (v_reset at t = 0, else the previous call's v_out) and the
// one-hot of t.
func stepFeeds(t testing.TB, info *Info, x *onnx.Tensor, step int, prev run, batch int, m *onnx.Model) feeds {
	t.Helper()
	g := m.Proto.Graph
	f := feeds{g.Input[0].GetName(): x}
	for _, n := range info.Neurons {
		vin, vout := n.State, n.Final
		var shape []int64
		for _, in := range g.Input {
			if in.GetName() != vin {
				continue
			}
			s, _ := shapeOf(in)
			for _, d := range s {
				if d.Known() {
					shape = append(shape, d.Value)
				} else {
					shape = append(shape, int64(batch))
				}
			}
		}
		if shape == nil {
			t.Fatalf("no graph input %q", vin)
		}
		tv := &onnx.Tensor{Type: onnx.Float, Dims: shape}
		if step == 0 {
			tv.Float32 = make([]float32, tv.Len())
			for i := range tv.Float32 {
				tv.Float32[i] = n.Params.VReset
			}
		} else {
			tv.Float32 = prev[vout]
		}
		f[vin] = tv
	}
	if len(info.Gates) > 0 {
		oh := make([]float32, info.TimeSteps)
		oh[step] = 1
		f[bsnn.TimeOneHot] = &onnx.Tensor{Type: onnx.Float, Dims: []int64{int64(info.TimeSteps)}, Float32: oh}
	}
	return f
}

func maxAbs(a []float32) float64 {
	var m float64
	for _, v := range a {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

func maxDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// spikeDiff counts differing spikes.
func spikeDiff(a, b []float32) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

// logitTol is the 1e-5 tolerance on logits, relative to their scale when
// it exceeds 1.
func logitTol(ref []float32) float64 { return 1e-5 * math.Max(1, maxAbs(ref)) }
