//go:build !amd64 || purego

package bitkern

// asmConsts is empty: this build has no assembly epilogue.
type asmConsts struct{}
