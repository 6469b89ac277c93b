//go:build !amd64 || purego

package bench

// addChain is not available: the clock comes from /proc/cpuinfo.
func addChain(n int64) int64 { return 0 }
