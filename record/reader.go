package record

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/wifiq/wifiq/capture"
)

// LineError describes an input line that is not a record.
type LineError struct {
	Source string
	Line   int64
	Reason string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Reason)
}

// Reader reads records from JSON lines: wifiq's flat records in either
// style, and tshark's own -T ek output with its {"index":...} lines and the
// fields inside "layers".
type Reader struct {
	// Source names the input in errors.
	Source string
	// Style forces the value style; nil detects it per record from
	// wlan_fc_type_subtype ("0x..." means tshark 4.0 style).
	Style *capture.Style
	// TimestampOptional passes lines without "timestamp" as records with
	// NoTimestamp set, instead of rejecting them. Sinks set it, because
	// report rows are not events.
	TimestampOptional bool

	in     *bufio.Reader
	long   []byte // a line longer than the reader's buffer, assembled
	line   int64
	rec    Record
	buf    []byte   // unescaped strings of the current record
	values []string // backing array for field values
	// keep, when set, are the only fields parsed into records, each
	// mapped to itself: the string that records then carry as the key.
	keep map[string]string
	// seenKeys caches the keys of the previous record, in their order, and
	// keep's result for each, because consecutive records mostly have the
	// same keys in the same order. seenAt is the current key's index.
	seenKeys []seenKey
	seenAt   int
	// keepLine, when set, chooses the lines to parse (LineFilter), and
	// wasLong marks the line read last as longer than the buffer.
	keepLine func([]byte) bool
	wasLong  bool
	// filterField and keepValue, when set, are a ValueFilter's, which
	// parseFlat applies as it meets the field.
	filterField string
	keepValue   func([]byte) bool
}

// seenKey is a key and whether the projection skips it. plain marks a key
// that parseFlat read, which has no quote or backslash, so that parseFlat
// can match it against the bytes of the next line instead of scanning them.
type seenKey struct {
	key   string
	skip  bool
	plain bool
}

// Project makes the reader parse only the named fields into records and
// skip the values of the others, which saves most of the parsing when a
// command reads few fields. The fields that style detection reads
// (wlan_fc_type_subtype, wlan_ssid) are always kept. Nil keeps every
// field, as a new reader does. Lines are still checked to be JSON objects
// with a valid "timestamp"; a broken value of a skipped field is reported
// as it would be otherwise.
func (r *Reader) Project(fields []string) {
	if fields == nil {
		r.keep = nil
		return
	}
	r.keep = map[string]string{"wlan_fc_type_subtype": "wlan_fc_type_subtype", "wlan_ssid": "wlan_ssid"}
	for _, f := range fields {
		r.keep[f] = f
	}
	r.seenKeys = r.seenKeys[:0]
}

// LineFilter is an input whose lines a Reader may leave out before
// parsing them. NewReader reads such an input's lines from Unfiltered and
// parses only those that KeepLine keeps, which spares copying every line
// through the filter. Lines longer than the reader's buffer are parsed
// without asking KeepLine. A line left out is skipped as an empty line is,
// and line numbers still count it.
type LineFilter interface {
	Unfiltered() io.Reader
	KeepLine(line []byte) bool
}

// ValueFilter is a LineFilter that decides by the first value of one
// field. For a line in the shape that wifiq writes, a Reader calls KeepValue
// when its parser meets the field, instead of KeepLine, which would
// read the line once more. KeepValue must agree with KeepLine. A line whose
// first FilterField member is an array starting with the string v is left
// out exactly when KeepValue(v) is false, and a line without such a member
// is kept. Like KeepLine, KeepValue may count the lines it leaves out.
type ValueFilter interface {
	LineFilter
	FilterField() string
	KeepValue(v []byte) bool
}

// FieldLister is an input that names the only record fields its readers
// need to parse. NewReader projects a reader of such an input onto them.
type FieldLister interface {
	RecordFields() []string
}

// skips reports whether a projection leaves the field key out.
func (r *Reader) skips(key string) bool {
	_, skip := r.learnKey(key, false)
	return skip
}

// learnKey returns the string that records carry for the next key of the
// line, key, and whether a projection leaves it out, and caches both in
// r.seenKeys. plain marks a key that parseFlat read.
func (r *Reader) learnKey(key string, plain bool) (string, bool) {
	i := r.seenAt
	r.seenAt++
	if i < len(r.seenKeys) && r.seenKeys[i].key == key {
		r.seenKeys[i].plain = r.seenKeys[i].plain || plain
		return r.seenKeys[i].key, r.seenKeys[i].skip
	}
	entry := seenKey{plain: plain}
	if r.keep != nil {
		var ok bool
		entry.key, ok = r.keep[key]
		entry.skip = !ok
	}
	if entry.key == "" {
		entry.key = strings.Clone(key) // key aliases the line
	}
	if i < len(r.seenKeys) {
		r.seenKeys[i] = entry
	} else {
		r.seenKeys = append(r.seenKeys, entry)
	}
	return entry.key, entry.skip
}

// maxLine bounds a record line; longer lines are reported and skipped.
const maxLine = 4 << 20

// TimestampOptionalInput is an input whose lines may lack "timestamp", such
// as the rows a report writes. NewReader sets TimestampOptional from it.
type TimestampOptionalInput interface {
	io.Reader
	TimestampOptional() bool
}

// NewReader returns a reader of r; source names it in error messages.
// When r is a FieldLister, the reader is projected onto its fields.
func NewReader(r io.Reader, source string) *Reader {
	reader := &Reader{Source: source}
	if lister, ok := r.(FieldLister); ok {
		reader.Project(lister.RecordFields())
	}
	if optional, ok := r.(TimestampOptionalInput); ok {
		reader.TimestampOptional = optional.TimestampOptional()
	}
	if filter, ok := r.(ValueFilter); ok {
		reader.filterField, reader.keepValue = filter.FilterField(), filter.KeepValue
	}
	if filter, ok := r.(LineFilter); ok {
		reader.keepLine = filter.KeepLine
		r = filter.Unfiltered()
	}
	if r != nil {
		reader.in = bufio.NewReaderSize(r, 256*1024)
	}
	return reader
}

// errLineTooLong marks a line longer than maxLine, which was skipped.
var errLineTooLong = errors.New("line too long")

// nextLine returns the next line without its newline. A line longer than
// maxLine is read to its end and dropped, and errLineTooLong returned.
func (r *Reader) nextLine() ([]byte, error) {
	r.wasLong = false
	if r.in == nil {
		return nil, io.EOF
	}
	line, err := r.in.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(line) > 0) {
		return bytes.TrimSuffix(line, []byte{'\n'}), nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	r.long = append(r.long[:0], line...)
	r.wasLong = true
	for {
		line, err = r.in.ReadSlice('\n')
		if len(r.long) <= maxLine {
			r.long = append(r.long, line...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(r.long) > maxLine {
			return nil, errLineTooLong
		}
		return bytes.TrimSuffix(r.long, []byte{'\n'}), nil
	}
}

// Read returns the next record. A line that is not a record gives a
// *LineError; the next call carries on with the following line. At the end
// of input it returns io.EOF.
func (r *Reader) Read() (*Record, error) {
	for {
		line, err := r.nextLine()
		if err == errLineTooLong {
			r.line++
			return nil, r.tooLong()
		}
		if err != nil {
			return nil, err
		}
		r.line++
		filter := r.keepLine != nil && !r.wasLong
		if filter && r.keepValue == nil && !r.keepLine(line) {
			continue
		}
		rec, err := r.readLine(line, r.line == 1, filter)
		if rec == nil && err == nil {
			continue
		}
		return rec, err
	}
}

// ReadLine reads line, without its newline, as Read reads the first line
// of its input, for lines that come one by one, such as Kafka values. It
// counts the line as the next one, and returns its record; nil and no
// error for a line without one (blank, or tshark's {"index":...}); or a
// *LineError. The record is valid until the next call. A reader used
// through ReadLine needs no input: NewReader(nil, source).
func (r *Reader) ReadLine(line []byte) (*Record, error) {
	r.line++
	if len(line) >= maxLine {
		return nil, r.tooLong()
	}
	return r.readLine(line, true, false)
}

func (r *Reader) tooLong() error {
	return &LineError{Source: r.Source, Line: r.line, Reason: fmt.Sprintf("line longer than %d bytes", maxLine)}
}

// readLine parses the line numbered r.line. first takes a byte order mark
// off, and filter applies the ValueFilter, if any.
func (r *Reader) readLine(line []byte, first, filter bool) (*Record, error) {
	if first {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	}
	trimmed := trimSpace(line)
	if len(trimmed) == 0 {
		return nil, nil
	}
	rec, skip, reason := r.parse(trimmed, filter)
	if skip {
		return nil, nil
	}
	if reason != "" {
		if trimmed[0] == '[' {
			reason += "; this looks like tshark -T json output, which is one JSON array: use tshark -T ek, which writes one object per line"
		}
		return nil, &LineError{Source: r.Source, Line: r.line, Reason: reason}
	}
	return rec, nil
}

// Line returns the number of the line read last.
func (r *Reader) Line() int64 { return r.line }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// parse decodes one line. skip is true for tshark's index lines and for
// lines that the ValueFilter leaves out when filter is set.
func (r *Reader) parse(line []byte, filter bool) (rec *Record, skip bool, reason string) {
	r.rec.Fields = r.rec.Fields[:0]
	r.rec.Timestamp = 0
	r.rec.Offset = r.line
	r.rec.NoTimestamp = false
	r.buf = r.buf[:0]
	r.values = r.values[:0]
	r.seenAt = 0
	filterValue := filter && r.keepValue != nil
	hasTimestamp, flat, leftOut := r.parseFlat(line, filterValue)
	if leftOut {
		return nil, true, ""
	}
	if !flat {
		if filterValue && !r.keepLine(line) {
			return nil, true, ""
		}
		r.rec.Fields = r.rec.Fields[:0]
		r.rec.Timestamp = 0
		r.values = r.values[:0]
		r.seenAt = 0
		hasTimestamp = false
		if err := r.parseGeneral(line, &skip, &hasTimestamp); err != nil {
			return nil, false, "invalid record: " + err.Error()
		}
	}
	if skip {
		return nil, true, ""
	}
	if !hasTimestamp && !r.TimestampOptional {
		return nil, false, `record has no "timestamp"`
	}
	r.rec.NoTimestamp = !hasTimestamp
	if r.rec.Timestamp > 0 && r.rec.Timestamp < 100_000_000_000 {
		return nil, false, fmt.Sprintf("timestamp %d is before 1973 in milliseconds: it looks like seconds; records carry milliseconds since the Unix epoch", r.rec.Timestamp)
	}
	if r.rec.Timestamp > 100_000_000_000_000 {
		return nil, false, fmt.Sprintf("timestamp %d is after the year 5000 in milliseconds: it looks like microseconds or nanoseconds; records carry milliseconds since the Unix epoch", r.rec.Timestamp)
	}
	r.rec.Style = r.detectStyle()
	return &r.rec, false, ""
}

// parseGeneral reads any record line with the general JSON parser. It
// sets *skip for tshark's index lines.
func (r *Reader) parseGeneral(line []byte, skip, hasTimestamp *bool) error {
	p := parser{data: line, r: r}
	return p.object(func(key string) error {
		switch key {
		case "index":
			*skip = true
			return p.skipValue()
		case "timestamp":
			v, err := p.stringOrNumber()
			if err != nil {
				return err
			}
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("timestamp %q is not a whole number of milliseconds", v)
			}
			r.rec.Timestamp = ts
			*hasTimestamp = true
			return nil
		case "layers":
			return p.object(p.layerMember(""))
		}
		if r.skips(key) {
			return p.skipValue()
		}
		return p.field(key)
	})
}

func (r *Reader) detectStyle() capture.Style {
	if r.Style != nil {
		return *r.Style
	}
	if v, ok := r.rec.First("wlan_fc_type_subtype"); ok && strings.HasPrefix(v, "0x") {
		return capture.StyleTshark
	}
	for _, v := range r.rec.Get("wlan_ssid") {
		if v == "<MISSING>" {
			return capture.StyleTshark
		}
	}
	return capture.StyleClassic
}

// layerMember reads a member of tshark's "layers" object. With -e FIELD
// its values are arrays of strings. Without -e (the full -T ek output) they
// are one object per protocol whose keys repeat the protocol's name
// ("wlan": {"wlan_wlan_fc_type_subtype": "0x0008", ...}); these are
// flattened, with the repeated name taken off, and flags (true, false) and
// values that are objects are left out.
func (p *parser) layerMember(protocol string) func(string) error {
	return func(key string) error {
		p.ws()
		if p.pos >= len(p.data) {
			return p.errorf("missing value of %q", key)
		}
		switch c := p.data[p.pos]; {
		case c == '{':
			prefix := protocol
			if prefix == "" {
				prefix = key + "_"
			}
			return p.object(p.layerMember(prefix))
		case c == 't' || c == 'f' || c == 'n':
			return p.skipValue()
		case c == '[' && !p.arrayOfScalars():
			return p.skipValue()
		}
		key = ekFieldName(key, protocol)
		if p.r.skips(key) {
			return p.skipValue()
		}
		return p.field(key)
	}
}

// ekFieldName returns the record key of a field of tshark's full -T ek
// output, key, in the layer whose keys start with prefix. Most keys repeat
// their layer's name ("wlan_wlan_fc_type_subtype" in "wlan"), which is
// taken off. The layer "wlan_wlan_mgt" holds fields of several protocols,
// each key its protocol's name before the field's own name
// ("wlan_wlan_ssid", "wps_wps_vendor_id"), where the first part is taken
// off.
func ekFieldName(key, prefix string) string {
	if rest, ok := strings.CutPrefix(key, prefix); ok {
		return rest
	}
	if proto, rest, ok := strings.Cut(key, "_"); ok && strings.HasPrefix(rest, proto+"_") {
		return rest
	}
	return key
}

// arrayOfScalars reports whether the array at the current position is
// empty or starts with a string or a number.
func (p *parser) arrayOfScalars() bool {
	for i := p.pos + 1; i < len(p.data); i++ {
		switch c := p.data[i]; c {
		case ' ', '\t', '\r', '\n':
			continue
		case ']', '"', '-':
			return true
		default:
			return c >= '0' && c <= '9'
		}
	}
	return false
}

// parser is a small JSON reader for the record shape: objects whose values
// are strings, numbers or arrays of them. Strings without escapes alias the
// line; others are unescaped into the reader's buffer.
type parser struct {
	data []byte
	pos  int
	r    *Reader
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) expect(c byte) error {
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != c {
		return p.errorf("want %q", c)
	}
	p.pos++
	return nil
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

func (p *parser) object(member func(key string) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return nil
	}
	for {
		key, err := p.str()
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		p.ws()
		if p.pos >= len(p.data) {
			return p.errorf("object not closed")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return nil
		default:
			return p.errorf("want ',' or '}'")
		}
	}
}

// field reads a field value: an array of strings (or numbers), or a single
// string, which is taken as an array of one.
func (p *parser) field(key string) error {
	p.ws()
	if p.pos >= len(p.data) {
		return p.errorf("missing value of %q", key)
	}
	if p.literal("null") {
		return nil // a null field is an absent field
	}
	start := len(p.r.values)
	if p.data[p.pos] == '[' && p.plainArray(true) {
		values := p.r.values[start:len(p.r.values):len(p.r.values)]
		p.r.rec.Fields = append(p.r.rec.Fields, Field{Key: key, Values: values})
		return nil
	}
	if p.data[p.pos] == '[' {
		p.pos++
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
		} else {
			for {
				p.ws()
				if !p.literal("null") {
					v, err := p.scalar()
					if err != nil {
						return fmt.Errorf("field %q: %w", key, err)
					}
					p.r.values = append(p.r.values, v)
				}
				p.ws()
				if p.pos >= len(p.data) {
					return p.errorf("array of %q not closed", key)
				}
				if p.data[p.pos] == ',' {
					p.pos++
					continue
				}
				if p.data[p.pos] == ']' {
					p.pos++
					break
				}
				return p.errorf("want ',' or ']' in %q", key)
			}
		}
	} else {
		v, err := p.scalar()
		if err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		p.r.values = append(p.r.values, v)
	}
	values := p.r.values[start:len(p.r.values):len(p.r.values)]
	p.r.rec.Fields = append(p.r.rec.Fields, Field{Key: key, Values: values})
	return nil
}

// plainArray reads the array at p.pos when it has the shape that wifiq
// and tshark write: strings without escapes, and no whitespace. keep
// appends the strings to the reader's values. For any other shape it
// returns false with nothing read, and the general path reads the array.
func (p *parser) plainArray(keep bool) bool {
	data, i := p.data, p.pos+1
	mark := len(p.r.values)
	if i < len(data) && data[i] == ']' {
		p.pos = i + 1
		return true
	}
	for i < len(data) && data[i] == '"' {
		start := i + 1
		j := start
		for j < len(data) && data[j] != '"' && data[j] != '\\' {
			j++
		}
		if j == len(data) || data[j] == '\\' {
			break
		}
		if keep {
			p.r.values = append(p.r.values, unsafeString(data[start:j]))
		}
		i = j + 1
		if i < len(data) && data[i] == ',' {
			i++
			continue
		}
		if i < len(data) && data[i] == ']' {
			p.pos = i + 1
			return true
		}
		break
	}
	p.r.values = p.r.values[:mark]
	return false
}

// literal consumes the JSON literal lit (null, true or false) at p.pos and
// reports whether it was there.
func (p *parser) literal(lit string) bool {
	rest := p.data[p.pos:]
	if len(rest) < len(lit) || unsafeString(rest[:len(lit)]) != lit {
		return false
	}
	if len(rest) > len(lit) {
		if c := rest[len(lit)]; c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			return false
		}
	}
	p.pos += len(lit)
	return true
}

// scalar reads a string, a number, or true or false as the strings "true"
// and "false", the values that reports and enriched records write.
func (p *parser) scalar() (string, error) {
	if p.literal("true") {
		return "true", nil
	}
	if p.literal("false") {
		return "false", nil
	}
	return p.stringOrNumber()
}

func (p *parser) stringOrNumber() (string, error) {
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '"' {
		return p.str()
	}
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.pos++
			continue
		}
		break
	}
	if p.pos == start {
		return "", p.errorf("want a string or a number")
	}
	return unsafeString(p.data[start:p.pos]), nil
}

func (p *parser) str() (string, error) {
	if err := p.expect('"'); err != nil {
		return "", err
	}
	start := p.pos
	data := p.data
	i := start
	for i < len(data) && data[i] != '"' && data[i] != '\\' {
		i++
	}
	p.pos = i
	switch {
	case i == len(data):
		return "", p.errorf("string not closed")
	case data[i] == '\\':
		return p.escapedString(start)
	}
	p.pos++
	return unsafeString(data[start:i]), nil
}

// escapedString finishes a string that contains escapes, from start.
func (p *parser) escapedString(start int) (string, error) {
	bufStart := len(p.r.buf)
	p.r.buf = append(p.r.buf, p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return unsafeString(p.r.buf[bufStart:len(p.r.buf):len(p.r.buf)]), nil
		case c == '\\':
			if p.pos+1 >= len(p.data) {
				return "", p.errorf("escape at end of line")
			}
			e := p.data[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				p.r.buf = append(p.r.buf, e)
			case 'n':
				p.r.buf = append(p.r.buf, '\n')
			case 'r':
				p.r.buf = append(p.r.buf, '\r')
			case 't':
				p.r.buf = append(p.r.buf, '\t')
			case 'b':
				p.r.buf = append(p.r.buf, '\b')
			case 'f':
				p.r.buf = append(p.r.buf, '\f')
			case 'u':
				if p.pos+4 > len(p.data) {
					return "", p.errorf("short \\u escape")
				}
				v, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 16)
				if err != nil {
					return "", p.errorf("invalid \\u escape")
				}
				p.pos += 4
				r := rune(v)
				if r >= 0xd800 && r < 0xdc00 && p.pos+6 <= len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					if lo, err := strconv.ParseUint(string(p.data[p.pos+2:p.pos+6]), 16, 16); err == nil && lo >= 0xdc00 && lo < 0xe000 {
						r = (r-0xd800)<<10 + (rune(lo) - 0xdc00) + 0x10000
						p.pos += 6
					}
				}
				p.r.buf = utf8.AppendRune(p.r.buf, r)
			default:
				return "", p.errorf("invalid escape \\%c", e)
			}
		default:
			p.r.buf = append(p.r.buf, c)
			p.pos++
		}
	}
	return "", p.errorf("string not closed")
}

// skipValue skips any JSON value.
func (p *parser) skipValue() error {
	p.ws()
	if p.pos >= len(p.data) {
		return p.errorf("missing value")
	}
	switch p.data[p.pos] {
	case '{':
		return p.object(func(string) error { return p.skipValue() })
	case '[':
		if p.plainArray(false) {
			return nil
		}
		p.pos++
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return nil
		}
		for {
			if err := p.skipValue(); err != nil {
				return err
			}
			p.ws()
			if p.pos < len(p.data) && p.data[p.pos] == ',' {
				p.pos++
				continue
			}
			return p.expect(']')
		}
	case '"':
		_, err := p.str()
		return err
	}
	for _, lit := range []string{"true", "false", "null"} {
		if strings.HasPrefix(unsafeString(p.data[p.pos:]), lit) {
			p.pos += len(lit)
			return nil
		}
	}
	_, err := p.stringOrNumber()
	return err
}

// unsafeString views b as a string without copying. The reader keeps b
// unchanged until its next Read, which is as long as records are valid.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
