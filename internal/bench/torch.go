package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Python is the interpreter with Debian's torch.
var Python = "/usr/bin/python3"

// ErrNoTorch is wrapped by the errors that mean PyTorch could not be
// started at all (no interpreter, no torch module), as opposed to a
// failure of the benchmark itself.
var ErrNoTorch = errors.New("PyTorch unavailable")

// Torch is a persistent PyTorch subprocess driven over a pipe. The script
// speaks a line protocol: on start it prints one JSON object (its ready
// line, kept in Ready); then, for every command line read from stdin, it
// prints one JSON object, with an "error" key when the command failed.
// A step command replies {"s": seconds}, timed inside Python around the
// step only.
type Torch struct {
	// Ready is the script's first line.
	Ready   json.RawMessage
	name    string
	version string
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	errb    *tailBuffer
}

// StartTorch runs script (the text of a Python program) with args under
// Python, with threads OpenMP/MKL threads, and waits for its ready line.
func StartTorch(ctx context.Context, script string, threads int, args ...string) (*Torch, error) {
	if _, err := os.Stat(Python); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoTorch, err)
	}
	cmd := exec.CommandContext(ctx, Python, append([]string{"-u", "-c", script}, args...)...)
	cmd.Env = torchEnv(os.Environ(), threads)
	t := &Torch{name: "pytorch", cmd: cmd, errb: &tailBuffer{max: 4096}}
	cmd.Stderr = t.errb
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	t.in, t.out = in, bufio.NewReaderSize(out, 1<<20)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoTorch, Python, err)
	}
	line, err := t.readLine()
	if err != nil {
		t.Close()
		msg := t.errb.last()
		if strings.Contains(msg, "No module named 'torch'") {
			return nil, fmt.Errorf("%w: %s has no torch module", ErrNoTorch, Python)
		}
		return nil, fmt.Errorf("PyTorch did not start: %s", msg)
	}
	if err := replyError(line); err != nil {
		t.Close()
		return nil, err
	}
	t.Ready = line
	var v struct {
		Torch string `json:"torch"`
	}
	json.Unmarshal(line, &v)
	t.version = v.Torch
	return t, nil
}

// Call sends one command line and decodes the reply into reply (which may
// be nil).
func (t *Torch) Call(command string, reply any) error {
	if _, err := io.WriteString(t.in, command+"\n"); err != nil {
		return fmt.Errorf("PyTorch: %q: %v: %s", command, err, t.errb.last())
	}
	line, err := t.readLine()
	if err != nil {
		return fmt.Errorf("PyTorch: %q: no reply: %s", command, t.errb.last())
	}
	if err := replyError(line); err != nil {
		return err
	}
	if reply == nil {
		return nil
	}
	if err := json.Unmarshal(line, reply); err != nil {
		return fmt.Errorf("PyTorch: %q: reply %.200q: %w", command, line, err)
	}
	return nil
}

// Name implements Engine.
func (t *Torch) Name() string { return t.name }

// Version is torch.__version__ (from the ready line's "torch" key).
func (t *Torch) Version() string { return t.version }

// Step implements Engine: the "step" command.
func (t *Torch) Step() (time.Duration, error) {
	var r struct {
		S float64 `json:"s"`
	}
	if err := t.Call("step", &r); err != nil {
		return 0, err
	}
	return time.Duration(r.S * float64(time.Second)), nil
}

// Close ends the subprocess.
func (t *Torch) Close() error {
	t.in.Close() // EOF: the script's command loop ends
	done := make(chan error, 1)
	go func() { done <- t.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.cmd.Process.Kill()
		return <-done
	}
}

func (t *Torch) readLine() ([]byte, error) {
	line, err := t.out.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	return bytes.TrimSpace(line), nil
}

// replyError returns the error a reply line carries, if any.
func replyError(line []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return fmt.Errorf("PyTorch printed %.200q: %v", line, err)
	}
	if e.Error != "" {
		return fmt.Errorf("PyTorch: %s", e.Error)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it (a subprocess's
// stderr, for error messages).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

// last returns the last non-empty line written.
func (w *tailBuffer) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.TrimSpace(string(w.b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "(no message on stderr)"
	}
	return s
}

// torchAllocator are the glibc malloc settings PyTorch runs with unless the
// environment already sets them. By default glibc serves every buffer of
// 128 KiB or more with its own mmap and unmaps it on free, so each PyTorch
// step faults its activations and gradients in afresh, page by page; on a
// machine that also reclaims memory in the background that made PyTorch's
// step time swing 1-4x from round to round. With these, freed buffers stay
// in the heap and the next step reuses them, as bsnnctl reuses its own:
// the comparison is of arithmetic, not of page faults.
var torchAllocator = []string{
	"MALLOC_MMAP_THRESHOLD_=33554432", // 32 MiB, glibc's largest on 64-bit
	"MALLOC_TRIM_THRESHOLD_=4294967296",
	"MALLOC_TOP_PAD_=268435456",
}

// torchEnv is environ with threads OpenMP and MKL threads and, where
// environ does not set them, the torchAllocator settings.
func torchEnv(environ []string, threads int) []string {
	env := append([]string(nil), environ...)
	set := make(map[string]bool, len(environ))
	for _, kv := range environ {
		set[strings.SplitN(kv, "=", 2)[0]] = true
	}
	for _, kv := range torchAllocator {
		if !set[strings.SplitN(kv, "=", 2)[0]] {
			env = append(env, kv)
		}
	}
	return append(env, fmt.Sprintf("OMP_NUM_THREADS=%d", threads), fmt.Sprintf("MKL_NUM_THREADS=%d", threads))
}
