package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// metricsWriter keeps the run's metrics lines in memory and rewrites
// metrics.jsonl atomically on flush, so the file always holds whole lines.
// Without a path (ranks other than 0) it keeps and writes nothing.
type metricsWriter struct {
	path      string
	lines     [][]byte
	flushed   int
	lastFlush time.Time
}

func (w *metricsWriter) add(v any) error {
	if w.path == "" {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("metrics line: %w", err)
	}
	w.lines = append(w.lines, b)
	return nil
}

func (w *metricsWriter) count() int { return len(w.lines) }

func (w *metricsWriter) flush() error {
	if w.path == "" {
		return nil
	}
	if w.flushed == len(w.lines) && !w.lastFlush.IsZero() {
		return nil
	}
	err := onnx.WriteAtomic(w.path, func(f io.Writer) error {
		for _, l := range w.lines {
			if _, err := f.Write(l); err != nil {
				return err
			}
			if _, err := f.Write([]byte{'\n'}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.flushed = len(w.lines)
	w.lastFlush = time.Now()
	return nil
}

// maybeFlush flushes at most every few seconds.
func (w *metricsWriter) maybeFlush() error {
	if time.Since(w.lastFlush) < 5*time.Second {
		return nil
	}
	return w.flush()
}

// load reads the first n lines of an existing metrics file (a resumed run
// drops the lines written after its checkpoint).
func (w *metricsWriter) load(n int) error {
	b, err := os.ReadFile(w.path)
	if err != nil {
		if os.IsNotExist(err) && n == 0 {
			return nil
		}
		return err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	if len(lines) < n {
		return fmt.Errorf("%s has %d lines, the checkpoint expects %d", w.path, len(lines), n)
	}
	for _, l := range lines[:n] {
		w.lines = append(w.lines, []byte(l))
	}
	w.lastFlush = time.Time{}
	return nil
}

// testAccs returns the test accuracies of the epoch lines so far.
func (w *metricsWriter) testAccs() []float64 {
	var out []float64
	for _, l := range w.lines {
		var e struct {
			Kind    string  `json:"kind"`
			TestAcc float64 `json:"test_acc"`
		}
		if json.Unmarshal(l, &e) == nil && e.Kind == "epoch" {
			out = append(out, e.TestAcc)
		}
	}
	return out
}
