package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/wifiq/wifiq/record"
)

// ValueError describes a message whose value is not a record.
type ValueError struct {
	Topic     string
	Partition int32
	Offset    int64
	Reason    string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("topic %s partition %d offset %d: %s", e.Topic, e.Partition, e.Offset, e.Reason)
}

// maxValueLine is record.Reader's line limit of 4 MiB, newline included.
// A longer line makes it stop reading its input, so longer values are
// rejected before they reach it.
const maxValueLine = 4 << 20

// RecordReader parses the values of a Consumer's messages as records, with
// the same rules as record.Reader has for lines of a file: wifiq records in
// either value style, and tshark -T ek records. It is what --from
// kafka:TOPIC reads through.
type RecordReader struct {
	consumer *Consumer
	feed     valueFeed
	reader   *record.Reader
}

// NewRecordReader returns a reader of the consumer's messages.
func NewRecordReader(c *Consumer) *RecordReader {
	r := &RecordReader{consumer: c}
	r.reader = record.NewReader(&r.feed, "topic "+c.topic)
	return r
}

// Read returns the next record with the message it came from; the record's
// Offset is the message's offset. A value that is not a record gives the
// message and a *ValueError, and the next call carries on. At the end of a
// bounded consumer it returns io.EOF. The record is valid until the next
// Read, as with record.Reader.
func (r *RecordReader) Read(ctx context.Context) (*record.Record, Message, error) {
	m, err := r.consumer.Next(ctx)
	if err != nil {
		return nil, Message{}, err
	}
	if reason := r.checkValue(m.Value); reason != "" {
		return nil, m, r.valueError(m, reason)
	}

	r.feed.start(m.Value)
	rec, err := r.reader.Read()
	if r.feed.overrun {
		// record.Reader skipped the value (tshark's {"index":...} lines) and
		// read the filler line that feed hands out after it.
		r.feed.reset()
		return nil, m, r.valueError(m, `tshark {"index":...} line, not a record`)
	}
	var lineErr *record.LineError
	if errors.As(err, &lineErr) {
		return nil, m, r.valueError(m, lineErr.Reason)
	}
	if err != nil {
		return nil, m, fmt.Errorf("unable to parse the value at topic %s partition %d offset %d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	rec.Offset = m.Offset
	return rec, m, nil
}

// checkValue rejects values that cannot be fed to record.Reader as one
// line.
func (r *RecordReader) checkValue(value []byte) string {
	switch {
	case len(bytes.TrimSpace(value)) == 0:
		return "empty value"
	case len(value) >= maxValueLine:
		return fmt.Sprintf("value of %d bytes is longer than the %d bytes a record line may have", len(value), maxValueLine-1)
	case bytes.ContainsAny(value, "\n"):
		return "value spans several lines; a record is one line of JSON"
	}
	return ""
}

func (r *RecordReader) valueError(m Message, reason string) error {
	return &ValueError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Reason: reason}
}

// Consumer returns the consumer that the reader reads from, for
// MarkProcessed, Buffered and Close.
func (r *RecordReader) Consumer() *Consumer { return r.consumer }

// valueFeed is the input of RecordReader's record.Reader: one value and a
// newline per Read call. record.Reader's scanner returns a line as soon as
// its buffer holds one, so it reads more only when it skips a line. The
// feed then hands out a filler line that fails to parse, and sets overrun.
type valueFeed struct {
	pending []byte
	line    []byte
	overrun bool
}

var fillerLine = []byte("-\n")

func (f *valueFeed) start(value []byte) {
	f.line = append(append(f.line[:0], value...), '\n')
	f.pending = f.line
	f.overrun = false
}

func (f *valueFeed) reset() {
	f.pending = nil
	f.overrun = false
}

func (f *valueFeed) Read(p []byte) (int, error) {
	if len(f.pending) == 0 {
		f.overrun = true
		f.pending = fillerLine
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}
