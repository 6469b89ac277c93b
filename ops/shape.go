package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
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
	if prod(shape) != v.Len() {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", v.Shape, v.Len(), shape)
	}
	if v.Node == nil {
		t := *v.Const
		t.Dims = dims64(shape)
		t.Name = ""
		return ConstValue(&t), nil
	}
	if equalInts(v.Shape, shape) {
		return &Value{Shape: shape, Node: v.Node}, nil
	}
	return b.Apply(&reshapeKernel{from: v.Shape, to: shape}, v)
}

// Reshape applies a reshape to a runtime value (exported for the converter
// and trainer, which fold time into the batch).
func (b *Builder) Reshape(v *Value, shape []int) (*Value, error) { return reshapeValue(b, v, shape) }

func dims64(s []int) []int64 {
	d := make([]int64, len(s))
	for i, v := range s {
		d[i] = int64(v)
	}
	return d
}

func ints(d []int64) []int {
	s := make([]int, len(d))
	for i, v := range d {
		s[i] = int(v)
	}
	return s
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	a := int(axis)
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return a, nil
}

func buildReshape(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	var target []int64
	if b.Opset(n) < 5 {
		target = n.Ints("shape", nil)
	} else {
		t, err := needConst(in[1], "Reshape shape")
		if err != nil {
			return nil, err
		}
		target = t.Ints()
	}
	allowZero := n.Int("allowzero", 0) != 0
	shape := make([]int, len(target))
	neg := -1
	known := 1
	for i, d := range target {
		switch {
		case d == 0 && !allowZero:
			if i >= len(in[0].Shape) {
				return nil, fmt.Errorf("shape %v copies dimension %d of a rank-%d input", target, i, len(in[0].Shape))
			}
			shape[i] = in[0].Shape[i]
		case d == -1:
			if neg >= 0 {
				return nil, fmt.Errorf("shape %v has two -1", target)
			}
			neg = i
			continue
		case d < -1:
			return nil, fmt.Errorf("invalid shape %v", target)
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
	}
	if neg >= 0 {
		if known == 0 || in[0].Len()%known != 0 {
			return nil, fmt.Errorf("cannot infer -1 reshaping %v to %v", in[0].Shape, target)
		}
		shape[neg] = in[0].Len() / known
	}
	v, err := reshapeValue(b, in[0], shape)
	return []*Value{v}, err
}

func buildFlatten(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x := in[0]
	axis := n.Int("axis", 1)
	a := int(axis)
	if a < 0 {
		a += len(x.Shape)
	}
	if a < 0 || a > len(x.Shape) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", axis, len(x.Shape))
	}
	v, err := reshapeValue(b, x, []int{prod(x.Shape[:a]), prod(x.Shape[a:])})
	return []*Value{v}, err
}

// axesArg reads axes from the attribute (before opset 13) or the second
// input (opset >= 13).
func axesArg(b *Builder, n *onnx.Node, in []*Value) ([]int64, error) {
	if b.Opset(n) < 13 {
		return n.Ints("axes", nil), nil
	}
	if len(in) < 2 || in[1] == nil {
		return nil, nil
	}
	t, err := needConst(in[1], "axes")
	if err != nil {
		return nil, err
	}
	return t.Ints(), nil
}

func buildUnsqueeze(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	axes, err := axesArg(b, n, in)
	if err != nil {
		return nil, err
	}
	rank := len(in[0].Shape) + len(axes)
	ins := map[int]bool{}
	for _, a := range axes {
		ax, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		ins[ax] = true
	}
	shape := make([]int, 0, rank)
	j := 0
	for i := 0; i < rank; i++ {
		if ins[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, in[0].Shape[j])
			j++
		}
	}
	v, err := reshapeValue(b, in[0], shape)
	return []*Value{v}, err
}

func buildSqueeze(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	axes, err := axesArg(b, n, in)
	if err != nil {
		return nil, err
	}
	drop := map[int]bool{}
	for _, a := range axes {
		ax, err := normAxis(a, len(in[0].Shape))
		if err != nil {
			return nil, err
		}
		if in[0].Shape[ax] != 1 {
			return nil, fmt.Errorf("cannot squeeze axis %d of size %d", ax, in[0].Shape[ax])
		}
		drop[ax] = true
	}
	var shape []int
	for i, d := range in[0].Shape {
		if (len(axes) == 0 && d == 1) || drop[i] {
			continue
		}
		shape = append(shape, d)
	}
	v, err := reshapeValue(b, in[0], shape)
	return []*Value{v}, err
}

func buildShape(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	s := dims64(in[0].Shape)
	start, end := int64(0), int64(len(s))
	if b.Opset(n) >= 15 {
		start = n.Int("start", 0)
		end = n.Int("end", int64(len(s)))
	}
	clamp := func(v int64) int64 {
		if v < 0 {
			v += int64(len(s))
		}
		return min(max(v, 0), int64(len(s)))
	}
	start, end = clamp(start), clamp(end)
	if end < start {
		end = start
	}
	d := s[start:end]
	return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Int64, Dims: []int64{int64(len(d))}, Int64: append([]int64{}, d...)})}, nil
}

func buildConstant(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	for _, a := range n.Proto.Attribute {
		switch a.GetName() {
		case "value":
			t, err := onnx.TensorFromProto(a.T)
			if err != nil {
				return nil, err
			}
			return []*Value{ConstValue(t)}, nil
		case "value_float":
			return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Float, Float32: []float32{a.GetF()}})}, nil
		case "value_floats":
			return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Float, Dims: []int64{int64(len(a.Floats))}, Float32: a.Floats})}, nil
		case "value_int":
			return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Int64, Int64: []int64{a.GetI()}})}, nil
		case "value_ints":
			return []*Value{ConstValue(&onnx.Tensor{Type: onnx.Int64, Dims: []int64{int64(len(a.Ints))}, Int64: a.Ints})}, nil
		}
	}
	return nil, fmt.Errorf("Constant has no supported value attribute")
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
	k := &gatherKernel{in: shape, axis: axis, outer: prod(shape[:axis]), inner: prod(shape[axis+1:])}
	for _, id := range ids {
		if id < 0 {
			id += int64(shape[axis])
		}
		if id < 0 || int(id) >= shape[axis] {
			return nil, fmt.Errorf("index %d out of range for axis of size %d", id, shape[axis])
		}
		k.ids = append(k.ids, int(id))
	}
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
	shape := in[0].Shape
	axis, err := normAxis(n.Int("axis", 0), len(shape))
	if err != nil {
		return nil, err
	}
	if in[0].Node != nil {
		k, err := newGatherKernel(shape, axis, idx.Ints(), in[1].Shape)
		if err != nil {
			return nil, err
		}
		v, err := b.Apply(k, in[0])
		return []*Value{v}, err
	}
	data := in[0].Const
	outer, inner := prod(shape[:axis]), prod(shape[axis+1:])
	ids := idx.Ints()
	outShape := append(append(append([]int{}, shape[:axis]...), in[1].Shape...), shape[axis+1:]...)
	isInt := data.Int64 != nil
	var oi []int64
	var of []float32
	src := data.Floats()
	for o := 0; o < outer; o++ {
		for _, id := range ids {
			if id < 0 {
				id += int64(shape[axis])
			}
			if id < 0 || int(id) >= shape[axis] {
				return nil, fmt.Errorf("index %d out of range for axis of size %d", id, shape[axis])
			}
			base := (o*shape[axis] + int(id)) * inner
			if isInt {
				oi = append(oi, data.Int64[base:base+inner]...)
			} else {
				of = append(of, src[base:base+inner]...)
			}
		}
	}
	t := &onnx.Tensor{Type: data.Type, Dims: dims64(outShape), Int64: oi, Float32: of}
	if !isInt {
		t.Type = onnx.Float
	}
	return []*Value{ConstValue(t)}, nil
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
	outer := prod(k.out[:k.axis])
	rowOut := prod(k.out[k.axis:])
	off := 0
	for i, s := range k.shapes {
		row := prod(s[k.axis:])
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
		off += prod(s[k.axis:])
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
	outer := prod(k.from[:k.axis])
	rowIn := prod(k.from[k.axis:])
	row := prod(k.shape[k.axis:])
	for o := 0; o < outer; o++ {
		copy(out[o*row:(o+1)*row], in[0][o*rowIn+k.start:o*rowIn+k.start+row])
	}
	return nil
}

func buildConcat(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	rank := len(in[0].Shape)
	axis, err := normAxis(n.Int("axis", 0), rank)
	if err != nil {
		return nil, err
	}
	out := append([]int(nil), in[0].Shape...)
	out[axis] = 0
	allConst := true
	var shapes [][]int
	for _, v := range in {
		if len(v.Shape) != rank {
			return nil, fmt.Errorf("Concat inputs of ranks %d and %d", rank, len(v.Shape))
		}
		for i := range v.Shape {
			if i != axis && v.Shape[i] != out[i] {
				return nil, fmt.Errorf("Concat shapes %v and %v differ off axis %d", in[0].Shape, v.Shape, axis)
			}
		}
		out[axis] += v.Shape[axis]
		shapes = append(shapes, v.Shape)
		if v.Node != nil {
			allConst = false
		}
	}
	if allConst {
		t := &onnx.Tensor{Type: in[0].Const.Type, Dims: dims64(out)}
		outer := prod(out[:axis])
		for o := 0; o < outer; o++ {
			for _, v := range in {
				row := prod(v.Shape[axis:])
				if in[0].Const.Int64 != nil {
					t.Int64 = append(t.Int64, v.Const.Ints()[o*row:(o+1)*row]...)
				} else {
					t.Float32 = append(t.Float32, v.Const.Floats()[o*row:(o+1)*row]...)
				}
			}
		}
		if t.Int64 == nil {
			t.Type = onnx.Float
		}
		return []*Value{ConstValue(t)}, nil
	}
	v, err := b.Apply(&concatKernel{axis: axis, shapes: shapes, out: out}, in...)
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
	t := &onnx.Tensor{Type: to, Dims: x.Const.Dims}
	switch to {
	case onnx.Float, onnx.Double, onnx.Float16:
		t.Type = onnx.Float
		t.Float32 = x.Const.Floats()
	case onnx.Bool:
		for _, v := range x.Const.Floats() {
			t.Bool = append(t.Bool, v != 0)
		}
	default:
		t.Int64 = x.Const.Ints()
	}
	return []*Value{ConstValue(t)}, nil
}

func buildConstantOfShape(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	s, err := needConst(in[0], "ConstantOfShape shape")
	if err != nil {
		return nil, err
	}
	val := &onnx.Tensor{Type: onnx.Float, Float32: []float32{0}}
	if a := n.Attr("value"); a != nil && a.T != nil {
		if val, err = onnx.TensorFromProto(a.T); err != nil {
			return nil, err
		}
	}
	dims := s.Ints()
	cnt := prod(ints(dims))
	t := &onnx.Tensor{Type: val.Type, Dims: dims}
	if val.Int64 != nil {
		t.Int64 = make([]int64, cnt)
		for i := range t.Int64 {
			t.Int64[i] = val.Int64[0]
		}
	} else {
		t.Type = onnx.Float
		t.Float32 = make([]float32, cnt)
		for i := range t.Float32 {
			t.Float32[i] = val.Floats()[0]
		}
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

var _ = onnxpb.TensorProto{}
