package export

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// Options control Export.
type Options struct {
	// PlainForm selects the plain profile's form (default unrolled).
	PlainForm bsnn.PlainForm
	// ProducerVersion is written as producer_version; "" keeps the input's
	// when bsnnctl wrote it, else "dev".
	ProducerVersion string
	// TrainState adds training_info (the optimizer state) for the train
	// profile when the input has none. It receives the portable model and
	// must set ModelProto.training_info (train.EncodeTrainState does). nil:
	// exporting a file without training_info to the train profile is an
	// error.
	TrainState func(m *onnx.Model) error
	// Functions supplies each custom op's FunctionProto; nil takes them from
	// the format (bsnn.Function).
	Functions func(domain, op string) (*onnxpb.FunctionProto, error)
}

// ErrNoTrainState is wrapped by Export's error when the train profile is
// asked for a model without training_info and Options.TrainState is nil.
var ErrNoTrainState = errors.New("the train profile needs the optimizer state (training_info)")

// Export writes a BSNN of any profile (portable, plain, packed or train, as
// bsnnctl writes them, or QONNX-cleaned / FINN-folded forms of them) in
// profile p. The input is not modified. The result is proto-equal whether
// it is computed from the input or from any file Export wrote from it in
// profile p, and the binary weights survive every profile; the latent
// weights only survive portable and train (plain and packed are deployment
// forms that store the ±1 weights alone).
func Export(m *onnx.Model, p bsnn.Profile, opts Options) (*onnx.Model, error) {
	if m == nil || m.Proto.GetGraph() == nil {
		return nil, &onnx.FormatError{Where: "model", Msg: "has no graph"}
	}
	if _, err := bsnn.ParseProfile(string(p)); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	form, err := bsnn.ParsePlainForm(string(opts.PlainForm))
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if p != bsnn.ProfilePlain {
		form = ""
	}
	if opts.Functions == nil {
		opts.Functions = bsnn.Function
	}
	mp, err := loadedCopy(m)
	if err != nil {
		return nil, err
	}
	if err := checkInput(mp); err != nil {
		return nil, err
	}
	trainInfo := mp.TrainingInfo
	mp.TrainingInfo = nil

	// Lift to the canonical portable form.
	info, err := recognize(mp)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if len(info.Layers) == 0 && len(info.Neurons) == 0 {
		return nil, &onnx.UnsupportedError{Items: []onnx.Unsupported{{OpType: "model",
			Reason: "not a BSNN: no binary layer and no LIF neuron found (convert a float network with `bsnnctl import`)"}}}
	}
	if err := lift(mp, info); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	canon, err := recognize(mp)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := finish(mp, canon, bsnn.ProfilePortable, "", opts); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if canon, err = recognize(mp); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}

	switch p {
	case bsnn.ProfilePlain:
		if err := lowerPlain(mp, canon, form); err != nil {
			return nil, fmt.Errorf("export: plain profile: %w", err)
		}
	case bsnn.ProfilePacked:
		if err := lowerPacked(mp, canon); err != nil {
			return nil, fmt.Errorf("export: packed profile: %w", err)
		}
	case bsnn.ProfileTrain:
		if len(trainInfo) > 0 {
			mp.TrainingInfo = trainInfo
		} else if opts.TrainState != nil {
			if err := opts.TrainState(&onnx.Model{Proto: mp}); err != nil {
				return nil, fmt.Errorf("export: train profile: %w", err)
			}
			if len(mp.TrainingInfo) == 0 {
				return nil, fmt.Errorf("export: train profile: Options.TrainState wrote no training_info")
			}
		} else {
			return nil, fmt.Errorf("export: %w: the input has none (export a train-profile file, e.g. finetune's final.onnx)", ErrNoTrainState)
		}
		if err := checkTrainingInfo(mp); err != nil {
			return nil, fmt.Errorf("export: train profile: %w", err)
		}
	}
	if err := finish(mp, canon, p, form, opts); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	out := &onnx.Model{Proto: mp, Dir: m.Dir}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("export: internal error: the %s model is malformed: %w", p, err)
	}
	return out, nil
}

// loadedCopy clones the model with external data read into the tensors.
func loadedCopy(m *onnx.Model) (*onnxpb.ModelProto, error) {
	mp := proto.Clone(m.Proto).(*onnxpb.ModelProto)
	for i, t := range mp.Graph.Initializer {
		if t.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			continue
		}
		v, err := m.TensorValue(t)
		if err != nil {
			return nil, fmt.Errorf("export: initializer %q: %w", t.GetName(), err)
		}
		mp.Graph.Initializer[i] = v.Proto()
	}
	return mp, nil
}

// checkInput rejects what Export cannot carry over: other ai.onnx opsets
// than 13..17 (our files are 17; converting opsets is `bsnnctl import`'s
// job), sparse initializers and nodes of unknown custom domains.
func checkInput(mp *onnxpb.ModelProto) error {
	m := &onnx.Model{Proto: mp}
	var items []onnx.Unsupported
	if v := m.Opset(""); v < 13 || v > bsnn.TargetOpset {
		items = append(items, onnx.Unsupported{OpType: "ai.onnx opset", Version: v,
			Reason: fmt.Sprintf("export writes opset %d and carries over opsets 13..%d; convert other files with `bsnnctl import`", bsnn.TargetOpset, bsnn.TargetOpset)})
	}
	if len(mp.Graph.SparseInitializer) > 0 {
		items = append(items, onnx.Unsupported{OpType: "sparse initializer", Reason: mp.Graph.SparseInitializer[0].GetValues().GetName()})
	}
	for _, n := range mp.Graph.Node {
		d := n.GetDomain()
		switch {
		case isONNXDomain(d), d == "ai.onnx.ml", d == bsnn.DomainSNN:
		case bsnn.IsBipolarDomain(d) && n.GetOpType() == "BipolarQuant":
		default:
			items = append(items, onnx.Unsupported{Node: n.GetName(), OpType: n.GetOpType(), Domain: d,
				Reason: "custom op outside bsnnctl's domains (qonnx.custom_op.general::BipolarQuant, bsnn.custom_op.snn)"})
		}
		if d == bsnn.DomainSNN {
			switch n.GetOpType() {
			case "LIF", "LIFStep", "AGMMGate":
			default:
				items = append(items, onnx.Unsupported{Node: n.GetName(), OpType: n.GetOpType(), Domain: d, Reason: "unknown op of bsnn.custom_op.snn"})
			}
		}
	}
	if len(items) > 0 {
		return &onnx.UnsupportedError{Items: items}
	}
	return nil
}

// checkTrainingInfo checks that the optimizer state binds initializers the
// exported graph has.
func checkTrainingInfo(mp *onnxpb.ModelProto) error {
	inits := map[string]bool{}
	for _, t := range mp.Graph.Initializer {
		inits[t.GetName()] = true
	}
	for _, ti := range mp.TrainingInfo {
		algInits := map[string]bool{}
		if ti.Algorithm != nil {
			for _, t := range ti.Algorithm.Initializer {
				algInits[t.GetName()] = true
			}
		}
		for _, b := range ti.UpdateBinding {
			if !inits[b.GetKey()] && !algInits[b.GetKey()] {
				return fmt.Errorf("training_info updates %q, which is not an initializer of the model", b.GetKey())
			}
		}
	}
	return nil
}
