// Package record reads and writes wifiq records: one JSON object per frame
// with a "timestamp" (milliseconds since the Unix epoch, as a string) and one
// array of strings per tshark field, keyed by the field name with dots
// replaced by underscores.
package record

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/wifiq/wifiq/capture"
)

// Field is one key of a record and its values in frame order.
type Field struct {
	Key    string
	Values []string
}

// Record is one frame. Records returned by Reader share memory with the
// reader and are valid only until its next Read; Clone makes a lasting copy.
type Record struct {
	// Timestamp is the event time in milliseconds since the Unix epoch.
	Timestamp int64
	Fields    []Field
	// Style is the value style the record was written in.
	Style capture.Style
	// Offset is the position of the record in its source: the line number
	// for files, the Kafka offset for topics.
	Offset int64
	// NoTimestamp marks a line without "timestamp", such as a row of a
	// report, which a Reader with TimestampOptional passes with Timestamp 0.
	NoTimestamp bool
}

// Get returns the values of a key, or nil.
func (r *Record) Get(key string) []string {
	for i := range r.Fields {
		if r.Fields[i].Key == key {
			return r.Fields[i].Values
		}
	}
	return nil
}

// First returns the first value of a key.
func (r *Record) First(key string) (string, bool) {
	v := r.Get(key)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// Set replaces the values of a key, adding it at the end if it is new.
func (r *Record) Set(key string, values ...string) {
	for i := range r.Fields {
		if r.Fields[i].Key == key {
			r.Fields[i].Values = values
			return
		}
	}
	r.Fields = append(r.Fields, Field{Key: key, Values: values})
}

// Clone returns a deep copy that does not share memory with r.
func (r *Record) Clone() *Record {
	c := &Record{Timestamp: r.Timestamp, Style: r.Style, Offset: r.Offset, NoTimestamp: r.NoTimestamp, Fields: make([]Field, len(r.Fields))}
	for i, f := range r.Fields {
		values := make([]string, len(f.Values))
		for j, v := range f.Values {
			values[j] = strings.Clone(v)
		}
		c.Fields[i] = Field{Key: strings.Clone(f.Key), Values: values}
	}
	return c
}

// TypeSubtype returns wlan.fc.type_subtype as a number, reading both the
// decimal (classic) and hexadecimal (tshark 4.0) forms.
func (r *Record) TypeSubtype() (int, bool) {
	v, ok := r.First("wlan_fc_type_subtype")
	if !ok {
		return 0, false
	}
	n, err := ParseNumber(v)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// ParseNumber parses a decimal or 0x-prefixed hexadecimal field value.
func ParseNumber(v string) (int64, error) {
	if strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X") {
		n, err := strconv.ParseUint(v[2:], 16, 63)
		return int64(n), err
	}
	return strconv.ParseInt(v, 10, 64)
}

// SSIDs returns the SSIDs of the record as raw bytes, decoding the hex of the
// tshark style or the escaped text of the classic style.
func (r *Record) SSIDs() [][]byte {
	values := r.Get("wlan_ssid")
	out := make([][]byte, 0, len(values))
	for _, v := range values {
		out = append(out, DecodeSSID(v, r.Style))
	}
	return out
}

// DecodeSSID turns a wlan_ssid value back into bytes. A value that does not
// decode in its style is returned as its own bytes.
func DecodeSSID(v string, style capture.Style) []byte {
	if style == capture.StyleTshark {
		if v == "<MISSING>" {
			return []byte{}
		}
		// tshark -e writes unseparated hex, and -T ek without -e
		// colon-separated hex.
		if b, err := DecodeBytes(v); err == nil {
			return b
		}
		return []byte(v)
	}
	if b, err := capture.UnescapeText(v); err == nil {
		return b
	}
	return []byte(v)
}

// SSIDText renders SSID bytes for people and classic-style records: text,
// with anything that is not printable UTF-8 escaped as \xNN.
func SSIDText(b []byte) string { return capture.EscapeText(b) }

// DecodeBytes turns a byte-string field value (vendor data) into bytes,
// reading unseparated hex (tshark style) and colon-separated hex (classic).
func DecodeBytes(v string) ([]byte, error) {
	if v == "<MISSING>" {
		return []byte{}, nil
	}
	return hex.DecodeString(strings.ReplaceAll(v, ":", ""))
}
