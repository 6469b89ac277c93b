//go:build !unix

package bench

import "time"

// ProcessCPU returns the user + system CPU time the process has used so
// far; ok is false where the system does not report it.
func ProcessCPU() (d time.Duration, ok bool) { return 0, false }
