package cli

import (
	"fmt"

	"github.com/bsnnctl/bsnnctl/internal/peakrss"
)

// peakRSS returns the process's peak resident set size in bytes (0 where
// the system does not report it).
func peakRSS() int64 {
	n, _ := peakrss.Bytes()
	return n
}

// formatRSS renders a peak RSS for the text summaries.
func formatRSS(n int64) string {
	if n <= 0 {
		return "not available on this system"
	}
	return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
}
