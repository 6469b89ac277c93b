package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops/static"
)

// Softmax and LogSoftmax. Before opset 13 the input is coerced to 2-D at
// axis (default 1) and normalized over the second dimension; from opset 13
// over the single axis (default -1). Both are a normalization over rows of
// n elements with stride inner, outer*inner rows.
type softmaxKernel struct {
	log                bool
	shape              []int
	outer, axis, inner int
}

func (k *softmaxKernel) Name() string {
	op := "Softmax"
	if k.log {
		op = "LogSoftmax"
	}
	return fmt.Sprintf("%s(%d,%d,%d)%v", op, k.outer, k.axis, k.inner, k.shape)
}
func (k *softmaxKernel) OutShape() []int { return k.shape }

func (k *softmaxKernel) Forward(out []float32, in ...[]float32) error {
	x := in[0]
	n, st := k.axis, k.inner
	for o := 0; o < k.outer; o++ {
		for i := 0; i < k.inner; i++ {
			base := o*n*st + i
			mx := float32(math.Inf(-1))
			for j := 0; j < n; j++ {
				mx = max(mx, x[base+j*st])
			}
			if math.IsInf(float64(mx), -1) {
				mx = 0 // all -Inf: NaN results, like PyTorch
			}
			var s float64
			for j := 0; j < n; j++ {
				e := math.Exp(float64(x[base+j*st] - mx))
				s += e
				if !k.log {
					out[base+j*st] = float32(e)
				}
			}
			if k.log {
				ls := float32(math.Log(s))
				for j := 0; j < n; j++ {
					out[base+j*st] = x[base+j*st] - mx - ls
				}
				continue
			}
			inv := 1 / s
			for j := 0; j < n; j++ {
				out[base+j*st] = float32(float64(out[base+j*st]) * inv)
			}
		}
	}
	return nil
}

func (k *softmaxKernel) DiffWRT(int) []bool { return []bool{true} }
func (k *softmaxKernel) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := Apply(&softmaxGradKernel{f: k}, out, grad)
	return G.Nodes{g}, err
}

// softmaxGradKernel: inputs Y, dY; output dX. Softmax:
// dx = y * (dy - sum(dy*y)); LogSoftmax: dx = dy - exp(y) * sum(dy).
type softmaxGradKernel struct{ f *softmaxKernel }

func (k *softmaxGradKernel) Name() string    { return "d" + k.f.Name() }
func (k *softmaxGradKernel) OutShape() []int { return k.f.shape }
func (k *softmaxGradKernel) Forward(out []float32, in ...[]float32) error {
	f := k.f
	y, dy := in[0], in[1]
	n, st := f.axis, f.inner
	for o := 0; o < f.outer; o++ {
		for i := 0; i < f.inner; i++ {
			base := o*n*st + i
			var s float64
			for j := 0; j < n; j++ {
				p := base + j*st
				if f.log {
					s += float64(dy[p])
				} else {
					s += float64(dy[p]) * float64(y[p])
				}
			}
			sf := float32(s)
			for j := 0; j < n; j++ {
				p := base + j*st
				if f.log {
					out[p] = dy[p] - float32(math.Exp(float64(y[p])))*sf
				} else {
					out[p] = y[p] * (dy[p] - sf)
				}
			}
		}
	}
	return nil
}

func buildSoftmax(log bool) BuildFunc {
	return func(b *Builder, n *onnx.Node, in []*Value) ([]*Value, error) {
		x := in[0]
		a, coerced, err := static.SoftmaxAxis(n, b.Opset(n), len(x.Shape))
		if err != nil {
			return nil, err
		}
		k := &softmaxKernel{log: log, shape: x.Shape}
		if coerced {
			k.outer, k.axis, k.inner = static.Prod(x.Shape[:a]), static.Prod(x.Shape[a:]), 1
		} else {
			k.outer, k.axis, k.inner = static.Prod(x.Shape[:a]), x.Shape[a], static.Prod(x.Shape[a+1:])
		}
		if k.axis == 0 {
			return nil, fmt.Errorf("%s over an empty axis", n.OpType)
		}
		v, err := b.Apply(k, x)
		return []*Value{v}, err
	}
}

func init() {
	for _, op := range []struct {
		name string
		log  bool
	}{{"Softmax", false}, {"LogSoftmax", true}} {
		Register(&Spec{OpType: op.name, Since: 1, Until: 12, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
			Attrs: []AttrSpec{{Name: "axis", Type: AttrInt, Default: int64(1)}},
			Build: buildSoftmax(op.log), Doc: op.name + " over the input coerced to 2-D at axis"})
		Register(&Spec{OpType: op.name, Since: 13, MinInputs: 1, MaxInputs: 1, MinOutputs: 1, MaxOutputs: 1,
			Attrs: []AttrSpec{{Name: "axis", Type: AttrInt, Default: int64(-1)}},
			Build: buildSoftmax(op.log), Doc: op.name + " along one axis"})
	}
}
