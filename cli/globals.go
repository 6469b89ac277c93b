package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/alecthomas/kong"
)

// Globals are the flags every command accepts, and the streams and logger
// Main sets up for the command's Run method.
type Globals struct {
	LogLevel   string           `help:"Log level on stderr: ${enum} (default ${default})." enum:"debug,info,warn,error" default:"info" env:"BSNNCTL_LOG_LEVEL" placeholder:"LEVEL"`
	LogJSON    bool             `name:"log-json" help:"Write logs as JSON lines instead of text."`
	NoProgress bool             `help:"Never draw progress bars (they are drawn only when stderr is a terminal)."`
	Version    kong.VersionFlag `help:"Print the version and exit."`

	// Stdout receives results (tables, JSON); Stderr logs and progress.
	Stdout io.Writer `kong:"-"`
	Stderr io.Writer `kong:"-"`
	// Log writes structured logs to Stderr at the chosen level.
	Log *slog.Logger `kong:"-"`
}

// setup installs the streams and the logger once the flags are parsed.
func (g *Globals) setup(stdout, stderr io.Writer) {
	g.Stdout, g.Stderr = stdout, stderr
	level, _ := parseLevel(g.LogLevel)
	g.Log = g.logger(level)
}

// logger is a logger on Stderr at level, text or JSON as --log-json says.
func (g *Globals) logger(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if g.LogJSON {
		return slog.New(slog.NewJSONHandler(g.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.Stderr, opts))
}

// parseLevel maps the --log-level names to slog levels.
func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("unknown log level %q", s)
}

// ShowProgress reports whether a command may draw progress bars: stderr is a
// terminal and --no-progress was not given.
func (g *Globals) ShowProgress() bool {
	if g.NoProgress {
		return false
	}
	f, ok := g.Stderr.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// PrintJSON writes v to stdout as indented JSON followed by a newline.
func (g *Globals) PrintJSON(v any) error {
	enc := json.NewEncoder(g.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
