package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// The train profile (spec §4, §5): a portable model plus
// ModelProto.training_info[0], whose algorithm graph holds one AGMM node of
// domain bsnn.custom_op.snn shaped like ONNX's ai.onnx.preview.training
// Adam/Momentum ops:
//
//	AGMM(R, T, X_1..X_n, G_1..G_n, S_1,1..S_1,n, [S_2,1..S_2,n]) -> (X_1_new..X_n_new, S_1,1_new.., [S_2,1_new..])
//
// R is the learning rate of the last update (float scalar), T the number of
// updates applied (int64 scalar), X_i the trainable initializers of the main
// graph, G_i their gradients (inputs of the algorithm graph: the toolkit's
// autodiff computes them) and S_k,i the optimizer state tensors, stored as
// algorithm initializers named "<X_i>.agmm_<k>" (sgd with momentum: k=0 the
// velocity; adam/adamw: k=0 the first and k=1 the second moment). The
// attributes hold the hyperparameters. update_binding maps X_i -> X_i_new and
// every state tensor to its new value.
const (
	trainOpType   = "AGMM"
	trainNodeName = "agmm_optimizer_step"
	trainRName    = "agmm.R"
	trainTName    = "agmm.T"
)

// ProfileTrain is the bsnn.profile value of a train-profile file.
const ProfileTrain = "train"

func slotName(x string, k int) string { return fmt.Sprintf("%s.agmm_%d", x, k) }

func attrS(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}
func attrF(name string, v float64) *onnxpb.AttributeProto {
	f := float32(v)
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: &f}
}
func attrI(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INT.Enum(), I: &v}
}
func attrInts(name string, v []int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}
func attrStrings(name string, v []string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

func dims64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

func floatValueInfo(name string, shape []int) *onnxpb.ValueInfoProto {
	sh := make(onnx.Shape, len(shape))
	for i, d := range shape {
		sh[i] = onnx.Dim{Value: int64(d)}
	}
	return onnx.ValueInfoProto(name, onnx.Float, sh)
}

// EncodeTrainState turns m into a train-profile model holding st: it sets
// training_info (replacing any), declares bsnn.custom_op.snn in opset_import
// and sets bsnn.profile to "train". Every tensor of st must be a float
// initializer of m's main graph with st's shape. The parameter values come
// from m's initializers (write them back first).
func EncodeTrainState(m *onnx.Model, st *OptState) error {
	if st == nil {
		return fmt.Errorf("train state: no optimizer state")
	}
	gp := m.Proto.GetGraph()
	if gp == nil {
		return fmt.Errorf("train state: model has no graph")
	}
	inits := map[string]*onnxpb.TensorProto{}
	names := map[string]bool{}
	for _, t := range gp.Initializer {
		inits[t.GetName()] = t
		names[t.GetName()] = true
	}
	for _, in := range gp.Input {
		names[in.GetName()] = true
	}
	for _, n := range gp.Node {
		for _, o := range n.Output {
			names[o] = true
		}
	}
	ns := st.numSlots()
	switch st.Kind {
	case SGD, Adam, AdamW:
	default:
		return fmt.Errorf("train state: unknown optimizer %q", st.Kind)
	}
	alg := &onnxpb.GraphProto{Name: ptr("bsnn_train_step"),
		DocString: ptr("one optimizer step of bsnnctl's trainer: gradients G come from its autodiff; see bsnn-onnx.md §4")}
	r := st.CurLR
	if r == 0 {
		r = st.LR
	}
	alg.Initializer = append(alg.Initializer,
		onnx.FloatTensor(trainRName, nil, []float32{float32(r)}),
		onnx.Int64Tensor(trainTName, nil, []int64{st.Step}))
	var xs, gs, xNew []string
	slotIn := make([][]string, ns)
	slotOut := make([][]string, ns)
	var decay []int64
	var shapes [][]int
	for _, p := range st.Params {
		t, ok := inits[p.Name]
		if !ok {
			return fmt.Errorf("train state: %q is not an initializer of the model", p.Name)
		}
		if onnx.DataType(t.GetDataType()) != onnx.Float {
			return fmt.Errorf("train state: initializer %q is %s, not float", p.Name, onnx.DataType(t.GetDataType()))
		}
		n, _ := onnx.NumElements(t.Dims)
		if int(n) != static.Prod(p.Shape) {
			return fmt.Errorf("train state: %q has %d values in the model, the state has shape %v", p.Name, n, p.Shape)
		}
		if len(p.Slots) != ns {
			return fmt.Errorf("train state: %q has %d state tensors, %s needs %d", p.Name, len(p.Slots), st.Kind, ns)
		}
		shape := make([]int, len(t.Dims))
		for i, d := range t.Dims {
			shape[i] = int(d)
		}
		xs = append(xs, p.Name)
		gs = append(gs, p.Name+".grad")
		xNew = append(xNew, p.Name+".new")
		shapes = append(shapes, shape)
		if p.Decay {
			decay = append(decay, 1)
		} else {
			decay = append(decay, 0)
		}
		for k := 0; k < ns; k++ {
			if len(p.Slots[k]) != int(n) {
				return fmt.Errorf("train state: %q state %d has %d values, want %d", p.Name, k, len(p.Slots[k]), n)
			}
			sn := slotName(p.Name, k)
			slotIn[k] = append(slotIn[k], sn)
			slotOut[k] = append(slotOut[k], sn+".new")
			alg.Initializer = append(alg.Initializer, onnx.FloatTensor(sn, t.Dims, append([]float32(nil), p.Slots[k]...)))
		}
	}
	for _, set := range [][]string{gs, xNew, {trainRName, trainTName}} {
		for _, s := range set {
			if names[s] {
				return fmt.Errorf("train state: name %q is already used in the model", s)
			}
		}
	}
	for k := 0; k < ns; k++ {
		for _, s := range slotIn[k] {
			if names[s] {
				return fmt.Errorf("train state: name %q is already used in the model", s)
			}
		}
	}
	in := append([]string{trainRName, trainTName}, xs...)
	in = append(in, gs...)
	out := append([]string(nil), xNew...)
	for k := 0; k < ns; k++ {
		in = append(in, slotIn[k]...)
		out = append(out, slotOut[k]...)
	}
	alg.Node = []*onnxpb.NodeProto{optimizerNode(st, in, out, decay, ns)}
	for i := range xs {
		alg.Input = append(alg.Input, floatValueInfo(gs[i], shapes[i]))
		alg.Output = append(alg.Output, floatValueInfo(xNew[i], shapes[i]))
	}
	for k := 0; k < ns; k++ {
		for i := range xs {
			alg.Output = append(alg.Output, floatValueInfo(slotOut[k][i], shapes[i]))
		}
	}
	ti := &onnxpb.TrainingInfoProto{Algorithm: alg}
	for i, x := range xs {
		ti.UpdateBinding = append(ti.UpdateBinding, &onnxpb.StringStringEntryProto{Key: ptr(x), Value: ptr(xNew[i])})
	}
	for k := 0; k < ns; k++ {
		for i := range xs {
			ti.UpdateBinding = append(ti.UpdateBinding, &onnxpb.StringStringEntryProto{Key: ptr(slotIn[k][i]), Value: ptr(slotOut[k][i])})
		}
	}
	m.Proto.TrainingInfo = []*onnxpb.TrainingInfoProto{ti}
	if m.Opset(bsnn.DomainSNN) == 0 {
		m.Proto.OpsetImport = append(m.Proto.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: ptr(bsnn.DomainSNN), Version: ptr(int64(1))})
	}
	m.SetMetadata(bsnn.MetaProfile, ProfileTrain)
	return nil
}

// optimizerNode is the AGMM node of the algorithm graph: one optimizer step
// with st's hyperparameters as attributes.
func optimizerNode(st *OptState, in, out []string, decay []int64, ns int) *onnxpb.NodeProto {
	nesterov := int64(0)
	if st.Nesterov {
		nesterov = 1
	}
	decoupled := int64(0)
	if st.Kind == AdamW {
		decoupled = 1
	}
	return &onnxpb.NodeProto{
		Name: ptr(trainNodeName), OpType: ptr(trainOpType), Domain: ptr(bsnn.DomainSNN),
		Input: in, Output: out,
		Attribute: []*onnxpb.AttributeProto{
			attrS("optimizer", st.Kind),
			attrF("lr", st.LR),
			attrF("momentum", st.Momentum),
			attrI("nesterov", nesterov),
			attrF("beta1", st.Beta1),
			attrF("beta2", st.Beta2),
			attrF("epsilon", st.Eps),
			attrF("weight_decay", st.WeightDecay),
			attrI("decoupled_weight_decay", decoupled),
			attrInts("decay_mask", decay),
			attrI("slots", int64(ns)),
			attrStrings("slot_names", slotNames(st.Kind)[:ns]),
			attrI("step", st.Step),
		},
		DocString: ptr("bsnnctl optimizer step: X_new = X - R * update(G, state); hyperparameters as attributes"),
	}
}

// ErrNoTrainState means a model has no training_info written by
// EncodeTrainState.
var ErrNoTrainState = errors.New("the model holds no training state (not a train-profile file)")

// DecodeTrainState reads the optimizer state that EncodeTrainState stored in
// m. It returns ErrNoTrainState when m has none.
func DecodeTrainState(m *onnx.Model) (*OptState, error) {
	if len(m.Proto.TrainingInfo) == 0 || m.Proto.TrainingInfo[0].GetAlgorithm() == nil {
		return nil, ErrNoTrainState
	}
	alg := m.Proto.TrainingInfo[0].GetAlgorithm()
	var node *onnxpb.NodeProto
	for _, n := range alg.Node {
		if n.GetOpType() == trainOpType && n.GetDomain() == bsnn.DomainSNN {
			node = n
			break
		}
	}
	if node == nil {
		return nil, ErrNoTrainState
	}
	fail := func(format string, args ...any) error {
		return &onnx.FormatError{Where: "training_info[0] node " + node.GetName(), Msg: fmt.Sprintf(format, args...)}
	}
	attr := map[string]*onnxpb.AttributeProto{}
	for _, a := range node.Attribute {
		attr[a.GetName()] = a
	}
	getF := func(name string) float64 {
		if a := attr[name]; a != nil {
			return float64(a.GetF())
		}
		return 0
	}
	getI := func(name string) int64 {
		if a := attr[name]; a != nil {
			return a.GetI()
		}
		return 0
	}
	st := &OptState{
		LR: getF("lr"), Momentum: getF("momentum"), Nesterov: getI("nesterov") != 0,
		Beta1: getF("beta1"), Beta2: getF("beta2"), Eps: getF("epsilon"), WeightDecay: getF("weight_decay"),
		Step: getI("step"),
	}
	if a := attr["optimizer"]; a != nil {
		st.Kind = string(a.GetS())
	}
	switch st.Kind {
	case SGD, Adam, AdamW:
	default:
		return nil, fail("unknown optimizer %q", st.Kind)
	}
	ns := int(getI("slots"))
	if ns != st.numSlots() {
		return nil, fail("%d state tensors per parameter, %s (momentum %v) has %d", ns, st.Kind, st.Momentum, st.numSlots())
	}
	if len(node.Input) < 2 || (len(node.Input)-2)%(2+ns) != 0 {
		return nil, fail("%d inputs do not fit (R, T, X..., G..., %d states each)", len(node.Input), ns)
	}
	n := (len(node.Input) - 2) / (2 + ns)
	if len(node.Output) != n*(1+ns) {
		return nil, fail("%d outputs, want %d", len(node.Output), n*(1+ns))
	}
	algInits := map[string]*onnxpb.TensorProto{}
	for _, t := range alg.Initializer {
		algInits[t.GetName()] = t
	}
	if t := algInits[node.Input[0]]; t != nil {
		v, err := m.TensorValue(t)
		if err != nil {
			return nil, fail("learning rate: %v", err)
		}
		if f := v.Floats(); len(f) == 1 {
			st.CurLR = float64(f[0])
		}
	}
	if t := algInits[node.Input[1]]; t != nil {
		v, err := m.TensorValue(t)
		if err != nil {
			return nil, fail("step: %v", err)
		}
		if iv := v.Ints(); len(iv) == 1 && iv[0] != st.Step {
			return nil, fail("step attribute %d and T initializer %d differ", st.Step, iv[0])
		}
	}
	var mask []int64
	if a := attr["decay_mask"]; a != nil {
		mask = a.Ints
	}
	if len(mask) != n {
		return nil, fail("decay_mask has %d entries for %d tensors", len(mask), n)
	}
	for i := 0; i < n; i++ {
		x := node.Input[2+i]
		t, err := m.Initializer(x)
		if err != nil {
			return nil, fail("parameter %q: %v", x, err)
		}
		ps := ParamState{Name: x, Shape: t.Shape(), Decay: mask[i] != 0}
		for k := 0; k < ns; k++ {
			sn := node.Input[2+2*n+k*n+i]
			tp := algInits[sn]
			if tp == nil {
				return nil, fail("state tensor %q is not an initializer of the algorithm graph", sn)
			}
			sv, err := m.TensorValue(tp)
			if err != nil {
				return nil, fail("state tensor %q: %v", sn, err)
			}
			f := sv.Floats()
			if len(f) != t.Len() {
				return nil, fail("state tensor %q has %d values, %q has %d", sn, len(f), x, t.Len())
			}
			ps.Slots = append(ps.Slots, append([]float32(nil), f...))
		}
		st.Params = append(st.Params, ps)
	}
	return st, nil
}

// ---- checkpoint files in RUNDIR ----

// loopState is a checkpoint's JSON sidecar: where the loop stands and what
// it needs to continue exactly.
type loopState struct {
	Version int `json:"version"`
	// Model is the checkpoint's .onnx file (base name) and ModelSHA256 its
	// digest, so a sidecar never pairs with another file.
	Model       string `json:"model"`
	ModelSHA256 string `json:"model_sha256"`

	Epoch         int `json:"epoch"` // 0-based epoch in progress
	Batch         int `json:"batch"` // batches of that epoch done
	GlobalStep    int `json:"global_step"`
	StepsPerEpoch int `json:"steps_per_epoch"`
	// The data order and augmentation are pure functions of (seed, epoch,
	// sample index) (train/data), so the seed is the whole RNG state.
	Seed uint64 `json:"seed"`
	RNG  string `json:"rng"`

	BestAcc   float64 `json:"best_acc"`
	BestEpoch int     `json:"best_epoch"` // 1-based, 0: none yet
	// MetricsLines is how many metrics.jsonl lines belong to the run up to
	// this checkpoint.
	MetricsLines int       `json:"metrics_lines"`
	Acc          *epochAcc `json:"acc"`
	// EpochStartSigns are the sign masks at the start of the epoch (base64,
	// little-endian 64-bit words), per binary latent weight.
	EpochStartSigns map[string]string `json:"epoch_start_signs"`
	Config          Config            `json:"config"`
}

const checkpointPrefix = "ckpt-"

func checkpointBase(step int) string { return fmt.Sprintf("%s%08d", checkpointPrefix, step) }

// writeCheckpoint writes model (train profile) then its sidecar, both
// atomically; a checkpoint exists once its sidecar does.
func writeCheckpoint(dir string, m *onnx.Model, ls *loopState) error {
	b, err := onnx.Marshal(m)
	if err != nil {
		return err
	}
	base := checkpointBase(ls.GlobalStep)
	sum := sha256.Sum256(b)
	ls.Model = base + ".onnx"
	ls.ModelSHA256 = hex.EncodeToString(sum[:])
	if err := onnx.WriteFileAtomic(filepath.Join(dir, base+".onnx"), b); err != nil {
		return err
	}
	js, err := json.MarshalIndent(ls, "", " ")
	if err != nil {
		return err
	}
	return onnx.WriteFileAtomic(filepath.Join(dir, base+".json"), append(js, '\n'))
}

// checkpoints lists the complete checkpoints (sidecar present) of dir,
// oldest first, by global step.
func checkpoints(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, checkpointPrefix) && strings.HasSuffix(n, ".json") {
			out = append(out, strings.TrimSuffix(n, ".json"))
		}
	}
	sort.Strings(out)
	return out, nil
}

// pruneCheckpoints keeps the newest keep checkpoints, removing older ones
// (sidecar first) and model files without a sidecar.
func pruneCheckpoints(dir string, keep int) error {
	cks, err := checkpoints(dir)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for i, c := range cks {
		if i < len(cks)-keep {
			if err := os.Remove(filepath.Join(dir, c+".json")); err != nil && !os.IsNotExist(err) {
				return err
			}
			if err := os.Remove(filepath.Join(dir, c+".onnx")); err != nil && !os.IsNotExist(err) {
				return err
			}
			continue
		}
		live[c] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, checkpointPrefix) && strings.HasSuffix(n, ".onnx") && !live[strings.TrimSuffix(n, ".onnx")] {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

// removeStaleTemps deletes temporary files that a killed run left behind
// (onnx.WriteAtomic names them ".<name>.tmp<random>").
func removeStaleTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp") && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

// loadCheckpoint reads the newest complete checkpoint of dir whose model
// file matches its sidecar; ok is false when there is none.
func loadCheckpoint(dir string) (m *onnx.Model, ls *loopState, ok bool, err error) {
	cks, err := checkpoints(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil, false, nil
		}
		return nil, nil, false, err
	}
	for i := len(cks) - 1; i >= 0; i-- {
		js, err := os.ReadFile(filepath.Join(dir, cks[i]+".json"))
		if err != nil {
			return nil, nil, false, err
		}
		st := &loopState{}
		if err := json.Unmarshal(js, st); err != nil {
			return nil, nil, false, fmt.Errorf("%s: %w", filepath.Join(dir, cks[i]+".json"), err)
		}
		path := filepath.Join(dir, st.Model)
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the model file went missing: try an older checkpoint
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != st.ModelSHA256 {
			return nil, nil, false, fmt.Errorf("%s does not match its sidecar %s.json (sha256)", path, cks[i])
		}
		m, err := onnx.DecodeFile(path)
		if err != nil {
			return nil, nil, false, err
		}
		return m, st, true, nil
	}
	return nil, nil, false, nil
}

// InitialTrainState returns a fresh optimizer state (zero moments, step 0)
// for every trainable tensor of m, with cfg's optimizer kind and
// hyperparameters (Config.Defaults fills the unset ones): what
// `bsnnctl export --profile train` stores for a model that was never
// fine-tuned. The trainable tensors are the float initializers the
// training-mode program makes parameters (weights, biases, BN scale and
// shift, AGMM alpha; not BN running statistics or BipolarQuant scales).
func InitialTrainState(m *onnx.Model, cfg Config) (*OptState, error) {
	cfg = cfg.Defaults()
	switch cfg.Optimizer {
	case SGD, Adam, AdamW:
	default:
		return nil, fmt.Errorf("optimizer %q, want sgd, adam or adamw", cfg.Optimizer)
	}
	ni, err := analyze(m)
	if err != nil {
		return nil, err
	}
	b, err := ops.NewBuilder(m, ni.opsOptions(ops.Options{Training: true}, 2))
	if err != nil {
		return nil, err
	}
	opt := NewOptimizer(cfg, b.Params, func(name string) bool { return ni.Weights[name] })
	st := opt.State()
	st.CurLR = cfg.LR
	return st, nil
}
