package record

import "io"

// Sink receives encoded records: each line is one JSON record ending in a
// newline (tshark's index line may precede it), with the record's event
// time in milliseconds since the Unix epoch. Standard output and Kafka
// topics are sinks.
type Sink interface {
	WriteRecord(timestamp int64, line []byte) error
	// Flush hands on what the sink buffered.
	Flush() error
}

// LineWriter is a Sink that writes lines to an io.Writer, collecting them
// into large writes.
type LineWriter struct {
	w   io.Writer
	buf []byte
}

// lineWriterSize is the amount of buffered lines that triggers a write.
const lineWriterSize = 256 * 1024

// NewLineWriter returns a LineWriter on w.
func NewLineWriter(w io.Writer) *LineWriter {
	return &LineWriter{w: w, buf: make([]byte, 0, lineWriterSize+64*1024)}
}

// WriteRecord appends line to the buffer and writes the buffer out when it
// is full.
func (l *LineWriter) WriteRecord(_ int64, line []byte) error {
	l.buf = append(l.buf, line...)
	if len(l.buf) >= lineWriterSize {
		return l.Flush()
	}
	return nil
}

// Flush writes the buffered lines.
func (l *LineWriter) Flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}
