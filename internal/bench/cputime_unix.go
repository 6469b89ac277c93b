//go:build unix

package bench

import (
	"syscall"
	"time"
)

// ProcessCPU returns the user + system CPU time the process has used so
// far; ok is false where the system does not report it.
func ProcessCPU() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
