//go:build !amd64 || purego

package bitkern

// asmKernels is empty: this build has no assembly micro-kernel.
var asmKernels []*tileKernel
