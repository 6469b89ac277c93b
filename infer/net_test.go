package infer

import (
	"fmt"
	"github.com/bsnnctl/bsnnctl/bsnn"
	"math"
	"math/rand/v2"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// A netBuilder writes small BSNNs in the portable form convert.Convert
// gives (direct encoding by a Concat, LIF between [T, N, ...] reshapes,
// AGMMGate before the binary layers, BipolarQuant weights, a float first
// and last layer, the mean over time) with shapes and parameters the
// tests choose.
type netBuilder struct {
	r     *rand.Rand
	T, N  int
	gates bool
	g     *onnxpb.GraphProto
	n     int // for unique names
}

// act is a value of the network: its name and shape [T*N, C, H, W].
type act struct {
	name    string
	c, h, w int
}

func newNet(seed uint64, T, N int, gates bool) *netBuilder {
	return &netBuilder{r: rand.New(rand.NewPCG(seed, 17)), T: T, N: N, gates: gates, g: &onnxpb.GraphProto{Name: proto.String("net")}}
}

func (b *netBuilder) name(prefix string) string {
	b.n++
	return fmt.Sprintf("%s%d", prefix, b.n)
}

func (b *netBuilder) node(op, domain string, in, out []string, attrs ...*onnxpb.AttributeProto) {
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{Name: proto.String(b.name(op + "_")), OpType: proto.String(op),
		Domain: proto.String(domain), Input: in, Output: out, Attribute: attrs})
}

func (b *netBuilder) init(name string, dims []int64, data []float32) string {
	b.g.Initializer = append(b.g.Initializer, onnx.FloatTensor(name, dims, data))
	return name
}

func (b *netBuilder) ints(name string, v ...int64) string {
	b.g.Initializer = append(b.g.Initializer, onnx.Int64Tensor(name, []int64{int64(len(v))}, v))
	return name
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// input declares the graph input [N, c, h, w] (symbolic batch) and
// repeats it T times.
func (b *netBuilder) input(c, h, w int) act {
	b.g.Input = append(b.g.Input, onnx.ValueInfoProto("x", onnx.Float, onnx.Shape{{Param: "N", Value: -1}, {Value: int64(c)}, {Value: int64(h)}, {Value: int64(w)}}))
	ins := make([]string, b.T)
	for i := range ins {
		ins[i] = "x"
	}
	b.node("Concat", "", ins, []string{"enc"}, attrInt("axis", 0))
	return act{"enc", c, h, w}
}

// conv is a convolution geometry.
type conv struct {
	m, kh, kw, sh, sw, dh, dw int
	pads                      [4]int // top, left, bottom, right
	group                     int
}

// out returns the output size for an h x w input (0 when the dilated
// kernel does not fit the padded input).
func (c conv) out(h, w int) (int, int) {
	oh := h + c.pads[0] + c.pads[2] - (c.kh-1)*c.dh - 1
	ow := w + c.pads[1] + c.pads[3] - (c.kw-1)*c.dw - 1
	if oh < 0 || ow < 0 {
		return 0, 0
	}
	return oh/c.sh + 1, ow/c.sw + 1
}

func (c conv) attrs() []*onnxpb.AttributeProto {
	a := []*onnxpb.AttributeProto{attrInts("kernel_shape", int64(c.kh), int64(c.kw)), attrInts("strides", int64(c.sh), int64(c.sw)),
		attrInts("dilations", int64(c.dh), int64(c.dw)),
		attrInts("pads", int64(c.pads[0]), int64(c.pads[1]), int64(c.pads[2]), int64(c.pads[3]))}
	if c.group > 1 {
		a = append(a, attrInt("group", int64(c.group)))
	}
	return a
}

// floatConv adds a float Conv with bias.
func (b *netBuilder) floatConv(x act, c conv) act {
	w := make([]float32, c.m*x.c*c.kh*c.kw)
	for i := range w {
		w[i] = float32(b.r.NormFloat64() / math.Sqrt(float64(x.c*c.kh*c.kw)))
	}
	bias := make([]float32, c.m)
	for i := range bias {
		bias[i] = float32(b.r.NormFloat64() * 0.1)
	}
	y := b.name("fconv")
	b.node("Conv", "", []string{x.name, b.init(y+".w", []int64{int64(c.m), int64(x.c), int64(c.kh), int64(c.kw)}, w),
		b.init(y+".b", []int64{int64(c.m)}, bias)}, []string{y}, c.attrs()...)
	oh, ow := c.out(x.h, x.w)
	return act{y, c.m, oh, ow}
}

// binaryConv adds BipolarQuant of a latent weight and the Conv reading it
// (no bias), with AGMM gates on its input when the net has them.
func (b *netBuilder) binaryConv(x act, c conv) act {
	g := max(c.group, 1)
	lat := make([]float32, c.m*x.c/g*c.kh*c.kw)
	for i := range lat {
		lat[i] = float32(b.r.NormFloat64())
	}
	y := b.name("bconv")
	b.node("BipolarQuant", bsnn.DomainQONNX, []string{b.init(y+".latent", []int64{int64(c.m), int64(x.c / g), int64(c.kh), int64(c.kw)}, lat),
		b.init(y+".scale", nil, []float32{1})}, []string{y + ".wbin"})
	b.node("Conv", "", []string{b.gate(x).name, y + ".wbin"}, []string{y}, c.attrs()...)
	oh, ow := c.out(x.h, x.w)
	return act{y, c.m, oh, ow}
}

// gate adds an AGMMGate on x (through [T, N, ...] views) when the net
// has gates.
func (b *netBuilder) gate(x act) act {
	if !b.gates {
		return x
	}
	v, gv, y := b.name("tn"), b.name("gated"), b.name("g")
	b.node("Reshape", "", []string{x.name, b.ints(v+".shape", int64(b.T), -1, int64(x.c), int64(x.h), int64(x.w))}, []string{v})
	alpha := make([]float32, b.T)
	for i := range alpha {
		alpha[i] = float32(0.8 + 0.4*b.r.Float64())
	}
	b.node("AGMMGate", bsnn.DomainSNN, []string{v, b.init(gv+".alpha", []int64{int64(b.T)}, alpha)}, []string{gv},
		&onnxpb.AttributeProto{Name: proto.String("mode"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("forward")})
	b.node("Reshape", "", []string{gv, b.ints(y+".shape", -1, int64(x.c), int64(x.h), int64(x.w))}, []string{y})
	return act{y, x.c, x.h, x.w}
}

// bn adds a BatchNormalization whose statistics put a fan-in of k bits
// around the LIF threshold, with some negative gammas (which flip the
// threshold's direction).
func (b *netBuilder) bn(x act, k int) act {
	sd := math.Sqrt(float64(k)) / 2
	var gamma, beta, mean, variance []float32
	for range x.c {
		gamma = append(gamma, float32(b.r.Float64()*3-1))
		beta = append(beta, float32(b.r.Float64()*1.5-0.25))
		mean = append(mean, float32(b.r.NormFloat64()*sd/2))
		variance = append(variance, float32(sd*sd*(0.25+b.r.Float64())))
	}
	y := b.name("bn")
	d := []int64{int64(x.c)}
	b.node("BatchNormalization", "", []string{x.name, b.init(y+".gamma", d, gamma), b.init(y+".beta", d, beta),
		b.init(y+".mean", d, mean), b.init(y+".var", d, variance)}, []string{y}, attrFloat("epsilon", 1e-5))
	return act{y, x.c, x.h, x.w}
}

// add adds x + y.
func (b *netBuilder) add(x, y act) act {
	z := b.name("add")
	b.node("Add", "", []string{x.name, y.name}, []string{z})
	return act{z, x.c, x.h, x.w}
}

// lif adds a LIF between [T, N, ...] reshapes.
func (b *netBuilder) lif(x act) act {
	v, s, y := b.name("tn"), b.name("spk"), b.name("s")
	b.node("Reshape", "", []string{x.name, b.ints(v+".shape", int64(b.T), -1, int64(x.c), int64(x.h), int64(x.w))}, []string{v})
	b.node("LIF", bsnn.DomainSNN, []string{v}, []string{s, ""}, attrFloat("tau", 2), attrFloat("v_threshold", 1),
		attrFloat("v_reset", 0), attrInt("decay_input", 0), attrInt("soft_reset", 0), attrInt("detach_reset", 0),
		&onnxpb.AttributeProto{Name: proto.String("surrogate"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("triangle")},
		attrFloat("surrogate_alpha", 1))
	b.node("Reshape", "", []string{s, b.ints(y+".shape", -1, int64(x.c), int64(x.h), int64(x.w))}, []string{y})
	return act{y, x.c, x.h, x.w}
}

// block adds binary conv -> BN [-> Add residual] -> LIF.
func (b *netBuilder) block(x act, c conv, residual *act) act {
	y := b.bn(b.binaryConv(x, c), x.c/max(c.group, 1)*c.kh*c.kw)
	if residual != nil {
		y = b.add(y, *residual)
	}
	return b.lif(y)
}

// head adds GlobalAveragePool -> Flatten -> float Gemm (k classes) ->
// mean over time, the graph output.
func (b *netBuilder) head(x act, k int) {
	p, f, z, zt := b.name("gap"), b.name("flat"), b.name("logits"), b.name("zt")
	b.node("GlobalAveragePool", "", []string{x.name}, []string{p})
	b.node("Flatten", "", []string{p}, []string{f}, attrInt("axis", 1))
	w := make([]float32, k*x.c)
	for i := range w {
		w[i] = float32(b.r.NormFloat64())
	}
	bias := make([]float32, k)
	b.node("Gemm", "", []string{f, b.init(z+".w", []int64{int64(k), int64(x.c)}, w), b.init(z+".b", []int64{int64(k)}, bias)},
		[]string{z}, attrInt("transB", 1))
	b.node("Reshape", "", []string{z, b.ints(zt+".shape", int64(b.T), -1, int64(k))}, []string{zt})
	b.node("ReduceMean", "", []string{zt}, []string{"y"}, attrInts("axes", 0), attrInt("keepdims", 0))
	b.g.Output = append(b.g.Output, onnx.ValueInfoProto("y", onnx.Float, onnx.Shape{{Param: "N", Value: -1}, {Value: int64(k)}}))
}

// model returns the network as an ONNX model (ir 8, opset 17).
func (b *netBuilder) model() *onnx.Model {
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: b.g, OpsetImport: []*onnxpb.OperatorSetIdProto{
		{Domain: proto.String(""), Version: proto.Int64(17)},
		{Domain: proto.String(bsnn.DomainSNN), Version: proto.Int64(1)},
		{Domain: proto.String(bsnn.DomainQONNX), Version: proto.Int64(1)}},
		MetadataProps: []*onnxpb.StringStringEntryProto{{Key: proto.String(bsnn.MetaTimeSteps), Value: proto.String(fmt.Sprint(b.T))}}}}
}

// sample returns a random input of n samples for the net's input act.
func (b *netBuilder) sample(x act) *onnx.Tensor {
	d := make([]float32, b.N*x.c*x.h*x.w)
	for i := range d {
		d[i] = float32(b.r.NormFloat64())
	}
	return &onnx.Tensor{Type: onnx.Float, Dims: []int64{int64(b.N), int64(x.c), int64(x.h), int64(x.w)}, Float32: d}
}

// sq is a square convolution geometry.
func sq(m, k, s, d, pad int) conv {
	return conv{m: m, kh: k, kw: k, sh: s, sw: s, dh: d, dw: d, pads: [4]int{pad, pad, pad, pad}}
}

// addConst adds x + a constant of shape [1, C, 1, 1] (broadcasting).
func (b *netBuilder) addConst(x act) act {
	c := make([]float32, x.c)
	for i := range c {
		c[i] = float32(b.r.NormFloat64() * 0.3)
	}
	z := b.name("addc")
	b.node("Add", "", []string{x.name, b.init(z+".c", []int64{1, int64(x.c), 1, 1}, c)}, []string{z})
	return act{z, x.c, x.h, x.w}
}

// lifWithVT is lif with the LIF's final membrane V_T as a graph output.
func (b *netBuilder) lifWithVT(x act) act {
	v, s, y, vt := b.name("tn"), b.name("spk"), b.name("s"), b.name("vT")
	b.node("Reshape", "", []string{x.name, b.ints(v+".shape", int64(b.T), -1, int64(x.c), int64(x.h), int64(x.w))}, []string{v})
	b.node("LIF", bsnn.DomainSNN, []string{v}, []string{s, vt}, attrFloat("tau", 2), attrFloat("v_threshold", 1),
		attrFloat("v_reset", 0), attrInt("decay_input", 0), attrInt("soft_reset", 0), attrInt("detach_reset", 0),
		&onnxpb.AttributeProto{Name: proto.String("surrogate"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("triangle")},
		attrFloat("surrogate_alpha", 1))
	b.node("Reshape", "", []string{s, b.ints(y+".shape", -1, int64(x.c), int64(x.h), int64(x.w))}, []string{y})
	b.g.Output = append(b.g.Output, onnx.ValueInfoProto(vt, onnx.Float, nil))
	return act{y, x.c, x.h, x.w}
}

// softmaxHead is head with a Softmax over the classes before the mean over
// time.
func (b *netBuilder) softmaxHead(x act, k int) {
	b.head(x, k)
	// Insert Softmax between the Gemm and its time-major Reshape.
	nodes := b.g.Node
	gemm := nodes[len(nodes)-3]
	sm := b.name("softmax")
	b.g.Node = append(nodes[:len(nodes)-2:len(nodes)-2], &onnxpb.NodeProto{Name: proto.String(sm), OpType: proto.String("Softmax"),
		Input: []string{gemm.Output[0]}, Output: []string{sm}, Attribute: []*onnxpb.AttributeProto{attrInt("axis", -1)}})
	reshape, mean := nodes[len(nodes)-2], nodes[len(nodes)-1]
	reshape.Input[0] = sm
	b.g.Node = append(b.g.Node, reshape, mean)
}
