// Package commands turns wifiq's command lines into options and runs them.
// Each subcommand lives in a file of its own; the work is done by the domain
// packages (capture, replay, ops, ...).
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command failed
	ExitUsage   = 2 // invalid flags or arguments
	ExitPartial = 3 // the command finished, but some input was skipped
	// ExitInterrupted is the status after SIGINT or SIGTERM stopped a
	// command before it finished (128 + SIGINT, as shells report it).
	ExitInterrupted = 130
)

const exitStatusHelp = `
Exit status:
  0    success
  1    failure
  2    invalid flags or arguments
  3    finished, but some input could not be read and was skipped
  130  interrupted by SIGINT or SIGTERM
`

// IO holds the streams a command uses, so tests can replace them.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutIsTerminal and ErrIsTerminal decide between tables and JSON lines,
	// and whether progress is drawn; InIsTerminal tells a user typing from
	// a pipe.
	InIsTerminal  bool
	OutIsTerminal bool
	ErrIsTerminal bool
}

// SystemIO returns the process's standard streams.
func SystemIO() *IO {
	return &IO{
		In:            os.Stdin,
		Out:           os.Stdout,
		ErrOut:        os.Stderr,
		InIsTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
		OutIsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
		ErrIsTerminal: term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// Globals are the settings shared by every subcommand.
type Globals struct {
	IO      *IO
	Quiet   bool
	Verbose int
	Log     *slog.Logger
}

// usageError marks errors in flags or arguments (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// interruptedError reports what a command did before SIGINT or SIGTERM
// stopped it (exit status 130).
type interruptedError struct{ msg string }

func (e interruptedError) Error() string { return e.msg }
func (e interruptedError) Unwrap() error { return context.Canceled }

// partialError marks a run that finished but skipped input (exit status 3).
type partialError struct{ msg string }

func (e partialError) Error() string { return e.msg }

// NewRoot builds the wifiq command tree.
func NewRoot(g *Globals, version string) *cobra.Command {
	root := &cobra.Command{
		Use:   "wifiq",
		Short: "Decode, stream and analyse 802.11 captures",
		Long: `wifiq turns Wi-Fi captures into tshark-compatible JSON records and reports on
them. Every subcommand reads and writes records as JSON lines, so they pipe
together in a shell or a cron job.`,
		Version:           versionString(version),
		SilenceUsage:      true,
		SilenceErrors:     true,
		DisableAutoGenTag: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelWarn
			switch {
			case g.Quiet:
				level = slog.LevelError
			case g.Verbose > 0:
				level = slog.LevelInfo
				if g.Verbose > 1 {
					level = slog.LevelDebug
				}
			}
			g.Log = newLogger(g.IO.ErrOut, level)
			return nil
		},
	}
	root.SetOut(g.IO.Out)
	root.SetErr(g.IO.ErrOut)
	root.SetIn(g.IO.In)
	root.PersistentFlags().BoolVarP(&g.Quiet, "quiet", "q", false, "print only errors on stderr")
	root.PersistentFlags().CountVarP(&g.Verbose, "verbose", "v", "print more on stderr (-vv for debug output)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	root.SetUsageTemplate(root.UsageTemplate() + exitStatusHelp)

	root.AddCommand(
		NewCmdConsume(g),
		NewCmdProduce(g),
		NewCmdQuery(g),
		NewCmdReport(g),
		NewCmdCapture(g),
		NewCmdReplayPcap(g),
		NewCmdStats(g),
		NewCmdFingerprint(g),
		NewCmdSplit(g),
		NewCmdEnrich(g),
		NewCmdSink(g),
	)
	addFlagCompletions(root)
	return root
}

// versionString adds what the Go toolchain recorded about the build: the
// commit, its time, whether the tree had changes, and the Go version.
func versionString(version string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	out := version
	if rev := settings["vcs.revision"]; rev != "" {
		out += " (commit " + rev
		if t := settings["vcs.time"]; t != "" {
			out += ", " + t
		}
		if settings["vcs.modified"] == "true" {
			out += ", modified"
		}
		out += ")"
	}
	return out + ", " + info.GoVersion + " " + settings["GOOS"] + "/" + settings["GOARCH"]
}

// newLogger logs key=value lines on w without the time, which a terminal
// does not need and a service manager adds itself.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Main runs wifiq with the process's arguments and returns the exit status.
func Main(version string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &Globals{IO: SystemIO(), Log: newLogger(os.Stderr, slog.LevelWarn)}
	g.IO.In = newContextReader(ctx, os.Stdin)
	root := NewRoot(g, version)
	return Run(ctx, root, g, os.Args[1:])
}

// Run executes the command tree with args and maps the outcome to an exit
// status, printing the error once.
func Run(ctx context.Context, root *cobra.Command, g *Globals, args []string) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		var interrupted interruptedError
		if errors.As(err, &interrupted) {
			fmt.Fprintf(g.IO.ErrOut, "wifiq: %v\n", err)
		} else {
			fmt.Fprintln(g.IO.ErrOut, "wifiq: interrupted")
		}
		return ExitInterrupted
	}
	fmt.Fprintf(g.IO.ErrOut, "wifiq: %v\n", err)
	var usage usageError
	var partial partialError
	switch {
	case errors.As(err, &usage):
		return ExitUsage
	case errors.As(err, &partial):
		return ExitPartial
	case isCobraUsageError(err):
		return ExitUsage
	}
	return ExitFailure
}

// isCobraUsageError recognises the argument errors cobra returns itself.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "invalid argument"} {
		if len(msg) >= len(prefix) && msg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
