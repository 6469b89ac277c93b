package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/kernels"
	"github.com/bsnnctl/bsnnctl/ops/spiking"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// BatchNormalization: inference semantics (running statistics) unless
// Options.Training, then batch statistics over N and the spatial axes
// (over T*N for a BSNN's [T*N, C, H, W] activations: tdBN) with the
// running statistics updated as a side effect and registered as builder
// state, so that WriteBack stores them.

// --- BatchNormalization ---

// bnKernel is BatchNormalization's Y: inputs X, scale, B. The running
// statistics are kernel data (not graph inputs, so they never become
// parameters). X is viewed as [n, c, s]: c channels (per-activation
// statistics, opset 7's spatial=0, make every non-batch element a channel)
// of s elements per sample.
type bnKernel struct {
	n, c, s         int
	shape, pshape   []int
	eps, momentum   float32
	training        bool
	runMean, runVar []float32
	// Statistics of the last Forward: batch mean and variance in training,
	// the running ones otherwise; invStd = 1/sqrt(var + eps).
	mean, variance, invStd []float32
	// sums holds, per channel, sum(dY) then sum(dY * xhat) of the last
	// backward pass.
	sums                    []float32
	wantX, wantScale, wantB bool
	task                    bnTask
	// feedsLIF is set when the output's only reader is a LIF that applies
	// the normalization itself (fuseIntoLIF): Forward then leaves out
	// unwritten and keeps the per-channel factors y = x*aff.A + aff.B for
	// the LIF.
	feedsLIF bool
	aff      spiking.Affine
	// rowSums holds, per (sample, channel) row, sum(dY) and
	// sum(dY*(x-mean)) of the backward pass when the fused LIF computed them
	// (sumsReady), so that the dX kernel need not read x and dY for them.
	rowSums   []float32
	sumsReady bool
	// sync is set when the batch statistics are summed over replicas
	// (Options.BatchStatsReducer; normsync.go). It works with the fusion
	// into a LIF: the replicas sum the row sums the LIF left as they would
	// the kernel's own.
	sync *bnSync
}

func (k *bnKernel) Name() string {
	return fmt.Sprintf("BatchNormalization(eps=%g,momentum=%g,training=%v,c=%d)%v", k.eps, k.momentum, k.training, k.c, k.shape)
}
func (k *bnKernel) OutShape() []int { return k.shape }

// count is the number of values per channel (over every replica's batch
// when the statistics are synchronized).
func (k *bnKernel) count() int {
	if k.sync != nil {
		return k.sync.count
	}
	return k.n * k.s
}

func (k *bnKernel) Forward(out []float32, in ...[]float32) error {
	if !k.training {
		for c := range k.invStd {
			k.mean[c] = k.runMean[c]
			k.variance[c] = k.runVar[c]
			// In float32 like PyTorch: 1 / sqrt(var + eps).
			k.invStd[c] = 1 / float32(math.Sqrt(float64(k.runVar[c]+k.eps)))
		}
	}
	switch {
	case k.sync != nil:
		// Statistics of the global batch; a fused kernel leaves out unwritten.
		if err := k.sync.forward(in[0], in[1], in[2], out); err != nil {
			return err
		}
	case k.feedsLIF:
		if k.training {
			k.task.start(bnStats, in[0], in[1], in[2], nil, nil)
		}
	case k.training:
		k.task.start(bnFwdTrain, in[0], in[1], in[2], nil, out)
	default:
		k.task.start(bnFwdInfer, in[0], in[1], in[2], nil, out)
	}
	if k.feedsLIF {
		for c := range k.aff.A {
			k.aff.A[c], k.aff.B[c] = k.factors(c, in[1], in[2])
		}
	}
	return nil
}

// factors returns channel c's y = x*a + b: a = invStd * scale and b = B -
// mean*a, rounded as PyTorch's CPU kernel does (an element near zero then
// falls on the same side of a following ReLU).
func (k *bnKernel) factors(c int, scale, bias []float32) (a, b float32) {
	a = k.invStd[c] * scale[c]
	return a, bias[c] - float32(k.mean[c]*a)
}

func (k *bnKernel) DiffWRT(arity int) []bool {
	return diffFlags(arity, k.wantX, k.wantScale, k.wantB)
}

// Grad adds the gradient kernels. In training mode dX needs the per-channel
// sums of dY and dY*xhat, which are also the gradients of B and scale: the
// dX kernel computes them channel by channel just before using them (the
// channel's data is then still in cache) and keeps them, and the B and
// scale gradients copy them out (they take dX as input to run after it).
// Otherwise (inference mode, or no gradient for X) a reduction kernel
// computes the sums.
func (k *bnKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	gs := make(G.Nodes, len(in))
	var sums *G.Node // the node after which k.sums holds this step's sums
	var err error
	switch {
	case k.wantX && k.training:
		if gs[0], err = Apply(&bnDXKernel{f: k}, in[0], in[1], grad); err != nil {
			return nil, err
		}
		sums = gs[0]
	case k.wantX:
		if gs[0], err = Apply(&bnDXKernel{f: k}, in[1], grad); err != nil {
			return nil, err
		}
	}
	if sums == nil && (k.wantScale || k.wantB) {
		if sums, err = Apply(&bnReduceKernel{f: k}, in[0], grad); err != nil {
			return nil, err
		}
	}
	if k.wantScale {
		if gs[1], err = Apply(&bnPickKernel{f: k, row: 1}, sums); err != nil {
			return nil, err
		}
	}
	if k.wantB {
		if gs[2], err = Apply(&bnPickKernel{f: k, row: 0}, sums); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// bnReduceKernel: inputs X, dY; output [2, c]: row 0 sum(dY), row 1
// sum(dY * xhat) per channel, with the statistics of the last forward
// (the gradients of B and scale), also kept in the forward kernel's sums.
type bnReduceKernel struct {
	f    *bnKernel
	task bnTask
}

func (k *bnReduceKernel) Name() string    { return "sums/" + k.f.Name() }
func (k *bnReduceKernel) OutShape() []int { return []int{2, k.f.c} }
func (k *bnReduceKernel) Forward(out []float32, in ...[]float32) error {
	k.task.f = k.f
	k.task.start(bnReduce, in[0], nil, nil, in[1], out)
	return nil
}

// bnDXKernel: inputs X, scale, dY (training) or scale, dY (inference);
// output dX. In training mode it also leaves the per-channel sums in the
// forward kernel's sums.
type bnDXKernel struct {
	f    *bnKernel
	task bnTask
}

func (k *bnDXKernel) Name() string    { return "dX/" + k.f.Name() }
func (k *bnDXKernel) OutShape() []int { return k.f.shape }
func (k *bnDXKernel) Forward(out []float32, in ...[]float32) error {
	k.task.f = k.f
	if !k.f.training {
		k.task.start(bnDXInfer, nil, in[0], nil, in[1], out)
		return nil
	}
	rows := k.f.sumsReady // this step's row sums are the fused LIF's
	k.f.sumsReady = false
	if k.f.sync != nil {
		return k.f.sync.dx(in[0], in[1], in[2], out, rows)
	}
	mode := bnDXTrain
	if rows {
		mode = bnDXTrainRows
	}
	k.task.start(mode, in[0], in[1], nil, in[2], out)
	return nil
}

// bnPickKernel: input the node after which the forward kernel's sums are
// this step's (dX in training mode, else the reduction); output one row of
// the sums (0: dB, 1: dScale) shaped like the parameter.
type bnPickKernel struct {
	f   *bnKernel
	row int
}

func (k *bnPickKernel) Name() string {
	return fmt.Sprintf("d%s/%s", [2]string{"B", "scale"}[k.row], k.f.Name())
}
func (k *bnPickKernel) OutShape() []int { return k.f.pshape }
func (k *bnPickKernel) Forward(out []float32, in ...[]float32) error {
	copy(out, k.f.sums[k.row*k.f.c:(k.row+1)*k.f.c])
	return nil
}

// bnStatKernel exposes a statistic of a bnKernel as an extra output (the
// running or saved mean and variance outputs). Its input is Y, only to run
// after the forward pass.
type bnStatKernel struct {
	f     *bnKernel
	which string
	src   []float32
}

func (k *bnStatKernel) Name() string    { return k.which + "/" + k.f.Name() }
func (k *bnStatKernel) OutShape() []int { return k.f.pshape }
func (k *bnStatKernel) Forward(out []float32, in ...[]float32) error {
	copy(out, k.src)
	return nil
}

const (
	bnFwdInfer = iota
	bnFwdTrain
	bnStats
	bnDXTrainRows
	bnReduce
	bnDXTrain
	bnDXInfer
)

// bnTask runs one BatchNormalization computation split over channels.
type bnTask struct {
	f                  *bnKernel
	mode               int
	x, scale, bias, dy []float32
	out                []float32
	runner             partRunner
}

func (t *bnTask) start(mode int, x, scale, bias, dy, out []float32) {
	t.startParts(t, mode, x, scale, bias, dy, out)
}

// startParts runs p's parts (t itself, or a task that embeds it) with t's
// mode and buffers set.
func (t *bnTask) startParts(p partTask, mode int, x, scale, bias, dy, out []float32) {
	t.mode, t.x, t.scale, t.bias, t.dy, t.out = mode, x, scale, bias, dy, out
	f := t.f
	t.runner.run(p, partsFor(f.c, f.n*f.c*f.s))
	t.x, t.scale, t.bias, t.dy, t.out = nil, nil, nil, nil, nil
}

func (t *bnTask) runPart(part, parts int) {
	f := t.f
	for c := f.c * part / parts; c < f.c*(part+1)/parts; c++ {
		switch t.mode {
		case bnFwdInfer:
			t.normalize(c)
		case bnFwdTrain:
			t.stats(c)
			t.normalize(c)
		case bnStats:
			t.stats(c)
		case bnReduce:
			t.reduce(c)
			t.out[c], t.out[f.c+c] = f.sums[c], f.sums[f.c+c]
		case bnDXTrain:
			t.reduce(c)
			t.dxTrain(c)
		case bnDXTrainRows:
			t.reduceRows(c)
			t.dxTrain(c)
		case bnDXInfer:
			t.dxInfer(c)
		}
	}
}

// row returns sample n's values of channel c in v.
func (t *bnTask) row(v []float32, n, c int) []float32 {
	f := t.f
	return v[(n*f.c+c)*f.s:][:f.s]
}

// stats computes channel c's batch mean and biased variance, and updates
// the running statistics as ONNX defines them: running =
// momentum*running + (1-momentum)*batch, with the biased batch variance
// (ONNX's reference implementation; PyTorch uses the unbiased one, a
// factor cnt/(cnt-1) that is below 1.0002 for the T*N*H*W elements a tdBN
// channel averages over in practice).
func (t *bnTask) stats(c int) {
	sx, sxx := t.channelSums(c)
	t.setStats(c, sx, sxx, float64(t.f.count()))
}

// channelSums returns sum(x) and sum(x^2) of channel c over the batch in
// one pass. Each row is summed in float32 about its own first value, which
// keeps float32's precision when the mean is far from zero, and the row
// sums are moved to sums about zero and added in float64. A row's sums
// depend on the row alone, and float64 holds the float32 statistics
// whatever the order of the rows: the same batch split over the replicas
// of a data-parallel run (normsync.go) gives the same statistics, in
// practice bit for bit. The variance sxx/cnt - mean^2 then loses about
// log2(1 + mean^2/var) of float64's 53 bits, far below float32's
// precision.
func (t *bnTask) channelSums(c int) (sx, sxx float64) {
	f := t.f
	s := float64(f.s)
	for n := 0; n < f.n; n++ {
		r := t.row(t.x, n, c)
		k := r[0]
		a, b := kernels.SumShifted(r, k)
		kk, aa := float64(k), float64(a)
		sx += aa + s*kk
		sxx += float64(b) + 2*kk*aa + s*kk*kk
	}
	return sx, sxx
}

// setStats sets channel c's batch mean and biased variance from the sums
// of x and x^2 over cnt values, 1/sqrt(var + eps), and updates the running
// statistics.
func (t *bnTask) setStats(c int, sx, sxx, cnt float64) {
	f := t.f
	m := sx / cnt
	v := max(sxx/cnt-m*m, 0)
	f.mean[c] = float32(m)
	f.variance[c] = float32(v)
	f.invStd[c] = 1 / float32(math.Sqrt(float64(float32(v)+f.eps)))
	mom := float64(f.momentum)
	f.runMean[c] = float32(mom*float64(f.runMean[c]) + (1-mom)*m)
	f.runVar[c] = float32(mom*float64(f.runVar[c]) + (1-mom)*v)
}

// normalize writes y = x*a + b for channel c (bnKernel.factors).
func (t *bnTask) normalize(c int) {
	f := t.f
	a, b := f.factors(c, t.scale, t.bias)
	for n := 0; n < f.n; n++ {
		kernels.ScaleAdd(t.row(t.out, n, c), t.row(t.x, n, c), a, b)
	}
}

// reduce computes sum(dy) and sum(dy * xhat) of channel c into f.sums.
func (t *bnTask) reduce(c int) {
	f := t.f
	m := f.mean[c]
	var sdy, sdyx float64
	for n := 0; n < f.n; n++ {
		a, b := kernels.SumDyDx(t.row(t.dy, n, c), t.row(t.x, n, c), m)
		sdy += float64(a)
		sdyx += float64(b)
	}
	t.setSums(c, sdy, sdyx)
}

// reduceRows is reduce from the row sums the fused LIF left (rowSums),
// added in the same order.
func (t *bnTask) reduceRows(c int) {
	f := t.f
	var sdy, sdyx float64
	for n := 0; n < f.n; n++ {
		r := 2 * (n*f.c + c)
		sdy += float64(f.rowSums[r])
		sdyx += float64(f.rowSums[r+1])
	}
	t.setSums(c, sdy, sdyx)
}

// setSums keeps channel c's sum(dy) and sum(dy*(x-mean)) as the sums of dy
// and dy*xhat, and, when the kernel is synchronized, in float64 before
// rounding for the sum over the replicas.
func (t *bnTask) setSums(c int, sdy, sdyx float64) {
	f := t.f
	sdyx *= float64(f.invStd[c])
	f.sums[c], f.sums[f.c+c] = float32(sdy), float32(sdyx)
	if s := f.sync; s != nil {
		s.sums[c], s.sums[f.c+c] = sdy, sdyx
	}
}

// dxTrain writes channel c of the training-mode input gradient
// dx = scale*invStd * (dy - mean(dy) - xhat*mean(dy*xhat)), as
// dx = k*dy + p*x + q.
func (t *bnTask) dxTrain(c int) {
	f := t.f
	cnt := float32(f.count())
	m, is := f.mean[c], f.invStd[c]
	k := t.scale[c] * is
	mdy := f.sums[c] / cnt
	mdyx := f.sums[f.c+c] / cnt * is // per unit of (x - m)
	p := -k * mdyx
	q := k * (mdyx*m - mdy)
	for n := 0; n < f.n; n++ {
		kernels.Affine2(t.row(t.out, n, c), t.row(t.dy, n, c), t.row(t.x, n, c), k, p, q)
	}
}

// dxInfer writes channel c of the inference-mode input gradient
// dx = dy * scale * invStd.
func (t *bnTask) dxInfer(c int) {
	f := t.f
	k := t.scale[c] * f.invStd[c]
	for n := 0; n < f.n; n++ {
		kernels.Scale(t.row(t.out, n, c), t.row(t.dy, n, c), k)
	}
}

// used reports whether a value name is read by a node or is a graph output.
func used(b *Builder, name string) bool {
	if name == "" {
		return false
	}
	if len(b.Graph.Consumers(name)) > 0 {
		return true
	}
	for _, o := range b.Graph.Outputs {
		if o.Name == name {
			return true
		}
	}
	return false
}

func buildBatchNorm(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
	x, scale, bias, mean, vr := in[0], in[1], in[2], in[3], in[4]
	params := make([][]int64, 4)
	for i, v := range in[1:] {
		params[i] = dims64(v.Shape)
	}
	c, err := static.BatchNormalization(n, b.Opset(n), dims64(x.Shape), params)
	if err != nil {
		return nil, err
	}
	N, cp := x.Shape[0], int(c)
	if cp == 0 {
		return nil, fmt.Errorf("input %v has no channel", x.Shape)
	}
	sp := static.Prod(x.Shape[1:]) / cp
	mt, err := needConst(mean, "input_mean")
	if err != nil {
		return nil, err
	}
	vt, err := needConst(vr, "input_var")
	if err != nil {
		return nil, err
	}
	k := &bnKernel{
		n: N, c: cp, s: sp, shape: x.Shape, pshape: scale.Shape,
		eps: n.Float("epsilon", 1e-5), momentum: n.Float("momentum", 0.9),
		training: b.Opts.Training,
		runMean:  append([]float32(nil), mt.Floats()...),
		runVar:   append([]float32(nil), vt.Floats()...),
		mean:     make([]float32, cp), variance: make([]float32, cp), invStd: make([]float32, cp),
		sums: make([]float32, 2*cp),
	}
	k.task.f = k
	if k.training && b.Opts.BatchStatsReducer != nil {
		k.sync = newBNSync(k, b.Opts.BatchStatsReducer)
	}
	if k.training {
		if N*sp < 2 {
			return nil, fmt.Errorf("training-mode batch statistics need more than one value per channel (input %v)", x.Shape)
		}
		b.AddState(mean.Name, k.runMean)
		b.AddState(vr.Name, k.runVar)
	}
	k.wantX, k.wantScale, k.wantB = wantGrad(b, x), wantGrad(b, scale), wantGrad(b, bias)
	y, err := b.Apply(k, x, scale, bias)
	if err != nil {
		return nil, err
	}
	outs := []*Value{y}
	// Optional outputs: running mean and variance (after this step's
	// update), and before opset 14 the saved (batch) mean and variance.
	for i := 1; i < len(n.Outputs); i++ {
		if !used(b, n.Outputs[i]) {
			outs = append(outs, nil)
			continue
		}
		var sk *bnStatKernel
		switch i {
		case 1:
			sk = &bnStatKernel{f: k, which: "running_mean", src: k.runMean}
		case 2:
			sk = &bnStatKernel{f: k, which: "running_var", src: k.runVar}
		case 3, 4:
			if !k.training {
				return nil, fmt.Errorf("output %d (%s) exists only in training mode", i, n.Outputs[i])
			}
			sk = &bnStatKernel{f: k, which: "saved_mean", src: k.mean}
			if i == 4 {
				sk = &bnStatKernel{f: k, which: "saved_var", src: k.variance}
			}
		}
		v, err := b.Apply(sk, y)
		if err != nil {
			return nil, err
		}
		outs = append(outs, v)
	}
	return outs, nil
}

func trainingModeCheck(n *onnx.Node) string {
	if m := n.Int("training_mode", 0); m != 0 && m != 1 {
		return fmt.Sprintf("training_mode %d is invalid (0 or 1)", m)
	}
	return ""
}

func init() {
	eps := AttrSpec{Name: "epsilon", Type: AttrFloat, Default: float32(1e-5)}
	mom := AttrSpec{Name: "momentum", Type: AttrFloat, Default: float32(0.9),
		Doc: "running = momentum*running + (1-momentum)*batch (PyTorch momentum m is 1-m here)"}
	doc := "batch normalization: running statistics, or batch statistics (updating the running ones) when compiled for training"
	Register(&Spec{OpType: "BatchNormalization", Since: 7, Until: 8, MinInputs: 5, MaxInputs: 5, MinOutputs: 1, MaxOutputs: 5,
		Attrs: []AttrSpec{eps, mom, {Name: "spatial", Type: AttrInt, Default: int64(1),
			Doc: "0: per-activation statistics and parameters shaped [C, D1, ...]"}},
		Build: buildBatchNorm, Doc: doc})
	Register(&Spec{OpType: "BatchNormalization", Since: 9, Until: 13, MinInputs: 5, MaxInputs: 5, MinOutputs: 1, MaxOutputs: 5,
		Attrs: []AttrSpec{eps, mom}, Build: buildBatchNorm, Doc: doc})
	Register(&Spec{OpType: "BatchNormalization", Since: 14, MinInputs: 5, MaxInputs: 5, MinOutputs: 1, MaxOutputs: 3,
		Attrs: []AttrSpec{eps, mom, {Name: "training_mode", Type: AttrInt, Default: int64(0), Supported: trainingModeCheck,
			Doc: "accepted; the mode is Options.Training (the engine compiles a model for training or for inference)"}},
		Build: buildBatchNorm, Doc: doc})
}
