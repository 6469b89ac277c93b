package ops

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"
	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// goldenCase is testmodels/golden/<case>/case.json, written by
// testmodels/golden/make_golden.py from a PyTorch implementation of the
// spec's formulas.
type goldenCase struct {
	Op          string            `json:"op"`
	Domain      string            `json:"domain"`
	Attributes  map[string]any    `json:"attributes"`
	Training    map[string]string `json:"training_options"`
	Inputs      map[string]string `json:"inputs"`
	Outputs     map[string]string `json:"outputs"`
	Upstream    map[string]string `json:"upstream"`
	Gradients   map[string]string `json:"gradients"`
	dir         string
	name        string
	tensors     map[string]*onnx.Tensor
	inputOrder  []string
	outputOrder []string
}

// Input and output order of each op (the ONNX signature).
var goldenSignature = map[string][2][]string{
	"BipolarQuant": {{"X", "scale"}, {"Y"}},
	"LIF":          {{"X"}, {"S", "V_T"}},
	"LIFStep":      {{"X_t", "V"}, {"S_t", "V_next"}},
	"AGMMGate":     {{"X", "alpha"}, {"Y"}},
}

// constInputs are inputs stored as initializers (weights, not data).
var constInputs = map[string]bool{"scale": true, "alpha": true}

func loadGolden(t *testing.T) []*goldenCase {
	dirs, err := filepath.Glob("../testmodels/golden/*/case.json")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases under testmodels/golden (committed fixtures; regenerate with testmodels/golden/make_golden.py): %v", err)
	}
	var out []*goldenCase
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := &goldenCase{dir: filepath.Dir(f), name: filepath.Base(filepath.Dir(f)), tensors: map[string]*onnx.Tensor{}}
		if err := json.Unmarshal(b, c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sig, ok := goldenSignature[c.Op]
		if !ok {
			t.Fatalf("%s: unknown op %s", f, c.Op)
		}
		for _, group := range []map[string]string{c.Inputs, c.Outputs, c.Upstream, c.Gradients} {
			for _, file := range group {
				if c.tensors[file] != nil {
					continue
				}
				tt, err := npy.ReadFile(filepath.Join(c.dir, file))
				if err != nil {
					t.Fatal(err)
				}
				c.tensors[file] = tt
			}
		}
		for _, in := range sig[0] {
			if _, ok := c.Inputs[in]; ok {
				c.inputOrder = append(c.inputOrder, in)
			}
		}
		for _, o := range sig[1] {
			if _, ok := c.Outputs[o]; ok {
				c.outputOrder = append(c.outputOrder, o)
			}
		}
		out = append(out, c)
	}
	return out
}

// model builds a one-node model of the case with every attribute written
// and the op's function attached, as the toolkit writes files.
func (c *goldenCase) model(t *testing.T) *onnx.Model {
	op := bsnn.LookupOp(c.Domain, c.Op)
	if op == nil {
		t.Fatalf("%s: %s::%s is not a custom op of package bsnn", c.name, c.Domain, c.Op)
	}
	node := onnx.NewNode("op", c.Op, c.Domain, nil, nil)
	for _, a := range op.Attrs {
		v, ok := c.Attributes[a.Name]
		if !ok {
			v = a.Default
		}
		switch a.Type {
		case onnxpb.AttributeProto_FLOAT:
			node.Attribute = append(node.Attribute, onnx.AttrFloat(a.Name, toF32(v)))
		case onnxpb.AttributeProto_INT:
			node.Attribute = append(node.Attribute, onnx.AttrInt(a.Name, int64(toF32(v))))
		case onnxpb.AttributeProto_STRING:
			node.Attribute = append(node.Attribute, onnx.AttrString(a.Name, fmt.Sprint(v)))
		}
	}
	g := &onnxpb.GraphProto{Name: proto.String(c.name)}
	for _, in := range c.inputOrder {
		tt := c.tensors[c.Inputs[in]]
		node.Input = append(node.Input, in)
		if constInputs[in] {
			g.Initializer = append(g.Initializer, onnx.FloatTensor(in, tt.Dims, tt.Floats()))
			continue
		}
		g.Input = append(g.Input, onnx.ValueInfoProto(in, onnx.Float, shapeOf(tt.Dims)))
	}
	for _, o := range c.outputOrder {
		tt := c.tensors[c.Outputs[o]]
		node.Output = append(node.Output, o)
		g.Output = append(g.Output, onnx.ValueInfoProto(o, onnx.Float, shapeOf(tt.Dims)))
	}
	g.Node = []*onnxpb.NodeProto{node}
	mp := &onnxpb.ModelProto{
		IrVersion: proto.Int64(bsnn.TargetIRVersion), ProducerName: proto.String("bsnnctl-test"), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(bsnn.TargetOpset)},
			{Domain: proto.String(c.Domain), Version: proto.Int64(1)}},
		Functions: []*onnxpb.FunctionProto{op.Function()},
	}
	return &onnx.Model{Proto: mp}
}

func toF32(v any) float32 {
	switch x := v.(type) {
	case float64:
		return float32(x)
	case float32:
		return x
	case int64:
		return float32(x)
	case int:
		return float32(x)
	}
	return 0
}

func shapeOf(d []int64) onnx.Shape {
	s := make(onnx.Shape, len(d))
	for i, v := range d {
		s[i] = onnx.Dim{Value: v}
	}
	return s
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// TestGoldenBSNNOps checks our forward outputs and gradients against the
// PyTorch golden vectors (1e-5), spikes exactly.
func TestGoldenBSNNOps(t *testing.T) {
	for _, c := range loadGolden(t) {
		c := c
		t.Run(c.name, func(t *testing.T) {
			m := c.model(t)
			b, err := NewBuilder(m, Options{InputGrads: true, STE: c.Training["ste"]})
			if err != nil {
				t.Fatal(err)
			}
			var loss *G.Node
			for i, o := range c.outputOrder {
				up, ok := c.Upstream[o]
				if !ok {
					continue
				}
				l, err := b.WeightedSum(b.Outputs[i], c.tensors[up].Floats())
				if err != nil {
					t.Fatal(err)
				}
				if loss == nil {
					loss = l
				} else if loss, err = G.Add(loss, l); err != nil {
					t.Fatal(err)
				}
			}
			p, err := b.Compile(loss)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range c.inputOrder {
				if !constInputs[in] {
					if err := p.SetInput(in, c.tensors[c.Inputs[in]].Floats()); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			for i, o := range c.outputOrder {
				got, want := p.Output(i).Float32, c.tensors[c.Outputs[o]].Floats()
				tol := 1e-5
				if o == "S" || o == "S_t" {
					tol = 0
				}
				if d := maxAbsDiff(got, want); d > tol {
					t.Errorf("output %s differs by %.3g (tolerance %g)", o, d, tol)
				}
			}
			for in, file := range c.Gradients {
				want := c.tensors[file].Floats()
				var got []float32
				if constInputs[in] {
					if in == "scale" {
						continue // the scale is a constant of the file: no gradient by design
					}
					got = p.Grad(b.Param(in))
				} else {
					got = p.InputGrad(in)
				}
				if got == nil {
					t.Errorf("no gradient for %s", in)
					continue
				}
				if d := maxAbsDiff(got, want); d > 1e-5 {
					t.Errorf("gradient %s differs by %.3g", in, d)
				}
			}
		})
	}
}

// TestBSNNOpsInterop writes each golden case as a model, checks it with
// Debian onnx's checker (full_check) and runs it in onnxruntime: outputs
// must equal our engine's (spikes identical, floats within 1e-6).
func TestBSNNOpsInterop(t *testing.T) {
	cases := loadGolden(t)
	interop.NeedPythonONNX(t)
	interop.NeedORT(t)
	dir := t.TempDir()
	seen := map[string]bool{}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			m := c.model(t)
			path := filepath.Join(dir, c.name+".onnx")
			if err := onnx.EncodeFile(path, m); err != nil {
				t.Fatal(err)
			}
			if err := interop.CheckModel(path); err != nil {
				t.Fatalf("checker: %v", err)
			}
			b, err := NewBuilder(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := b.Compile(nil)
			if err != nil {
				t.Fatal(err)
			}
			feeds := map[string]interop.Tensor{}
			for _, in := range c.inputOrder {
				if constInputs[in] {
					continue
				}
				tt := c.tensors[c.Inputs[in]]
				feeds[in] = interop.Tensor{Shape: tt.Dims, Float: tt.Floats()}
				if err := p.SetInput(in, tt.Floats()); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			res, err := interop.RunORT(path, feeds, c.outputOrder)
			if err != nil {
				t.Fatalf("onnxruntime: %v", err)
			}
			for i, o := range c.outputOrder {
				got := p.Output(i).Float32
				ort := res[o].Float
				if len(ort) != len(got) {
					t.Fatalf("output %s: onnxruntime gave %d values, we %d", o, len(ort), len(got))
				}
				tol := 1e-6
				if o == "S" || o == "S_t" {
					tol = 0
				}
				if d := maxAbsDiff(got, ort); d > tol {
					t.Errorf("output %s: onnxruntime differs by %.3g", o, d)
				}
			}
			seen[c.Op] = true
		})
	}
	var ops []string
	for op := range seen {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	t.Logf("ops run in onnxruntime: %v", ops)
}
