package peakrss

import "syscall"

// peak reads ru_maxrss, which Linux reports in kibibytes.
func peak() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Maxrss * 1024, true
}
