// Package peakrss reports the process's peak resident set size: the most
// physical memory it has held at once (on Linux VmHWM, else getrusage's
// ru_maxrss), which is what `/usr/bin/time -v` calls "Maximum resident set
// size". The commands that compute print it in their summaries.
package peakrss

// Bytes returns the peak resident set size of the calling process so far,
// in bytes; ok is false on systems where it is not available.
func Bytes() (n int64, ok bool) { return peak() }
