package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bsnnctl/bsnnctl/dist"
)

// testCLI exercises Main's error handling with commands that misbehave.
type testCLI struct {
	Globals

	Boom      boomCmd      `cmd:""`
	Multiline multilineCmd `cmd:""`
	Coded     codedCmd     `cmd:""`
	Ctx       ctxCmd       `cmd:""`
}

type boomCmd struct{}

func (boomCmd) Run(*Globals) error {
	var m map[string]int
	m["x"]++ // a nil map write: a runtime panic
	return nil
}

type multilineCmd struct{}

func (multilineCmd) Run(*Globals) error {
	return errors.New("first line\nsecond line\r\n  third line\n")
}

type codedErr struct{}

func (codedErr) Error() string { return "a coded error" }
func (codedErr) ExitCode() int { return 3 }

type codedCmd struct{}

func (codedCmd) Run(*Globals) error { return fmt.Errorf("wrapped: %w", codedErr{}) }

type ctxKey struct{}

type ctxCmd struct{}

func (ctxCmd) Run(ctx context.Context, g *Globals) error {
	fmt.Fprintln(g.Stdout, ctx.Value(ctxKey{}))
	return nil
}

func runTest(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	ctx := context.WithValue(context.Background(), ctxKey{}, "bound")
	code := mainWith(ctx, &testCLI{}, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPanicBecomesOneLine(t *testing.T) {
	code, _, stderr := runTest("boom")
	if code != ExitError {
		t.Fatalf("exit %d, want %d", code, ExitError)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "bsnnctl: internal error: ") {
		t.Fatalf("stderr is not one \"bsnnctl: internal error: ...\" line:\n%s", stderr)
	}
	if strings.Contains(stderr, "goroutine") {
		t.Fatalf("stack trace at the default log level:\n%s", stderr)
	}

	code, _, stderr = runTest("--log-level", "debug", "boom")
	if code != ExitError {
		t.Fatalf("exit %d, want %d", code, ExitError)
	}
	if !strings.HasPrefix(stderr, "bsnnctl: internal error: ") || !strings.Contains(stderr, "goroutine") {
		t.Fatalf("at debug level, want the error line then the stack:\n%s", stderr)
	}
}

func TestErrorIsOneLine(t *testing.T) {
	code, _, stderr := runTest("multiline")
	if code != ExitError {
		t.Fatalf("exit %d, want %d", code, ExitError)
	}
	if want := "bsnnctl: first line second line third line\n"; stderr != want {
		t.Fatalf("stderr = %q, want %q", stderr, want)
	}
}

func TestExitCoderError(t *testing.T) {
	code, _, stderr := runTest("coded")
	if code != 3 || stderr != "bsnnctl: wrapped: a coded error\n" {
		t.Fatalf("exit %d, stderr %q; want 3 and one line", code, stderr)
	}
}

func TestContextIsBound(t *testing.T) {
	code, stdout, _ := runTest("ctx")
	if code != 0 || stdout != "bound\n" {
		t.Fatalf("exit %d, stdout %q; want the context Main was given", code, stdout)
	}
}

func TestOutputFileNames(t *testing.T) {
	cases := []struct {
		in   []string
		want []string
	}{
		{[]string{"output"}, []string{"output.npy"}},
		{[]string{"/fc3/Gemm_output_0"}, []string{"_fc3_Gemm_output_0.npy"}},
		{[]string{"a/b", "a_b", "a:b"}, []string{"a_b.npy", "a_b_2.npy", "a_b_3.npy"}},
		{[]string{"Out", "out"}, []string{"Out.npy", "out_2.npy"}},
		{[]string{"..", ".", ".hidden"}, []string{"_..npy", "_.npy", "_hidden.npy"}},
		{[]string{"", `..\..\x`, "ü y"}, []string{"output.npy", "_._.._x.npy", "___y.npy"}},
		{[]string{strings.Repeat("x", 300)}, []string{strings.Repeat("x", 200) + ".npy"}},
	}
	for _, c := range cases {
		got := outputFileNames(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("outputFileNames(%q) = %q, want %q", c.in, got, c.want)
		}
		for _, f := range got {
			if filepath.Base(f) != f || strings.ContainsAny(f, `/\`) || strings.HasPrefix(f, ".") {
				t.Errorf("file name %q leaves the output folder or is hidden", f)
			}
		}
	}
}

func TestFileErrorNamesPathOnce(t *testing.T) {
	_, err := readTensorFile(filepath.Join(t.TempDir(), "missing.npy"))
	if err == nil {
		t.Fatal("no error for a missing file")
	}
	if n := strings.Count(err.Error(), "missing.npy"); n != 1 {
		t.Errorf("%q names the file %d times, want once", err, n)
	}
}

// TestRefuseMulti: under a launch of several processes, a command that
// runs as one process stops (rank 0 prints one line, the others nothing);
// finetune and single-process launches go on.
func TestRefuseMulti(t *testing.T) {
	two := dist.Launch{Launcher: "mpirun", Rank: 0, Size: 2, From: "OMPI_COMM_WORLD_RANK"}
	for _, tc := range []struct {
		cmd    any
		launch dist.Launch
		stop   bool
		line   string
	}{
		{&OpsCmd{}, two, true, "bsnnctl: ops runs as one process, and mpirun started 2 processes: only finetune runs as a data-parallel job; start ops without mpirun\n"},
		{&OpsCmd{}, dist.Launch{Launcher: "mpirun", Rank: 1, Size: 2}, true, ""},
		{&FinetuneCmd{}, two, false, ""},
		{&OpsCmd{}, dist.Launch{Launcher: "mpirun", Rank: 0, Size: 1}, false, ""},
		{&OpsCmd{}, dist.Launch{}, false, ""},
	} {
		var stderr bytes.Buffer
		code, stop := refuseMulti(tc.cmd, "ops", tc.launch, &stderr)
		if stop != tc.stop || (stop && code != ExitError) || stderr.String() != tc.line {
			t.Errorf("%T under %+v: stop %v, code %d, stderr %q; want stop %v and %q", tc.cmd, tc.launch, stop, code, stderr.String(), tc.stop, tc.line)
		}
	}
}

// TestCloseComm: after a command, a group is closed when every rank stopped
// at the same point (success, or an error agreed with dist.Agree); any
// other error of a rank of several becomes a *jobError, on which Main ends
// the whole job, and a single process's error stays as it is.
func TestCloseComm(t *testing.T) {
	plain := errors.New("disk full")
	if err := closeComm(dist.Local{}, plain); err != plain {
		t.Errorf("one process: %v, want the error as it is", err)
	}
	comms := dist.InProcess(2)
	var je *jobError
	if err := closeComm(comms[1], plain); !errors.As(err, &je) || err.Error() != "rank 1 of 2: disk full" {
		t.Errorf("an error of rank 1 alone: %v, want a *jobError", err)
	}
	errs := make([]error, 2)
	done := make(chan struct{})
	for r, c := range comms {
		go func() {
			defer func() { done <- struct{}{} }()
			agreed := dist.Agree(c, plain) // both ranks fail: an agreed error
			errs[r] = closeComm(c, agreed)
		}()
	}
	<-done
	<-done
	for r, err := range errs {
		var re *dist.RankError
		if !errors.As(err, &re) {
			t.Errorf("rank %d: %v, want the agreed *dist.RankError", r, err)
		}
	}
	for _, c := range comms {
		if err := c.Barrier(); !errors.Is(err, dist.ErrClosed) {
			t.Errorf("rank %d: the group is not closed after an agreed error (%v)", c.Rank(), err)
		}
	}
}
