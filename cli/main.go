package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/bsnnctl/bsnnctl/dist"
)

// Version is the toolkit's version, printed by --version. Release builds
// set it with -ldflags "-X github.com/bsnnctl/bsnnctl/cli.Version=1.2.3".
var Version = "0.1.0-dev"

// Exit statuses (docs/spec/cli.md).
const (
	ExitOK    = 0
	ExitError = 1  // a runtime error: one line on stderr
	ExitUsage = 80 // a usage error: kong's exit code for parse errors
)

const description = `bsnnctl turns PyTorch ONNX exports into binary spiking neural networks
(±1 weights, LIF neurons over T time steps), fine-tunes them and exports
annotated ONNX. Results go to stdout (a table, or JSON with --json); logs and
progress go to stderr.`

// CLI is the command line: the global flags and one field per command.
// Adding a command is one file (cli/<name>.go with the XCmd struct and its
// Run method) plus one field here; see doc.go.
type CLI struct {
	Globals

	Quickstart QuickstartCmd `cmd:"" help:"The whole pipeline (import, finetune, eval, export) on the embedded model and data, in a few minutes."`
	Inspect    InspectCmd    `cmd:"" help:"Summarize an ONNX model: opsets, inputs, outputs, op counts, parameters."`
	Import     ImportCmd     `cmd:"" help:"Convert a float ONNX network into a binary spiking network (BSNN), after verifying it runs."`
	Finetune   FinetuneCmd   `cmd:"" help:"Fine-tune a BSNN with AGMM: metrics, checkpoints, resume."`
	Eval       EvalCmd       `cmd:"" help:"Evaluate a model on a data set: accuracy, loss, firing rates, SOPs and energy."`
	Export     ExportCmd     `cmd:"" help:"Write a BSNN in another profile: portable, plain (standard ops), packed (1-bit weights) or train."`
	Run        RunCmd        `cmd:"" help:"Run a model in the toolkit's engine on .npy / .pb input tensors."`
	Plot       PlotCmd       `cmd:"" help:"Render a run's curves (loss, accuracy, flip rate, firing rate, AGMM alpha) to PNG."`
	Ops        OpsCmd        `cmd:"" help:"List the ONNX ops the engine supports, with their opset ranges."`
	Bench      BenchCmd      `cmd:"" help:"Speed of the engine against PyTorch, measured in the same run on the same threads."`
}

// exitCode is what the kong.Exit hook panics with so that Main, not kong,
// ends the run (kong.Exit must not return to kong).
type exitCode int

// Main parses args, runs the selected command and returns the process exit
// status: 0 on success, 1 on a runtime error (one line "bsnnctl: <message>"
// on stderr), 80 on a usage error. It never panics: a panic in a command is
// reported as a runtime error (with the stack at --log-level debug).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, stop := refuseLaunch(stderr); stop {
		return code
	}
	return mainWith(ctx, &CLI{}, args, stdout, stderr)
}

// grammar is a kong grammar struct embedding Globals (CLI, or a test's).
type grammar interface{ globals() *Globals }

func (g *Globals) globals() *Globals { return g }

// mainWith is Main for a given grammar.
func mainWith(ctx context.Context, cli grammar, args []string, stdout, stderr io.Writer) (code int) {
	// debugStack is set once the log level is known.
	debugStack := false
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if c, ok := r.(exitCode); ok {
			code = int(c)
			return
		}
		fmt.Fprintf(stderr, "bsnnctl: internal error: %s\n", oneLine(fmt.Sprint(r)))
		if debugStack {
			stderr.Write(debug.Stack())
		}
		code = ExitError
	}()

	parser, err := kong.New(cli,
		kong.Name("bsnnctl"),
		kong.Description(description),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{"version": Version},
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { panic(exitCode(c)) }),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		// The grammar itself is wrong: a programming error.
		fmt.Fprintf(stderr, "bsnnctl: internal error: %s\n", oneLine(err.Error()))
		return ExitError
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		// Usage, then the error, on stderr: stdout carries only results.
		parser.Stdout = stderr
		var pe *kong.ParseError
		if errors.As(err, &pe) {
			err = usageError{err}
		}
		parser.FatalIfErrorf(err)
		return ExitUsage // not reached: FatalIfErrorf exits
	}

	g := cli.globals()
	level, _ := parseLevel(g.LogLevel)
	debugStack = level <= slog.LevelDebug
	g.setup(stdout, stderr)
	if sel := kctx.Selected(); sel != nil {
		if code, stop := refuseMulti(sel.Target.Addr().Interface(), commandName(kctx.Command()), launchOf(), stderr); stop {
			return code
		}
	}

	if err := kctx.Run(g); err != nil {
		if dist.Quiet(err) {
			return ExitError // another rank of the job prints it
		}
		msg := "bsnnctl: " + oneLine(err.Error())
		var je *jobError
		if errors.As(err, &je) {
			je.comm.Abort(ExitError, msg) // ends every rank; does not return
		}
		fmt.Fprintln(stderr, msg)
		var ec kong.ExitCoder
		if errors.As(err, &ec) && ec.ExitCode() != ExitOK {
			return ec.ExitCode()
		}
		return ExitError
	}
	return ExitOK
}

// usageError makes every parse error (including ones kong reports from
// resolvers and hooks with status 1) a usage error with status 80.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
func (usageError) ExitCode() int   { return ExitUsage }

// oneLine collapses a message onto one line, so stderr gets exactly one line
// per error even when a library's message spans several.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}
