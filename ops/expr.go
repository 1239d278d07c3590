package ops

import (
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
)

// Expr computes a Value from a record: a GROUP BY column or the argument
// of an aggregate. Every non-NULL value of an expression has its Kind. A
// record without the fields an expression reads gives NULL.
//
// The expressions are the ones the built-in reports need, each named after
// the record field or the ksqlDB function it stands for:
//
//	Field(key)          first value of a field (ksqlDB: FIELD[1])
//	FieldValues(key)    all values of a field, as a list (FIELD)
//	FieldInt(key)       first value as an integer, decimal or 0x-hex
//	EventTime()         the record's timestamp in ms (ROWTIME)
//	Day(loc)            the calendar day of the event time in loc, 2006-01-02
//	TypeSubtype()       wlan.fc.type_subtype in either value style
//	SourceAddress()     wlan.sa, else wlan.ta
//	SourceDevice(f)     field f (an enrichment), else wlan.sa_resolved, else the address
//	Randomised()        the locally administered bit (0x02 of the first octet) of SourceAddress
//	SSID(), SSIDs()     the first or every SSID, rendered losslessly as record.SSIDText does
//	DirectedSSID()      the first SSID, NULL for the wildcard (empty) SSID
//	VendorData()        wlan.tag.vendor.data as colon-separated hex in either style
//	When(cond, e)       e where cond is true, else NULL (an aggregate's FILTER)
//	Tuple(name, e...)   several expressions as one opaque string, for grouping
type Expr struct {
	// Name is the column name reports give the expression.
	Name string
	Kind Kind
	// eval returns the value for rec. Lists are appended to *scratch,
	// which the caller resets between records.
	eval func(rec *record.Record, scratch *[]string) Value
	// id identifies what the expression computes, so that the engine
	// evaluates an argument that several aggregates share once: equal ids
	// give equal values. It is empty when unknown.
	id string
	// fields are the record fields eval reads, so that a reader can skip
	// the others. Nil means unknown, which makes the reader keep every
	// field; an expression that reads none has an empty, non-nil list.
	fields []string
}

// noFields is the field list of an expression that reads no field.
var noFields = []string{}

// unionFields returns the fields that the lists name together, or nil
// when one of them is unknown (nil).
func unionFields(lists ...[]string) []string {
	out := []string{}
	for _, list := range lists {
		if list == nil {
			return nil
		}
		for _, f := range list {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// Eval returns the value of e for rec. Strings and lists may share memory
// with rec.
func (e Expr) Eval(rec *record.Record) Value {
	var scratch []string
	return e.eval(rec, &scratch)
}

// As returns e under another column name.
func (e Expr) As(name string) Expr {
	e.Name = name
	return e
}

// Field is the first value of a record field (its key, such as wlan_sa).
func Field(key string) Expr {
	return Expr{Name: key, Kind: KindString, id: "Field(" + key + ")", fields: []string{key}, eval: func(rec *record.Record, _ *[]string) Value {
		if v, ok := rec.First(key); ok {
			return StringValue(v)
		}
		return Null
	}}
}

// FieldValues is every value of a record field, as a list.
func FieldValues(key string) Expr {
	return Expr{Name: key, Kind: KindList, id: "FieldValues(" + key + ")", fields: []string{key}, eval: func(rec *record.Record, scratch *[]string) Value {
		values := rec.Get(key)
		if len(values) == 0 {
			return Null
		}
		start := len(*scratch)
		*scratch = append(*scratch, values...)
		return ListValue((*scratch)[start:len(*scratch):len(*scratch)])
	}}
}

// FieldInt is the first value of a record field as an integer, read as
// decimal or 0x-prefixed hexadecimal; NULL when it is neither.
func FieldInt(key string) Expr {
	return Expr{Name: key, Kind: KindInt, id: "FieldInt(" + key + ")", fields: []string{key}, eval: func(rec *record.Record, _ *[]string) Value {
		return parseInt(rec, key)
	}}
}

func parseInt(rec *record.Record, key string) Value {
	v, ok := rec.First(key)
	if !ok {
		return Null
	}
	if n, ok := parseShortDecimal(v); ok {
		return IntValue(n)
	}
	n, err := record.ParseNumber(v)
	if err != nil {
		return Null
	}
	return IntValue(n)
}

// parseShortDecimal parses an optional minus sign and 1 to 18 decimal
// digits, the form of most integer fields, without strconv's generality.
// Such a number cannot overflow an int64. For any other form it returns
// false, and record.ParseNumber decides.
func parseShortDecimal(v string) (int64, bool) {
	digits := v
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(v) {
		n = -n
	}
	return n, true
}

// EventTime is the record's event time in milliseconds since the Unix
// epoch: ksqlDB's ROWTIME.
func EventTime() Expr {
	return Expr{Name: "timestamp", Kind: KindInt, id: "EventTime()", fields: noFields, eval: func(rec *record.Record, _ *[]string) Value {
		return IntValue(rec.Timestamp)
	}}
}

// Day is the calendar day of the event time in loc (UTC when nil), as
// 2006-01-02. Days follow the zone's wall clock, so a day in a zone with
// daylight saving time lasts 23 or 25 hours when the clocks change.
func Day(loc *time.Location) Expr {
	if loc == nil {
		loc = time.UTC
	}
	return Expr{Name: "day", Kind: KindString, id: "Day(" + loc.String() + ")", fields: noFields, eval: func(rec *record.Record, _ *[]string) Value {
		return StringValue(time.UnixMilli(rec.Timestamp).In(loc).Format(time.DateOnly))
	}}
}

// TypeSubtype is wlan.fc.type_subtype as a number, from the decimal
// (classic) or hexadecimal (tshark 4.0) form; NULL when missing or invalid.
func TypeSubtype() Expr {
	return Expr{Name: "type_subtype", Kind: KindInt, id: "TypeSubtype()", fields: []string{"wlan_fc_type_subtype"}, eval: func(rec *record.Record, _ *[]string) Value {
		if n, ok := rec.TypeSubtype(); ok {
			return IntValue(int64(n))
		}
		return Null
	}}
}

// SourceAddress is the frame's source address: wlan.sa, or wlan.ta for
// frames without one.
func SourceAddress() Expr {
	return Expr{Name: "source_address", Kind: KindString, id: "SourceAddress()", fields: sourceAddressFields, eval: func(rec *record.Record, _ *[]string) Value {
		return StringValue(sourceAddress(rec)).orNull()
	}}
}

var sourceAddressFields = []string{"wlan_sa", "wlan_ta"}

func sourceAddress(rec *record.Record) string {
	if v, ok := rec.First("wlan_sa"); ok {
		return v
	}
	v, _ := rec.First("wlan_ta")
	return v
}

// orNull turns an empty string into NULL.
func (v Value) orNull() Value {
	if v.Kind == KindString && v.Str == "" {
		return Null
	}
	return v
}

// SourceDevice names the device that sent a frame: the first value of
// deviceField when the record carries it (a name added by enrichment),
// else wlan.sa_resolved, else the source address as SourceAddress reads it.
// An empty deviceField skips the first step.
func SourceDevice(deviceField string) Expr {
	keys := []string{"wlan_sa_resolved", "wlan_sa", "wlan_ta_resolved", "wlan_ta"}
	if deviceField != "" {
		keys = append([]string{deviceField}, keys...)
	}
	// lengths marks the lengths of keys, so that most other fields are
	// passed over without comparing them with every key.
	var lengths [64]bool
	for _, k := range keys {
		if len(k) < len(lengths) {
			lengths[len(k)] = true
		}
	}
	return Expr{Name: "device", Kind: KindString, id: "SourceDevice(" + deviceField + ")", fields: keys, eval: func(rec *record.Record, _ *[]string) Value {
		// One pass over the record's fields finds the first of keys whose
		// first value, as Record.First reads it, is not empty, where a
		// search per key would pass over them again for every missing one.
		// seen marks the keys met, because only a key's first field counts.
		best, found := len(keys), ""
		var seen uint64
		for i := range rec.Fields {
			f := &rec.Fields[i]
			if len(f.Key) < len(lengths) && !lengths[len(f.Key)] {
				continue // no key has its length
			}
			for k := range best {
				if f.Key != keys[k] {
					continue
				}
				if seen&(1<<k) == 0 && len(f.Values) > 0 && f.Values[0] != "" {
					best, found = k, f.Values[0]
				}
				seen |= 1 << k
				break
			}
		}
		if best == len(keys) {
			return Null
		}
		return StringValue(found)
	}}
}

// Randomised is true when the source address is locally administered (bit
// 0x02 of its first octet set), which is how randomised client addresses
// show. It is NULL when the record has no source address or the address
// does not start with two hex digits.
func Randomised() Expr {
	return Expr{Name: "randomised", Kind: KindBool, id: "Randomised()", fields: sourceAddressFields, eval: func(rec *record.Record, _ *[]string) Value {
		return locallyAdministered(sourceAddress(rec))
	}}
}

func locallyAdministered(address string) Value {
	if len(address) < 2 {
		return Null
	}
	octet, err := strconv.ParseUint(address[:2], 16, 8)
	if err != nil {
		return Null
	}
	return BoolValue(octet&0x02 != 0)
}

// SSID is the first SSID of the frame, decoded from either value style and
// rendered as record.SSIDText does: printable UTF-8 as it is, a backslash
// as \\ and any other byte as \xNN, so distinct SSIDs never render alike.
// The wildcard SSID is the empty string.
func SSID() Expr {
	return Expr{Name: "ssid", Kind: KindString, id: "SSID()", fields: ssidFields, eval: func(rec *record.Record, _ *[]string) Value {
		v, ok := rec.First("wlan_ssid")
		if !ok {
			return Null
		}
		return StringValue(ssidText(v, rec.Style))
	}}
}

var ssidFields = []string{"wlan_ssid"}

// DirectedSSID is SSID, but NULL for the wildcard SSID, so aggregates over
// it count only the networks a device asked for by name.
func DirectedSSID() Expr {
	return Expr{Name: "ssid", Kind: KindString, id: "DirectedSSID()", fields: ssidFields, eval: func(rec *record.Record, _ *[]string) Value {
		// SSID's work, without a call and copies of its Value per record.
		v, ok := rec.First("wlan_ssid")
		if !ok {
			return Null
		}
		if text := ssidText(v, rec.Style); text != "" {
			return StringValue(text)
		}
		return Null
	}}
}

// SSIDs is every SSID of the frame, rendered as SSID renders the first.
func SSIDs() Expr {
	return Expr{Name: "ssids", Kind: KindList, id: "SSIDs()", fields: ssidFields, eval: func(rec *record.Record, scratch *[]string) Value {
		values := rec.Get("wlan_ssid")
		if len(values) == 0 {
			return Null
		}
		start := len(*scratch)
		for _, v := range values {
			*scratch = append(*scratch, ssidText(v, rec.Style))
		}
		return ListValue((*scratch)[start:len(*scratch):len(*scratch)])
	}}
}

// ssidText renders a wlan_ssid value of the given style as SSIDText does.
// A classic value of printable ASCII without backslashes is already in
// that form, which spares the decoding for most SSIDs.
func ssidText(v string, style capture.Style) string {
	if style != capture.StyleTshark && plainASCII(v) {
		return v
	}
	return record.SSIDText(record.DecodeSSID(v, style))
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}

// VendorData is wlan.tag.vendor.data, one list item per vendor specific
// element, as colon-separated lowercase hex whatever the record's style
// (tshark 4.0 writes unseparated hex). A value that is not hex is kept as
// it is.
func VendorData() Expr {
	return Expr{Name: "vendor_data", Kind: KindList, id: "VendorData()", fields: []string{"wlan_tag_vendor_data"}, eval: func(rec *record.Record, scratch *[]string) Value {
		values := rec.Get("wlan_tag_vendor_data")
		if len(values) == 0 {
			return Null
		}
		start := len(*scratch)
		for _, v := range values {
			*scratch = append(*scratch, colonHex(v))
		}
		return ListValue((*scratch)[start:len(*scratch):len(*scratch)])
	}}
}

// colonHex renders a byte-string value as colon-separated lowercase hex.
func colonHex(v string) string {
	if len(v) <= 2 || strings.IndexByte(v, ':') >= 0 {
		return strings.ToLower(v)
	}
	b, err := record.DecodeBytes(v)
	if err != nil {
		return v
	}
	return FormatColonHex(b)
}

// FormatColonHex renders bytes as lowercase hex octets separated by colons.
func FormatColonHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	out := make([]byte, 0, 3*len(b)-1)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = hex.AppendEncode(out, []byte{c})
	}
	return string(out)
}

// When is e where cond is true and NULL elsewhere, so that an aggregate of
// it counts only some records: COUNT_DISTINCT(When(Randomised(),
// SourceAddress())) is SQL's count(DISTINCT sa) FILTER (WHERE randomised).
func When(cond, e Expr) Expr {
	var id string
	if cond.id != "" && e.id != "" {
		id = "When(" + cond.id + ", " + e.id + ")"
	}
	return Expr{Name: e.Name, Kind: e.Kind, id: id, fields: unionFields(cond.fields, e.fields), eval: func(rec *record.Record, scratch *[]string) Value {
		if !cond.eval(rec, scratch).Bool() {
			return Null
		}
		return e.eval(rec, scratch)
	}}
}

// Tuple is several expressions as one string value, for grouping by their
// combination in one column. The string is a binary encoding: equal for
// equal values, and not meant to be printed.
func Tuple(name string, exprs ...Expr) Expr {
	id := "Tuple("
	for i, e := range exprs {
		if e.id == "" {
			id = ""
			break
		}
		if i > 0 {
			id += ", "
		}
		id += e.id
	}
	if id != "" {
		id += ")"
	}
	lists := make([][]string, len(exprs))
	for i, e := range exprs {
		lists[i] = e.fields
	}
	return Expr{Name: name, Kind: KindString, id: id, fields: unionFields(lists...), eval: func(rec *record.Record, scratch *[]string) Value {
		var key []byte
		for _, e := range exprs {
			key = appendKey(key, e.eval(rec, scratch))
		}
		return StringValue(string(key))
	}}
}

// DecodeTuple returns the n values that a Tuple of n expressions encoded
// into s.
func DecodeTuple(s string, n int) []Value { return decodeKey(s, n) }
