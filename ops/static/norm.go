package static

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// BatchNormalization checks the four parameters (scale, B, input_mean,
// input_var, of the given shapes) against the input x [N, C, ...] and
// returns how many values each holds: C, or with spatial=0 (before opset
// 9) C times the spatial size. The output has x's shape.
func BatchNormalization(n *onnx.Node, opset int, x []int64, params [][]int64) (int64, error) {
	if len(x) < 2 {
		return 0, fmt.Errorf("BatchNormalization input %s needs at least 2 dimensions [N, C, ...]", FormatShape(x))
	}
	if len(params) != 4 {
		return 0, fmt.Errorf("BatchNormalization needs four parameters, got %d", len(params))
	}
	c := x[1]
	if opset < 9 && n.Int("spatial", 1) == 0 {
		s, ok := Numel(x[1:])
		if !ok {
			return 0, fmt.Errorf("BatchNormalization(spatial=0) of %s, whose size is known only at run time", FormatShape(x))
		}
		c = s
	}
	for i, p := range params {
		if k, ok := Numel(p); !ok || k != c {
			return 0, fmt.Errorf("BatchNormalization %s has shape %s, want %d values for input %s",
				[...]string{"scale", "B", "input_mean", "input_var"}[i], FormatShape(p), c, FormatShape(x))
		}
	}
	return c, nil
}
