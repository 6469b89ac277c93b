package infer

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// window is a 2-D sliding window read from ONNX Conv/MaxPool attributes:
// kernel size, strides, dilations and pads (begin and end per axis), for
// an input of h x w (1-D windows are 2-D with a height of 1).
type window struct {
	kh, kw         int
	sh, sw, dh, dw int
	pt, pl, pb, pr int
	ceil           bool
	outH, outW     int
}

// readWindow reads kernel_shape (or the weight's spatial dims k), strides,
// dilations, pads and auto_pad for spatial input dims in (1 or 2 of them).
// ops/conv.go reads the same attributes for the float engine.
func readWindow(n *onnx.Node, in, k []int) (window, error) {
	ns := len(in)
	if ns < 1 || ns > 2 {
		return window{}, fmt.Errorf("%d spatial axes (want 1 or 2)", ns)
	}
	ints := func(name string, want int, def int) ([]int, error) {
		v := n.Ints(name, nil)
		if v == nil {
			s := make([]int, want)
			for i := range s {
				s[i] = def
			}
			return s, nil
		}
		if len(v) != want {
			return nil, fmt.Errorf("%s has %d values, want %d", name, len(v), want)
		}
		s := make([]int, want)
		for i, x := range v {
			s[i] = int(x)
		}
		return s, nil
	}
	ks, err := ints("kernel_shape", ns, 0)
	if err != nil {
		return window{}, err
	}
	if n.Ints("kernel_shape", nil) == nil {
		if k == nil {
			return window{}, fmt.Errorf("kernel_shape is required")
		}
		ks = k
	}
	st, err := ints("strides", ns, 1)
	if err != nil {
		return window{}, err
	}
	dil, err := ints("dilations", ns, 1)
	if err != nil {
		return window{}, err
	}
	begin, end := make([]int, ns), make([]int, ns)
	switch mode := n.String("auto_pad", "NOTSET"); mode {
	case "NOTSET":
		pads, err := ints("pads", 2*ns, 0)
		if err != nil {
			return window{}, err
		}
		copy(begin, pads[:ns])
		copy(end, pads[ns:])
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i := range in {
			out := (in[i] + st[i] - 1) / st[i]
			total := max(0, (out-1)*st[i]+(ks[i]-1)*dil[i]+1-in[i])
			begin[i], end[i] = total/2, total-total/2
			if mode == "SAME_LOWER" {
				begin[i], end[i] = end[i], begin[i]
			}
		}
	default:
		return window{}, fmt.Errorf("auto_pad %q is not supported", mode)
	}
	// Pad 1-D to 2-D with a unit height.
	two := func(s []int, def int) (int, int) {
		if ns == 1 {
			return def, s[0]
		}
		return s[0], s[1]
	}
	var w window
	w.kh, w.kw = two(ks, 1)
	w.sh, w.sw = two(st, 1)
	w.dh, w.dw = two(dil, 1)
	w.pt, w.pl = two(begin, 0)
	w.pb, w.pr = two(end, 0)
	w.ceil = n.Int("ceil_mode", 0) != 0
	return w, nil
}

// spatial returns the input's height and width (rank 3: height 1).
func spatial(shape []int) (h, w int, err error) {
	switch len(shape) {
	case 3:
		return 1, shape[2], nil
	case 4:
		return shape[2], shape[3], nil
	}
	return 0, 0, fmt.Errorf("input shape %v is not [N, C, W] or [N, C, H, W]", shape)
}
