package static

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// Sliding windows: Conv, MaxPool, AveragePool and the global pools.

// A Window is the resolved geometry of a convolution or pooling window over
// the spatial axes (one value per axis): the kernel size, strides,
// dilations, the padding at the beginning and end of each axis (auto_pad
// resolved), and the output size.
type Window struct {
	Kernel, Stride, Dilation, PadBegin, PadEnd, Out []int64
}

// KernelShape reads kernel_shape for ns spatial axes and checks it against
// want (a convolution's weight; nil: the attribute is required, as for
// pooling).
func KernelShape(n *onnx.Node, ns int, want []int64) ([]int64, error) {
	ks := n.Ints("kernel_shape", nil)
	if ks == nil {
		if want == nil {
			return nil, fmt.Errorf("kernel_shape is required")
		}
		return want, nil
	}
	if len(ks) != ns {
		return nil, fmt.Errorf("kernel_shape %v has %d values for %d spatial axes", ks, len(ks), ns)
	}
	for i, v := range ks {
		if v < 1 {
			return nil, fmt.Errorf("kernel_shape %v: values must be >= 1", ks)
		}
		if want != nil && v != want[i] {
			return nil, fmt.Errorf("kernel_shape %v does not match the weight's spatial shape %v", ks, want)
		}
	}
	return ks, nil
}

// NewWindow reads strides, dilations, pads and auto_pad for a window of
// size kernel over spatial input sizes in, and computes the output size:
// floor((in + pads - dilated kernel) / stride) + 1, or with ceil the
// ceiling, where the last window must start inside the input or its
// leading padding (as PyTorch and onnxruntime count). With auto_pad
// SAME_UPPER or SAME_LOWER the output size is ceil(in/stride) and the total
// padding (out-1)*stride + dilated kernel - in, its odd unit at the end
// (UPPER) or the beginning (LOWER); with VALID there is none; the pads
// attribute counts only with NOTSET.
func NewWindow(n *onnx.Node, in, kernel []int64, ceil bool) (*Window, error) {
	ns := len(in)
	w := &Window{Kernel: kernel, PadBegin: make([]int64, ns), PadEnd: make([]int64, ns), Out: make([]int64, ns)}
	read := func(name string, want int, def, min int64) ([]int64, error) {
		v := n.Ints(name, nil)
		if v == nil {
			s := make([]int64, want)
			for i := range s {
				s[i] = def
			}
			return s, nil
		}
		if len(v) != want {
			return nil, fmt.Errorf("%s has %d values, want %d for %d spatial axes", name, len(v), want, ns)
		}
		for _, x := range v {
			if x < min {
				return nil, fmt.Errorf("%s %v: values must be >= %d", name, v, min)
			}
		}
		return v, nil
	}
	var err error
	if w.Stride, err = read("strides", ns, 1, 1); err != nil {
		return nil, err
	}
	if w.Dilation, err = read("dilations", ns, 1, 1); err != nil {
		return nil, err
	}
	mode := n.String("auto_pad", "NOTSET")
	switch mode {
	case "NOTSET":
		pads, err := read("pads", 2*ns, 0, 0)
		if err != nil {
			return nil, err
		}
		copy(w.PadBegin, pads[:ns])
		copy(w.PadEnd, pads[ns:])
	case "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return nil, fmt.Errorf("auto_pad %q is not supported (NOTSET, VALID, SAME_UPPER or SAME_LOWER)", mode)
	}
	for i := range in {
		ext := (kernel[i]-1)*w.Dilation[i] + 1
		s := w.Stride[i]
		if mode == "SAME_UPPER" || mode == "SAME_LOWER" {
			w.Out[i] = (in[i] + s - 1) / s
			total := max(0, (w.Out[i]-1)*s+ext-in[i])
			small := total / 2
			w.PadBegin[i], w.PadEnd[i] = small, total-small
			if mode == "SAME_LOWER" {
				w.PadBegin[i], w.PadEnd[i] = total-small, small
			}
			continue
		}
		span := in[i] + w.PadBegin[i] + w.PadEnd[i] - ext
		if span < 0 {
			return nil, fmt.Errorf("dilated window %d does not fit the padded input %d", ext, in[i]+w.PadBegin[i]+w.PadEnd[i])
		}
		w.Out[i] = span/s + 1
		if ceil {
			w.Out[i] = (span+s-1)/s + 1
			if (w.Out[i]-1)*s >= in[i]+w.PadBegin[i] {
				w.Out[i]--
			}
		}
	}
	return w, nil
}

// Conv infers Conv's output [N, M, spatial...] for input x [N, C, ...] and
// weight w [M, C/group, k...], and resolves its window.
func Conv(n *onnx.Node, x, w []int64) ([]int64, *Window, error) {
	if len(x) < 3 || len(w) != len(x) {
		return nil, nil, fmt.Errorf("Conv of input %s with weight %s", FormatShape(x), FormatShape(w))
	}
	group := n.Int("group", 1)
	if group < 1 || w[0]%group != 0 || x[1] != w[1]*group {
		return nil, nil, fmt.Errorf("Conv group %d does not fit input channels %s and weight %s", group, formatDim(x[1]), FormatShape(w))
	}
	ks, err := KernelShape(n, len(x)-2, w[2:])
	if err != nil {
		return nil, nil, err
	}
	win, err := NewWindow(n, x[2:], ks, false)
	if err != nil {
		return nil, nil, err
	}
	return append([]int64{x[0], w[0]}, win.Out...), win, nil
}

// Pool infers MaxPool's or AveragePool's output [N, C, spatial...] and
// resolves its window (kernel_shape required, ceil_mode).
func Pool(n *onnx.Node, x []int64) ([]int64, *Window, error) {
	if len(x) < 3 {
		return nil, nil, fmt.Errorf("%s of a rank-%d input %s: it needs spatial axes", n.OpType, len(x), FormatShape(x))
	}
	ks, err := KernelShape(n, len(x)-2, nil)
	if err != nil {
		return nil, nil, err
	}
	win, err := NewWindow(n, x[2:], ks, n.Int("ceil_mode", 0) != 0)
	if err != nil {
		return nil, nil, err
	}
	return append([]int64{x[0], x[1]}, win.Out...), win, nil
}

// GlobalPool infers GlobalAveragePool's or GlobalMaxPool's output [N, C,
// 1...].
func GlobalPool(x []int64) ([]int64, error) {
	if len(x) < 3 {
		return nil, fmt.Errorf("global pooling of %s: it needs at least one spatial axis", FormatShape(x))
	}
	out := []int64{x[0], x[1]}
	for range x[2:] {
		out = append(out, 1)
	}
	return out, nil
}
