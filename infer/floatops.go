package infer

import (
	"fmt"
	"github.com/bsnnctl/bsnnctl/bsnn"
	"slices"

	"github.com/bsnnctl/bsnnctl/infer/bitkern"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
)

// concat binds the direct encoding: the graph input repeated T times
// along axis 0, which is stored once.
func (b *binder) concat(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	for _, in := range n.Inputs {
		if in != n.Inputs[0] {
			return fmt.Errorf("only the repetition of one tensor (direct encoding) is supported")
		}
	}
	if n.Int("axis", 0) != 0 || x.kind != kindFloat || len(x.shape) == 0 {
		return fmt.Errorf("only the repetition of a float tensor along axis 0 is supported")
	}
	T := len(n.Inputs)
	if b.e.T != 0 && b.e.T != T {
		return fmt.Errorf("repeats the input %d times, another node %d times", T, b.e.T)
	}
	b.e.T = T
	shape := slices.Clone(x.shape)
	shape[0] *= T
	b.set(n.Outputs[0], &tensor{kind: kindRepeat, shape: shape, f: x.f, reps: T})
	return nil
}

// unsqueeze binds an Unsqueeze of a float or repeated tensor: a view with
// the new axes of size 1 (the data does not move).
func (b *binder) unsqueeze(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	if x.kind != kindFloat && x.kind != kindRepeat {
		return errNoPath
	}
	axes := n.Ints("axes", nil)
	if len(n.Inputs) > 1 && n.Inputs[1] != "" {
		t, err := b.constant(n.Inputs[1])
		if err != nil {
			return fmt.Errorf("the axes must be a constant: %w", err)
		}
		axes = t.Ints()
	}
	rank := len(x.shape) + len(axes)
	insert := make([]bool, rank)
	for _, a := range axes {
		if a < 0 {
			a += int64(rank)
		}
		if a < 0 || a >= int64(rank) || insert[a] {
			return fmt.Errorf("axes %v do not fit rank %d", axes, rank)
		}
		insert[a] = true
	}
	shape := make([]int, 0, rank)
	next := 0
	for _, ins := range insert {
		if ins {
			shape = append(shape, 1)
		} else {
			shape = append(shape, x.shape[next])
			next++
		}
	}
	out := *x
	out.shape = shape
	if x.kind == kindRepeat && shape[0]%x.reps != 0 {
		out = *b.asFloat(n, x)
		out.shape = shape
	}
	b.set(n.Outputs[0], &out)
	return nil
}

// expand binds the direct encoder's Expand of [1, N, ...] to [T, N, ...]:
// the input repeated T times along axis 0, stored once (the form
// bsnnctl writes: Unsqueeze, Expand, Reshape). Other Expands fall back.
func (b *binder) expand(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	t, err := b.constant(n.Inputs[1])
	if err != nil || x.kind != kindFloat || len(x.shape) == 0 || x.shape[0] != 1 {
		return errNoPath
	}
	target := t.Ints()
	if len(target) != len(x.shape) || target[0] < 1 {
		return errNoPath
	}
	for i, d := range target[1:] {
		if d != 1 && int(d) != x.shape[i+1] {
			return errNoPath
		}
	}
	T := int(target[0])
	if b.e.T != 0 && b.e.T != T {
		return fmt.Errorf("repeats the input %d times, another node %d times", T, b.e.T)
	}
	b.e.T = T
	shape := slices.Clone(x.shape)
	shape[0] = T
	b.set(n.Outputs[0], &tensor{kind: kindRepeat, shape: shape, f: x.f, reps: T})
	return nil
}

// conv binds a Conv that is not fused: a float convolution (float
// weights, or binary weights on an input that is not spikes), or a bare
// binary one.
func (b *binder) conv(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	if b.e.isBinaryLayer(n) && x.kind == kindSpikes {
		return b.binaryLayer(n, x)
	}
	w, wshape, err := b.constFloats(n.Inputs[1])
	if err != nil {
		return fmt.Errorf("weight: %w", err)
	}
	var bias []float32
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		if bias, _, err = b.constFloats(n.Inputs[2]); err != nil {
			return fmt.Errorf("bias: %w", err)
		}
	}
	h, wd, err := spatial(x.shape)
	if err != nil {
		return err
	}
	if len(wshape) != len(x.shape) {
		return fmt.Errorf("weight shape %v does not match input shape %v", wshape, x.shape)
	}
	win, err := readWindow(n, x.shape[2:], wshape[2:])
	if err != nil {
		return err
	}
	imgs := x.shape[0]
	rep := x.kind == kindRepeat
	if rep {
		imgs /= x.reps
	}
	p := kernels.ConvParams{N: imgs, C: x.shape[1], H: h, W: wd, M: wshape[0], KH: win.kh, KW: win.kw,
		StrideH: win.sh, StrideW: win.sw, DilH: win.dh, DilW: win.dw,
		PadTop: win.pt, PadLeft: win.pl, PadBottom: win.pb, PadRight: win.pr, Groups: int(n.Int("group", 1))}
	if err := p.Validate(); err != nil {
		return err
	}
	if p.C/p.Groups != wshape[1] {
		return fmt.Errorf("weight shape %v does not fit %d input channels in %d groups", wshape, p.C, p.Groups)
	}
	shape := []int{x.shape[0], p.M, p.OutH(), p.OutW()}
	if len(x.shape) == 3 {
		shape = []int{x.shape[0], p.M, p.OutW()}
	}
	b.layer(LayerPlan{Node: n.Label(), Op: n.OpType, Reason: b.floatReason(n, x)})
	out := &tensor{kind: kindFloat, shape: shape}
	src := x
	if rep {
		out.kind, out.reps = kindRepeat, x.reps
		out.f = make([]float32, numel(shape)/x.reps)
	} else {
		src = b.asFloat(n, x)
		out.f = make([]float32, numel(shape))
	}
	b.add(n, func() error { kernels.ConvForward(p, src.f, w, bias, out.f); return nil })
	b.set(n.Outputs[0], out)
	return nil
}

// batchNorm binds an inference-mode BatchNormalization that is not fused,
// on float (NCHW or repeated) or channels-last input.
func (b *binder) batchNorm(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	if len(n.Outputs) > 1 && slices.ContainsFunc(n.Outputs[1:], func(s string) bool { return s != "" }) {
		return fmt.Errorf("training outputs (running statistics) are not supported")
	}
	a, err := b.e.batchNormAffine(n)
	if err != nil {
		return err
	}
	if len(x.shape) < 2 || x.shape[1] != len(a.Scale) {
		return fmt.Errorf("input shape %v has not %d channels", x.shape, len(a.Scale))
	}
	if x.kind == kindSpikes {
		x = b.asFloat(n, x)
	}
	out := &tensor{kind: x.kind, shape: x.shape, geo: x.geo, reps: x.reps, f: make([]float32, len(x.f))}
	C := len(a.Scale)
	if x.kind == kindNHWC {
		b.add(n, func() error {
			for i, v := range x.f {
				c := i % C
				out.f[i] = float32(v*a.Scale[c]) + a.Shift[c]
			}
			return nil
		})
	} else {
		per := numel(x.shape[2:])
		b.add(n, func() error {
			for i := 0; i < len(x.f); i += per {
				c := i / per % C
				for j, v := range x.f[i : i+per] {
					out.f[i+j] = float32(v*a.Scale[c]) + a.Shift[c]
				}
			}
			return nil
		})
	}
	b.set(n.Outputs[0], out)
	return nil
}

// reshape binds Reshape and Flatten. Packed, channels-last and repeated
// tensors keep their storage when the new shape keeps their images on the
// leading axes ([T*N, ...] or [T, N, ...]) and their values per image.
func (b *binder) reshape(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	var shape []int
	if n.OpType == "Flatten" {
		axis := int(n.Int("axis", 1))
		if axis < 0 {
			axis += len(x.shape)
		}
		if axis < 0 || axis > len(x.shape) {
			return fmt.Errorf("axis %d out of range for shape %v", axis, x.shape)
		}
		shape = []int{numel(x.shape[:axis]), numel(x.shape[axis:])}
	} else {
		t, err := b.constant(n.Inputs[1])
		if err != nil {
			return fmt.Errorf("the target shape must be a constant: %w", err)
		}
		if shape, err = resolveShape(x.shape, t.Ints(), n.Int("allowzero", 0) != 0); err != nil {
			return err
		}
	}
	out := *x
	out.shape = shape
	switch x.kind {
	case kindFloat:
	case kindRepeat:
		// The memory is T copies of one block; a reshape keeps that, and
		// consumers read the block as the first shape[0]/T rows, which
		// needs T to divide the leading axis ([T*N, ...] or [T, N, ...]).
		if len(shape) == 0 || shape[0]%x.reps != 0 {
			f := b.asFloat(n, x)
			out = *f
			out.shape = shape
		}
	default:
		if k := imageAxes(shape, x.geo.imgs, b.e.T); k == 0 || numel(shape[k:]) != x.geo.perImage() {
			f := b.asFloat(n, x)
			out = *f
			out.shape = shape
		}
	}
	b.set(n.Outputs[0], &out)
	return nil
}

// resolveShape applies Reshape's 0 (copy) and -1 (infer) to target.
func resolveShape(in []int, target []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("target shape %v has several -1", target)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("target shape %v copies dimension %d of %v", target, i, in)
			}
			out[i] = in[i]
		case d < 0:
			return nil, fmt.Errorf("target shape %v has a negative dimension", target)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	total := numel(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, target)
		}
		out[infer] = total / known
	} else if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d values) to %v", in, total, target)
	}
	return out, nil
}

// lif binds a LIF on float input ([T, N, ...], or the repeated encoding):
// the spikes are packed as they are made.
func (b *binder) lif(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" && (len(b.e.g.Consumers(n.Outputs[1])) > 0 || b.e.isOutput(n.Outputs[1])) {
		return fmt.Errorf("the final membrane output V_T is not supported")
	}
	p, err := bsnn.ParseLIF(n)
	if err != nil {
		return err
	}
	if len(x.shape) < 3 {
		return fmt.Errorf("input shape %v is not [T, N, C, ...]", x.shape)
	}
	T, N := x.shape[0], x.shape[1]
	g, err := geoOf(append([]int{T * N}, x.shape[2:]...))
	if err != nil {
		return err
	}
	if len(x.shape) == 5 {
		g.h, g.w = x.shape[3], x.shape[4]
	}
	out := &tensor{kind: kindSpikes, shape: x.shape, geo: g, bits: make([]uint64, g.imgs*g.h*g.w*bitkern.Words(g.c))}
	repeated := x.kind == kindRepeat
	if repeated && x.reps != T {
		return fmt.Errorf("the input repeats %d times over %d time steps", x.reps, T)
	}
	src := x
	if !repeated {
		src = b.asFloat(n, x)
	}
	hw := g.h * g.w
	b.add(n, func() error {
		return bitkern.LIFNCHW(p, T, N, hw, g.c, src.f, repeated, out.bits, b.threads())
	})
	b.set(n.Outputs[0], out)
	return nil
}

// gate binds an AGMMGate on spikes: the spikes stay packed and the gate
// factors travel with them to the binary layer that reads them (or are
// applied where they are unpacked). Every factor is computed as
// spiking.AGMMForward computes it, from the exact spike counts.
func (b *binder) gate(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	if x.kind != kindSpikes || x.gate != nil {
		return fmt.Errorf("the input is %s, the packed engine gates spikes", x.kind)
	}
	alpha, _, err := b.constFloats(n.Inputs[1])
	if err != nil {
		return fmt.Errorf("alpha: %w", err)
	}
	mode, err := spiking.ParseAGMMMode(n.String("mode", "forward"))
	if err != nil {
		return err
	}
	p := spiking.AGMMParams{Mode: mode, DetachStat: n.Int("detach_stat", 0) != 0}
	if len(x.shape) < 2 || x.shape[0]*x.shape[1] != x.geo.imgs {
		return fmt.Errorf("input shape %v is not [T, N, ...]", x.shape)
	}
	T, N := x.shape[0], x.shape[1]
	if len(alpha) != T {
		return fmt.Errorf("alpha has %d values for %d time steps", len(alpha), T)
	}
	out := *x
	if mode == spiking.AGMMModeGradOnly {
		b.set(n.Outputs[0], &out) // the forward value is X itself
		return nil
	}
	out.gate = make([]float32, x.geo.imgs)
	mean, y := make([]float32, x.geo.imgs), make([]float32, x.geo.imgs)
	per := x.geo.h * x.geo.w * bitkern.Words(x.geo.c)
	D := float64(x.geo.perImage())
	b.add(n, func() error {
		// AGMMForward over rows of length 1 holding each image's mean
		// (count/D rounded once to float32, as AGMMForward rounds its
		// float64 mean) computes the same gates as over the whole images.
		for i := range mean {
			mean[i] = float32(float64(bitkern.Count(x.bits[i*per:][:per])) / D)
		}
		return spiking.AGMMForward(p, T, N, 1, mean, alpha, y, out.gate)
	})
	b.set(n.Outputs[0], &out)
	return nil
}

// maxPool binds MaxPool: on spikes an OR of the window (exact), on float
// input ops/kernels' pooling.
func (b *binder) maxPool(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return fmt.Errorf("the Indices output is not supported")
	}
	if n.Int("storage_order", 0) != 0 {
		return fmt.Errorf("storage_order 1 is not supported")
	}
	h, w, err := spatial(x.shape)
	if err != nil {
		return err
	}
	win, err := readWindow(n, x.shape[2:], nil)
	if err != nil {
		return err
	}
	imgs := x.shape[0]
	if x.kind == kindRepeat {
		imgs /= x.reps
	}
	kp := kernels.PoolParams{N: imgs, C: x.shape[1], H: h, W: w, KH: win.kh, KW: win.kw, StrideH: win.sh, StrideW: win.sw,
		DilH: win.dh, DilW: win.dw, PadTop: win.pt, PadLeft: win.pl, PadBottom: win.pb, PadRight: win.pr, CeilMode: win.ceil}
	if err := kp.Validate(); err != nil {
		return err
	}
	shape := slices.Clone(x.shape)
	shape[len(shape)-1] = kp.OutW()
	if len(shape) == 4 {
		shape[2] = kp.OutH()
	}
	if x.kind == kindSpikes && x.gate == nil && len(x.shape) == 4 && x.geo.c == x.shape[1] && x.geo.h == h && x.geo.w == w {
		pp := kp
		pp.N = x.geo.imgs
		out := &tensor{kind: kindSpikes, shape: shape, geo: geo{imgs: pp.N, c: pp.C, h: pp.OutH(), w: pp.OutW()}}
		out.bits = make([]uint64, pp.N*pp.OutH()*pp.OutW()*bitkern.Words(pp.C))
		b.add(n, func() error { bitkern.MaxPool(pp, x.bits, out.bits); return nil })
		b.set(n.Outputs[0], out)
		return nil
	}
	out := &tensor{kind: kindFloat, shape: shape}
	src := x
	if x.kind == kindRepeat {
		out.kind, out.reps = kindRepeat, x.reps
	} else {
		src = b.asFloat(n, x)
	}
	out.f = make([]float32, kp.N*kp.C*kp.OutH()*kp.OutW())
	b.add(n, func() error { kernels.MaxPoolForward(kp, src.f, out.f, nil); return nil })
	b.set(n.Outputs[0], out)
	return nil
}

// globalAveragePool binds GlobalAveragePool on spikes: the mean of a
// channel is its spike count over the pixels, computed as the float engine
// computes it (a float32 sum of 0/1, exact, times 1/pixels in float64).
func (b *binder) globalAveragePool(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	if x.kind != kindSpikes || x.gate != nil || len(x.shape) != 4 || x.shape[0] != x.geo.imgs {
		return fmt.Errorf("the packed engine pools spikes [N, C, H, W]; the input is %s %v", x.kind, x.shape)
	}
	g := x.geo
	out := &tensor{kind: kindFloat, shape: []int{g.imgs, g.c, 1, 1}, f: make([]float32, g.imgs*g.c)}
	counts := make([]int32, g.imgs*g.c)
	inv := 1 / float64(g.h*g.w)
	b.add(n, func() error {
		bitkern.ChannelCounts(g.imgs, g.c, g.h*g.w, x.bits, counts)
		for i, c := range counts {
			out.f[i] = float32(float64(c) * inv)
		}
		return nil
	})
	b.set(n.Outputs[0], out)
	return nil
}

// reduceMean binds the decoding: the mean over the time axis 0.
func (b *binder) reduceMean(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	axes := n.Ints("axes", nil)
	if len(n.Inputs) > 1 && n.Inputs[1] != "" {
		t, err := b.constant(n.Inputs[1])
		if err != nil {
			return fmt.Errorf("axes must be a constant: %w", err)
		}
		axes = t.Ints()
	}
	if len(axes) != 1 || axes[0] != 0 && int(axes[0]) != -len(x.shape) || len(x.shape) < 2 {
		return fmt.Errorf("only the mean over axis 0 is supported (axes %v, shape %v)", axes, x.shape)
	}
	src := b.asFloat(n, x)
	T, per := x.shape[0], numel(x.shape[1:])
	shape := slices.Clone(x.shape[1:])
	if n.Int("keepdims", 1) != 0 {
		shape = append([]int{1}, shape...)
	}
	out := &tensor{kind: kindFloat, shape: shape, f: make([]float32, per)}
	scale := float32(1 / float64(T))
	b.add(n, func() error {
		clear(out.f)
		for t := range T {
			for j, v := range src.f[t*per:][:per] {
				out.f[j] += v
			}
		}
		for j := range out.f {
			out.f[j] *= scale
		}
		return nil
	})
	b.set(n.Outputs[0], out)
	return nil
}

// addOp binds an Add that is not fused, of two tensors of one shape.
func (b *binder) addOp(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	y, err := b.val(n.Inputs[1])
	if err != nil {
		return err
	}
	if !slices.Equal(x.shape, y.shape) {
		return fmt.Errorf("broadcasting (%v + %v) is not supported", x.shape, y.shape)
	}
	if x.kind == kindRepeat && y.kind == kindRepeat && x.reps == y.reps {
		out := &tensor{kind: kindRepeat, shape: x.shape, reps: x.reps, f: make([]float32, len(x.f))}
		b.add(n, func() error { addTo(out.f, x.f, y.f); return nil })
		b.set(n.Outputs[0], out)
		return nil
	}
	xf, yf := b.asFloat(n, x), b.asFloat(n, y)
	out := &tensor{kind: kindFloat, shape: x.shape, f: make([]float32, numel(x.shape))}
	b.add(n, func() error { addTo(out.f, xf.f, yf.f); return nil })
	b.set(n.Outputs[0], out)
	return nil
}

func addTo(dst, x, y []float32) {
	y = y[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v + y[i]
	}
}

// gemm binds a Gemm or MatMul that is not fused: float weights (the last
// layer), or a bare binary layer on spikes. Float products run on
// ops/kernels.Sgemm as in the float engine: C (times beta) broadcast into
// the output, then alpha*A*B added.
func (b *binder) gemm(n *onnx.Node) error {
	x, err := b.val(n.Inputs[0])
	if err != nil {
		return err
	}
	if n.OpType == "MatMul" && b.e.isBinaryLayer(n) && x.kind == kindSpikes {
		return b.binaryLayer(n, x)
	}
	if len(x.shape) != 2 {
		return fmt.Errorf("input shape %v: only 2-D products are supported", x.shape)
	}
	w, wshape, err := b.constFloats(n.Inputs[1])
	if err != nil {
		return fmt.Errorf("weight: %w", err)
	}
	transB := n.OpType == "Gemm" && n.Int("transB", 0) != 0
	if n.OpType == "Gemm" && n.Int("transA", 0) != 0 {
		return fmt.Errorf("transA is not supported")
	}
	if len(wshape) != 2 {
		return fmt.Errorf("weight shape %v is not 2-D", wshape)
	}
	m, k := x.shape[0], x.shape[1]
	kk, nn := wshape[0], wshape[1]
	if transB {
		kk, nn = nn, kk
	}
	if kk != k {
		return fmt.Errorf("input shape %v does not fit weight shape %v", x.shape, wshape)
	}
	alpha, beta := float32(1), float32(0)
	var bias []float32
	if n.OpType == "Gemm" {
		alpha, beta = n.Float("alpha", 1), n.Float("beta", 1)
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			c, cshape, err := b.constFloats(n.Inputs[2])
			if err != nil {
				return fmt.Errorf("C: %w", err)
			}
			if numel(cshape) != nn && numel(cshape) != 1 {
				return fmt.Errorf("C of shape %v: only a bias per output is supported", cshape)
			}
			bias = c
		}
	}
	ldb := nn
	if transB {
		ldb = k
	}
	b.layer(LayerPlan{Node: n.Label(), Op: n.OpType, Reason: b.floatReason(n, x)})
	src := b.asFloat(n, x)
	out := &tensor{kind: kindFloat, shape: []int{m, nn}, f: make([]float32, m*nn)}
	b.add(n, func() error {
		bb := float32(0)
		if bias != nil {
			for i := range m {
				row := out.f[i*nn:][:nn]
				for j := range row {
					row[j] = beta * bias[j%len(bias)]
				}
			}
			bb = 1
		}
		kernels.Sgemm(false, transB, m, nn, k, alpha, src.f, k, w, ldb, bb, out.f, nn)
		return nil
	})
	b.set(n.Outputs[0], out)
	return nil
}

// floatReason says why the compute layer n runs on float kernels with input
// x: its weights are float, or they are binary but the layer or its input
// cannot be packed.
func (b *binder) floatReason(n *onnx.Node, x *tensor) string {
	if _, ok := b.e.binary[n.Input(1)]; !ok {
		return "float weights"
	}
	if why := b.e.whyNotBinary(n); why != "" {
		return "binary weights, but " + why
	}
	return fmt.Sprintf("binary weights, but the input is %s, not spikes", x.kind)
}
