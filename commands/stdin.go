package commands

import (
	"context"
	"io"
)

// contextReader reads from a reader that may block for ever (a terminal, a
// quiet pipe) and gives up when its context ends, so that SIGINT and SIGTERM
// stop a command that waits for input. The read that was waiting goes on in
// a goroutine, which ends with the process.
type contextReader struct {
	ctx     context.Context
	r       io.Reader
	results chan readResult
	pending bool
	buf     []byte
}

type readResult struct {
	n   int
	err error
}

func newContextReader(ctx context.Context, r io.Reader) *contextReader {
	return &contextReader{ctx: ctx, r: r, results: make(chan readResult, 1)}
}

func (c *contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if !c.pending {
		// Read into a buffer of our own: p may be reused by the caller
		// once Read returns early.
		if cap(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		buf := c.buf[:len(p)]
		c.pending = true
		go func() {
			n, err := c.r.Read(buf)
			c.results <- readResult{n, err}
		}()
	}
	select {
	case res := <-c.results:
		c.pending = false
		n := copy(p, c.buf[:res.n])
		return n, res.err
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}
