package avro

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	hamba "github.com/hamba/avro/v2"

	"github.com/wifiq/wifiq/record"
)

// magicByte starts every value in the Confluent wire format.
const magicByte = 0

// headerSize is the magic byte and the 4-byte schema ID.
const headerSize = 5

// Registrar registers schemas; *Registry is one.
type Registrar interface {
	Register(ctx context.Context, subject, schema string) (int, error)
	Latest(ctx context.Context, subject string) (hamba.Schema, int, bool, error)
}

// Encoder writes records as Avro values of their topic's schema, deriving
// the schema from the records and registering a new version whenever a
// record has a key that the current version lacks. It is for one
// goroutine at a time.
type Encoder struct {
	registry Registrar
	topics   map[string]*topicSchema
	// Registered counts the schema versions registered or found
	// registered, per topic.
	Registered map[string]int

	fields map[string]any
	buf    bytes.Buffer
}

// topicSchema is the schema a topic's values are written with now.
type topicSchema struct {
	schema  *Schema
	id      int
	encoder *hamba.Encoder
}

// NewEncoder returns an encoder that registers schemas with registry.
func NewEncoder(registry Registrar) *Encoder {
	return &Encoder{registry: registry, topics: map[string]*topicSchema{}, Registered: map[string]int{}, fields: map[string]any{}}
}

// Encode appends the value of rec for topic to dst: the Confluent header
// and the Avro encoding. With keep set, only the keys in it are written.
// A schema the registry rejects gives a *RegistryError, which wraps the
// registry's error code and message.
func (e *Encoder) Encode(ctx context.Context, topic string, rec *record.Record, keep map[string]bool, dst []byte) ([]byte, error) {
	ts, err := e.schemaFor(ctx, topic, rec, keep)
	if err != nil {
		return dst, err
	}

	clear(e.fields)
	e.fields[TimestampField] = rec.Timestamp
	for _, f := range rec.Fields {
		if keep != nil && !keep[f.Key] {
			continue
		}
		e.fields[ts.schema.names[ts.schema.index[f.Key]]] = f.Values
	}
	e.buf.Reset()
	if err := ts.encoder.Encode(e.fields); err != nil {
		return dst, fmt.Errorf("unable to encode the record at offset %d as Avro for topic %s: %w", rec.Offset, topic, err)
	}

	dst = append(dst, magicByte)
	dst = binary.BigEndian.AppendUint32(dst, uint32(ts.id))
	return append(dst, e.buf.Bytes()...), nil
}

// schemaFor returns the topic's schema, first reading the latest version
// registered, and registers a new version when rec has keys it lacks.
func (e *Encoder) schemaFor(ctx context.Context, topic string, rec *record.Record, keep map[string]bool) (*topicSchema, error) {
	ts := e.topics[topic]
	if ts == nil {
		var err error
		if ts, err = e.start(ctx, topic); err != nil {
			return nil, err
		}
		e.topics[topic] = ts
	}
	if ts.schema != nil && ts.schema.covers(rec, keep) {
		return ts, nil
	}
	keys := recordKeys(rec, keep)

	var next *Schema
	var err error
	if ts.schema == nil {
		next, err = NewSchema(topic, keys)
	} else {
		next, err = ts.schema.Extend(keys)
	}
	if err != nil {
		return nil, err
	}
	id, err := e.registry.Register(ctx, Subject(topic), next.String())
	if err != nil {
		return nil, err
	}
	e.Registered[topic]++
	ts.schema, ts.id = next, id
	ts.encoder = hamba.NewEncoderForSchema(next.parsed, &e.buf)
	return ts, nil
}

// start reads the latest schema of the topic's subject. A version that
// does not have the derived shape is not used: the next version is derived
// from the records alone, and the registry decides whether it may follow.
func (e *Encoder) start(ctx context.Context, topic string) (*topicSchema, error) {
	latest, id, ok, err := e.registry.Latest(ctx, Subject(topic))
	if err != nil || !ok {
		return &topicSchema{}, err
	}
	schema, err := FromRegistered(topic, latest)
	if err != nil {
		return &topicSchema{}, nil
	}
	return &topicSchema{schema: schema, id: id, encoder: hamba.NewEncoderForSchema(schema.parsed, &e.buf)}, nil
}

func recordKeys(rec *record.Record, keep map[string]bool) []string {
	keys := make([]string, 0, len(rec.Fields))
	for _, f := range rec.Fields {
		if keep == nil || keep[f.Key] {
			keys = append(keys, f.Key)
		}
	}
	return keys
}

// covers reports whether every key of rec that keep lets through is a
// field of the schema.
func (s *Schema) covers(rec *record.Record, keep map[string]bool) bool {
	for _, f := range rec.Fields {
		if keep != nil && !keep[f.Key] {
			continue
		}
		if _, ok := s.index[f.Key]; !ok {
			return false
		}
	}
	return true
}
