package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestNoAllocations checks that, once their buffers exist, the kernels
// allocate nothing per call, serially and in parallel.
func TestNoAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are not meaningful with -short's smaller runs")
	}
	forEachThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(8, 8))
		a, b, c := randSlice(r, 300*200), randSlice(r, 200*150), make([]float32, 300*150)
		p := conv(4, 16, 12, 12, 24, 3, 3, 1, 1, 1, 1, [4]int{1, 1, 1, 1}, 1)
		x, w, bias, dy := convData(p, 1)
		y, dx, dw, db := make([]float32, p.yLen()), make([]float32, p.xLen()), make([]float32, p.wLen()), make([]float32, p.M)
		ps := p
		ps.StrideH, ps.StrideW = 2, 2
		dys := randSlice(r, ps.yLen())
		pw := conv(2, winoMinChannels, 9, 9, winoMinChannels, 3, 3, 1, 1, 1, 1, [4]int{1, 1, 1, 1}, 1)
		xw, ww, _, dyw := convData(pw, 2)
		yw, dxw, dww := make([]float32, pw.yLen()), make([]float32, pw.xLen()), make([]float32, pw.wLen())
		pd := conv(4, 16, 12, 12, 16, 3, 3, 1, 1, 1, 1, [4]int{1, 1, 1, 1}, 16)
		pp := pool(4, 16, 12, 12, 3, 3, 2, 2, [4]int{1, 1, 1, 1}, 1, 1, true)
		py, pdx, am := make([]float32, pp.yLen()), make([]float32, pp.xLen()), make([]int32, pp.yLen())
		const sp, sm = 64, 32 // pixels and channels of a binary convolution's integer sums
		sums, spikeOut, spikeScale := make([]int32, sp*sm), make([]float32, sp*sm), randSlice(r, sm)
		for name, f := range map[string]func(){
			"Sgemm":              func() { Sgemm(false, true, 300, 150, 200, 1, a, 200, b, 200, 0, c, 150) },
			"ConvForward":        func() { ConvForward(p, x, w, bias, y) },
			"ConvBackwardData":   func() { ConvBackwardData(p, dy, w, dx) },
			"ConvBackwardFilter": func() { ConvBackwardFilter(p, x, dy, dw) },
			"ConvBackwardBias":   func() { ConvBackwardBias(p, dy, db) },
			"WinogradForward":    func() { ConvForward(pw, xw, ww, nil, yw) },
			"WinogradBackward":   func() { ConvBackwardData(pw, dyw, ww, dxw); ConvBackwardFilter(pw, xw, dyw, dww) },
			"ConvBackwardDataS2": func() { ConvBackwardData(ps, dys, w, dx) },
			"DepthwiseForward":   func() { ConvForward(pd, x, w[:pd.wLen()], nil, y[:pd.yLen()]) },
			"MaxPool":            func() { MaxPoolForward(pp, x, py, am); MaxPoolBackward(pp, py, am, pdx) },
			"AvgPool":            func() { AvgPoolForward(pp, true, x, py); AvgPoolBackward(pp, true, py, pdx) },
			"SpikeConvOutput":    func() { SpikeConvOutput(spikeOut, sums, sp, sm, 0.5, spikeScale) },
		} {
			if n := testing.AllocsPerRun(20, f); n > 0 {
				t.Errorf("%s: %v allocations per call", name, n)
			}
		}
	})
}
