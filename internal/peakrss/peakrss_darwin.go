package peakrss

import "syscall"

// peak reads ru_maxrss, which macOS reports in bytes.
func peak() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Maxrss, true
}
