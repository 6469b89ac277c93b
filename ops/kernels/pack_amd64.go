//go:build amd64 && !purego

package kernels

// Packing helpers in pack_amd64.s; they need AVX2 and are only called when
// the AVX2/FMA micro-kernel (nr = 16) is active.

//go:noescape
func packRows16(dst, src *float32, ld, rows int)

//go:noescape
func gatherPanels16(dst, src *float32, panels, rows int, lanes *int32, contig *uint8, rowOffs *int32, h, w int)

//go:noescape
func transpose16(dst, src *float32, ld, blockStride, blocks int)

// asmCopyRows16 adapts packRows16 (pack_amd64.s).
func asmCopyRows16(dst, src []float32, ld, rows int) {
	if rows == 0 {
		return
	}
	_ = dst[16*rows-1]
	_ = src[(rows-1)*ld+15]
	packRows16(&dst[0], &src[0], ld, rows)
}

// asmGatherPanels16 adapts gatherPanels16 (pack_amd64.s). src must hold
// the whole image the offsets index; the caller guarantees that every
// in-image offset is inside src.
func asmGatherPanels16(dst, src []float32, panels, rows int, lanes []int32, contig []uint8, rowOffs []int32, h, w int) {
	if panels == 0 || rows == 0 {
		return
	}
	_ = dst[16*rows*panels-1]
	_ = lanes[48*panels-1]
	_ = contig[panels-1]
	_ = rowOffs[3*rows-1]
	gatherPanels16(&dst[0], &src[0], panels, rows, &lanes[0], &contig[0], &rowOffs[0], h, w)
}

// asmTranspose16 adapts transpose16 (pack_amd64.s).
func asmTranspose16(dst, src []float32, ld, blockStride, blocks int) {
	if blocks == 0 {
		return
	}
	_ = dst[256*blocks-1]
	_ = src[(blocks-1)*blockStride+15*ld+15]
	transpose16(&dst[0], &src[0], ld, blockStride, blocks)
}
