package convert

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/onnx"
)

// handCount counts, from the source graph alone, what the size report of
// the default conversion must say (agmm-paper notes §5.3 convention):
// binary layers' weights are 1-bit; float layers' weights and biases, the
// γ and β of every BatchNormalization (kept after a float layer, or the
// tdBN of each binary layer) and T AGMM alphas per binary layer are 32-bit.
// MACs are computed with an independent shape walk (Conv, MaxPool, GAP).
type handCount struct {
	bits, p32, buffers, macsBin, macsFloat int64
}

func countByHand(t *testing.T, src *onnx.Model, T int64) handCount {
	t.Helper()
	g, _ := src.Graph()
	var h handCount
	spatial := map[string][]int64{} // tensor -> [C, H, W]
	in := g.Inputs[0]
	spatial[in.Name] = []int64{in.Shape[1].Value, in.Shape[2].Value, in.Shape[3].Value}
	roles := map[string]*srcLayer{}
	for _, l := range sourceLayers(t, src) {
		roles[l.node.Label()] = l
	}
	numel := func(name string) int64 {
		tp := g.Initializers[name]
		n := int64(1)
		for _, d := range tp.Dims {
			n *= d
		}
		return n
	}
	for _, n := range g.Nodes {
		x := spatial[n.Input(0)]
		switch n.OpType {
		case "Conv", "MaxPool":
			var cout, kh, kw int64
			if n.OpType == "Conv" {
				w := g.Initializers[n.Input(1)].Dims
				cout, kh, kw = w[0], w[2], w[3]
			} else {
				ks := n.Ints("kernel_shape", nil)
				cout, kh, kw = x[0], ks[0], ks[1]
			}
			s := n.Ints("strides", []int64{1, 1})
			p := n.Ints("pads", []int64{0, 0, 0, 0})
			ho := (x[1]+p[0]+p[2]-kh)/s[0] + 1
			wo := (x[2]+p[1]+p[3]-kw)/s[1] + 1
			spatial[n.Outputs[0]] = []int64{cout, ho, wo}
			if n.OpType == "Conv" {
				macs := cout * ho * wo * numel(n.Input(1)) / cout
				l := roles[n.Label()]
				if !l.first && !l.last {
					h.macsBin += macs
				} else {
					h.macsFloat += macs
				}
			}
		case "Gemm":
			l := roles[n.Label()]
			w := g.Initializers[n.Input(1)].Dims
			if !l.first && !l.last {
				h.macsBin += w[0] * w[1]
			} else {
				h.macsFloat += w[0] * w[1]
			}
		case "GlobalAveragePool":
			spatial[n.Outputs[0]] = []int64{x[0], 1, 1}
		default:
			if x != nil {
				spatial[n.Outputs[0]] = x
			}
		}
		l := roles[n.Label()]
		if l == nil {
			continue
		}
		cout := g.Initializers[l.weight].Dims[0]
		if n.OpType == "Gemm" && n.Int("transB", 0) == 0 {
			cout = g.Initializers[l.weight].Dims[1]
		}
		if !l.first && !l.last {
			h.bits += numel(l.weight)
			h.p32 += 2*cout + T // tdBN γ, β and AGMM alpha
			h.buffers += 2 * cout
			continue
		}
		h.p32 += numel(l.weight)
		if b := n.Input(2); b != "" {
			h.p32 += numel(b)
		}
		if cs := g.Consumers(n.Outputs[0]); len(cs) == 1 && cs[0].OpType == "BatchNormalization" {
			h.p32 += numel(cs[0].Input(1)) + numel(cs[0].Input(2))
			h.buffers += numel(cs[0].Input(3)) + numel(cs[0].Input(4))
		}
	}
	return h
}

func checkSize(t *testing.T, s SizeReport, h handCount) {
	t.Helper()
	if s.Params1Bit != h.bits || s.Params32Bit != h.p32 || s.Buffers32Bit != h.buffers {
		t.Errorf("params: report 1-bit %d 32-bit %d buffers %d; by hand %d %d %d", s.Params1Bit, s.Params32Bit, s.Buffers32Bit, h.bits, h.p32, h.buffers)
	}
	packed := (h.bits+7)/8 + 4*h.p32
	f32 := 4 * (h.bits + h.p32)
	if s.ModelSizeBytesPacked != packed || s.Float32EquivalentBytes != f32 {
		t.Errorf("bytes: report packed %d f32 %d; by hand %d %d", s.ModelSizeBytesPacked, s.Float32EquivalentBytes, packed, f32)
	}
	if r := float64(f32) / float64(packed); s.CompressionRatio != r {
		t.Errorf("compression %g, by hand %g", s.CompressionRatio, r)
	}
	if s.MACsBinary != h.macsBin || s.MACsFloat != h.macsFloat {
		t.Errorf("MACs: report binary %d float %d; by hand %d %d", s.MACsBinary, s.MACsFloat, h.macsBin, h.macsFloat)
	}
}

// TestSizeReportResNet18 checks the size report of torchvision's ResNet-18
// (ImageNet, 224x224) against a count made from the source graph, and
// against the architecture's known numbers.
func TestSizeReportResNet18(t *testing.T) {
	for _, name := range []string{"resnet18_op11_keepbn_static", "resnet18_op13_folded_static"} {
		t.Run(name, func(t *testing.T) {
			f := findFixture(t, name)
			src := decode(t, f.model())
			res := mustConvert(t, src, DefaultOptions())
			h := countByHand(t, src, 4)
			checkSize(t, res.Report.Size, h)
			s := res.Report.Size
			// Known numbers: the 19 hidden convs (layer1..layer4 with the
			// three downsample 1x1 convs) hold 147,456 + 524,288 +
			// 2,097,152 + 8,388,608 = 11,157,504 weights. conv1 is
			// 64*3*7*7 = 9,408 weights at 112x112 (118,013,952 MACs), fc
			// 512*1000 + 1000. Their tdBNs hold 2*(4*64 + 5*128 + 5*256 +
			// 5*512) = 9,472 γ/β, plus 19*4 AGMM alphas.
			if s.Params1Bit != 11157504 {
				t.Errorf("1-bit params %d, want 11,157,504", s.Params1Bit)
			}
			first := int64(9408 + 64) // folded: conv1 bias
			if strings.Contains(name, "keepbn") {
				first = 9408 + 128 // kept: bn1 γ, β
			}
			if want := first + 513000 + 9472 + 19*4; s.Params32Bit != want {
				t.Errorf("32-bit params %d, want %d", s.Params32Bit, want)
			}
			if s.MACsFloat != 118013952+512000 {
				t.Errorf("float MACs %d, want %d", s.MACsFloat, 118013952+512000)
			}
			var buf bytes.Buffer
			if err := res.Report.Write(&buf); err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", buf.String())
			js, err := res.Report.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(js, &back); err != nil || back.Size != s || len(back.Layers) != 21 {
				t.Errorf("JSON report does not round-trip: %v", err)
			}
		})
	}
}

// TestSizeReportLeNet checks LeNet-5's numbers written out by hand:
// conv1 1->6 5x5 (150 weights + 6 bias), conv2 6->16 5x5 (2,400), fc1
// 400->120 (48,000), fc2 120->84 (10,080), fc3 84->10 (840 + 10 bias).
// Binary: conv2, fc1, fc2 = 60,480 weights. 32-bit: conv1 156 (+ bn1 γ/β
// 12 when kept), tdBN γ/β 2*(16+120+84) = 440, alphas 3*4 = 12, fc3 850.
// MACs/step: conv1 6*28*28*25 = 117,600, conv2 16*10*10*150 = 240,000,
// fc1 48,000, fc2 10,080, fc3 840.
func TestSizeReportLeNet(t *testing.T) {
	for _, tc := range []struct {
		name string
		p32  int64
	}{{"lenet_op13_keepbn_static", 156 + 12 + 440 + 12 + 850}, {"lenet_op17_folded_dynamic", 156 + 440 + 12 + 850}} {
		t.Run(tc.name, func(t *testing.T) {
			f := findFixture(t, tc.name)
			src := decode(t, f.model())
			res := mustConvert(t, src, DefaultOptions())
			s := res.Report.Size
			want := SizeReport{Params1Bit: 60480, Params32Bit: tc.p32, ModelSizeBytesPacked: 60480/8 + 4*tc.p32,
				Float32EquivalentBytes: 4 * (60480 + tc.p32), MACsBinary: 240000 + 48000 + 10080, MACsFloat: 117600 + 840}
			want.CompressionRatio = float64(want.Float32EquivalentBytes) / float64(want.ModelSizeBytesPacked)
			want.BinaryMACShare = float64(want.MACsBinary) / float64(want.MACsBinary+want.MACsFloat)
			want.TimeSteps = 4
			want.Buffers32Bit = s.Buffers32Bit
			if s != want {
				t.Errorf("size report\n got %+v\nwant %+v", s, want)
			}
			checkSize(t, s, countByHand(t, src, 4))
			var per []int64
			for _, l := range res.Report.Layers {
				per = append(per, l.Params, l.Params1Bit)
			}
			bn1 := int64(0)
			if strings.Contains(tc.name, "keepbn") {
				bn1 = 12
			}
			wantPer := []int64{156 + bn1, 0, 2400 + 32 + 4, 2400, 48000 + 240 + 4, 48000, 10080 + 168 + 4, 10080, 850, 0}
			for i := range wantPer {
				if per[i] != wantPer[i] {
					t.Errorf("per-layer params %v, want %v", per, wantPer)
					break
				}
			}
			var meta SizeReport
			if err := json.Unmarshal([]byte(res.Model.Metadata()[bsnn.MetaSizeReport]), &meta); err != nil || meta != s {
				t.Errorf("bsnn.size_report %+v differs from the report %+v (%v)", meta, s, err)
			}
			t.Logf("packed %d bytes, float32 %d bytes, %.2fx", s.ModelSizeBytesPacked, s.Float32EquivalentBytes, s.CompressionRatio)
		})
	}
}

// TestSizeReportVGG11Convention reproduces the published VGG-11 numbers of
// the size convention with the report's arithmetic: 9,216,000 binary conv
// weights and 12,362 32-bit parameters give 1,201,448 bytes (1.201 MB).
func TestSizeReportVGG11Convention(t *testing.T) {
	w := &writer{o: &resolved{T: 4}, a: &analysis{}, info: map[string]*initInfo{
		"bin":  {kind: kindParam1, n: 9216000},
		"fp32": {kind: kindParam32, n: 1728 + 5130 + 5504},
	}}
	s := w.report(nil).Size
	if s.ModelSizeBytesPacked != 1201448 {
		t.Errorf("packed %d bytes, want 1,201,448", s.ModelSizeBytesPacked)
	}
}
