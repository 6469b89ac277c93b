package static

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// PadArgs reads Pad's pads (per axis of a rank-r input: begin, end) and
// constant value: the pads and value attributes before opset 11; the pads,
// constant_value and (opset 18) axes inputs from then on. Negative pads
// crop.
func PadArgs(n *onnx.Node, opset, r int, in []Input) (begin, end []int64, value float64, err error) {
	var pads []int64
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if opset < 11 {
		pads, value = n.Ints("pads", nil), float64(n.Float("value", 0))
	} else {
		if pads, err = constInts(in, 1, "Pad pads"); err != nil {
			return
		}
		if present(in, 2) {
			c := in[2].Const
			if c == nil || c.Len() != 1 {
				return nil, nil, 0, fmt.Errorf("Pad constant_value must be a constant scalar")
			}
			if c.Int64 != nil {
				value = float64(c.Int64[0])
			} else {
				value = float64(c.Floats()[0])
			}
		}
		if present(in, 3) {
			list, err := constInts(in, 3, "Pad axes")
			if err != nil {
				return nil, nil, 0, err
			}
			axes = axes[:0]
			seen := make([]bool, r)
			for _, a := range list {
				ax, err := NormAxis(a, r)
				if err != nil {
					return nil, nil, 0, fmt.Errorf("Pad %w", err)
				}
				if seen[ax] {
					return nil, nil, 0, fmt.Errorf("Pad axis %d repeated in %v", ax, list)
				}
				seen[ax] = true
				axes = append(axes, ax)
			}
		}
	}
	if len(pads) != 2*len(axes) {
		return nil, nil, 0, fmt.Errorf("Pad pads %v: want %d values (begin and end for %d axes)", pads, 2*len(axes), len(axes))
	}
	begin, end = make([]int64, r), make([]int64, r)
	for i, a := range axes {
		begin[a], end[a] = pads[i], pads[len(axes)+i]
	}
	return begin, end, value, nil
}

// Pad infers Pad's output: each axis grown by its pads (cropped when
// negative). A Symbolic axis cannot be padded.
func Pad(x, begin, end []int64) ([]int64, error) {
	out := make([]int64, len(x))
	for i, d := range x {
		if d == Symbolic {
			if begin[i] != 0 || end[i] != 0 {
				return nil, fmt.Errorf("Pad of axis %d, whose size is known only at run time", i)
			}
			out[i] = d
			continue
		}
		out[i] = d + begin[i] + end[i]
		if out[i] < 0 {
			return nil, fmt.Errorf("pads %v, %v leave axis %d of size %d negative", begin, end, i, d)
		}
	}
	return out, nil
}

// A PadCopy is how a constant-mode Pad copies its input: Plan copies the
// kept Region of the input into the output of shape Out; Fill is false when
// every output element comes from the input (a pure crop), Cropped when
// some input elements are dropped.
type PadCopy struct {
	Out, Region   []int
	Plan          *CopyPlan
	Fill, Cropped bool
}

// NewPadCopy plans a Pad of an input of shape x (no Symbolic dimension).
func NewPadCopy(x, begin, end []int64) (*PadCopy, error) {
	o, err := Pad(x, begin, end)
	if err != nil {
		return nil, err
	}
	in := Ints(x)
	pc := &PadCopy{Out: Ints(o), Region: make([]int, len(x))}
	for i, d := range in {
		b, e := int(begin[i]), int(end[i])
		pc.Fill = pc.Fill || b > 0 || e > 0
		pc.Cropped = pc.Cropped || b < 0 || e < 0
		pc.Region[i] = max(0, d-max(0, -b)-max(0, -e))
	}
	if Prod(pc.Region) == 0 {
		pc.Fill = true
	}
	inSt, outSt := RowStrides(in), RowStrides(pc.Out)
	dbase, sbase := 0, 0
	for i := range pc.Out {
		dbase += max(0, int(begin[i])) * outSt[i]
		sbase += max(0, -int(begin[i])) * inSt[i]
	}
	pc.Plan = NewCopyPlan(pc.Region, outSt, inSt, dbase, sbase)
	return pc, nil
}

// FoldPad pads a constant with value.
func FoldPad(t *onnx.Tensor, pc *PadCopy, value float64) *onnx.Tensor {
	return CopyConst(t, pc.Out, pc.Plan, value)
}
