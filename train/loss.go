package train

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/bsnnctl/bsnnctl/ops"
)

// softmaxCE is the training loss as an ops kernel: softmax cross-entropy
// with label smoothing averaged over T time steps and N samples. Its input
// holds T*N*C logits in time-major order (index (t*N + n)*C + c): with T > 1
// it is the TET loss (1/T) Σ_t CE(o_t, y) on the per-step logits, with T = 1
// plain CE (on the time-averaged output for the "ce" loss).
//
// The labels are held in the kernel and set before every run (SetLabels).
// Forward also counts the correct predictions of the time-averaged logits,
// so the training accuracy needs no graph output.
type softmaxCE struct {
	T, N, C   int
	shape     []int
	smoothing float64
	labels    []int

	// Results of the last forward run.
	loss    float64
	correct int
	acc     []float64 // scratch
}

func newSoftmaxCE(shape []int, T, N, C int, smoothing float64) (*softmaxCE, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if T < 1 || N < 1 || C < 2 || n != T*N*C {
		return nil, fmt.Errorf("loss: logits of shape %v are not T=%d x N=%d x C classes (C >= 2)", shape, T, N)
	}
	return &softmaxCE{T: T, N: N, C: C, shape: append([]int(nil), shape...), smoothing: smoothing, labels: make([]int, N)}, nil
}

// SetLabels sets the labels of the next run.
func (k *softmaxCE) SetLabels(y []int) error {
	if len(y) != k.N {
		return fmt.Errorf("loss: %d labels for a batch of %d", len(y), k.N)
	}
	for i, l := range y {
		if l < 0 || l >= k.C {
			return fmt.Errorf("loss: label %d of sample %d is outside [0, %d)", l, i, k.C)
		}
	}
	copy(k.labels, y)
	return nil
}

func (k *softmaxCE) Name() string {
	return fmt.Sprintf("SoftmaxCE(T=%d,N=%d,C=%d,ls=%g)", k.T, k.N, k.C, k.smoothing)
}
func (k *softmaxCE) OutShape() []int { return nil }

// ceRow returns the label-smoothed cross-entropy of one row of logits:
// -Σ_c q_c log softmax(z)_c with q = (1-ε) onehot(y) + ε/C.
func ceRow(z []float32, y int, eps float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s, sumZ float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
		sumZ += float64(v)
	}
	lse := m + math.Log(s)
	C := float64(len(z))
	// -Σ q_c (z_c - lse) = lse - (1-ε) z_y - ε/C Σ z_c
	return lse - (1-eps)*float64(z[y]) - eps/C*sumZ
}

func (k *softmaxCE) Forward(out []float32, in ...[]float32) error {
	z := in[0]
	var total float64
	for t := 0; t < k.T; t++ {
		for n := 0; n < k.N; n++ {
			row := z[(t*k.N+n)*k.C : (t*k.N+n+1)*k.C]
			total += ceRow(row, k.labels[n], k.smoothing)
		}
	}
	k.loss = total / float64(k.T*k.N)
	out[0] = float32(k.loss)
	// Accuracy of the time-averaged logits (argmax of the sum over t).
	k.correct = 0
	if k.acc == nil {
		k.acc = make([]float64, k.C)
	}
	acc := k.acc
	for n := 0; n < k.N; n++ {
		for c := range acc {
			acc[c] = 0
		}
		for t := 0; t < k.T; t++ {
			row := z[(t*k.N+n)*k.C : (t*k.N+n+1)*k.C]
			for c, v := range row {
				acc[c] += float64(v)
			}
		}
		if argmax64(acc) == k.labels[n] {
			k.correct++
		}
	}
	return nil
}

func (k *softmaxCE) DiffWRT(int) []bool { return []bool{true} }

func (k *softmaxCE) Grad(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := ops.Apply(&softmaxCEGrad{f: k}, in[0], grad)
	return G.Nodes{g}, err
}

// softmaxCEGrad computes dL/dz = g * (softmax(z) - q) / (T*N).
type softmaxCEGrad struct{ f *softmaxCE }

func (k *softmaxCEGrad) Name() string    { return "d" + k.f.Name() }
func (k *softmaxCEGrad) OutShape() []int { return k.f.shape }
func (k *softmaxCEGrad) Forward(out []float32, in ...[]float32) error {
	f := k.f
	z, g := in[0], float64(in[1][0])
	scale := g / float64(f.T*f.N)
	off := f.smoothing / float64(f.C)
	for t := 0; t < f.T; t++ {
		for n := 0; n < f.N; n++ {
			lo := (t*f.N + n) * f.C
			row := z[lo : lo+f.C]
			dst := out[lo : lo+f.C]
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - m)
			}
			for c, v := range row {
				p := math.Exp(float64(v)-m) / s
				q := off
				if c == f.labels[n] {
					q += 1 - f.smoothing
				}
				dst[c] = float32(scale * (p - q))
			}
		}
	}
	return nil
}

func argmax64(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func argmax32(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
