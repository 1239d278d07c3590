package query

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
)

// frameRow is one row of the load table, with the sentinels of schema.go
// for missing values.
type frameRow struct {
	timeUS      int64
	frameNumber int32
	fcType      int16
	typeSubtype int32
	channel     int32
	frequency   int32
	signalDBm   int32
	duration    int32
	frameLen    int32
	malformed   bool
	addresses   [6]int64 // in the order of roles
	elements    uint64
}

func emptyRow() frameRow {
	r := frameRow{
		frameNumber: noNumber, fcType: noNumber, typeSubtype: noNumber, channel: noNumber,
		frequency: noNumber, signalDBm: noSignal, duration: noNumber, frameLen: noNumber,
		elements: noElement,
	}
	for i := range r.addresses {
		r.addresses[i] = noAddress
	}
	return r
}

// roleOrder maps the columns of roles to the decoder's address roles.
var roleOrder = [6]capture.Role{capture.RoleRA, capture.RoleDA, capture.RoleTA, capture.RoleSA, capture.RoleSTA, capture.RoleBSSID}

// rowFromFrame fills a row from a decoded frame, the frame_number-th of its
// file, and adds its information elements to dict.
func rowFromFrame(f *capture.Frame, frameNumber int, dict *elementDict) frameRow {
	row := emptyRow()
	row.timeUS = floorDiv(f.Timestamp, 1000)
	row.frameNumber = int32(frameNumber)
	if len(f.Types) > 0 {
		row.fcType = int16(f.Types[0])
	}
	if len(f.TypeSubtypes) > 0 {
		row.typeSubtype = int32(f.TypeSubtypes[0])
	}
	r := &f.Radio
	if r.HasChannel {
		row.channel = int32(r.Channel)
	}
	if r.HasFrequency {
		row.frequency = int32(r.Frequency)
	}
	if r.HasSignalDBm {
		row.signalDBm = int32(r.SignalDBm)
	}
	if f.HasDuration {
		row.duration = int32(f.Duration)
	}
	row.frameLen = int32(f.Length)
	row.malformed = f.Malformed
	for i, role := range roleOrder {
		if addrs := f.Addresses(role); len(addrs) > 0 {
			row.addresses[i] = macNumber(addrs[0])
		}
	}

	e := &dict.scratch
	e.reset()
	if len(f.SSIDs) > 0 {
		e.hasSSID, e.ssid = true, f.SSIDs[0]
	}
	for _, v := range f.Vendors {
		e.ouis = append(e.ouis, int32(v.OUI))
		if v.HasType {
			e.types = append(e.types, int32(v.Type))
		}
		if v.Data != nil {
			e.data = append(e.data, v.Data)
		}
	}
	if len(f.Countries) > 0 {
		e.hasCountry, e.country = true, tsharkASCII(f.Countries[0])
	}
	if len(f.WPSDeviceNames) > 0 {
		e.hasWPS, e.wps = true, capture.EscapeText(f.WPSDeviceNames[0])
	}
	row.elements = dict.add()
	return row
}

// rowFromRecord fills a row from a record, parsing the tshark field values
// of either style. A value that does not parse is left out.
func rowFromRecord(rec *record.Record, dict *elementDict) frameRow {
	row := emptyRow()
	row.timeUS = rec.Timestamp * 1000
	if v, ok := rec.First("frame_time_epoch"); ok {
		if us, ok := parseEpochMicros(v); ok {
			row.timeUS = us
		}
	}
	if v, ok := firstNumber(rec, "wlan_fc_type"); ok {
		row.fcType = int16(v)
	}
	if v, ok := rec.TypeSubtype(); ok {
		row.typeSubtype = int32(v)
	}
	if v, ok := firstNumber(rec, "wlan_radio_channel"); ok {
		row.channel = int32(v)
	}
	if v, ok := firstNumber(rec, "wlan_radio_frequency"); ok {
		row.frequency = int32(v)
	}
	if v, ok := firstNumber(rec, "wlan_radio_signal_dbm"); ok {
		row.signalDBm = int32(v)
	}
	if v, ok := firstNumber(rec, "wlan_radio_duration"); ok {
		row.duration = int32(v)
	}
	if v, ok := firstNumber(rec, "frame_len"); ok {
		row.frameLen = int32(v)
	}
	if v, ok := firstNumber(rec, "frame_number"); ok {
		row.frameNumber = int32(v)
	}
	row.malformed = rec.Get("_ws_malformed") != nil
	for i, role := range roles {
		if v, ok := rec.First("wlan_" + role); ok {
			if m, err := capture.ParseMAC(v); err == nil {
				row.addresses[i] = macNumber(m)
			}
		}
	}

	e := &dict.scratch
	e.reset()
	if v, ok := rec.First("wlan_ssid"); ok {
		e.hasSSID, e.ssid = true, record.DecodeSSID(v, rec.Style)
	}
	for _, v := range rec.Get("wlan_tag_oui") {
		if n, err := record.ParseNumber(v); err == nil {
			e.ouis = append(e.ouis, int32(n))
		}
	}
	for _, v := range rec.Get("wlan_tag_vendor_oui_type") {
		if n, err := record.ParseNumber(v); err == nil {
			e.types = append(e.types, int32(n))
		}
	}
	for _, v := range rec.Get("wlan_tag_vendor_data") {
		if b, err := record.DecodeBytes(v); err == nil {
			e.data = append(e.data, b)
		}
	}
	if v, ok := rec.First("wlan_country_info_code"); ok {
		e.hasCountry, e.country = true, v
	}
	if v, ok := rec.First("wps_device_name"); ok {
		e.hasWPS, e.wps = true, v
	}
	row.elements = dict.add()
	return row
}

// parseEpochMicros parses frame.time_epoch ("1714593600.100493789", seconds
// since the Unix epoch) into microseconds, which records otherwise carry
// only to the millisecond.
func parseEpochMicros(v string) (int64, bool) {
	secText, fracText, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(secText, 10, 64)
	if err != nil || sec < 0 || len(fracText) > 9 {
		return 0, false
	}
	if _, err := strconv.ParseUint("0"+fracText, 10, 64); err != nil {
		return 0, false
	}
	fracText += strings.Repeat("0", 6-min(len(fracText), 6))
	micros, err := strconv.ParseInt(fracText[:6], 10, 64)
	if err != nil {
		return 0, false
	}
	return sec*1_000_000 + micros, true
}

func firstNumber(rec *record.Record, key string) (int64, bool) {
	v, ok := rec.First(key)
	if !ok {
		return 0, false
	}
	n, err := record.ParseNumber(v)
	return n, err == nil
}

func macNumber(m capture.MAC) int64 {
	return int64(m[0])<<40 | int64(m[1])<<32 | int64(m[2])<<24 | int64(m[3])<<16 | int64(m[4])<<8 | int64(m[5])
}

// formatMAC writes a 48-bit address as six colon-separated hex octets.
func formatMAC(v uint64) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for shift := 40; shift >= 0; shift -= 8 {
		if shift < 40 {
			b = append(b, ':')
		}
		octet := byte(v >> shift)
		b = append(b, digits[octet>>4], digits[octet&0xf])
	}
	return string(b)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// tsharkASCII renders bytes as tshark 4.0 renders an ASCII string field
// (wlan.country_info.code): up to the first NUL, with every byte above 0x7f
// replaced by U+FFFD. Record files carry the country code in this form, so
// captures must give the same text.
func tsharkASCII(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		if c >= 0x80 {
			out = utf8.AppendRune(out, utf8.RuneError)
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// elements is the information element content of one frame, as the
// elements table stores it. The vendor lists are kept apart as tshark lists
// them: vendor_oui has one entry per vendor element, while vendor_oui_type
// and vendor_data leave out elements without one.
type elements struct {
	hasSSID    bool
	ssid       []byte
	ouis       []int32
	types      []int32
	data       [][]byte
	hasCountry bool
	country    string
	hasWPS     bool
	wps        string
}

func (e *elements) reset() {
	*e = elements{ouis: e.ouis[:0], types: e.types[:0], data: e.data[:0]}
}

func (e *elements) empty() bool {
	return !e.hasSSID && len(e.ouis) == 0 && len(e.types) == 0 && len(e.data) == 0 && !e.hasCountry && !e.hasWPS
}

// appendKey writes an unambiguous byte form of e: every part has a
// presence flag or a length in front of it.
func (e *elements) appendKey(dst []byte) []byte {
	appendBytes := func(dst []byte, present bool, b []byte) []byte {
		if !present {
			return append(dst, 0)
		}
		dst = append(dst, 1)
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		return append(dst, b...)
	}
	dst = appendBytes(dst, e.hasSSID, e.ssid)
	for _, list := range [][]int32{e.ouis, e.types} {
		dst = binary.AppendUvarint(dst, uint64(len(list)))
		for _, v := range list {
			dst = binary.AppendVarint(dst, int64(v))
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.data)))
	for _, d := range e.data {
		dst = appendBytes(dst, true, d)
	}
	dst = appendBytes(dst, e.hasCountry, []byte(e.country))
	return appendBytes(dst, e.hasWPS, []byte(e.wps))
}

// elementRow is one row of the elements table.
type elementRow struct {
	id uint64
	elements
}

// elementDict collects the distinct information element contents of one
// file. Keys are a 64-bit FNV-1a hash of the content, so the same content
// gets the same key in every file and the per-file tables can be merged
// without renumbering.
//
// NOTE: two different contents with the same hash would share one row of
// the merged elements table. With a million distinct contents the chance is
// about 3 in 100 million.
type elementDict struct {
	ids     map[string]uint64 // content key to id
	rows    []elementRow
	scratch elements
	key     []byte
}

func newElementDict() *elementDict {
	return &elementDict{ids: map[string]uint64{}}
}

// add returns the id of the content in scratch, adding it when new, or
// noElement when the frame has no information element that the table keeps.
func (d *elementDict) add() uint64 {
	e := &d.scratch
	if e.empty() {
		return noElement
	}
	d.key = e.appendKey(d.key[:0])
	if id, ok := d.ids[string(d.key)]; ok {
		return id
	}
	h := fnv.New64a()
	h.Write(d.key)
	id := h.Sum64()
	if id == noElement {
		id = 1
	}
	d.ids[string(d.key)] = id
	d.rows = append(d.rows, elementRow{id: id, elements: e.clone()})
	return id
}

// clone copies e, whose slices and strings may point into a decoder's or
// a record reader's buffer.
func (e *elements) clone() elements {
	c := elements{
		hasSSID: e.hasSSID, ssid: append([]byte{}, e.ssid...),
		ouis: append([]int32(nil), e.ouis...), types: append([]int32(nil), e.types...),
		hasCountry: e.hasCountry, country: strings.Clone(e.country), hasWPS: e.hasWPS, wps: strings.Clone(e.wps),
	}
	for _, b := range e.data {
		c.data = append(c.data, append([]byte{}, b...))
	}
	return c
}
