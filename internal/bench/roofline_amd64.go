//go:build amd64 && !purego

package bench

// The roofline loops of roofline_amd64.s (Go benchmarks only; the CPU must
// have AVX2 and FMA, and AVX-512 for fmaLoopAVX512).

func fmaLoopAVX2(n int)

func fmaLoopAVX512(n int)

//go:noescape
func sumAVX2(p *float32, n int) float32

//go:noescape
func fillAVX2(p *float32, n int, v float32)
