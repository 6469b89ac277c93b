//go:build !amd64 || purego

package kernels

// asmKernel is nil: this build has no assembly micro-kernel and every GEMM
// runs on goKernel.
var asmKernel *microKernel
