//go:build amd64 && !purego

package kernels

// The AVX-512 Winograd transforms of conv_winograd_amd64.s.

//go:noescape
func winoInput16(src, dst *float32, stride int)

//go:noescape
func winoOutput16(src *float32, stride int, dst, tmp *float32, bias float32)

//go:noescape
func winoGrad16(src, dst *float32, stride int, tmp *float32)

//go:noescape
func winoFilter16(src, dst *float32, stride int, tmp *float32)

//go:noescape
func winoFilterGrad16(src, dst, tmp *float32)

//go:noescape
func winoScatterT16(dst *float32, lanes *winoLane, masks *uint16, ld int, src *float32, ahead int)

//go:noescape
func winoGatherT4x16(src *float32, lanes *winoLane, masks *uint16, ld int, dst *float32, ahead int)

//go:noescape
func winoGatherT16(src *float32, lanes *winoLane, masks *uint16, ld int, dst *float32, ahead int)

func init() {
	if avx512Kernel == nil {
		return
	}
	winoAsmLanes = &winoLaneOps{
		name: "avx512",
		input: func(blk, dst []float32, stride int) {
			_ = blk[winoPositions*16-1]
			_ = dst[35*stride+15]
			winoInput16(&blk[0], &dst[0], stride)
		},
		output: func(src []float32, stride int, dst []float32, bias float32) {
			_ = src[35*stride+15]
			_ = dst[255]
			var tmp [24 * 16]float32
			winoOutput16(&src[0], stride, &dst[0], &tmp[0], bias)
		},
		filter: func(g, dst []float32, stride int) {
			_ = g[9*16-1]
			_ = dst[35*stride+15]
			var tmp [18 * 16]float32
			winoFilter16(&g[0], &dst[0], stride, &tmp[0])
		},
		filterGrad: func(u, g []float32) {
			_ = u[winoPositions*16-1]
			_ = g[9*16-1]
			var tmp [18 * 16]float32
			winoFilterGrad16(&u[0], &g[0], &tmp[0])
		},
		scatterT: func(dst []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, src []float32, ahead int) {
			_ = src[255]
			winoScatterT16(&dst[0], &lanes[0], &masks[0][0], ld, &src[0], ahead)
		},
		gatherT4: func(src []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, dst []float32, ahead int) {
			_ = dst[255]
			winoGatherT4x16(&src[0], &lanes[0], &masks[0][0], ld, &dst[0], ahead)
		},
		gatherT: func(src []float32, lanes *[16]winoLane, masks *[6][16]uint16, ld int, dst []float32, ahead int) {
			_ = dst[winoPositions*16-1]
			winoGatherT16(&src[0], &lanes[0], &masks[0][0], ld, &dst[0], ahead)
		},
		grad: func(blk, dst []float32, stride int) {
			_ = blk[255]
			_ = dst[35*stride+15]
			var tmp [24 * 16]float32
			winoGrad16(&blk[0], &dst[0], stride, &tmp[0])
		},
	}
}
