// Package avro writes and reads wifiq records as Avro values in the
// Confluent wire format (magic byte 0, a 4-byte big-endian schema ID, then
// the Avro binary encoding), with schemas kept in a Confluent-compatible
// schema registry under the subject TOPIC-value (TopicNameStrategy).
//
// The schema of a topic follows the shape of the records that wifiq writes
// in both value styles: "timestamp" is a long with the logical type
// timestamp-millis, and every other key is a nullable array of strings
// with default null, one element per occurrence in the frame, as in
// tshark -T ek. Values stay strings because the tshark 4.0 style keeps
// numbers such as type_subtype in hex ("0x0004") and SSIDs as hex bytes, so
// typed fields would not give back the record that was written. A key
// absent from a record is null, and null fields are left out when a value
// is read back. New keys add fields with default null, which keeps every
// version backward and forward compatible with the previous one.
package avro

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	hamba "github.com/hamba/avro/v2"

	"github.com/wifiq/wifiq/capture"
)

// Namespace is the Avro namespace of the record schemas that wifiq derives.
const Namespace = "wifiq"

// TimestampField is the Avro field of the record's "timestamp".
const TimestampField = "timestamp"

// keyProperty is the field property that stores a record key that is not a
// valid Avro name, such as one with a hyphen.
const keyProperty = "wifiq.key"

// Schema is the derived schema of one topic: the record keys in field order
// and their Avro field names.
type Schema struct {
	topic string
	keys  []string
	names []string
	index map[string]int
	// text is the schema in JSON, as registered.
	text   string
	parsed hamba.Schema
}

// Subject returns the registry subject of a topic's values under
// TopicNameStrategy.
func Subject(topic string) string { return topic + "-value" }

// NewSchema derives the schema of topic for records with keys, in the given
// order.
func NewSchema(topic string, keys []string) (*Schema, error) {
	s := &Schema{topic: topic, index: map[string]int{}}
	used := map[string]bool{TimestampField: true}
	for _, key := range keys {
		if _, dup := s.index[key]; dup || key == TimestampField {
			continue
		}
		name := fieldName(key, used)
		used[name] = true
		s.index[key] = len(s.keys)
		s.keys = append(s.keys, key)
		s.names = append(s.names, name)
	}
	if err := s.build(); err != nil {
		return nil, err
	}
	return s, nil
}

// Keys returns the record keys of the schema in field order.
func (s *Schema) Keys() []string { return slices.Clone(s.keys) }

// String returns the schema in JSON.
func (s *Schema) String() string { return s.text }

// Extend returns a schema with the fields of s and a new field for each key
// that s lacks, merged so that records that follow one field list keep
// their key order when they are read back (see mergeKeys).
func (s *Schema) Extend(keys []string) (*Schema, error) {
	merged := mergeKeys(s.keys, keys)
	// Names stay those of s, so that a field never changes its name.
	next := &Schema{topic: s.topic, index: map[string]int{}}
	used := map[string]bool{TimestampField: true}
	for _, name := range s.names {
		used[name] = true
	}
	for _, key := range merged {
		name := ""
		if i, ok := s.index[key]; ok {
			name = s.names[i]
		} else {
			name = fieldName(key, used)
			used[name] = true
		}
		next.index[key] = len(next.keys)
		next.keys = append(next.keys, key)
		next.names = append(next.names, name)
	}
	if err := next.build(); err != nil {
		return nil, err
	}
	return next, nil
}

// mergeKeys merges the key order of a schema and of a record, keeping the
// order of both. Where neither decides which of two keys comes first, a key
// that wifiq decodes goes by its place in the default field list and then
// in wifiq's field table, and otherwise the schema's key goes first.
func mergeKeys(schema, rec []string) []string {
	inSchema := map[string]bool{}
	for _, key := range schema {
		inSchema[key] = true
	}
	laterInRecord := map[string]int{}
	for _, key := range rec {
		laterInRecord[key]++
	}
	merged := make([]string, 0, len(schema)+len(rec))
	done := map[string]bool{}
	emit := func(key string) {
		if !done[key] && key != TimestampField {
			done[key] = true
			merged = append(merged, key)
		}
	}
	i, j := 0, 0
	for i < len(schema) || j < len(rec) {
		switch {
		case j < len(rec) && (done[rec[j]] || rec[j] == TimestampField):
			laterInRecord[rec[j]]--
			j++
		case i < len(schema) && done[schema[i]]:
			i++
		case j == len(rec):
			emit(schema[i])
			i++
		case i == len(schema) || schema[i] == rec[j]:
			emit(rec[j])
			laterInRecord[rec[j]]--
			j++
		case inSchema[rec[j]]:
			// The record's key comes later in the schema, so the schema's
			// keys before it go first.
			emit(schema[i])
			i++
		case laterInRecord[schema[i]] > 0 || fieldRank(rec[j]) < fieldRank(schema[i]):
			emit(rec[j])
			laterInRecord[rec[j]]--
			j++
		default:
			emit(schema[i])
			i++
		}
	}
	return merged
}

// fieldRank orders the keys of the fields that wifiq decodes: the default
// field list first, then the rest of its field table. Other keys rank last.
func fieldRank(key string) int {
	for i, id := range capture.DefaultFields {
		if id.Key() == key {
			return i
		}
	}
	if id, err := capture.ParseFields(key); err == nil && len(id) == 1 {
		return len(capture.DefaultFields) + int(id[0])
	}
	return math.MaxInt
}

// schemaJSON is the JSON form of a derived record schema.
type schemaJSON struct {
	Type      string      `json:"type"`
	Name      string      `json:"name"`
	Namespace string      `json:"namespace"`
	Doc       string      `json:"doc,omitempty"`
	Fields    []fieldJSON `json:"fields"`
}

// fieldJSON is one field. Only the timestamp, which every record has, has
// no default.
type fieldJSON struct {
	Name       string
	Type       any
	Key        string
	hasDefault bool
}

func (f fieldJSON) MarshalJSON() ([]byte, error) {
	type plain struct {
		Name string `json:"name"`
		Type any    `json:"type"`
		Key  string `json:"wifiq.key,omitempty"`
	}
	type withDefault struct {
		Name    string `json:"name"`
		Type    any    `json:"type"`
		Default any    `json:"default"`
		Key     string `json:"wifiq.key,omitempty"`
	}
	if !f.hasDefault {
		return json.Marshal(plain{f.Name, f.Type, f.Key})
	}
	return json.Marshal(withDefault{f.Name, f.Type, nil, f.Key})
}

// build writes the schema's JSON and parses it.
func (s *Schema) build() error {
	doc := schemaJSON{
		Type:      "record",
		Name:      recordName(s.topic),
		Namespace: Namespace,
		Doc:       "wifiq records of Kafka topic " + s.topic,
		Fields: []fieldJSON{{
			Name: TimestampField,
			Type: map[string]string{"type": "long", "logicalType": "timestamp-millis"},
		}},
	}
	for i, key := range s.keys {
		f := fieldJSON{
			Name:       s.names[i],
			Type:       []any{"null", map[string]string{"type": "array", "items": "string"}},
			hasDefault: true,
		}
		if s.names[i] != key {
			f.Key = key
		}
		doc.Fields = append(doc.Fields, f)
	}
	text, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	parsed, err := parse(string(text))
	if err != nil {
		return fmt.Errorf("invalid derived schema for topic %s: %w", s.topic, err)
	}
	s.text, s.parsed = string(text), parsed
	return nil
}

// parse parses a schema with a cache of its own, because hamba's default
// cache is shared by name and versions of one record share their name.
func parse(text string) (hamba.Schema, error) {
	return hamba.ParseWithCache(text, "", &hamba.SchemaCache{})
}

// FromRegistered reads a registered schema back as a derived one, so that a
// new run continues from the latest version. It fails when the schema does
// not have the derived shape.
func FromRegistered(topic string, parsed hamba.Schema) (*Schema, error) {
	rec, ok := parsed.(*hamba.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("schema of type %s is not a record", parsed.Type())
	}
	s := &Schema{topic: topic, index: map[string]int{}}
	hasTimestamp := false
	for _, f := range rec.Fields() {
		if f.Name() == TimestampField {
			if f.Type().Type() != hamba.Long {
				return nil, fmt.Errorf("field %s has type %s, not long", f.Name(), f.Type().Type())
			}
			hasTimestamp = true
			continue
		}
		if !isNullableStringArray(f.Type()) || !f.HasDefault() || f.Default() != nil {
			return nil, fmt.Errorf("field %s is not a nullable array of strings with default null", f.Name())
		}
		key := f.Name()
		if k, ok := f.Prop(keyProperty).(string); ok && k != "" {
			key = k
		}
		s.index[key] = len(s.keys)
		s.keys = append(s.keys, key)
		s.names = append(s.names, f.Name())
	}
	if !hasTimestamp {
		return nil, fmt.Errorf("field %s is missing", TimestampField)
	}
	if rec.Name() != recordName(topic) || rec.Namespace() != Namespace {
		return nil, fmt.Errorf("record %s is not %s.%s", rec.FullName(), Namespace, recordName(topic))
	}
	// The JSON is written anew: the registry may have reformatted it.
	if err := s.build(); err != nil {
		return nil, err
	}
	return s, nil
}

func isNullableStringArray(t hamba.Schema) bool {
	u, ok := t.(*hamba.UnionSchema)
	if !ok || len(u.Types()) != 2 || u.Types()[0].Type() != hamba.Null {
		return false
	}
	a, ok := u.Types()[1].(*hamba.ArraySchema)
	return ok && a.Items().Type() == hamba.String
}

// recordName turns a topic name into an Avro name: characters other than
// letters, digits and '_' become '_', and a leading digit gets a '_'.
func recordName(topic string) string {
	return sanitize(topic)
}

// fieldName returns key when it is a valid Avro name not yet used, else a
// sanitised name made unique with a numeric suffix.
func fieldName(key string, used map[string]bool) string {
	name := sanitize(key)
	if !used[name] {
		return name
	}
	for n := 2; ; n++ {
		candidate := fmt.Sprintf("%s_%d", name, n)
		if !used[candidate] {
			return candidate
		}
	}
}

func sanitize(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
