package data_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bsnnctl/bsnnctl/train/data"
)

// logBuffer is a concurrency-safe log destination for tests.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testLog returns a logger at debug level that writes to the returned buffer.
func testLog() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func openEvents(t *testing.T, kind data.Kind, dir string, split data.Split, opt data.EventOptions) *data.EventDataset {
	t.Helper()
	if opt.Log == nil {
		opt.Log, _ = testLog()
	}
	d, err := data.OpenEvents(data.Spec{Kind: kind, Dir: dir}, split, opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// countsOf returns sample i's counts.
func countsOf(t *testing.T, d *data.EventDataset, i int) []uint16 {
	t.Helper()
	c := make([]uint16, d.SampleLen())
	if err := d.Counts(i, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// binned bins events as the reference for a sample.
func binned(t *testing.T, ev []data.Event, sensor data.Sensor, T int, mode data.BinMode, size data.FrameSize) []uint16 {
	t.Helper()
	h, w := sensor.H, sensor.W
	if !size.IsZero() {
		h, w = size.H, size.W
	}
	c := make([]uint16, T*2*h*w)
	if err := data.BinEvents(c, ev, sensor, T, mode, size); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
