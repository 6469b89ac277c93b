package onnx

import (
	"encoding/binary"
	"unsafe"
)

// ONNX's raw_data is little-endian, so on a little-endian machine the bytes
// of a float32 tensor's raw_data are its values' memory: decoding and
// encoding can share them instead of copying. These helpers are the only
// place the package reinterprets memory.

// littleEndian reports whether this machine stores numbers as raw_data does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// float32View returns raw, which holds n float32 values, as a []float32
// sharing its memory, or ok false when it cannot: a big-endian machine,
// data not 4-byte aligned, or n = 0.
func float32View(raw []byte, n int64) (v []float32, ok bool) {
	if !littleEndian || n == 0 || int64(len(raw)) != 4*n {
		return nil, false
	}
	p := unsafe.Pointer(unsafe.SliceData(raw))
	if uintptr(p)%unsafe.Alignof(float32(0)) != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(p), n), true
}

// float32Bytes returns the memory of f as little-endian raw_data without
// copying, or ok false on a big-endian machine.
func float32Bytes(f []float32) (raw []byte, ok bool) {
	if !littleEndian {
		return nil, false
	}
	if len(f) == 0 {
		return []byte{}, true
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f)), true
}

// alignedBytes returns n bytes (never nil) starting on an 8-byte boundary,
// so that float32View (and any wider element type) can view them.
func alignedBytes(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), n)
}
