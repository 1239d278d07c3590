package kafka

import (
	"bytes"
	"encoding/json"
)

// lastLine returns the last line of b without its newline, which drops a
// tshark {"index":...} line that an encoder wrote before the record.
func lastLine(b []byte) []byte {
	b = bytes.TrimRight(b, "\r\n")
	if !bytes.HasPrefix(b, []byte(`{"index"`)) {
		return b
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// keyPattern returns the bytes that start field's array in a flat record
// line, `"FIELD":["`, or nil for no field.
func keyPattern(field string) []byte {
	if field == "" {
		return nil
	}
	name, _ := json.Marshal(field)
	return append(name, ':', '[', '"')
}

// recordKey returns the first value of the field that pattern starts, in a
// flat record line, or nil when the record has no such field. The pattern
// counts only where a key can begin, after "{" or ",": inside a string
// value a quote is escaped, so the pattern cannot match there.
func recordKey(line, pattern []byte) []byte {
	for from := 0; ; {
		i := bytes.Index(line[from:], pattern)
		if i < 0 {
			return nil
		}
		i += from
		if i > 0 && (line[i-1] == ',' || line[i-1] == '{') {
			return firstString(line[i+len(pattern)-1:])
		}
		from = i + 1
	}
}

// firstString decodes the JSON string at the start of b (b[0] is its
// opening quote), or returns nil when it is not a valid string.
func firstString(b []byte) []byte {
	end := 1
	escaped := false
	for ; end < len(b); end++ {
		if b[end] == '\\' {
			escaped = true
			end++
			continue
		}
		if b[end] == '"' {
			break
		}
	}
	if end >= len(b) {
		return nil
	}
	if !escaped {
		return b[1:end]
	}
	var s string
	if err := json.Unmarshal(b[:end+1], &s); err != nil {
		return nil
	}
	return []byte(s)
}
