package avro

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/route"
)

// IsFramed reports whether value is in the Confluent wire format: the magic
// byte 0 and a schema ID. A JSON record never starts with a zero byte.
func IsFramed(value []byte) bool {
	return len(value) >= headerSize && value[0] == magicByte
}

// SchemaID returns the schema ID of a framed value.
func SchemaID(value []byte) int {
	return int(binary.BigEndian.Uint32(value[1:headerSize]))
}

// ValueError describes a framed value that cannot be turned into a record:
// its schema ID is unknown to the registry, or the value does not decode
// with the schema. Readers count and skip such values.
type ValueError struct {
	SchemaID int
	Reason   string
}

func (e *ValueError) Error() string { return e.Reason }

// SchemaSource returns the schema of an ID; *Registry is one.
type SchemaSource interface {
	Schema(ctx context.Context, id int) (hamba.Schema, error)
}

// Schema returns the schema with id, from the cache or the registry. An ID
// that the registry does not have gives a *ValueError, and is remembered so
// that later values with it do not ask again.
func (r *Registry) Schema(ctx context.Context, id int) (hamba.Schema, error) {
	r.mu.Lock()
	missing := r.missing[id]
	r.mu.Unlock()
	if missing != nil {
		return nil, missing
	}
	schema, err := r.client.GetSchema(ctx, id)
	if err == nil {
		return schema, nil
	}
	err = r.wrap(fmt.Sprintf("read schema ID %d", id), err)
	if !isNotFound(err) {
		return nil, err
	}
	missing = &ValueError{SchemaID: id, Reason: fmt.Sprintf("schema ID %d not found in schema registry %s", id, r.url)}
	r.mu.Lock()
	r.missing[id] = missing
	r.mu.Unlock()
	return nil, missing
}

// Decoder turns framed Avro values back into the JSON lines of records, as
// route.AppendRecord writes them. It is for one goroutine at a time.
type Decoder struct {
	source  SchemaSource
	readers map[int]*readerSchema
	rec     record.Record
	// avroReader and values serve decodeDerived.
	avroReader *hamba.Reader
	values     []string
}

// readerSchema is a writer schema and how each of its fields maps to a
// record key.
type readerSchema struct {
	schema hamba.Schema
	fields []readerField
	err    error
	// derived marks a schema of the shape that wifiq derives (see
	// Schema), which decodeDerived reads.
	derived bool
}

type readerField struct {
	name      string
	key       string
	timestamp bool
	union     bool
}

// NewDecoder returns a decoder that reads schemas from source.
func NewDecoder(source SchemaSource) *Decoder {
	return &Decoder{source: source, readers: map[int]*readerSchema{}, avroReader: hamba.NewReader(nil, 0)}
}

// Decode appends the record JSON of a framed value to dst, without a
// newline. A value that cannot become a record gives a *ValueError; other
// errors, such as an unreachable registry, concern every later value too.
func (d *Decoder) Decode(ctx context.Context, value []byte, dst []byte) ([]byte, error) {
	if !IsFramed(value) {
		return dst, &ValueError{Reason: "value is not in the Confluent wire format (magic byte 0 and a 4-byte schema ID)"}
	}
	id := SchemaID(value)
	rs, err := d.reader(ctx, id)
	if err != nil {
		return dst, err
	}

	if rs.derived {
		if err := d.decodeDerived(rs, value[headerSize:]); err != nil {
			return dst, &ValueError{SchemaID: id, Reason: fmt.Sprintf("value does not decode with schema ID %d: %v", id, err)}
		}
		return route.AppendRecord(dst, &d.rec, nil), nil
	}
	var fields map[string]any
	if err := hamba.Unmarshal(rs.schema, value[headerSize:], &fields); err != nil {
		return dst, &ValueError{SchemaID: id, Reason: fmt.Sprintf("value does not decode with schema ID %d: %v", id, err)}
	}
	if err := d.fill(rs, fields); err != nil {
		return dst, &ValueError{SchemaID: id, Reason: fmt.Sprintf("value of schema ID %d is not a record: %v", id, err)}
	}
	return route.AppendRecord(dst, &d.rec, nil), nil
}

// reader returns the reader schema of id, fetching it once.
func (d *Decoder) reader(ctx context.Context, id int) (*readerSchema, error) {
	if rs := d.readers[id]; rs != nil {
		return rs, rs.err
	}
	schema, err := d.source.Schema(ctx, id)
	var valueErr *ValueError
	if errors.As(err, &valueErr) {
		d.readers[id] = &readerSchema{err: err}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	rs, err := newReaderSchema(schema)
	if err != nil {
		err = &ValueError{SchemaID: id, Reason: fmt.Sprintf("schema ID %d cannot hold a wifiq record: %v", id, err)}
	}
	rs.err = err
	d.readers[id] = rs
	return rs, err
}

func newReaderSchema(schema hamba.Schema) (*readerSchema, error) {
	rs := &readerSchema{schema: schema}
	rec, ok := schema.(*hamba.RecordSchema)
	if !ok {
		return rs, fmt.Errorf("schema of type %s is not a record", schema.Type())
	}
	hasTimestamp := false
	rs.derived = true
	for _, f := range rec.Fields() {
		if f.Name() == TimestampField {
			long, ok := f.Type().(*hamba.PrimitiveSchema)
			rs.derived = rs.derived && ok && long.Type() == hamba.Long &&
				(long.Logical() == nil || long.Logical().Type() == hamba.TimestampMillis)
		} else {
			rs.derived = rs.derived && isNullableStringArray(f.Type())
		}
		rf := readerField{name: f.Name(), key: f.Name()}
		if k, ok := f.Prop(keyProperty).(string); ok && k != "" {
			rf.key = k
		}
		_, rf.union = f.Type().(*hamba.UnionSchema)
		if f.Name() == TimestampField {
			rf.timestamp = true
			hasTimestamp = true
		}
		rs.fields = append(rs.fields, rf)
	}
	if !hasTimestamp {
		return rs, fmt.Errorf("field %s is missing", TimestampField)
	}
	return rs, nil
}

// decodeDerived sets d.rec from a value of a schema that wifiq derived: a
// long timestamp (milliseconds) and nullable arrays of strings. It reads the value with
// hamba's Reader, field by field, which spares the maps of generic
// decoding.
func (d *Decoder) decodeDerived(rs *readerSchema, body []byte) error {
	r := d.avroReader.Reset(body)
	r.Error = nil
	d.rec.Fields = d.rec.Fields[:0]
	d.rec.Timestamp = 0
	d.values = d.values[:0]
	for _, f := range rs.fields {
		if f.timestamp {
			d.rec.Timestamp = r.ReadLong()
			continue
		}
		switch branch := r.ReadLong(); {
		case r.Error != nil:
			return r.Error
		case branch == 0: // null
			continue
		case branch != 1:
			return fmt.Errorf("field %s: invalid union branch %d, expected 0 (null) or 1 (array)", f.name, branch)
		}
		first := len(d.values)
		for {
			n, _ := r.ReadBlockHeader()
			if r.Error != nil {
				return r.Error
			}
			if n == 0 {
				break
			}
			// Each item takes a byte at least, so a longer block is
			// corrupt, and reading it would only fail later.
			if n > int64(len(body)) {
				return fmt.Errorf("field %s: an array block of %d items does not fit in the value's %d bytes: %w", f.name, n, len(body), io.ErrUnexpectedEOF)
			}
			for range n {
				d.values = append(d.values, r.ReadString())
				if r.Error != nil {
					return r.Error
				}
			}
		}
		d.rec.Fields = append(d.rec.Fields, record.Field{Key: f.key, Values: d.values[first:len(d.values):len(d.values)]})
	}
	return r.Error
}

// fill sets d.rec from decoded fields, in the order of the schema.
func (d *Decoder) fill(rs *readerSchema, fields map[string]any) error {
	d.rec.Fields = d.rec.Fields[:0]
	d.rec.Timestamp = 0
	for _, f := range rs.fields {
		v := fields[f.name]
		if f.union {
			v = unwrapUnion(v)
		}
		if f.timestamp {
			ms, err := timestampMillis(v)
			if err != nil {
				return err
			}
			d.rec.Timestamp = ms
			continue
		}
		values, err := stringValues(v)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
		if values != nil {
			d.rec.Fields = append(d.rec.Fields, record.Field{Key: f.key, Values: values})
		}
	}
	return nil
}

// unwrapUnion returns the value of a decoded union, which hamba gives as a
// map from the branch's type name to the value.
func unwrapUnion(v any) any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return v
	}
	for _, inner := range m {
		return inner
	}
	return v
}

func timestampMillis(v any) (int64, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UnixMilli(), nil
	case int64:
		return t, nil
	case int:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case string:
		ms, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %s %q is not milliseconds since the Unix epoch", TimestampField, t)
		}
		return ms, nil
	case nil:
		return 0, fmt.Errorf("field %s is null", TimestampField)
	}
	return 0, fmt.Errorf("field %s is a %T, not a long", TimestampField, v)
}

// stringValues returns the values of a field as strings: an array gives
// one string per element, a single value one string, and null none.
func stringValues(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []any:
		values := make([]string, 0, len(t))
		for _, item := range t {
			s, err := scalarString(item)
			if err != nil {
				return nil, err
			}
			values = append(values, s)
		}
		return values, nil
	case []string:
		return t, nil
	}
	s, err := scalarString(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func scalarString(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int32:
		return strconv.FormatInt(int64(t), 10), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case float32:
		return strconv.FormatFloat(float64(t), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("holds a %T; wifiq records hold strings, numbers and booleans", v)
}

// Skip reports whether err concerns only the value that gave it, so that a
// reader counts and skips that value and carries on.
func (d *Decoder) Skip(err error) bool {
	var valueErr *ValueError
	return errors.As(err, &valueErr)
}
