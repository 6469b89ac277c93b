package peakrss

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestBytesGrows: after touching 64 MiB the peak is at least that much.
func TestBytesGrows(t *testing.T) {
	before, ok := Bytes()
	if !ok {
		if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
			t.Fatalf("no peak RSS on %s", runtime.GOOS)
		}
		t.Skipf("no peak RSS on %s", runtime.GOOS)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	after, _ := Bytes()
	runtime.KeepAlive(buf)
	if after < 64<<20 || after < before {
		t.Errorf("peak RSS %d bytes after touching 64 MiB (before: %d)", after, before)
	}
}

// TestChildOfLargeParent: a program started by a large Go process (os/exec
// uses vfork) reports its own peak, not its parent's.
func TestChildOfLargeParent(t *testing.T) {
	if os.Getenv("PEAKRSS_CHILD") != "" {
		n, _ := Bytes()
		fmt.Println(n)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("the parent's peak leaks into ru_maxrss on Linux")
	}
	buf := make([]byte, 256<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildOfLargeParent$")
	cmd.Env = append(os.Environ(), "PEAKRSS_CHILD=1")
	out, err := cmd.Output()
	runtime.KeepAlive(buf)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatalf("child printed %q: %v", out, err)
	}
	if n <= 0 || n >= 128<<20 {
		t.Errorf("the child reports a peak RSS of %d bytes after its parent touched 256 MiB", n)
	}
}
