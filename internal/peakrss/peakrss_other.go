//go:build !linux && !darwin

package peakrss

func peak() (int64, bool) { return 0, false }
