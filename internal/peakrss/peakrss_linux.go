package peakrss

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// peak reads VmHWM, the high-water mark of this process's own memory, from
// /proc/self/status, and falls back to ru_maxrss. ru_maxrss also counts the
// memory of the process a program was started from when that process used
// vfork, as Go's os/exec does: a command run by a large Go program would
// report the parent's peak.
func peak() (int64, bool) {
	if n, ok := vmHWM(); ok {
		return n, true
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Maxrss * 1024, true // Linux reports kibibytes
}

// vmHWM reads the "VmHWM:   1234 kB" line of /proc/self/status.
func vmHWM() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		return kb * 1024, err == nil
	}
	return 0, false
}
