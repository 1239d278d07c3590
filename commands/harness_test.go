package commands

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
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
