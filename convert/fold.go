package convert

import (
	"fmt"
	"math"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// foldOps are the ops evaluated at conversion time when all their inputs
// are known (Shape also when its input is a runtime tensor).
var foldOps = map[string]bool{
	"Constant": true, "Identity": true, "Dropout": true, "Cast": true, "Shape": true,
	"Gather": true, "Unsqueeze": true, "Squeeze": true, "Concat": true, "Reshape": true,
	"Flatten": true, "Slice": true, "Transpose": true, "Add": true, "Sub": true, "Mul": true,
	"Div": true, "Neg": true, "Sqrt": true, "ConstantOfShape": true,
}

// evalConst computes a node whose inputs are all known. It returns the
// outputs, or the reason the node cannot be folded.
func (z *normalizer) evalConst(n *onnx.Node, in []*ctensor) ([]*ctensor, string) {
	arg := func(i int) *ctensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	one := func(c *ctensor, why string) ([]*ctensor, string) {
		if why != "" {
			return nil, why
		}
		return []*ctensor{c}, ""
	}
	switch n.OpType {
	case "Constant":
		return one(constantValue(n))
	case "Identity":
		return one(arg(0), "")
	case "Dropout":
		if len(n.Outputs) > 1 && n.Outputs[1] != "" && z.used(n.Outputs[1]) {
			return nil, "the Dropout mask output is used"
		}
		return one(arg(0), "")
	case "Cast":
		return one(castConst(arg(0), onnx.DataType(n.Int("to", int64(onnx.Float)))))
	case "Gather":
		return one(gatherConst(arg(0), arg(1), n.Int("axis", 0)))
	case "Unsqueeze", "Squeeze":
		axes, why := z.axesOf(n, in)
		if why != "" {
			return nil, why
		}
		if n.OpType == "Unsqueeze" {
			return one(unsqueezeConst(arg(0), axes))
		}
		return one(squeezeConst(arg(0), axes))
	case "Concat":
		return one(concatConst(in, n.Int("axis", 0)))
	case "Reshape":
		if arg(1) == nil {
			return nil, "Reshape without a shape input"
		}
		return one(reshapeConst(arg(0), arg(1), n.Int("allowzero", 0) != 0))
	case "Flatten":
		x := arg(0)
		a, ok := normAxisIncl(n.Int("axis", 1), len(x.dims))
		if !ok {
			return nil, "Flatten axis out of range"
		}
		return one(x.reshaped([]int64{numel(x.dims[:a]), numel(x.dims[a:])}), "")
	case "Slice":
		return one(z.sliceConst(n, in))
	case "Transpose":
		x := arg(0)
		perm, why := permOf(n, len(x.dims))
		if why != "" {
			return nil, why
		}
		return one(x.transpose(perm), "")
	case "Add", "Sub", "Mul", "Div":
		return one(binaryConst(n.OpType, arg(0), arg(1)))
	case "Neg", "Sqrt":
		return one(unaryConst(n.OpType, arg(0)))
	case "ConstantOfShape":
		return one(constantOfShape(n, arg(0)))
	case "Relu", "Clip":
		return nil, "a " + n.OpType + " on a constant path cannot become a LIF neuron"
	}
	return nil, "cannot fold " + n.OpType + " on constant inputs"
}

func constantValue(n *onnx.Node) (*ctensor, string) {
	if t, err := n.TensorAttr("value"); err != nil {
		return nil, "Constant value: " + err.Error()
	} else if t != nil {
		c, err := fromTensor(t)
		if err != nil {
			return nil, "Constant value: " + err.Error()
		}
		return c, ""
	}
	switch {
	case n.Has("value_float"):
		return floatConst(nil, []float32{n.Float("value_float", 0)}), ""
	case n.Has("value_floats"):
		v := n.Floats("value_floats", nil)
		return floatConst([]int64{int64(len(v))}, append([]float32{}, v...)), ""
	case n.Has("value_int"):
		return intConst(nil, []int64{n.Int("value_int", 0)}), ""
	case n.Has("value_ints"):
		v := n.Ints("value_ints", nil)
		return intConst([]int64{int64(len(v))}, append([]int64{}, v...)), ""
	}
	return nil, "Constant of a kind other than a dense numeric tensor (sparse or string)"
}

func castConst(x *ctensor, to onnx.DataType) (*ctensor, string) {
	out := &ctensor{dtype: to, dims: x.dims}
	switch {
	case isFloatType(to):
		if x.isFloat() {
			out.f = x.f
			return out, ""
		}
		if x.hasSym() {
			return nil, "casts the batch size to a float"
		}
		out.f = make([]float32, len(x.i))
		for i, v := range x.i {
			out.f[i] = float32(v)
		}
	case isIntType(to):
		if !x.isFloat() {
			out.i = x.i
			if to == onnx.Bool {
				out.i = make([]int64, len(x.i))
				for i, v := range x.i {
					if v != 0 {
						out.i[i] = 1
					}
				}
			}
			return out, ""
		}
		out.i = make([]int64, len(x.f))
		for i, v := range x.f {
			if to == onnx.Bool {
				if v != 0 {
					out.i[i] = 1
				}
			} else {
				out.i[i] = int64(v) // truncation toward zero, as C casts
			}
		}
	default:
		return nil, fmt.Sprintf("Cast to %s", to)
	}
	return out, ""
}

func gatherConst(x, idx *ctensor, axis int64) (*ctensor, string) {
	if x == nil || idx == nil || idx.isFloat() {
		return nil, "Gather needs data and integer indices"
	}
	if len(x.dims) == 0 {
		return nil, "Gather on a scalar"
	}
	a, ok := normAxis(axis, len(x.dims))
	if !ok {
		return nil, "Gather axis out of range"
	}
	ind := make([]int64, len(idx.i))
	for k, v := range idx.i {
		if v == symN {
			return nil, "Gather indexed by the batch size"
		}
		if v < 0 {
			v += x.dims[a]
		}
		if v < 0 || v >= x.dims[a] {
			return nil, "Gather index out of range"
		}
		ind[k] = v
	}
	outDims := append(append(append([]int64{}, x.dims[:a]...), idx.dims...), x.dims[a+1:]...)
	st := strides(x.dims)
	ist := strides(idx.dims)
	qr := len(idx.dims)
	return x.gatherElems(outDims, func(o []int64) int64 {
		var k int64
		for i := 0; i < a; i++ {
			k += o[i] * st[i]
		}
		var ik int64
		for j := 0; j < qr; j++ {
			ik += o[a+j] * ist[j]
		}
		k += ind[ik] * st[a]
		for i := a + 1; i < len(x.dims); i++ {
			k += o[i-1+qr] * st[i]
		}
		return k
	}), ""
}

func unsqueezeConst(x *ctensor, axes []int64) (*ctensor, string) {
	r := len(x.dims) + len(axes)
	ins := map[int]bool{}
	for _, a := range axes {
		na, ok := normAxis(a, r)
		if !ok || ins[na] {
			return nil, "Unsqueeze axes invalid"
		}
		ins[na] = true
	}
	out := make([]int64, 0, r)
	k := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, 1)
		} else {
			out = append(out, x.dims[k])
			k++
		}
	}
	return x.reshaped(out), ""
}

func squeezeConst(x *ctensor, axes []int64) (*ctensor, string) {
	drop := map[int]bool{}
	if axes == nil {
		for i, d := range x.dims {
			if d == 1 {
				drop[i] = true
			}
		}
	}
	for _, a := range axes {
		na, ok := normAxis(a, len(x.dims))
		if !ok || x.dims[na] != 1 {
			return nil, "Squeeze axes invalid"
		}
		drop[na] = true
	}
	var out []int64
	for i, d := range x.dims {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return x.reshaped(out), ""
}

func concatConst(in []*ctensor, axis int64) (*ctensor, string) {
	var parts []*ctensor
	for _, c := range in {
		if c != nil {
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return nil, "Concat without inputs"
	}
	r := len(parts[0].dims)
	a, ok := normAxis(axis, r)
	if !ok {
		return nil, "Concat axis out of range"
	}
	outDims := append([]int64{}, parts[0].dims...)
	outDims[a] = 0
	for _, p := range parts {
		if len(p.dims) != r || p.isFloat() != parts[0].isFloat() {
			return nil, "Concat inputs disagree in rank or type"
		}
		for i := range p.dims {
			if i != a && p.dims[i] != parts[0].dims[i] {
				return nil, "Concat inputs disagree in shape"
			}
		}
		outDims[a] += p.dims[a]
	}
	out := &ctensor{dtype: parts[0].dtype, dims: outDims}
	outer := numel(outDims[:a])
	for o := int64(0); o < outer; o++ {
		for _, p := range parts {
			blk := numel(p.dims[a:])
			if p.isFloat() {
				out.f = append(out.f, p.f[o*blk:(o+1)*blk]...)
			} else {
				out.i = append(out.i, p.i[o*blk:(o+1)*blk]...)
			}
		}
	}
	if out.isFloat() && out.f == nil {
		out.f = []float32{}
	}
	if !out.isFloat() && out.i == nil {
		out.i = []int64{}
	}
	return out, ""
}

func reshapeConst(x, shape *ctensor, allowZero bool) (*ctensor, string) {
	if shape.isFloat() || shape.hasSym() {
		return nil, "Reshape of a constant to a shape that is not constant"
	}
	out := make([]int64, len(shape.i))
	neg := -1
	known := int64(1)
	for i, d := range shape.i {
		switch {
		case d == 0 && !allowZero:
			if i >= len(x.dims) {
				return nil, "Reshape copies a missing dimension"
			}
			out[i] = x.dims[i]
		case d == -1:
			if neg >= 0 {
				return nil, "Reshape shape has two -1"
			}
			neg = i
			continue
		case d < 0:
			return nil, "Reshape shape invalid"
		default:
			out[i] = d
		}
		known *= out[i]
	}
	n := numel(x.dims)
	if neg >= 0 {
		if known == 0 || n%known != 0 {
			return nil, "Reshape cannot infer -1"
		}
		out[neg] = n / known
	} else if known != n {
		return nil, "Reshape changes the element count"
	}
	return x.reshaped(out), ""
}

// sliceConst implements Slice on a known tensor (attributes before opset
// 10, inputs from 10 on).
func (z *normalizer) sliceConst(n *onnx.Node, in []*ctensor) (*ctensor, string) {
	x := in[0]
	var starts, ends, axes, steps []int64
	if z.opset < 10 {
		starts, ends, axes = n.Ints("starts", nil), n.Ints("ends", nil), n.Ints("axes", nil)
	} else {
		get := func(i int) ([]int64, string) {
			if i >= len(in) || in[i] == nil {
				return nil, ""
			}
			if in[i].isFloat() || in[i].hasSym() {
				return nil, "Slice bounds depend on the batch size"
			}
			return in[i].i, ""
		}
		var why string
		for i, p := range []*[]int64{&starts, &ends, &axes, &steps} {
			if *p, why = get(i + 1); why != "" {
				return nil, why
			}
		}
	}
	r := len(x.dims)
	if len(starts) != len(ends) {
		return nil, "Slice starts and ends differ in length"
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	beg := make([]int64, r)
	step := make([]int64, r)
	outDims := append([]int64{}, x.dims...)
	for i := range step {
		step[i] = 1
	}
	for k := range starts {
		a, ok := normAxis(axes[k], r)
		if !ok {
			return nil, "Slice axis out of range"
		}
		s := int64(1)
		if steps != nil {
			s = steps[k]
		}
		if s == 0 {
			return nil, "Slice step 0"
		}
		d := x.dims[a]
		clamp := func(v, lo, hi int64) int64 { return max(lo, min(hi, v)) }
		st, en := starts[k], ends[k]
		if st < 0 {
			st += d
		}
		if en < 0 {
			en += d
		}
		var cnt int64
		if s > 0 {
			st, en = clamp(st, 0, d), clamp(en, 0, d)
			if en > st {
				cnt = (en - st + s - 1) / s
			}
		} else {
			st, en = clamp(st, -1, d-1), clamp(en, -1, d-1)
			if st > en {
				cnt = (st - en - s - 1) / -s
			}
		}
		beg[a], step[a], outDims[a] = st, s, cnt
	}
	st := strides(x.dims)
	return x.gatherElems(outDims, func(o []int64) int64 {
		var k int64
		for i := range o {
			k += (beg[i] + o[i]*step[i]) * st[i]
		}
		return k
	}), ""
}

// bcastDims returns the numpy broadcast of two shapes of known sizes.
func bcastDims(a, b []int64) ([]int64, bool) {
	r := max(len(a), len(b))
	out := make([]int64, r)
	for i := 0; i < r; i++ {
		da, db := int64(1), int64(1)
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

// bcastIndex maps an output multi-index to the flat index of an input of
// dims d broadcast into out.
func bcastIndex(d, out []int64) func(idx []int64) int64 {
	st := strides(d)
	off := len(out) - len(d)
	return func(idx []int64) int64 {
		var k int64
		for i := range d {
			if d[i] != 1 {
				k += idx[i+off] * st[i]
			}
		}
		return k
	}
}

func binaryConst(op string, a, b *ctensor) (*ctensor, string) {
	if a == nil || b == nil {
		return nil, op + " needs two inputs"
	}
	if a.isFloat() != b.isFloat() {
		return nil, op + " of a float and an integer tensor"
	}
	if a.hasSym() || b.hasSym() {
		return nil, op + " on the batch size: shape arithmetic on N cannot be made batch-agnostic"
	}
	dims, ok := bcastDims(a.dims, b.dims)
	if !ok {
		return nil, fmt.Sprintf("%s of shapes %v and %v do not broadcast", op, a.dims, b.dims)
	}
	ia, ib := bcastIndex(a.dims, dims), bcastIndex(b.dims, dims)
	out := &ctensor{dtype: a.dtype, dims: dims}
	var why string
	if a.isFloat() {
		out.f = make([]float32, 0, numel(dims))
		forEachIndex(dims, func(idx []int64) {
			out.f = append(out.f, arith(op, a.f[ia(idx)], b.f[ib(idx)]))
		})
	} else {
		out.i = make([]int64, 0, numel(dims))
		forEachIndex(dims, func(idx []int64) {
			x, y := a.i[ia(idx)], b.i[ib(idx)]
			if op == "Div" && y == 0 {
				why = "integer division by zero"
				return
			}
			out.i = append(out.i, arith(op, x, y))
		})
	}
	if why != "" {
		return nil, why
	}
	return out, ""
}

// arith applies Add, Sub, Mul or Div (integer division truncates; the
// caller rules out a zero divisor).
func arith[T float32 | int64](op string, x, y T) T {
	switch op {
	case "Add":
		return x + y
	case "Sub":
		return x - y
	case "Mul":
		return x * y
	case "Div":
		return x / y
	}
	return 0
}

func unaryConst(op string, x *ctensor) (*ctensor, string) {
	if x.hasSym() {
		return nil, op + " on the batch size"
	}
	out := &ctensor{dtype: x.dtype, dims: x.dims}
	if x.isFloat() {
		out.f = make([]float32, len(x.f))
		for i, v := range x.f {
			if op == "Neg" {
				out.f[i] = -v
			} else {
				out.f[i] = float32(math.Sqrt(float64(v)))
			}
		}
		return out, ""
	}
	if op == "Sqrt" {
		return nil, "Sqrt of an integer tensor"
	}
	out.i = make([]int64, len(x.i))
	for i, v := range x.i {
		out.i[i] = -v
	}
	return out, ""
}

func constantOfShape(n *onnx.Node, shape *ctensor) (*ctensor, string) {
	if shape == nil || shape.isFloat() {
		return nil, "ConstantOfShape needs an integer shape"
	}
	if shape.hasSym() {
		return nil, "ConstantOfShape sized by the batch size"
	}
	val := floatConst(nil, []float32{0})
	if t, err := n.TensorAttr("value"); err != nil {
		return nil, err.Error()
	} else if t != nil {
		c, err := fromTensor(t)
		if err != nil || c.size() != 1 {
			return nil, "ConstantOfShape value must be a one-element tensor"
		}
		val = c
	}
	for _, d := range shape.i {
		if d < 0 {
			return nil, "ConstantOfShape with a negative dimension"
		}
	}
	num := numel(shape.i)
	if num > 1<<26 {
		return nil, "ConstantOfShape too large to fold"
	}
	out := &ctensor{dtype: val.dtype, dims: append([]int64{}, shape.i...)}
	if val.isFloat() {
		out.f = make([]float32, num)
		for i := range out.f {
			out.f[i] = val.f[0]
		}
	} else {
		out.i = make([]int64, num)
		for i := range out.i {
			out.i[i] = val.i[0]
		}
	}
	return out, ""
}

// normAxisIncl maps axis into [0, rank] (Flatten's axis may equal rank).
func normAxisIncl(axis int64, rank int) (int, bool) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis > int64(rank) {
		return 0, false
	}
	return int(axis), true
}

func permOf(n *onnx.Node, rank int) ([]int, string) {
	p := n.Ints("perm", nil)
	perm := make([]int, rank)
	if p == nil {
		for i := range perm {
			perm[i] = rank - 1 - i
		}
		return perm, ""
	}
	if len(p) != rank {
		return nil, "Transpose perm does not match the rank"
	}
	seen := make([]bool, rank)
	for i, v := range p {
		a, ok := normAxis(v, rank)
		if !ok || seen[a] {
			return nil, "Transpose perm invalid"
		}
		seen[a] = true
		perm[i] = a
	}
	return perm, ""
}
