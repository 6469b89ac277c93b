// Package cli is bsnnctl's command line, as a library: Main parses the
// arguments with kong, runs the selected command and returns the exit
// status, so tests call it directly and cli/bsnnctl/main.go is only
// signal handling plus os.Exit(cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)).
// The contract (names, flags, exit codes, JSON shapes) is
// docs/spec/cli.md.
//
// # Conventions
//
//   - Results go to g.Stdout: a table (text/tabwriter), or JSON with --json
//     through g.PrintJSON. Logs go to g.Log (log/slog on stderr, text or
//     --log-json, level from --log-level / BSNNCTL_LOG_LEVEL). Progress bars
//     only when g.ShowProgress() (stderr is a terminal, no --no-progress).
//     Log progress at Debug level: at the default level a failing command
//     prints exactly one line on stderr.
//   - A command returns an error; Main prints it as one line
//     "bsnnctl: <message>" and exits 1 (or the error's ExitCode() when it
//     implements kong.ExitCoder). Name the file, node or tensor at fault:
//     wrap file errors with fileErr(path, err), which names the path once.
//     Do not print errors yourself and never call os.Exit.
//   - Usage errors (unknown flags, bad enum values, a Validate() error)
//     exit 80 with the usage on stderr.
//   - Panics are recovered by Main and reported as one line (the stack is
//     added at --log-level debug); still, commands should return errors.
//   - Files are written atomically (onnx.WriteAtomic, onnx.EncodeFile,
//     npy.WriteFile).
//   - Long work checks ctx.Err() (SIGINT/SIGTERM cancel the context).
//   - Tensors on the command line: readTensorFile (.npy or TensorProto .pb,
//     by extension) and floatData.
//
// # Adding a command
//
// A command is one file plus one field. For `bsnnctl eval`, cli/eval.go
// declares the command's flags and arguments as a struct, with a Run method
// taking what it needs among *Globals and context.Context (Main binds both):
//
//	// EvalCmd is `bsnnctl eval MODEL.onnx --data SPEC [--json]`.
//	type EvalCmd struct {
//		Model string `arg:"" name:"model.onnx" help:"..."`
//		Data  string `required:"" placeholder:"SPEC" help:"..."`
//		JSON  bool   `name:"json" help:"Print the results as JSON."`
//	}
//
//	func (c *EvalCmd) Run(ctx context.Context, g *Globals) error { ... }
//
// An optional `Validate() error` method on the struct turns bad flag values
// into usage errors (exit 80). Then one field registers it in the CLI struct
// (main.go), in the order of the spec:
//
//	Eval EvalCmd `cmd:"" help:"Accuracy, loss, firing rate per layer, energy."`
//
// Tests go in cli/eval_test.go: they call Main(ctx, []string{"eval", ...},
// &stdout, &stderr) and check the exit status, stdout and stderr (main_test.go
// has helpers). README.md's command reference gets a section with an example
// and the JSON shape.
//
// A command that is not implemented does not exist: register it only when
// its Run does the work.
package cli
