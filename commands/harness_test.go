package commands

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// cliResult is what one wifiq invocation printed and returned.
type cliResult struct {
	stdout, stderr string
	code           int
}

// invokeCLI runs wifiq with args and stdin as a user's shell would, with
// stdout and stderr not being terminals.
func invokeCLI(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	g := &Globals{IO: &IO{In: stdin, Out: &out, ErrOut: &errOut}}
	g.Log = slog.New(slog.NewTextHandler(&errOut, nil))
	code := Run(context.Background(), NewRoot(g, "test"), g, args)
	return cliResult{out.String(), errOut.String(), code}
}

// TestInterruptWhileWaitingForInput checks that a command blocked on
// standard input stops when its context ends, as on SIGINT or SIGTERM.
func TestInterruptWhileWaitingForInput(t *testing.T) {
	for _, args := range [][]string{{"stats"}, {"replay-pcap", "-"}} {
		stdin, w := io.Pipe() // no data ever arrives
		defer w.Close()
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut bytes.Buffer
		g := &Globals{IO: &IO{In: newContextReader(ctx, stdin), Out: &out, ErrOut: &errOut}}
		g.Log = slog.New(slog.NewTextHandler(&errOut, nil))
		done := make(chan int)
		go func() { done <- Run(ctx, NewRoot(g, "test"), g, args) }()
		cancel()
		select {
		case code := <-done:
			if code != ExitInterrupted || !strings.Contains(errOut.String(), "wifiq: interrupted") {
				t.Errorf("%v: exit %d, stderr %q; want %d and \"interrupted\"", args, code, errOut.String(), ExitInterrupted)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%v did not stop within 30 s of the interrupt", args)
		}
	}
}
