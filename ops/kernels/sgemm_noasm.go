//go:build !amd64 || purego

package kernels

// asmKernel is nil: this build has no assembly micro-kernel and every GEMM
// runs on goKernel.
var asmKernel *microKernel

// asmKernels is empty in this build.
var asmKernels []*microKernel

// avx512Kernel is nil in this build.
var avx512Kernel *microKernel
