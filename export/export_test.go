package export

import (
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/interop"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
)

// TestRoundTripEveryProfile: exporting to profile P, reading the file back
// and exporting to P again gives a proto-equal model, for every profile and
// from every profile as the input.
func TestRoundTripEveryProfile(t *testing.T) {
	for _, name := range testFixtures {
		f := loadBSNN(t, name)
		dir := t.TempDir()
		files := map[string]*onnx.Model{}
		before := f.model.Clone()
		// A converted model is already canonical portable: exporting it
		// to portable changes nothing.
		if out := exportOK(t, f.model, variant{bsnn.ProfilePortable, ""}); !onnx.Equal(out, f.model) {
			t.Errorf("%s: the portable export of the converted model differs from it%s", name, firstDiff(f.model, out))
		}
		for _, v := range variants {
			out := exportOK(t, f.model, v)
			path := writeModel(t, dir, v.String()+".onnx", out)
			back, err := onnx.DecodeFile(path)
			if err != nil {
				t.Fatalf("%s %s: reading the file back: %v", name, v, err)
			}
			again := exportOK(t, back, v)
			if !onnx.Equal(out, again) {
				t.Errorf("%s %s: export -> read -> export is not proto-equal%s", name, v, firstDiff(out, again))
			}
			files[v.String()] = back
		}
		// From any profile to any profile, the same binary weights and the
		// same deployment files.
		for _, from := range variants {
			for _, to := range variants {
				if to.profile == bsnn.ProfileTrain && from.profile != bsnn.ProfileTrain {
					continue // training_info comes from Options.TrainState then: checked above
				}
				out := exportOK(t, files[from.String()], to)
				want := exportOK(t, files[to.String()], to)
				if to.profile != bsnn.ProfilePortable && to.profile != bsnn.ProfileTrain || (from.profile == bsnn.ProfilePortable || from.profile == bsnn.ProfileTrain) {
					if !onnx.Equal(out, want) {
						t.Errorf("%s: %s -> %s differs from the direct %s export%s", name, from, to, to, firstDiff(want, out))
					}
				}
				sameBinaryWeights(t, name+" "+from.String()+"->"+to.String(), f.model, out)
			}
		}
		if !onnx.Equal(before, f.model) {
			t.Errorf("%s: Export modified its input", name)
		}
	}
}

// firstDiff names the first differing part of two models.
func firstDiff(a, b *onnx.Model) string {
	pa, pb := a.Proto, b.Proto
	switch {
	case !proto.Equal(pa.Graph.Node[0], pb.Graph.Node[0]) || len(pa.Graph.Node) != len(pb.Graph.Node):
		for i := range min(len(pa.Graph.Node), len(pb.Graph.Node)) {
			if !proto.Equal(pa.Graph.Node[i], pb.Graph.Node[i]) {
				return ": node " + pa.Graph.Node[i].String() + " vs " + pb.Graph.Node[i].String()
			}
		}
		return ": node counts differ"
	case len(pa.Graph.Initializer) != len(pb.Graph.Initializer):
		return ": initializer counts differ"
	}
	for i := range pa.Graph.Initializer {
		if !proto.Equal(pa.Graph.Initializer[i], pb.Graph.Initializer[i]) {
			return ": initializer " + pa.Graph.Initializer[i].GetName() + " vs " + pb.Graph.Initializer[i].GetName()
		}
	}
	for i := range min(len(pa.Graph.Node), len(pb.Graph.Node)) {
		if !proto.Equal(pa.Graph.Node[i], pb.Graph.Node[i]) {
			return ": node " + pa.Graph.Node[i].GetName()
		}
	}
	if !proto.Equal(pa.Graph, pb.Graph) {
		return ": graph (value_info, annotations or io)"
	}
	for i := range min(len(pa.MetadataProps), len(pb.MetadataProps)) {
		if !proto.Equal(pa.MetadataProps[i], pb.MetadataProps[i]) {
			return ": metadata " + pa.MetadataProps[i].GetKey() + "=" + pa.MetadataProps[i].GetValue() + " vs " + pb.MetadataProps[i].GetValue()
		}
	}
	return ": header, functions or training_info"
}

// sameBinaryWeights checks that out's binary layers hold the reference
// model's binary weights (sign of the latent weights, sign(0) = +1).
func sameBinaryWeights(t *testing.T, what string, ref, out *onnx.Model) {
	t.Helper()
	ri, err := Recognize(ref)
	if err != nil {
		t.Fatal(err)
	}
	oi, err := Recognize(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(oi.Layers) != len(ri.Layers) || len(ri.Layers) == 0 {
		t.Fatalf("%s: %d binary layers, the reference has %d", what, len(oi.Layers), len(ri.Layers))
	}
	for i, rl := range ri.Layers {
		ol := oi.Layers[i]
		if ol.Name != rl.Name || ol.Weight != rl.Weight || !slices.Equal(ol.Dims, rl.Dims) {
			t.Errorf("%s: layer %d is %s (%s %v), want %s (%s %v)", what, i, ol.Name, ol.Weight, ol.Dims, rl.Name, rl.Weight, rl.Dims)
			continue
		}
		lat, err := ref.Initializer(rl.Latent)
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range lat.Floats() {
			want := float32(1)
			if v < 0 {
				want = -1
			}
			if ol.Values[j] != want {
				t.Errorf("%s: layer %s weight %d is %g, sign of the latent %g is %g", what, rl.Name, j, ol.Values[j], v, want)
				break
			}
		}
	}
}

// TestPortablePackedPortable: the binary weights come back; the latent
// weights are gone (the packed file stores signs only).
func TestPortablePackedPortable(t *testing.T) {
	for _, name := range testFixtures {
		f := loadBSNN(t, name)
		packed := exportOK(t, f.model, variant{bsnn.ProfilePacked, ""})
		back := exportOK(t, packed, variant{bsnn.ProfilePortable, ""})
		sameBinaryWeights(t, name, f.model, back)
		info, err := Recognize(back)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range info.Layers {
			if l.Source != SourceBipolarQuant || !l.UnitScale {
				t.Errorf("%s: layer %s read back as %s (unit scale %v), want a BipolarQuant with scale 1", name, l.Name, l.Source, l.UnitScale)
			}
			lat, err := back.Initializer(l.Latent)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range lat.Floats() {
				if v != 1 && v != -1 {
					t.Fatalf("%s: latent %s holds %g after a packed round trip, want ±1", name, l.Latent, v)
				}
			}
		}
		// And the portable file is otherwise the original: same graph
		// structure, functions, metadata but bsnn.layers' weights.
		if len(back.Proto.Graph.Node) != len(f.model.Proto.Graph.Node) {
			t.Errorf("%s: %d nodes after portable -> packed -> portable, want %d", name, len(back.Proto.Graph.Node), len(f.model.Proto.Graph.Node))
		}
		for i, n := range f.model.Proto.Graph.Node {
			if i < len(back.Proto.Graph.Node) && !proto.Equal(n, back.Proto.Graph.Node[i]) {
				t.Errorf("%s: node %d is %s, want %s", name, i, back.Proto.Graph.Node[i].GetName(), n.GetName())
				break
			}
		}
	}
}

// TestPackedRatio: 1 bit per binary weight as UINT8; the binary layers'
// packed bytes are at most 1/25 of their float32 bytes, in the report and
// in the file's tensors.
func TestPackedRatio(t *testing.T) {
	for _, name := range testFixtures {
		f := loadBSNN(t, name)
		packed := exportOK(t, f.model, variant{bsnn.ProfilePacked, ""})
		r, err := Describe(packed)
		if err != nil {
			t.Fatal(err)
		}
		if !r.StoredPacked || r.Profile != bsnn.ProfilePacked {
			t.Fatalf("%s: report says profile %s, stored packed %v", name, r.Profile, r.StoredPacked)
		}
		if r.PackedRatio > 1.0/25 || r.PackedRatio <= 0 {
			t.Errorf("%s: packed ratio %.5f, want <= 1/25", name, r.PackedRatio)
		}
		var bytes, floats int64
		info, _ := Recognize(packed)
		for _, l := range info.Layers {
			tv, err := packed.Initializer(l.Packed)
			if err != nil {
				t.Fatal(err)
			}
			if tv.Type != onnx.Uint8 {
				t.Errorf("%s: %s is %s, want uint8", name, l.Packed, tv.Type)
			}
			bytes += int64(tv.Len())
			floats += 4 * int64(len(l.Values))
		}
		if got := float64(bytes) / float64(floats); got > 1.0/25 || math.Abs(got-r.PackedRatio) > 1e-12 {
			t.Errorf("%s: the file's packed tensors take %d bytes for %d float32 bytes (%.5f), report %.5f", name, bytes, floats, got, r.PackedRatio)
		}
		if r.BinaryParams != f.res.Report.Size.Params1Bit {
			t.Errorf("%s: %d binary weights, the converter counted %d", name, r.BinaryParams, f.res.Report.Size.Params1Bit)
		}
		port := exportOK(t, f.model, variant{bsnn.ProfilePortable, ""})
		pb, _ := onnx.Marshal(port)
		kb, _ := onnx.Marshal(packed)
		if int64(len(pb)-len(kb)) < 4*r.BinaryParams-r.BinaryBytesPacked-int64(len(kb)) {
			t.Errorf("%s: packed file %d bytes vs portable %d: the binary weights did not shrink", name, len(kb), len(pb))
		}
		t.Logf("%s: portable %d bytes, packed %d bytes, packed ratio 1/%.1f", name, len(pb), len(kb), 1/r.PackedRatio)
	}
}

// TestQONNXConventions checks what QONNX/FINN rely on in every profile.
func TestQONNXConventions(t *testing.T) {
	for _, name := range testFixtures {
		f := loadBSNN(t, name)
		for _, v := range variants {
			m := exportOK(t, f.model, v)
			what := name + " " + v.String()
			mp := m.Proto
			if mp.GetIrVersion() != 8 {
				t.Errorf("%s: ir_version %d", what, mp.GetIrVersion())
			}
			if d := mp.OpsetImport[0]; d.GetDomain() != "" || d.GetVersion() != 17 {
				t.Errorf("%s: first opset_import is %q %d, want \"\" 17", what, d.GetDomain(), d.GetVersion())
			}
			declared := m.Opsets()
			used := map[string]bool{}
			ix := newIndex(mp.Graph)
			for _, n := range mp.Graph.Node {
				d := n.GetDomain()
				used[d] = true
				if n.GetOpType() == "BipolarQuant" && d != bsnn.DomainQONNX {
					t.Errorf("%s: BipolarQuant %q in domain %q", what, n.GetName(), d)
				}
				if d == bsnn.DomainQONNX && n.GetOpType() != "BipolarQuant" {
					t.Errorf("%s: our op %s in QONNX's domain", what, n.GetOpType())
				}
				if d != "" && n.GetOpType() != "BipolarQuant" && constantOnly(ix, n, map[string]bool{}) {
					t.Errorf("%s: custom node %q (%s) on a constant-only path", what, n.GetName(), n.GetOpType())
				}
			}
			for _, ti := range mp.TrainingInfo {
				for _, n := range ti.Algorithm.Node {
					used[n.GetDomain()] = true
				}
			}
			for d := range declared {
				if !used[d] {
					t.Errorf("%s: opset_import declares unused domain %q", what, d)
				}
			}
			for d := range used {
				if _, ok := declared[d]; !ok {
					t.Errorf("%s: domain %q used but not declared", what, d)
				}
			}
			custom := declared[bsnn.DomainQONNX] != 0 || declared[bsnn.DomainSNN] != 0
			if v.profile == bsnn.ProfilePlain && custom {
				t.Errorf("%s: the plain profile declares custom domains %v", what, declared)
			}
			for _, fn := range mp.Functions {
				if !used[fn.GetDomain()] {
					t.Errorf("%s: function %s::%s for an unused domain", what, fn.GetDomain(), fn.GetName())
				}
			}
			funcs := map[string]bool{}
			for _, fn := range mp.Functions {
				funcs[fn.GetDomain()+"::"+fn.GetName()] = true
			}
			vi := map[string]bool{}
			for _, x := range mp.Graph.ValueInfo {
				vi[x.GetName()] = true
			}
			for _, n := range mp.Graph.Node {
				if n.GetDomain() == "" {
					continue
				}
				if !funcs[n.GetDomain()+"::"+n.GetOpType()] {
					t.Errorf("%s: custom node %s::%s without a function", what, n.GetDomain(), n.GetOpType())
				}
				for _, o := range n.Output {
					if o != "" && !vi[o] {
						t.Errorf("%s: custom output %q has no value_info", what, o)
					}
				}
			}
			ann := m.Annotations()
			bipolar := 0
			for tensor, kv := range ann {
				if dt, ok := kv[bsnn.AnnotationDatatype]; ok && dt != bsnn.DatatypeBipolar && dt != bsnn.DatatypeBinary {
					t.Errorf("%s: %s annotated %q", what, tensor, dt)
				}
				if kv[bsnn.AnnotationDatatype] == bsnn.DatatypeBipolar {
					bipolar++
				}
			}
			info, err := Recognize(m)
			if err != nil {
				t.Fatal(err)
			}
			if bipolar != len(info.Layers) {
				t.Errorf("%s: %d BIPOLAR annotations for %d binary layers", what, bipolar, len(info.Layers))
			}
			for _, n := range info.Neurons {
				if ann[n.Spikes][bsnn.AnnotationDatatype] != bsnn.DatatypeBinary {
					t.Errorf("%s: spikes %s not annotated BINARY", what, n.Spikes)
				}
			}
			// bsnn.* metadata present, profile set, layers listed.
			meta := m.Metadata()
			for _, k := range []string{bsnn.MetaFormatVersion, bsnn.MetaProfile, bsnn.MetaTimeSteps, bsnn.MetaTimeAxis,
				bsnn.MetaInputEncoding, bsnn.MetaOutputDecoding, bsnn.MetaSignZero, bsnn.MetaSpikeCondition,
				bsnn.MetaLayers, bsnn.MetaNeurons, bsnn.MetaAGMM, bsnn.MetaSourceModel, bsnn.MetaSizeReport} {
				if _, ok := meta[k]; !ok {
					t.Errorf("%s: metadata %s missing", what, k)
				}
			}
			if meta[bsnn.MetaProfile] != string(v.profile) {
				t.Errorf("%s: bsnn.profile = %q", what, meta[bsnn.MetaProfile])
			}
			if got := bsnn.BinaryLayers(m); strings.Join(got, ",") != strings.Join(layerNames(info), ",") {
				t.Errorf("%s: onnx.BinaryLayers (bsnn.layers) = %v, recognised %v", what, got, layerNames(info))
			}
			if v.profile == bsnn.ProfilePlain && meta[bsnn.MetaPlainForm] != string(v.form) {
				t.Errorf("%s: bsnn.plain_form = %q", what, meta[bsnn.MetaPlainForm])
			}
			if (v.profile == bsnn.ProfileTrain) != (len(mp.TrainingInfo) > 0) {
				t.Errorf("%s: %d training_info entries", what, len(mp.TrainingInfo))
			}
		}
	}
}

func layerNames(info *Info) []string {
	var out []string
	for _, l := range info.Layers {
		out = append(out, l.Name)
	}
	return out
}

// constantOnly reports whether every input of n comes from initializers
// through constant-only nodes.
func constantOnly(ix *index, n *onnxpb.NodeProto, seen map[string]bool) bool {
	for _, in := range n.Input {
		if in == "" {
			continue
		}
		if _, ok := ix.inits[in]; ok {
			continue
		}
		p := ix.producer[in]
		if p == nil {
			return false // a graph input
		}
		if seen[p.GetName()] {
			continue
		}
		seen[p.GetName()] = true
		if !constantOnly(ix, p, seen) {
			return false
		}
	}
	return true
}

// TestRecognizeQONNXCleaned: a file whose node and tensor names QONNX's
// cleanup rewrote (the bsnn.* JSON no longer resolves) and whose
// annotations survive is still read: binary layers by their BIPOLAR
// initializers, neurons and gates by pattern; exporting it again runs like
// the original.
func TestRecognizeQONNXCleaned(t *testing.T) {
	f := loadBSNN(t, "lenet_op13_keepbn_static")
	for _, v := range []variant{{bsnn.ProfilePlain, bsnn.PlainUnrolled}, {bsnn.ProfilePortable, ""}, {bsnn.ProfilePacked, ""}} {
		m := exportOK(t, f.model, v)
		renamed := &onnx.Model{Proto: qonnxCleanup(m.Proto)}
		info, err := Recognize(renamed)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := Recognize(m)
		if len(info.Layers) != len(orig.Layers) || len(info.Neurons) != len(orig.Neurons) || len(info.Gates) != len(orig.Gates) {
			t.Fatalf("%s renamed: %d layers, %d neurons, %d gates; want %d, %d, %d", v, len(info.Layers), len(info.Neurons),
				len(info.Gates), len(orig.Layers), len(orig.Neurons), len(orig.Gates))
		}
		for i, l := range info.Layers {
			if maxDiff(l.Values, orig.Layers[i].Values) != 0 {
				t.Errorf("%s renamed: layer %d weights differ", v, i)
			}
		}
		for i, n := range info.Neurons {
			if n.Params != orig.Neurons[i].Params {
				t.Errorf("%s renamed: neuron %d params %+v, want %+v", v, i, n.Params, orig.Neurons[i].Params)
			}
		}
		for _, to := range []variant{{bsnn.ProfilePortable, ""}, {bsnn.ProfilePlain, bsnn.PlainUnrolled}} {
			out := exportOK(t, renamed, to)
			again := exportOK(t, out, to)
			if !onnx.Equal(out, again) {
				t.Errorf("%s renamed -> %s is not stable%s", v, to, firstDiff(out, again))
			}
			oi, _ := Recognize(out)
			if len(oi.Layers) != len(orig.Layers) {
				t.Errorf("%s renamed -> %s: %d binary layers", v, to, len(oi.Layers))
			}
		}
	}
}

// TestErrors: what Export refuses, with typed errors.
func TestErrors(t *testing.T) {
	f := loadBSNN(t, "lenet_op13_keepbn_static")
	if _, err := Export(f.model, "deploy", Options{}); err == nil || !strings.Contains(err.Error(), "unknown profile") {
		t.Errorf("unknown profile: %v", err)
	}
	if _, err := Export(f.model, bsnn.ProfilePlain, Options{PlainForm: "rolled"}); err == nil || !strings.Contains(err.Error(), "unknown plain form") {
		t.Errorf("unknown plain form: %v", err)
	}
	if _, err := Export(f.model, bsnn.ProfileTrain, Options{}); !errors.Is(err, ErrNoTrainState) {
		t.Errorf("train without state: %v, want ErrNoTrainState", err)
	}
	// A non-unit scale: portable keeps it, plain and packed refuse.
	c := f.model.Clone()
	info, _ := Recognize(c)
	for _, tp := range c.Proto.Graph.Initializer {
		if tp.GetName() == info.Layers[0].Scale {
			proto.Reset(tp)
			proto.Merge(tp, onnx.FloatTensor(info.Layers[0].Scale, nil, []float32{0.5}))
		}
	}
	if _, err := Export(c, bsnn.ProfilePortable, Options{}); err != nil {
		t.Errorf("portable with scale 0.5: %v", err)
	}
	for _, p := range []bsnn.Profile{bsnn.ProfilePlain, bsnn.ProfilePacked} {
		_, err := Export(c, p, Options{})
		var ue *onnx.UnsupportedError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), info.Layers[0].Name) {
			t.Errorf("%s with scale 0.5: %v, want an UnsupportedError naming %s", p, err, info.Layers[0].Name)
		}
	}
	// An unknown custom op.
	c = f.model.Clone()
	c.Proto.Graph.Node[1].Domain = proto.String("com.example")
	var ue *onnx.UnsupportedError
	if _, err := Export(c, bsnn.ProfilePortable, Options{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "com.example") {
		t.Errorf("unknown domain: %v", err)
	}
	// An annotation that lies.
	pl := exportOK(t, f.model, variant{bsnn.ProfilePlain, bsnn.PlainUnrolled})
	for _, tp := range pl.Proto.Graph.Initializer {
		if tp.GetName() == info.Layers[0].Weight {
			tv, _ := onnx.TensorFromProto(tp)
			vals := append([]float32(nil), tv.Floats()...)
			vals[0] = 0.25
			proto.Reset(tp)
			proto.Merge(tp, onnx.FloatTensor(info.Layers[0].Weight, tv.Dims, vals))
		}
	}
	if _, err := Recognize(pl); err == nil || !strings.Contains(err.Error(), "BIPOLAR") {
		t.Errorf("BIPOLAR annotation on a non-±1 tensor: %v", err)
	}
}

// TestCheckerAcceptsEveryProfile runs Debian onnx's full_check on every
// profile.
func TestCheckerAcceptsEveryProfile(t *testing.T) {
	interop.NeedPythonONNX(t)
	for _, name := range testFixtures {
		f := loadBSNN(t, name)
		dir := t.TempDir()
		for _, v := range variants {
			path := writeModel(t, dir, v.String()+".onnx", exportOK(t, f.model, v))
			if err := interop.CheckModel(path); err != nil {
				t.Errorf("%s %s: %v", name, v, err)
			}
			st, _ := os.Stat(path)
			t.Logf("%s %s: %d bytes", name, v, st.Size())
		}
	}
}

// TestRunsLikeTheEngine runs every profile of each BSNN in onnxruntime and
// compares with our engine: spikes (every LIF output) identical, logits
// within 1e-5. The reference is the engine on the portable file; the
// engine also runs each file itself (plain needs GreaterOrEqual, packed
// BitShift and Mod on its UINT8 constants, ops/logic.go) and must agree
// with onnxruntime on the same file and with the portable reference.
func TestRunsLikeTheEngine(t *testing.T) {
	interop.NeedORT(t)
	for _, name := range testFixtures {
		f := loadBSNN(t, name)
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			canon, err := Recognize(f.model)
			if err != nil {
				t.Fatal(err)
			}
			var spikes []string
			for _, n := range canon.Neurons {
				spikes = append(spikes, n.Spikes)
			}
			in := feeds{f.model.Proto.Graph.Input[0].GetName(): f.input}
			batch := batchOf(t, f.model, f.input)
			ref := newEngine(t, withOutputs(f.model, spikes), in).run(t, in)
			out := f.model.Proto.Graph.Output[0].GetName()
			T := canon.TimeSteps
			for _, v := range variants {
				t.Run(v.String(), func(t *testing.T) {
					m := exportOK(t, f.model, v)
					probe := withOutputs(m, spikes)
					path := writeModel(t, dir, v.String()+".onnx", probe)
					var got run
					if v.form == bsnn.PlainStep {
						got = runSteps(t, m, T, batch, in, spikes, func(fd feeds) run { return ortRun(t, path, fd, nil) })
					} else {
						got = ortRun(t, path, in, nil)
					}
					compareRuns(t, "onnxruntime", got, ref, out, spikes)

					t.Run("engine-same-file", func(t *testing.T) {
						missing, err := engineMissing(probe)
						if err != nil {
							t.Fatal(err)
						}
						if missing != "" {
							t.Fatalf("the engine's op registry lacks %s, which the %s file uses", missing, v)
						}
						var eng run
						if v.form == bsnn.PlainStep {
							var e *engineProgram
							eng = runSteps(t, m, T, batch, in, spikes, func(fd feeds) run {
								if e == nil {
									e = newEngine(t, probe, fd)
								}
								return e.run(t, fd)
							})
						} else {
							eng = newEngine(t, probe, in).run(t, in)
						}
						compareRuns(t, "engine on the "+v.String()+" file vs onnxruntime", eng, got, out, spikes)
						compareRuns(t, "engine on the "+v.String()+" file vs the engine on the portable file", eng, ref, out, spikes)
					})
				})
			}
		})
	}
}

// runSteps drives a per-step plain file: T calls with the same input (an
// event input: frame t at call t), the membranes starting at v_reset and carried from v_out to v_in, the one-hot
// of t; it returns the mean of the T outputs and the spikes of each call
// joined along the time axis, like the unrolled model's.
func runSteps(t *testing.T, m *onnx.Model, T, batch int, in feeds, spikes []string, call func(feeds) run) run {
	t.Helper()
	info, err := Recognize(m)
	if err != nil {
		t.Fatal(err)
	}
	if info.PlainForm != bsnn.PlainStep || len(info.Neurons) != len(spikes) {
		t.Fatalf("not a per-step file: form %q, %d neurons", info.PlainForm, len(info.Neurons))
	}
	out := m.Proto.Graph.Output[0].GetName()
	var x *onnx.Tensor
	for _, v := range in {
		x = v
	}
	res := run{}
	var prev run
	for step := 0; step < T; step++ {
		fd := stepFeeds(t, info, stepInput(t, m, x, step), step, prev, batch, m)
		r := call(fd)
		if step == 0 {
			res[out] = make([]float32, len(r[out]))
		}
		for i, v := range r[out] {
			res[out][i] += v
		}
		for _, s := range spikes {
			res[s] = append(res[s], r[s]...)
		}
		prev = r
	}
	for i := range res[out] {
		res[out][i] /= float32(T)
	}
	return res
}

func compareRuns(t *testing.T, what string, got, want run, out string, spikes []string) {
	t.Helper()
	if len(got[out]) != len(want[out]) || len(want[out]) == 0 {
		t.Fatalf("%s: output %s has %d values, want %d", what, out, len(got[out]), len(want[out]))
	}
	if d := maxDiff(got[out], want[out]); d > logitTol(want[out]) {
		t.Errorf("%s: logits differ by %.3g (tolerance %.3g)", what, d, logitTol(want[out]))
	}
	t.Logf("%s: logits max diff %.3g (max |logit| %.3g)", what, maxDiff(got[out], want[out]), maxAbs(want[out]))
	fired := 0.0
	for _, s := range spikes {
		if len(got[s]) != len(want[s]) {
			t.Fatalf("%s: spikes %s have %d values, want %d", what, s, len(got[s]), len(want[s]))
		}
		if n := spikeDiff(got[s], want[s]); n > 0 {
			t.Errorf("%s: %d of %d spikes of %s differ", what, n, len(want[s]), s)
		}
		for _, v := range want[s] {
			if v != 0 && v != 1 {
				t.Fatalf("%s: spike tensor %s holds %g", what, s, v)
			}
			fired += float64(v)
		}
	}
	if fired == 0 {
		t.Errorf("%s: no neuron fired: the comparison would prove nothing", what)
	}
}
