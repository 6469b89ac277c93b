package ops

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// reshapeKernel gives its input a new shape (Reshape, Flatten, Squeeze,
// Unsqueeze at run time): a Viewer, so the executor makes its output a
// view of its input and nothing is copied. Its gradient is the reverse
// reshape, a view of the output's gradient.
type reshapeKernel struct{ from, to []int }

func (k *reshapeKernel) Name() string    { return fmt.Sprintf("Reshape%v->%v", k.from, k.to) }
func (k *reshapeKernel) OutShape() []int { return k.to }
func (k *reshapeKernel) Forward(out []float32, in ...[]float32) error {
	copy(out, in[0])
	return nil
}
func (k *reshapeKernel) View()              {} // the executor shares the input's memory
func (k *reshapeKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *reshapeKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&reshapeKernel{from: k.to, to: k.from}, grad)
	return G.Nodes{g}, err
}

// reshapeValue gives v a new shape: at compile time for constants, with a
// copy kernel at run time.
func reshapeValue(b *Builder, v *Value, shape []int) (*Value, error) {
	if static.Prod(shape) != v.Len() {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", v.Shape, v.Len(), shape)
	}
	if v.Node == nil {
		t := *v.Const
		t.Dims = dims64(shape)
		t.Name = ""
		return ConstValue(&t), nil
	}
	if slices.Equal(v.Shape, shape) {
		return &Value{Shape: shape, Node: v.Node}, nil
	}
	return b.Apply(&reshapeKernel{from: v.Shape, to: shape}, v)
}

// Reshape applies a reshape to a runtime value (exported for the converter
// and trainer, which fold time into the batch).
func (b *Builder) Reshape(v *Value, shape []int) (*Value, error) { return reshapeValue(b, v, shape) }

func dims64(s []int) []int64 { return static.Dims(s) }

func ints(d []int64) []int { return static.Ints(d) }

// normAxis is static.NormAxis.
func normAxis(axis int64, rank int) (int, error) { return static.NormAxis(axis, rank) }

func buildReshape(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	target, err := static.ReshapeTarget(n, b.Opset(n), staticInputs(n, in))
	if err != nil {
		return nil, err
	}
	shape, err := static.Reshape(dims64(in[0].Shape), target, n.Int("allowzero", 0) != 0)
	if err != nil {
		return nil, err
	}
	v, err := reshapeValue(b, in[0], ints(shape))
	return []*Value{v}, err
}

func buildFlatten(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x := in[0]
	a, err := static.FlattenAxis(n, len(x.Shape))
	if err != nil {
		return nil, err
	}
	shape, err := static.Flatten(dims64(x.Shape), a)
	if err != nil {
		return nil, err
	}
	v, err := reshapeValue(b, x, ints(shape))
	return []*Value{v}, err
}

func buildUnsqueeze(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	axes, _, err := static.Axes(n, b.Opset(n), 13, staticInputs(n, in))
	if err != nil {
		return nil, err
	}
	shape, _, err := static.Unsqueeze(dims64(in[0].Shape), axes)
	if err != nil {
		return nil, err
	}
	v, err := reshapeValue(b, in[0], ints(shape))
	return []*Value{v}, err
}

func buildSqueeze(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	axes, _, err := static.Axes(n, b.Opset(n), 13, staticInputs(n, in))
	if err != nil {
		return nil, err
	}
	shape, _, err := static.Squeeze(dims64(in[0].Shape), axes)
	if err != nil {
		return nil, err
	}
	v, err := reshapeValue(b, in[0], ints(shape))
	return []*Value{v}, err
}

func buildShape(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	return []*Value{ConstValue(static.Shape(n, b.Opset(n), dims64(in[0].Shape)))}, nil
}

func buildConstant(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	t, err := static.Constant(n)
	if err != nil {
		return nil, err
	}
	return []*Value{ConstValue(t)}, nil
}

// gatherKernel gathers slices of a runtime tensor along an axis at
// constant indices; its gradient scatters (adds) back.
type gatherKernel struct {
	in, out      []int
	axis         int
	ids          []int
	outer, inner int
}

func newGatherKernel(shape []int, axis int, ids []int64, idShape []int) (*gatherKernel, error) {
	norm, err := static.GatherIndices(ids, int64(shape[axis]))
	if err != nil {
		return nil, err
	}
	k := &gatherKernel{in: shape, axis: axis, ids: norm, outer: static.Prod(shape[:axis]), inner: static.Prod(shape[axis+1:])}
	k.out = append(append(append([]int{}, shape[:axis]...), idShape...), shape[axis+1:]...)
	return k, nil
}

func (k *gatherKernel) Name() string    { return fmt.Sprintf("Gather(axis=%d,%v)%v", k.axis, k.ids, k.in) }
func (k *gatherKernel) OutShape() []int { return k.out }
func (k *gatherKernel) Forward(out []float32, in ...[]float32) error {
	o := 0
	for a := 0; a < k.outer; a++ {
		for _, id := range k.ids {
			base := (a*k.in[k.axis] + id) * k.inner
			copy(out[o:o+k.inner], in[0][base:base+k.inner])
			o += k.inner
		}
	}
	return nil
}
func (k *gatherKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *gatherKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&gatherGradKernel{f: k}, grad)
	return G.Nodes{g}, err
}

// gatherGradKernel scatter-adds dY back into the gathered positions.
type gatherGradKernel struct{ f *gatherKernel }

func (k *gatherGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *gatherGradKernel) OutShape() []int { return k.f.in }
func (k *gatherGradKernel) Forward(out []float32, in ...[]float32) error {
	for i := range out {
		out[i] = 0
	}
	f := k.f
	o := 0
	for a := 0; a < f.outer; a++ {
		for _, id := range f.ids {
			base := (a*f.in[f.axis] + id) * f.inner
			for j, v := range in[0][o : o+f.inner] {
				out[base+j] += v
			}
			o += f.inner
		}
	}
	return nil
}

// buildGather implements Gather with constant indices, on constant data
// (shape arithmetic, folded) or runtime data.
func buildGather(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	idx, err := needConst(in[1], "Gather indices")
	if err != nil {
		return nil, err
	}
	if in[0].Node == nil {
		t, err := static.FoldGather(in[0].Const, idx, n.Int("axis", 0))
		if err != nil {
			return nil, err
		}
		return []*Value{ConstValue(t)}, nil
	}
	_, axis, err := static.Gather(dims64(in[0].Shape), idx.Dims, n.Int("axis", 0))
	if err != nil {
		return nil, err
	}
	k, err := newGatherKernel(in[0].Shape, axis, idx.Ints(), in[1].Shape)
	if err != nil {
		return nil, err
	}
	v, err := b.Apply(k, in[0])
	return []*Value{v}, err
}

// concatKernel concatenates runtime inputs along an axis.
type concatKernel struct {
	axis   int
	shapes [][]int
	out    []int
}

func (k *concatKernel) Name() string    { return fmt.Sprintf("Concat(axis=%d)%v", k.axis, k.shapes) }
func (k *concatKernel) OutShape() []int { return k.out }
func (k *concatKernel) Forward(out []float32, in ...[]float32) error {
	outer := static.Prod(k.out[:k.axis])
	rowOut := static.Prod(k.out[k.axis:])
	off := 0
	for i, s := range k.shapes {
		row := static.Prod(s[k.axis:])
		for o := 0; o < outer; o++ {
			copy(out[o*rowOut+off:o*rowOut+off+row], in[i][o*row:(o+1)*row])
		}
		off += row
	}
	return nil
}
func (k *concatKernel) DiffWRT(n int) []bool { return allTrue(n) }
func (k *concatKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	gs := make(G.Nodes, len(in))
	off := 0
	for i, s := range k.shapes {
		g, err := Apply(&sliceAxisKernel{axis: k.axis, from: k.out, start: off, shape: s}, grad)
		if err != nil {
			return nil, err
		}
		gs[i] = g
		off += static.Prod(s[k.axis:])
	}
	return gs, nil
}

// sliceAxisKernel extracts a block of elements [start, start+row) per outer
// index (the adjoint of one concat input).
type sliceAxisKernel struct {
	axis  int
	from  []int
	start int
	shape []int
}

func (k *sliceAxisKernel) Name() string {
	return fmt.Sprintf("SliceAxis(%d,%d)%v->%v", k.axis, k.start, k.from, k.shape)
}
func (k *sliceAxisKernel) OutShape() []int { return k.shape }
func (k *sliceAxisKernel) Forward(out []float32, in ...[]float32) error {
	outer := static.Prod(k.from[:k.axis])
	rowIn := static.Prod(k.from[k.axis:])
	row := static.Prod(k.shape[k.axis:])
	for o := 0; o < outer; o++ {
		copy(out[o*row:(o+1)*row], in[0][o*rowIn+k.start:o*rowIn+k.start+row])
	}
	return nil
}

func buildConcat(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	shapes := make([][]int64, len(in))
	allConst := true
	for i, v := range in {
		shapes[i] = dims64(v.Shape)
		allConst = allConst && v.Node == nil
	}
	out, axis, err := static.Concat(shapes, n.Int("axis", 0))
	if err != nil {
		return nil, err
	}
	if allConst {
		parts := make([]*onnx.Tensor, len(in))
		for i, v := range in {
			parts[i] = v.Const
		}
		t, err := static.FoldConcat(parts, axis)
		if err != nil {
			return nil, err
		}
		return []*Value{ConstValue(t)}, nil
	}
	ss := make([][]int, len(in))
	for i, v := range in {
		ss[i] = v.Shape
	}
	v, err := b.Apply(&concatKernel{axis: axis, shapes: ss, out: ints(out)}, in...)
	return []*Value{v}, err
}

func buildCast(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	to := onnx.DataType(n.Int("to", int64(onnx.Float)))
	x := in[0]
	if x.Node != nil {
		if to != onnx.Float {
			return nil, fmt.Errorf("Cast of a runtime tensor to %s is not supported", to)
		}
		return []*Value{{Shape: x.Shape, Node: x.Node}}, nil
	}
	t, err := static.FoldCast(x.Const, to)
	if err != nil {
		return nil, err
	}
	return []*Value{ConstValue(t)}, nil
}

func buildConstantOfShape(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	s, err := needConst(in[0], "ConstantOfShape shape")
	if err != nil {
		return nil, err
	}
	t, err := static.ConstantOfShape(n, s)
	if err != nil {
		return nil, err
	}
	return []*Value{ConstValue(t)}, nil
}

func init() {
	one := func(s *Spec) *Spec {
		if s.MinOutputs == 0 {
			s.MinOutputs, s.MaxOutputs = 1, 1
		}
		Register(s)
		return s
	}
	one(&Spec{OpType: "Reshape", Since: 1, MinInputs: 1, MaxInputs: 2,
		Attrs: []AttrSpec{{Name: "shape", Type: AttrInts}, {Name: "allowzero", Type: AttrInt, Default: int64(0)}},
		Build: buildReshape, Doc: "reshape (0 copies a dim, -1 infers one)"})
	one(&Spec{OpType: "Flatten", Since: 1, MinInputs: 1, MaxInputs: 1,
		Attrs: []AttrSpec{{Name: "axis", Type: AttrInt, Default: int64(1)}}, Build: buildFlatten, Doc: "to 2-D at axis"})
	one(&Spec{OpType: "Unsqueeze", Since: 1, MinInputs: 1, MaxInputs: 2,
		Attrs: []AttrSpec{{Name: "axes", Type: AttrInts}}, Build: buildUnsqueeze, Doc: "insert unit axes"})
	one(&Spec{OpType: "Squeeze", Since: 1, MinInputs: 1, MaxInputs: 2,
		Attrs: []AttrSpec{{Name: "axes", Type: AttrInts}}, Build: buildSqueeze, Doc: "remove unit axes"})
	one(&Spec{OpType: "Shape", Since: 1, MinInputs: 1, MaxInputs: 1,
		Attrs: []AttrSpec{{Name: "start", Type: AttrInt}, {Name: "end", Type: AttrInt}}, Build: buildShape, Doc: "static shape as int64"})
	one(&Spec{OpType: "Constant", Since: 1, MinInputs: 0, MaxInputs: 0,
		Attrs: []AttrSpec{{Name: "value", Type: AttrTensor}, {Name: "value_float", Type: AttrFloat}, {Name: "value_floats", Type: AttrFloats},
			{Name: "value_int", Type: AttrInt}, {Name: "value_ints", Type: AttrInts},
			{Name: "sparse_value", Type: AttrTensor, Supported: func(n *onnx.Node) string {
				if n.Has("sparse_value") {
					return "sparse_value is not supported"
				}
				return ""
			}}},
		Build: buildConstant, Doc: "compile-time constant"})
	one(&Spec{OpType: "Gather", Since: 1, MinInputs: 2, MaxInputs: 2,
		Attrs: []AttrSpec{{Name: "axis", Type: AttrInt, Default: int64(0)}}, Build: buildGather, Doc: "constant indices; data constant (folded) or runtime"})
	one(&Spec{OpType: "Concat", Since: 4, MinInputs: 1, MaxInputs: -1,
		Attrs: []AttrSpec{{Name: "axis", Type: AttrInt, Required: true}}, Build: buildConcat, Doc: "join along an axis"})
	one(&Spec{OpType: "Cast", Since: 6, MinInputs: 1, MaxInputs: 1,
		Attrs: []AttrSpec{{Name: "to", Type: AttrInt, Required: true}, {Name: "saturate", Type: AttrInt}}, Build: buildCast, Doc: "type conversion"})
	one(&Spec{OpType: "ConstantOfShape", Since: 9, MinInputs: 1, MaxInputs: 1,
		Attrs: []AttrSpec{{Name: "value", Type: AttrTensor}}, Build: buildConstantOfShape, Doc: "filled constant"})
}
