// Package route splits a stream of records into one stream per frame kind,
// as the ksqlDB statements CREATE STREAM pcap_probe AS SELECT ... WHERE
// wlan_fc_type_subtype[1] = 4 do, one statement per kind. A Splitter picks
// the destination of each record by its wlan.fc.type_subtype and encodes
// the record, optionally with only some of its fields.
package route

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
)

// DefaultRoutes maps the subtypes that the ksqlDB split handles to their
// topics: probe request, beacon, RTS, CTS, ACK and null data.
func DefaultRoutes() map[int]string {
	return map[int]string{
		4:  "pcap_probe",
		8:  "pcap_beacon",
		27: "pcap_rts",
		28: "pcap_cts",
		29: "pcap_ack",
		36: "pcap_null",
	}
}

// ParseRoute reads a --route value "SUBTYPE=NAME", where SUBTYPE is
// wlan.fc.type_subtype in decimal or 0x-prefixed hex.
func ParseRoute(s string) (subtype int, name string, err error) {
	number, name, ok := strings.Cut(s, "=")
	if !ok || number == "" || name == "" {
		return 0, "", fmt.Errorf("invalid route %q: want SUBTYPE=NAME, for example 4=pcap_probe", s)
	}
	n, err := record.ParseNumber(strings.TrimSpace(number))
	// (type << 8) + (subtype << 4) + extension, the largest form, stays
	// below 0x400.
	if err != nil || n < 0 || n > 0x3ff {
		return 0, "", fmt.Errorf("invalid route %q: the subtype %q is not a wlan.fc.type_subtype number (0 to 1023) such as 4 or 0x0004", s, number)
	}
	return int(n), strings.TrimSpace(name), nil
}

// Splitter routes records by subtype and counts them per destination.
// It is for one goroutine at a time.
type Splitter struct {
	routes map[int]string
	// other receives records of subtypes without a route; empty drops them.
	other string
	// fields, when not empty, are the record keys kept, in the record's
	// own order.
	fields map[string]bool

	counts  map[string]int64
	dropped int64
	line    []byte
}

// NewSplitter returns a splitter with routes (subtype to destination), a
// destination for other records ("" drops them) and the fields to keep
// (tshark names or record keys; none keeps every field).
func NewSplitter(routes map[int]string, other string, fields []string) *Splitter {
	s := &Splitter{routes: routes, other: other, counts: map[string]int64{}}
	if len(fields) > 0 {
		s.fields = map[string]bool{}
		for _, f := range fields {
			s.fields[strings.ReplaceAll(f, ".", "_")] = true
		}
	}
	return s
}

// Destinations returns every destination a record may go to, sorted: the
// routes' and, if set, the destination of other records.
func (s *Splitter) Destinations() []string {
	var names []string
	for _, name := range s.routes {
		names = append(names, name)
	}
	if s.other != "" {
		names = append(names, s.other)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Route returns the destination of rec and its encoded line with a
// trailing newline, or ok false when the record is dropped. The line is
// valid until the next call.
func (s *Splitter) Route(rec *record.Record) (dest string, line []byte, ok bool) {
	dest = s.other
	if subtype, found := rec.TypeSubtype(); found {
		if name, routed := s.routes[subtype]; routed {
			dest = name
		}
	}
	if dest == "" {
		s.dropped++
		return "", nil, false
	}
	s.counts[dest]++
	s.line = AppendRecord(s.line[:0], rec, s.fields)
	s.line = append(s.line, '\n')
	return dest, s.line, true
}

// Counts returns the records routed per destination so far.
func (s *Splitter) Counts() map[string]int64 { return s.counts }

// Dropped returns the number of records that had no route and no --other
// destination.
func (s *Splitter) Dropped() int64 { return s.dropped }

// AppendRecord appends rec as one JSON object without a newline: the
// timestamp, then each field in order. With keep set, only the keys in it
// are written.
func AppendRecord(dst []byte, rec *record.Record, keep map[string]bool) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = strconv.AppendInt(dst, rec.Timestamp, 10)
	dst = append(dst, '"')
	for _, f := range rec.Fields {
		if keep != nil && !keep[f.Key] {
			continue
		}
		dst = append(dst, ',')
		dst = capture.AppendJSONString(dst, f.Key)
		dst = append(dst, ":["...)
		for i, v := range f.Values {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = capture.AppendJSONString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
