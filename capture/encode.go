package capture

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
	"unicode/utf8"
)

// Encoder writes Frames as records: one JSON object per frame with the
// timestamp in milliseconds and one array of strings per field present, in
// the order of Fields.
type Encoder struct {
	Fields   []FieldID
	Style    Style
	Resolver *Resolver

	keys           [][]byte // `,"wlan_fc_type":[` for each field
	malformedAsked bool
}

// NewEncoder returns an encoder for the fields in style. A nil resolver
// resolves every address to itself.
func NewEncoder(fields []FieldID, style Style, resolver *Resolver) *Encoder {
	if resolver == nil {
		resolver = NewResolver()
	}
	e := &Encoder{Fields: fields, Style: style, Resolver: resolver}
	for _, id := range fields {
		e.keys = append(e.keys, []byte(`,"`+id.Key()+`":[`))
		if id == FieldMalformed {
			e.malformedAsked = true
		}
	}
	return e
}

var malformedKey = []byte(`,"_ws_malformed":["_ws.malformed"]`)

// AppendRecord appends the record of f and a newline to dst.
func (e *Encoder) AppendRecord(dst []byte, f *Frame) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = strconv.AppendInt(dst, floorDiv(f.Timestamp, int64(time.Millisecond)), 10)
	dst = append(dst, '"')
	for i, id := range e.Fields {
		mark := len(dst)
		dst = append(dst, e.keys[i]...)
		start := len(dst)
		dst = e.appendValues(dst, id, f)
		if len(dst) == start {
			dst = dst[:mark] // the frame has no value for this field
			continue
		}
		dst = append(dst, ']')
	}
	if f.Malformed && !e.malformedAsked {
		dst = append(dst, malformedKey...)
	}
	return append(dst, '}', '\n')
}

// AppendIndex appends tshark's Elasticsearch bulk index line for f, which
// names a daily index after the frame's UTC date.
func (e *Encoder) AppendIndex(dst []byte, f *Frame) []byte {
	date := time.Unix(0, f.Timestamp).UTC().Format("2006-01-02")
	dst = append(dst, `{"index":{"_index":"packets-`...)
	dst = append(dst, date...)
	return append(dst, `","_type":"doc"}}`+"\n"...)
}

// isControlExtension reports a control frame extension (type 1, subtype
// 6), whose flags byte holds the extension number in place of To DS, From
// DS, More Fragments and Retry, and whose Protected bit tshark does not
// show.
func (f *Frame) isControlExtension() bool {
	return f.Type == TypeControl && f.Subtype == subtypeControlExt
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendValues appends the comma-separated quoted values of a field, or
// nothing when the frame has none.
func (e *Encoder) appendValues(dst []byte, id FieldID, f *Frame) []byte {
	r := &f.Radio
	switch id {
	case FieldFCType:
		for _, t := range f.Types {
			if f.ProtocolVersion != 0 && e.Style == StyleTshark {
				dst = appendQuotedHex(dst, uint64(t), 4)
			} else {
				dst = appendQuotedUint(dst, uint64(t))
			}
		}
	case FieldFCTypeSubtype:
		for _, ts := range f.TypeSubtypes {
			if e.Style == StyleTshark {
				dst = appendQuotedHex(dst, uint64(ts), 4)
			} else {
				dst = appendQuotedUint(dst, uint64(ts))
			}
		}
	case FieldFCSubtype:
		if f.HasFrameControl && f.ProtocolVersion == 0 {
			dst = appendQuotedUint(dst, uint64(f.Subtype))
		}
	case FieldFCDS:
		if f.HasFrameControl && f.ProtocolVersion == 0 && !f.isControlExtension() {
			dst = appendQuotedHex(dst, uint64(f.Flags&(flagToDS|flagFromDS)), 2)
		}
	case FieldFCProtected:
		if f.HasFrameControl && f.ProtocolVersion == 0 && !f.isControlExtension() {
			dst = appendQuotedBool(dst, f.Flags&flagProtected != 0)
		}
	case FieldFCRetry:
		if f.HasFrameControl && f.ProtocolVersion == 0 && !f.isControlExtension() {
			dst = appendQuotedBool(dst, f.Flags&0x08 != 0)
		}
	case FieldSeq:
		if f.HasSequence {
			dst = appendQuotedUint(dst, uint64(f.Sequence))
		}
	case FieldFrag:
		if f.HasSequence {
			dst = appendQuotedUint(dst, uint64(f.Fragment))
		}
	case FieldTagNumber:
		for _, n := range f.TagNumbers {
			dst = appendQuotedUint(dst, uint64(n))
		}
	case FieldTagLength:
		for _, n := range f.TagLengths {
			dst = appendQuotedUint(dst, uint64(n))
		}
	case FieldExtTagNumber:
		for _, n := range f.ExtTagNumbers {
			dst = appendQuotedUint(dst, uint64(n))
		}
	case FieldSupportedRates:
		for _, r := range f.SupportedRates {
			dst = appendQuotedHex(dst, uint64(r), 2)
		}
	case FieldExtendedRates:
		for _, r := range f.ExtendedRates {
			dst = appendQuotedHex(dst, uint64(r), 2)
		}
	case FieldHTCapabilities:
		for _, c := range f.HTCapabilities {
			dst = appendQuotedHex(dst, uint64(c), 4)
		}
	case FieldHTAMPDUParam:
		for _, c := range f.HTAMPDUParams {
			dst = appendQuotedHex(dst, uint64(c), 2)
		}
	case FieldExtCap:
		// tshark shows octets 8 and 9 as one 16-bit field, and every other
		// octet on its own.
		for _, caps := range f.ExtCapabilities {
			for i := 0; i < len(caps); i++ {
				if i == 7 && len(caps) > 8 {
					dst = appendQuotedHex(dst, uint64(binary.LittleEndian.Uint16(caps[7:9])), 4)
					i++
					continue
				}
				dst = appendQuotedHex(dst, uint64(caps[i]), 2)
			}
		}
	case FieldRadioChannel:
		if r.HasChannel {
			dst = appendQuotedUint(dst, uint64(r.Channel))
		}
	case FieldRadioFrequency:
		if r.HasFrequency {
			dst = appendQuotedUint(dst, uint64(r.Frequency))
		}
	case FieldRadioSignalDBm:
		if r.HasSignalDBm {
			dst = appendQuotedInt(dst, int64(r.SignalDBm))
		}
	case FieldRadioNoiseDBm:
		if r.HasNoiseDBm {
			dst = appendQuotedInt(dst, int64(r.NoiseDBm))
		}
	case FieldRadioDuration:
		if f.HasDuration {
			dst = appendQuotedUint(dst, uint64(f.Duration))
		}
	case FieldRadioPHY:
		if phy := r.ReportedPHY(); phy != PHYUnknown {
			dst = appendQuotedUint(dst, uint64(phy))
		}
	case FieldRadioDataRate:
		if rate, ok := r.dataRate(); ok {
			dst = appendQuoted(dst, strconv.FormatFloat(float64(rate), 'g', 6, 32))
		}
	case FieldRadioTimestamp:
		if r.HasTSF {
			dst = appendQuotedUint(dst, r.TSF)
		}
	case FieldRadiotapAntSignal:
		for _, s := range r.AntennaSignals {
			dst = appendQuotedInt(dst, int64(s))
		}
	case FieldRA, FieldDA, FieldTA, FieldSA, FieldSTAA, FieldBSSID:
		for _, m := range f.addrs[addressRole(id)] {
			dst = appendQuotedMAC(dst, m)
		}
	case FieldRAResolved, FieldDAResolved, FieldTAResolved, FieldSAResolved, FieldSTAAResolved, FieldBSSIDResolved:
		if id == FieldSAResolved && f.unresolvedSA {
			break
		}
		for _, m := range f.addrs[addressRole(id-1)] {
			dst = e.Resolver.appendQuoted(dst, m)
		}
	case FieldTaggedAll:
		for i := 0; i < f.TaggedParameters; i++ {
			dst = appendQuoted(dst, "1")
		}
	case FieldVendorData:
		for _, v := range f.Vendors {
			if v.Data != nil {
				dst = e.appendBytes(dst, v.Data)
			}
		}
	case FieldVendorOUIType:
		for _, v := range f.Vendors {
			if v.HasType {
				dst = appendQuotedUint(dst, uint64(v.Type))
			}
		}
	case FieldTagOUI:
		for _, v := range f.Vendors {
			dst = appendQuotedUint(dst, uint64(v.OUI))
		}
	case FieldSSID:
		for _, s := range f.SSIDs {
			dst = e.appendSSID(dst, s)
		}
	case FieldCountryCode:
		for _, c := range f.Countries {
			dst = appendJSONString(dst, tsharkASCII(c))
		}
	case FieldWPSDeviceName:
		for _, name := range f.WPSDeviceNames {
			if e.Style == StyleTshark {
				dst = appendJSONString(dst, tsharkASCII(name))
			} else {
				dst = appendJSONString(dst, EscapeText(name))
			}
		}
	case FieldFCSStatus:
		if f.HasFCS {
			dst = appendQuotedUint(dst, uint64(f.FCSStatus))
		}
	case FieldFCS:
		if f.HasFCS {
			dst = appendQuotedHex(dst, uint64(f.FCS), 8)
		}
	case FieldFrameLen:
		dst = appendQuotedUint(dst, uint64(f.Length))
	case FieldFrameCapLen:
		dst = appendQuotedUint(dst, uint64(f.CaptureLength))
	case FieldFrameTimeEpoch:
		sec := floorDiv(f.Timestamp, int64(time.Second))
		ns := f.Timestamp - sec*int64(time.Second)
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, sec, 10)
		dst = append(dst, '.')
		frac := strconv.AppendInt(make([]byte, 0, 9), ns, 10)
		for i := len(frac); i < 9; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, frac...)
		dst = append(dst, '"', ',')
	case FieldMalformed:
		if f.Malformed {
			dst = appendQuoted(dst, "_ws.malformed")
		}
	}
	if n := len(dst); n > 0 && dst[n-1] == ',' {
		dst = dst[:n-1]
	}
	return dst
}

func addressRole(id FieldID) Role {
	switch id {
	case FieldRA:
		return RoleRA
	case FieldDA:
		return RoleDA
	case FieldTA:
		return RoleTA
	case FieldSA:
		return RoleSA
	case FieldSTAA:
		return RoleSTA
	}
	return RoleBSSID
}

// appendSSID writes an SSID: hex bytes with "<MISSING>" for the wildcard in
// tshark style; text with "" for the wildcard in classic style.
func (e *Encoder) appendSSID(dst []byte, ssid []byte) []byte {
	if e.Style == StyleTshark {
		if len(ssid) == 0 {
			return appendQuoted(dst, "<MISSING>")
		}
		return appendQuotedHexBytes(dst, ssid, false)
	}
	return appendJSONString(dst, EscapeText(ssid))
}

// appendBytes writes opaque bytes: unseparated hex in tshark style,
// colon-separated in classic style.
func (e *Encoder) appendBytes(dst []byte, b []byte) []byte {
	if len(b) == 0 {
		return appendQuoted(dst, "<MISSING>")
	}
	return appendQuotedHexBytes(dst, b, e.Style == StyleClassic)
}

func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"', ',')
}

func appendQuotedUint(dst []byte, v uint64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, v, 10)
	return append(dst, '"', ',')
}

func appendQuotedInt(dst []byte, v int64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '"', ',')
}

func appendQuotedBool(dst []byte, v bool) []byte {
	if v {
		return appendQuoted(dst, "1")
	}
	return appendQuoted(dst, "0")
}

const hexDigits = "0123456789abcdef"

func appendQuotedHex(dst []byte, v uint64, digits int) []byte {
	dst = append(dst, '"', '0', 'x')
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(v>>shift)&0xf])
	}
	return append(dst, '"', ',')
}

func appendQuotedMAC(dst []byte, m MAC) []byte {
	dst = append(dst, '"')
	for i, b := range m {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return append(dst, '"', ',')
}

func appendQuotedHexBytes(dst []byte, b []byte, colons bool) []byte {
	dst = append(dst, '"')
	if colons {
		for i, c := range b {
			if i > 0 {
				dst = append(dst, ':')
			}
			dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
		}
	} else {
		dst = hex.AppendEncode(dst, b)
	}
	return append(dst, '"', ',')
}

// appendJSONString writes s as a JSON string the way tshark escapes it:
// quote, backslash and control characters escaped, everything else as is.
func appendJSONString(dst []byte, s string) []byte {
	return append(AppendJSONString(dst, s), ',')
}

// AppendJSONString appends s as a JSON string: quote, backslash and control
// characters escaped, everything else (UTF-8 or not) as it is.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		start = i + 1
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// tsharkASCII converts bytes as tshark 4.0 converts an ASCII string field:
// it ends at the first NUL and every byte above 0x7f becomes U+FFFD.
func tsharkASCII(b []byte) string {
	ascii := true
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	if ascii {
		return string(b)
	}
	out := make([]byte, 0, len(b)*3)
	for _, c := range b {
		if c >= 0x80 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, c)
		}
	}
	return string(out)
}

// EscapeText renders bytes as text losslessly and unambiguously: printable
// UTF-8 stays as it is, a backslash becomes two, and every other byte (control
// characters, invalid UTF-8) becomes \xNN. UnescapeText reverses it.
func EscapeText(b []byte) string {
	plain := true
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == '\\' || r < 0x20 || r == 0x7f || (r == utf8.RuneError && size == 1) || !isPrintable(r) {
			plain = false
			break
		}
		i += size
	}
	if plain {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == '\\':
			out = append(out, '\\', '\\')
		case r < 0x20 || r == 0x7f || (r == utf8.RuneError && size == 1) || !isPrintable(r):
			for _, c := range b[i : i+size] {
				out = append(out, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			}
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return string(out)
}
