package ops

import "github.com/bsnnctl/bsnnctl/ops/static"

// broadcastShape is static.Broadcast on engine shapes.
func broadcastShape(a, b []int) ([]int, error) {
	out, err := static.Broadcast(static.Dims(a), static.Dims(b))
	return static.Ints(out), err
}

// reduceTo sums src (shape out) into dst (shape s, which broadcasts to
// out), overwriting dst.
func reduceTo(dst []float32, s []int, src []float32, out []int) {
	if static.Prod(s) == len(src) {
		copy(dst, src)
		return
	}
	for i := range dst {
		dst[i] = 0
	}
	bc := static.NewPairwise(out, s, out)
	bc.Each(func(o, _, d int) {
		run := src[o : o+bc.InnerLen]
		if bc.InnerB == 0 {
			var acc float32
			for _, v := range run {
				acc += v
			}
			dst[d] += acc
			return
		}
		for i, v := range run {
			dst[d+i*bc.InnerB] += v
		}
	})
}
