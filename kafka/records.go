package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
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
	reader   *record.Reader
	decoder  ValueDecoder
	decoded  []byte
}

// ValueDecoder turns binary values into record JSON lines. The Avro values
// of the Confluent wire format (magic byte 0, then a 4-byte schema ID) go
// through it.
type ValueDecoder interface {
	// Decode appends the record JSON of value, without a newline, to dst.
	// An error for which Skip returns true skips only this value.
	Decode(ctx context.Context, value []byte, dst []byte) ([]byte, error)
	Skip(err error) bool
}

// ErrNoSchemaRegistry is the error for an Avro value read without a
// ValueDecoder.
var ErrNoSchemaRegistry = errors.New("no schema registry is set")

// SetValueDecoder makes the reader decode framed binary values with d.
func (r *RecordReader) SetValueDecoder(d ValueDecoder) { r.decoder = d }

// IsFramedValue reports whether value starts like the Confluent wire
// format: the magic byte 0 and a 4-byte schema ID. No JSON record starts
// with a zero byte.
func IsFramedValue(value []byte) bool { return len(value) >= 5 && value[0] == 0 }

// DecodeFramed decodes a framed value with d. A value that d skips gives a
// *ValueError; a missing decoder and other failures give an error that
// names the position, because they concern every later value too.
func DecodeFramed(ctx context.Context, d ValueDecoder, m Message, dst []byte) ([]byte, error) {
	id := binary.BigEndian.Uint32(m.Value[1:5])
	if d == nil {
		return dst, fmt.Errorf("topic %s partition %d offset %d: the value is Avro in the Confluent wire format (schema ID %d), but %w", m.Topic, m.Partition, m.Offset, id, ErrNoSchemaRegistry)
	}
	out, err := d.Decode(ctx, m.Value, dst)
	switch {
	case err != nil && d.Skip(err):
		return dst, &ValueError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Reason: err.Error()}
	case err != nil:
		return dst, fmt.Errorf("unable to decode the Avro value at topic %s partition %d offset %d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	return out, nil
}

// NewRecordReader returns a reader of the consumer's messages.
func NewRecordReader(c *Consumer) *RecordReader {
	r := &RecordReader{consumer: c}
	r.reader = record.NewReader(nil, "topic "+c.topic)
	r.reader.TimestampOptional = true
	return r
}

// Read returns the next record with the message it came from; the record's
// Offset is the message's offset. An Avro value in the Confluent wire format
// is decoded with the reader's ValueDecoder first, and the message returned
// then carries the record's JSON as its value. A value that is not a record gives the
// message and a *ValueError, and the next call carries on. At the end of a
// bounded consumer it returns io.EOF. The record is valid until the next
// Read, as with record.Reader.
func (r *RecordReader) Read(ctx context.Context) (*record.Record, Message, error) {
	m, err := r.consumer.Next(ctx)
	if err != nil {
		return nil, Message{}, err
	}
	if IsFramedValue(m.Value) {
		// The message carries the decoded JSON from here on, so that
		// callers that write values out write records.
		r.decoded, err = DecodeFramed(ctx, r.decoder, m, r.decoded[:0])
		if err != nil {
			return nil, m, err
		}
		m.Value = r.decoded
	}
	if reason := r.checkValue(m.Value); reason != "" {
		return nil, m, r.valueError(m, reason)
	}

	rec, err := r.reader.ReadLine(m.Value)
	if err != nil {
		// Only here, because lineErr escapes to the heap.
		var lineErr *record.LineError
		if errors.As(err, &lineErr) {
			return nil, m, r.valueError(m, lineErr.Reason)
		}
		return nil, m, fmt.Errorf("unable to parse the value at topic %s partition %d offset %d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	if rec == nil {
		return nil, m, r.valueError(m, `tshark {"index":...} line, not a record`)
	}
	rec.Offset = m.Offset
	if rec.NoTimestamp {
		// A value without "timestamp", such as a changelog row, takes the
		// message's timestamp as its event time.
		rec.Timestamp, rec.NoTimestamp = m.Timestamp, false
	}
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
