package interop

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMPICommand: mpirun starts the ranks, and when the context ends it
// ends them too (no rank survives its mpirun).
func TestMPICommand(t *testing.T) {
	if out, err := MPICommand(context.Background(), t, 2, "true").CombinedOutput(); err != nil {
		t.Fatalf("mpirun -np 2 true: %v\n%s", err, out)
	}

	const marker = "sleep\x00314.159\x00" // the ranks' command line, unlikely elsewhere
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := MPICommand(ctx, t, 2, "sleep", "314.159").Run(); err == nil {
		t.Fatal("mpirun of sleep 314.159 ended without error before its context")
	}
	if d := time.Since(start); d > 2*time.Second+MPIRunWaitDelay {
		t.Errorf("mpirun took %v to end after its context did", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ranksAlive(marker) {
		if time.Now().After(deadline) {
			t.Fatal("a rank (sleep 314.159) outlived mpirun")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ranksAlive reports whether a process's command line is marker.
func ranksAlive(marker string) bool {
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Equal(b, []byte(marker)) {
			return true
		}
	}
	return false
}
