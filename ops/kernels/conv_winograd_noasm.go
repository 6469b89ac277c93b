//go:build !amd64 || purego

package kernels

// No assembly Winograd transforms in this build: the lanes run in Go.
