//go:build !linux

package onnx

// adviseHugePages does nothing outside Linux (see hugepages_linux.go).
func adviseHugePages([]byte) {}
