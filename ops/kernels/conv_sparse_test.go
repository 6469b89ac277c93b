package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// spikeData returns an input whose sample n holds 0 or v_n (a fraction
// rate of nonzeros), like the AGMM-gated spikes of a binary layer.
func spikeData(p ConvParams, rate float64, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 9))
	x := make([]float32, p.xLen())
	per := p.C * p.H * p.W
	for n := 0; n < p.N; n++ {
		v := float32(0.3 + r.Float64())
		for i := range x[n*per : (n+1)*per] {
			if r.Float64() < rate {
				x[n*per+i] = v
			}
		}
	}
	return x
}

func sparseCases() []ConvParams {
	one := [4]int{1, 1, 1, 1}
	return []ConvParams{
		conv(3, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, one, 1),              // the first ResNet-20 stage
		conv(2, 5, 9, 11, 19, 3, 3, 1, 1, 1, 1, one, 1),                // M not a multiple of 16, odd sizes
		conv(2, 3, 8, 8, 70, 3, 3, 1, 1, 1, 1, one, 1),                 // M > 32: three passes over the channels
		conv(2, 4, 10, 12, 8, 5, 4, 1, 1, 1, 1, [4]int{4, 0, 1, 2}, 1), // 5x4: four windows, asymmetric pads
		conv(1, 6, 7, 7, 16, 3, 3, 1, 1, 1, 1, [4]int{3, 3, 3, 3}, 1),  // pads beyond the kernel
		conv(2, 8, 6, 6, 32, 1, 3, 1, 1, 1, 1, [4]int{0, 1, 0, 1}, 1),  // 1x3
		conv(2, 6, 12, 12, 16, 5, 5, 1, 1, 1, 1, [4]int{}, 1),          // LeNet's second layer
	}
}

// TestConvBackwardFilterSparse checks the sparse weight gradient against
// the float64 reference on spike inputs, at one and two threads (bit-identical:
// each element is summed by one thread in a fixed order), and that inputs
// that are not spikes (two values in a sample, too many nonzeros) and
// dilated kernels take the GEMM and are still right.
func TestConvBackwardFilterSparse(t *testing.T) {
	if !sparseOK(activeKernel()) {
		t.Skip("no sparse weight gradient on this CPU")
	}
	for i, p := range sparseCases() {
		t.Run(convName(p), func(t *testing.T) {
			x := spikeData(p, 0.15, uint64(i))
			_, w, _, dy := convData(p, uint64(i))
			_, wantDw := refConvBackward64(p, to64(x), to64(w), to64(dy))
			c := getConvCall(p)
			c.x, c.dy, c.dw = x, dy, nanSlice(p.wLen())
			if !c.sparseFilter() {
				t.Fatal("the sparse path refused a spike input")
			}
			first := append([]float32(nil), c.dw...)
			putConvCall(c)
			checkClose(t, "dw", first, wantDw, convTol(p.N*p.OutH()*p.OutW()))
			var again []float32
			forEachThreads(t, func(t *testing.T) {
				dw := nanSlice(p.wLen())
				ConvBackwardFilter(p, x, dy, dw)
				if again == nil {
					again = dw
				}
				for k := range dw {
					if math.Float32bits(dw[k]) != math.Float32bits(first[k]) {
						t.Fatalf("dw[%d] = %v, sparse path gave %v: results depend on the threads", k, dw[k], first[k])
					}
				}
			})
			// Not spikes: a second value in the last sample; too dense; a
			// dilated kernel.
			mixed := append([]float32(nil), x...)
			mixed[len(mixed)-1] = 7
			dense := spikeData(p, 0.6, uint64(i))
			dilated := p
			dilated.DilH = 2
			for name, in := range map[string][]float32{"two values": mixed, "dense": dense, "dilated": x} {
				p := p
				if name == "dilated" {
					if dilated.Validate() != nil {
						continue
					}
					p = dilated
				}
				_, w, _, dy := convData(p, uint64(i))
				c := getConvCall(p)
				c.x, c.dy, c.dw = in, dy, nanSlice(p.wLen())
				if c.sparseFilter() {
					t.Errorf("%s: the sparse path took an input that is not sparse spikes", name)
				}
				putConvCall(c)
				dw := nanSlice(p.wLen())
				ConvBackwardFilter(p, in, dy, dw)
				_, want := refConvBackward64(p, to64(in), to64(w), to64(dy))
				checkClose(t, "dw ("+name+")", dw, want, convTol(p.N*p.OutH()*p.OutW()))
			}
		})
	}
}

// TestSparseLoopsAsmMatchGo compares the assembly loops of the sparse
// weight gradient with their Go versions bit for bit.
func TestSparseLoopsAsmMatchGo(t *testing.T) {
	if !sparseOK(activeKernel()) {
		t.Skip("no sparse weight gradient on this CPU")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, w := range []int{1, 8, 15, 16, 17, 32, 40} {
		x := make([]float32, w)
		for i := range x {
			if r.IntN(3) == 0 {
				x[i] = 0.5
			}
		}
		a, b := make([]int32, w), make([]int32, w)
		rw := w // rows of 4 where w allows
		if w%4 == 0 {
			rw = 4
		}
		na, oka := spikeIndexes(x, rw, 0.5, 100, 9, a)
		nb, okb := spikeIndexesGo(x, rw, 0.5, 100, 9, b)
		if na != nb || oka != okb || !slices.Equal(a[:na], b[:nb]) {
			t.Errorf("w=%d: asm %d %v %v, Go %d %v %v", w, na, oka, a[:na], nb, okb, b[:nb])
		}
		if w > 3 {
			x[3] = -1
			if _, ok := spikeIndexes(x, rw, 0.5, 0, 9, a); ok {
				t.Errorf("w=%d: a second value was not detected", w)
			}
		}
	}
	const positions = 300
	for mvec := 1; mvec <= 2; mvec++ {
		grid := randSlice(r, mvec*positions*16)
		var ra, rg []sparseRun
		for range 3 {
			list := make([]int32, r.IntN(40)+1)
			for e := range list {
				list[e] = int32(64 * (100 + r.IntN(positions-100)))
			}
			slices.Sort(list)
			acc := randSlice(r, 2*9*16)
			ra = append(ra, sparseRun{list: list, acc: acc})
			rg = append(rg, sparseRun{list: list, acc: slices.Clone(acc)})
		}
		w := sparseWindow{grid: grid, runs: ra, off: -64 * 5, rowBytes: 64 * 20, chunkBytes: 4 * positions * 16, mvec: mvec}
		sparseTaps(&w)
		w.runs = rg
		sparseTapsGo(&w)
		for k := range ra {
			for l, v := range ra[k].acc {
				if math.Float32bits(v) != math.Float32bits(rg[k].acc[l]) {
					t.Fatalf("mvec=%d run %d element %d: asm %v, Go %v", mvec, k, l, v, rg[k].acc[l])
				}
			}
		}
	}
}
