package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strings"

	"github.com/bsnnctl/bsnnctl/internal/ort"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
	"github.com/bsnnctl/bsnnctl/ops/crosscheck"
)

// importVerification is what the pre-conversion check found.
type importVerification struct {
	Ran        bool  `json:"ran"`
	ProbeShape []int `json:"probe_shape,omitempty"`
	// OnnxGo and Onnxruntime say how each reference fared: "agree",
	// "disagree", "disagree: NaN or Inf in an output", "unsupported: ..."
	// (onnx-go cannot run the network), "unavailable: ..." (no onnxruntime
	// library, or a build without cgo) or "failed: ..." (onnxruntime
	// rejected the network). onnxruntime is tried only when onnx-go cannot
	// run the network.
	OnnxGo      string `json:"onnx_go"`
	Onnxruntime string `json:"onnxruntime,omitempty"`
	// CrossChecked is true when our engine's outputs were compared with a
	// reference (Reference names it); false means the network was not
	// cross-checked.
	CrossChecked bool    `json:"cross_checked"`
	Reference    string  `json:"reference,omitempty"`
	MaxRelDiff   float64 `json:"max_rel_diff,omitempty"`
}

// verifyTolerance is the relative agreement required between our engine
// and the reference on the probe input.
const verifyTolerance = 1e-4

// checkORT compares our engine with onnxruntime (tests replace it to
// simulate a machine without onnxruntime).
var checkORT = (*crosscheck.Ours).ORT

// decodeSource decodes the network in path and returns it with the
// file's sha256 (hex).
func decodeSource(path string) (*onnx.Model, string, error) {
	h := sha256.New()
	m, err := onnx.DecodeFileHashed(path, h)
	if err != nil {
		return nil, "", err
	}
	return m, hex.EncodeToString(h.Sum(nil)), nil
}

// A verification checks the source network before the BSNN made from it
// keeps its name: our engine runs it on a seeded random probe beside onnx-go
// (startVerification), whose run goes on while the BSNN is made and
// written; onnxruntime runs it when onnx-go cannot (finish, once the BSNN
// is written).
type verification struct {
	v    importVerification
	ours *crosscheck.Ours
}

// startVerification runs m in our engine and starts onnx-go's run. It fails
// when our engine cannot run the network.
func startVerification(m *onnx.Model) (*verification, error) {
	probe, err := probeInput(m)
	if err != nil {
		return nil, err
	}
	ours, err := crosscheck.RunBesideOnnxGo(m, probe)
	if err != nil {
		return nil, fmt.Errorf("our engine cannot run the source network: %w", err)
	}
	vf := &verification{ours: ours}
	vf.v.Ran, vf.v.ProbeShape = true, probe.Shape()
	return vf, nil
}

// stop ends onnx-go's run when the import fails before finish.
func (vf *verification) stop() { vf.ours.Close() }

// finish waits for onnx-go's verdict and, when onnx-go could not run the
// network, runs onnxruntime on the file at path; the file must still have
// the sha256 sum the network was decoded with. onnxruntime reads the file
// itself and allocates outside Go's heap: the caller drops its models
// first, and Go's free memory is handed back to the system. With no
// reference available the network is reported as not cross-checked.
func (vf *verification) finish(path, sum string) (importVerification, error) {
	v := vf.v
	r := vf.ours.OnnxGo()
	v.OnnxGo = outcome(r)
	if r.Compared() {
		return verdict(v, r)
	}
	debug.FreeOSMemory()
	r = checkORT(vf.ours, path)
	v.Onnxruntime = outcome(r)
	if now, err := fileSHA256(path); err != nil || now != sum {
		return v, errors.New("the file changed while it was being imported")
	}
	if !r.Compared() {
		return v, nil
	}
	return verdict(v, r)
}

// verdict records a reference's comparison in v and fails when it
// disagrees with our engine (a NaN or Inf on either side is a
// disagreement).
func verdict(v importVerification, r *crosscheck.Report) (importVerification, error) {
	v.CrossChecked, v.Reference, v.MaxRelDiff = true, r.Reference, r.MaxRelDiff
	switch {
	case r.NonFinite:
		v.MaxRelDiff = 0 // +Inf has no JSON form; the outcome says it
		return v, fmt.Errorf("our engine and %s disagree on this network: an output holds NaN or Inf on the probe input: refusing to convert", r.Reference)
	case !r.Agrees(verifyTolerance):
		return v, fmt.Errorf("our engine and %s disagree on this network (max relative difference %.3g > %g): refusing to convert; please report it with the model", r.Reference, r.MaxRelDiff, verifyTolerance)
	}
	return v, nil
}

// fileSHA256 hashes the file at path (hex), reading it in pieces.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// outcome describes how a reference fared (importVerification's fields).
func outcome(r *crosscheck.Report) string {
	switch {
	case r.ReferenceErr != nil:
		msg := r.ReferenceErr.Error()
		if i := strings.Index(msg, "\n"); i >= 0 {
			msg = msg[:i]
		}
		switch {
		case r.Reference == crosscheck.OnnxGo:
			return "unsupported: " + msg
		case errors.Is(r.ReferenceErr, ort.ErrUnavailable):
			return "unavailable: " + msg
		}
		return "failed: " + msg
	case r.NonFinite:
		return "disagree: NaN or Inf in an output"
	case !r.Agrees(verifyTolerance):
		return "disagree"
	}
	return "agree"
}

// probeInput is a seeded random input for the network's one graph input,
// with batch 2 for a symbolic batch dimension.
func probeInput(m *onnx.Model) (*onnx.Tensor, error) {
	if err := ops.CheckModel(m); err != nil {
		return nil, err
	}
	g, err := m.Graph()
	if err != nil {
		return nil, err
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("the network has %d inputs; import handles networks with one input", len(g.Inputs))
	}
	in := g.Inputs[0]
	dims := make([]int64, len(in.Shape))
	for i, d := range in.Shape {
		switch {
		case d.Known():
			dims[i] = d.Value
		case i == 0:
			dims[i] = 2
		default:
			return nil, fmt.Errorf("input %q dimension %d (%s) is not fixed", in.Name, i, d)
		}
	}
	n, err := onnx.NumElements(dims)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", in.Name, err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	probe := &onnx.Tensor{Type: onnx.Float, Dims: dims, Float32: make([]float32, n)}
	for i := range probe.Float32 {
		probe.Float32[i] = float32(rng.NormFloat64())
	}
	return probe, nil
}
