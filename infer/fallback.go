package infer

import (
	"errors"
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
)

// The float fallback runs a node the engine has no packed or dedicated
// float path for (an op it does not know, or a pattern its path refuses:
// broadcasting Add, GlobalAveragePool of floats, an AGMM gate on floats, a
// LIF whose final membrane is read, ...) on the float engine's own kernels:
// the node alone, as a one-node model that package ops compiles for the
// run-time shapes of its inputs. Its numerics are therefore the float
// engine's by construction, and every op the float engine runs can run
// here. Values the float engine computes at compile time (Shape, Constant,
// shape arithmetic) become constants of the program.

// fallback binds n on the float engine; why is the reason the dedicated
// path gave, recorded in the plan.
func (b *binder) fallback(n *onnx.Node, why string) error {
	sub, shapes, consts, err := b.subModel(n)
	if err != nil {
		return err
	}
	fb, err := ops.NewBuilder(sub, ops.Options{InputShapes: shapes, Frozen: consts})
	if err != nil {
		var ne *ops.NodeError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		var u *onnx.UnsupportedError
		if errors.As(err, &u) && len(u.Items) == 1 && u.Items[0].Reason != "" {
			err = errors.New(u.Items[0].Reason)
		}
		if why == errNoPath.Error() {
			return err
		}
		return fmt.Errorf("%s; the float engine cannot run it either: %w", why, err)
	}
	prog, err := fb.Compile(nil)
	if err != nil {
		return fmt.Errorf("%s; the float engine cannot run it either: %w", why, err)
	}
	type binding struct {
		name string
		t    *tensor
		buf  []float32
	}
	var ins []binding
	for _, in := range fb.Inputs {
		t, err := b.val(in.Name)
		if err != nil {
			return err
		}
		bd := binding{name: in.Name, t: t, buf: t.f}
		if t.kind != kindFloat {
			bd.buf = make([]float32, numel(t.shape))
		}
		ins = append(ins, bd)
	}
	type result struct {
		v *ops.Value
		t *tensor
	}
	var outs []result
	for _, name := range n.Outputs {
		if name == "" {
			continue
		}
		v := fb.Value(name)
		if v == nil {
			continue
		}
		if v.Node == nil {
			b.consts[name] = v.Const
			continue
		}
		t := &tensor{kind: kindFloat, shape: v.Shape, f: make([]float32, numel(v.Shape))}
		outs = append(outs, result{v, t})
		b.set(name, t)
	}
	if tap := gateTap(fb); tap != nil && len(outs) == 1 {
		b.p.gateTaps[n.Outputs[0]] = tap
	}
	b.layer(LayerPlan{Node: n.Label(), Op: n.QualifiedOp(), Fallback: true, Reason: why})
	if len(outs) == 0 {
		return nil // computed at compile time
	}
	b.add(n, func() error {
		for _, in := range ins {
			if in.t.kind != kindFloat {
				materialize(in.t, in.buf)
			}
			if err := prog.SetInput(in.name, in.buf); err != nil {
				return err
			}
		}
		if err := prog.Run(); err != nil {
			return err
		}
		for _, o := range outs {
			copy(o.t.f, ops.ValueData(o.v))
		}
		return nil
	})
	return nil
}

// subModel returns the one-node model of n: its run-time inputs as graph
// inputs of their current shapes, its constant inputs as initializers
// (named in consts), its outputs as graph outputs.
func (b *binder) subModel(n *onnx.Node) (*onnx.Model, map[string][]int, map[string]bool, error) {
	g := &onnxpb.GraphProto{Name: ptr("fallback"), Node: []*onnxpb.NodeProto{n.Proto}}
	shapes := map[string][]int{}
	consts := map[string]bool{}
	for _, in := range n.Inputs {
		if in == "" || shapes[in] != nil || consts[in] {
			continue
		}
		if c, err := b.constTensor(in); err == nil {
			p := c.Proto()
			p.Name = ptr(in)
			g.Initializer = append(g.Initializer, p)
			consts[in] = true
			continue
		} else if err != errNotConst {
			return nil, nil, nil, fmt.Errorf("input %q: %w", in, err)
		}
		t, err := b.val(in)
		if err != nil {
			return nil, nil, nil, err
		}
		var dims onnx.Shape
		for _, d := range t.shape {
			dims = append(dims, onnx.Dim{Value: int64(d)})
		}
		g.Input = append(g.Input, onnx.ValueInfoProto(in, onnx.Float, dims))
		shapes[in] = t.shape
	}
	for _, o := range n.Outputs {
		if o != "" {
			g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: ptr(o)})
		}
	}
	m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: ptr(b.e.irVersion), OpsetImport: b.e.opsets, Graph: g}}
	return m, shapes, consts, nil
}

func ptr[T any](v T) *T { return &v }
