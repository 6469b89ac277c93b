//go:build cgo && !linux

package ort

// releaseFreeMemory does nothing where the C allocator's free memory is
// not known to linger (see trim_cgo.go).
func releaseFreeMemory() {}
