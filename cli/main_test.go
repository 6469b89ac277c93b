package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/cli"
)

// result is what one Main call did.
type result struct {
	code           int
	stdout, stderr string
}

// bsnnctl runs Main with args.
func bsnnctl(t testing.TB, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok fails the test unless the run exited 0.
func (r result) ok(t testing.TB) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	return r
}

// runtimeError checks the contract for a runtime error: exit 1, exactly one
// line "bsnnctl: ..." on stderr, no Go panic or stack trace. It returns the
// line.
func (r result) runtimeError(t testing.TB) string {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("stderr is not exactly one line:\n%s", r.stderr)
	}
	line := strings.TrimSuffix(r.stderr, "\n")
	if !strings.HasPrefix(line, "bsnnctl: ") {
		t.Fatalf("stderr line does not start with %q: %s", "bsnnctl: ", line)
	}
	for _, bad := range []string{"panic", "goroutine"} {
		if strings.Contains(line, bad) {
			t.Fatalf("stderr mentions %q: %s", bad, line)
		}
	}
	return line
}

func TestVersion(t *testing.T) {
	r := bsnnctl(t, "--version").ok(t)
	if got := strings.TrimSpace(r.stdout); got != cli.Version {
		t.Errorf("--version printed %q, want %q", got, cli.Version)
	}
}

func TestHelpListsOnlyImplementedCommands(t *testing.T) {
	r := bsnnctl(t, "--help").ok(t)
	for _, cmd := range []string{"inspect", "ops", "run"} {
		if !strings.Contains(r.stdout, "  "+cmd+" ") {
			t.Errorf("--help does not list %q:\n%s", cmd, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("--help wrote to stderr:\n%s", r.stderr)
	}
	for _, args := range [][]string{{"inspect", "--help"}, {"ops", "--help"}, {"run", "--help"}} {
		bsnnctl(t, args...).ok(t)
	}
}

func TestUsageErrorsExit80(t *testing.T) {
	cases := []struct {
		name string
		env  string // BSNNCTL_LOG_LEVEL
		args []string
	}{
		{"no command", "", nil},
		{"unknown command", "", []string{"frobnicate"}},
		{"unknown flag", "", []string{"ops", "--frobnicate"}},
		{"missing argument", "", []string{"inspect"}},
		{"extra argument", "", []string{"inspect", "a.onnx", "b.onnx"}},
		{"bad log level", "", []string{"--log-level", "loud", "ops"}},
		{"bad log level from env", "loud", []string{"ops"}},
		{"bad int", "", []string{"run", "m.onnx", "--batch", "many"}},
		{"negative batch", "", []string{"run", "m.onnx", "--batch=-2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("BSNNCTL_LOG_LEVEL", c.env)
			}
			r := bsnnctl(t, c.args...)
			if r.code != 80 {
				t.Fatalf("exit %d, want 80\nstderr:\n%s", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("a usage error wrote to stdout:\n%s", r.stdout)
			}
			if !strings.Contains(r.stderr, "bsnnctl: error: ") {
				t.Errorf("stderr has no error line:\n%s", r.stderr)
			}
		})
	}
}

func TestLogLevelFromEnv(t *testing.T) {
	t.Setenv("BSNNCTL_LOG_LEVEL", "debug")
	bsnnctl(t, "ops").ok(t)
}
