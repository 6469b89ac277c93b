package peakrss

import (
	"runtime"
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
