package opstest

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
)

// ONNXTestdataDir is where ONNX's backend node tests are:
// <dir>/<case>/model.onnx and test_data_set_*/{input,output}_*.pb (Debian's
// libonnx-testdata, or $BSNNCTL_ONNX_TESTDATA; see interop.ONNXTestdataDir).
func ONNXTestdataDir() string { return filepath.Join(interop.ONNXTestdataDir(), "node") }

// An ONNXCase is one of ONNX's backend node tests.
type ONNXCase struct {
	Name  string
	Dir   string
	Model *onnx.Model
	Graph *onnx.Graph
	Sets  []ONNXDataSet
	// DataErr is set when a data set could not be decoded (string
	// tensors, ...): RunONNXCase then fails with it.
	DataErr error
}

// An ONNXDataSet is one test_data_set_*: values of the graph inputs (those
// that are not initializers) and the expected graph outputs, in order.
type ONNXDataSet struct {
	Name    string
	Inputs  []*onnx.Tensor
	Outputs []*onnx.Tensor
}

// ONNXCaseDirs lists the case folders under dir, sorted.
func ONNXCaseDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "model.onnx")); err == nil {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadONNXCase reads a case folder: the model and every data set.
func LoadONNXCase(dir string) (*ONNXCase, error) {
	m, err := onnx.DecodeFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, err
	}
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	c := &ONNXCase{Name: filepath.Base(dir), Dir: dir, Model: m, Graph: g}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	for _, sd := range sets {
		ds := ONNXDataSet{Name: filepath.Base(sd)}
		for _, kind := range []string{"input", "output"} {
			for i := 0; ; i++ {
				t, err := readTensorPB(filepath.Join(sd, fmt.Sprintf("%s_%d.pb", kind, i)))
				if errors.Is(err, os.ErrNotExist) {
					break
				}
				if err != nil {
					if c.DataErr == nil {
						c.DataErr = fmt.Errorf("%s: %w", ds.Name, err)
					}
					break
				}
				if kind == "input" {
					ds.Inputs = append(ds.Inputs, t)
				} else {
					ds.Outputs = append(ds.Outputs, t)
				}
			}
		}
		c.Sets = append(c.Sets, ds)
	}
	return c, nil
}

// readTensorPB decodes a serialized TensorProto.
func readTensorPB(path string) (*onnx.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(b, &tp); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, err := onnx.TensorFromProto(&tp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// OpTypes returns the case's distinct node op types ("domain::op" for
// custom domains), sorted.
func (c *ONNXCase) OpTypes() []string {
	set := map[string]bool{}
	for _, n := range c.Graph.Nodes {
		set[n.QualifiedOp()] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Registered reports whether every node's op type has a registry entry (at
// some opset version): the case concerns only ops the registry knows.
func (c *ONNXCase) Registered() bool {
	known := map[string]bool{}
	for _, s := range ops.Specs() {
		known[s.Domain+"::"+s.OpType] = true
	}
	for _, n := range c.Graph.Nodes {
		d := n.Domain
		if d == "ai.onnx" {
			d = ""
		}
		if !known[d+"::"+n.OpType] {
			return false
		}
	}
	return true
}

// ONNXRunOptions control RunONNXCase.
type ONNXRunOptions struct {
	// Rtol and Atol: an output value a passes against ONNX's b when
	// |a-b| <= Atol + Rtol*|b| (ONNX's own tolerance semantics).
	Rtol, Atol float64
	// Promote turns every graph input but the first (and the first too
	// when it is not float) into an initializer holding the data set's
	// value before building, for cases whose shape-like or statistics
	// inputs ONNX feeds at run time while the engine needs them as
	// constants. The model then computes the same function at that point.
	Promote bool
}

// RunONNXCase runs every data set of c in the engine and compares the
// outputs (types, static shapes and values) with ONNX's. Models holding a
// node with attribute training_mode=1 (BatchNormalization) are compiled
// with ops.Options.Training, the engine's way of selecting that mode. It
// returns nil when every data set passes, else an error describing the
// first problem of each failing data set.
func RunONNXCase(c *ONNXCase, o ONNXRunOptions) error {
	if c.DataErr != nil {
		return c.DataErr
	}
	if len(c.Sets) == 0 {
		return fmt.Errorf("no test_data_set")
	}
	var errs []error
	for _, ds := range c.Sets {
		if err := runONNXSet(c, ds, o); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ds.Name, err))
		}
	}
	return errors.Join(errs...)
}

func runONNXSet(c *ONNXCase, ds ONNXDataSet, o ONNXRunOptions) (err error) {
	defer protect(&err, "engine")
	m := c.Model
	inputs := c.Graph.Inputs
	if len(ds.Inputs) != len(inputs) {
		return fmt.Errorf("%d input files for %d graph inputs", len(ds.Inputs), len(inputs))
	}
	feeds := ds.Inputs
	if o.Promote && len(inputs) > 0 {
		nKeep := 1
		if ds.Inputs[0].Type != onnx.Float {
			nKeep = 0
		}
		m = m.Clone()
		g := m.Proto.Graph
		var kept []*onnxpb.ValueInfoProto
		for _, vi := range g.Input {
			promoted := false
			for _, x := range inputs[nKeep:] {
				promoted = promoted || x.Name == vi.GetName()
			}
			if !promoted {
				kept = append(kept, vi)
			}
		}
		g.Input = kept
		for i, in := range inputs[nKeep:] {
			tp := ds.Inputs[nKeep+i].Proto()
			tp.Name = proto.String(in.Name)
			g.Initializer = append(g.Initializer, tp)
		}
		feeds = ds.Inputs[:nKeep]
		inputs = inputs[:nKeep]
	}
	if err := ops.CheckModel(m); err != nil {
		return err
	}
	opts := ops.Options{InputShapes: map[string][]int{}}
	for i, in := range inputs {
		opts.InputShapes[in.Name] = feeds[i].Shape()
	}
	g, _ := m.Graph()
	for _, n := range g.Nodes {
		if n.Has("training_mode") && n.Int("training_mode", 0) == 1 {
			opts.Training = true
		}
	}
	for i, in := range inputs {
		if feeds[i].Type != onnx.Float {
			return fmt.Errorf("graph input %q is %s (the engine takes float32 runtime inputs only)", in.Name, feeds[i].Type)
		}
	}
	b, err := ops.NewBuilder(m, opts)
	if err != nil {
		return err
	}
	if err := checkRunnable(b); err != nil {
		return err
	}
	p, err := b.Compile(nil)
	if err != nil {
		return err
	}
	defer p.Close()
	for i, in := range inputs {
		if err := p.SetInput(in.Name, feeds[i].Floats()); err != nil {
			return err
		}
	}
	if err := p.Run(); err != nil {
		return err
	}
	if len(b.Outputs) != len(ds.Outputs) {
		return fmt.Errorf("%d outputs, ONNX has %d", len(b.Outputs), len(ds.Outputs))
	}
	var errs []error
	for i, v := range b.Outputs {
		want := ds.Outputs[i]
		typ := onnx.Float
		if v.Node == nil && v.Const != nil {
			typ = v.Const.Type
		}
		if typ != want.Type {
			errs = append(errs, fmt.Errorf("output %q is %s, ONNX's is %s", v.Name, typ, want.Type))
			continue
		}
		if !slices.Equal(v.Shape, want.Shape()) {
			errs = append(errs, fmt.Errorf("output %q has shape %v, ONNX's %v", v.Name, v.Shape, want.Shape()))
			continue
		}
		if err := CompareONNX(p.Output(i).Float32, want, o.Rtol, o.Atol); err != nil {
			errs = append(errs, fmt.Errorf("output %q: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// CompareONNX compares values with an expected tensor: floats with
// |a-b| <= atol + rtol*|b| (NaN matches NaN, infinities must be equal),
// integers and bools exactly.
func CompareONNX(got []float32, want *onnx.Tensor, rtol, atol float64) error {
	if len(got) != want.Len() {
		return fmt.Errorf("%d values, ONNX has %d", len(got), want.Len())
	}
	exact := want.Int64 != nil || want.Bool != nil
	var wf []float64
	switch {
	case want.Float64 != nil:
		wf = want.Float64
	case want.Int64 != nil:
		wf = make([]float64, len(want.Int64))
		for i, v := range want.Int64 {
			wf[i] = float64(v)
		}
	default:
		for _, v := range want.Floats() {
			wf = append(wf, float64(v))
		}
	}
	bad, worst := 0, -1
	var worstExcess float64
	for i, b := range wf {
		a := float64(got[i])
		var ok bool
		switch {
		case math.IsNaN(b):
			ok = math.IsNaN(a)
		case math.IsInf(b, 0) || exact:
			ok = a == b
		default:
			ok = math.Abs(a-b) <= atol+rtol*math.Abs(b)
		}
		if !ok {
			bad++
			ex := math.Abs(a-b) - (atol + rtol*math.Abs(b))
			if worst < 0 || ex > worstExcess || math.IsNaN(ex) {
				worst, worstExcess = i, ex
			}
		}
	}
	if bad > 0 {
		a, b := float64(got[worst]), wf[worst]
		return fmt.Errorf("%d of %d values out of tolerance (rtol %g, atol %g); worst at %d: got %.8g, want %.8g (|diff| %.3g)",
			bad, len(wf), rtol, atol, worst, a, b, math.Abs(a-b))
	}
	return nil
}
