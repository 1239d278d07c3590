package record

import (
	"encoding/binary"
	"math/bits"
)

// parseFlat reads a line in the shape that wifiq writes without the
// general parser's calls per token. The shape is one object without
// whitespace, whose keys and strings have no escapes, whose values are
// strings or arrays of strings, and whose "timestamp" is digits (a string
// or a number). For any other line parseFlat returns false, with the
// record in an undefined state, and the general parser reads the line,
// which is also where every error is found and reported. tshark's -T ek
// lines ("index", "layers") take the general parser too.
//
// With filter set, parseFlat passes the first value of the ValueFilter's
// field to its KeepValue, and stops with leftOut when that leaves the line
// out.
func (r *Reader) parseFlat(line []byte, filter bool) (hasTimestamp, ok, leftOut bool) {
	d := line
	if len(d) < 2 || d[0] != '{' || d[len(d)-1] != '}' {
		return false, false, false
	}
	if len(d) == 2 {
		return false, true, false
	}
	i := 1
	for {
		// The key, up to `":`.
		if i >= len(d) || d[i] != '"' {
			return false, false, false
		}
		start := i + 1
		var key string
		var skip bool
		if k := r.seenAt; k < len(r.seenKeys) && r.seenKeys[k].plain && hasKeyAt(d, start, r.seenKeys[k].key) {
			// The key of the previous line at this place.
			key, skip = r.seenKeys[k].key, r.seenKeys[k].skip
			r.seenAt++
			i = start + len(key) + 2
		} else {
			j := scanPlain(d, start)
			if j+1 >= len(d) || d[j] != '"' || d[j+1] != ':' {
				return false, false, false
			}
			key, skip = r.learnKey(unsafeString(d[start:j]), true)
			i = j + 2
		}
		if i >= len(d) {
			return false, false, false
		}

		switch key {
		case "index", "layers":
			return false, false, false
		case "timestamp":
			ts, next, valid := flatTimestamp(d, i)
			if !valid {
				return false, false, false
			}
			r.rec.Timestamp, hasTimestamp, i = ts, true, next
		default:
			if filter && key == r.filterField && d[i] == '[' && i+1 < len(d) && d[i+1] == '"' {
				// The first such member decides, as a search of the line
				// for it would.
				end := scanPlain(d, i+2)
				if end < len(d) && d[end] == '"' {
					if !r.keepValue(d[i+2 : end]) {
						return false, false, true
					}
					filter = false
				}
			}
			next, valid := r.flatValue(d, i, key, !skip)
			if !valid {
				return false, false, false
			}
			i = next
		}

		switch {
		case i < len(d)-1 && d[i] == ',':
			i++
		case i == len(d)-1: // the closing brace, checked above
			return hasTimestamp, true, false
		default:
			return false, false, false
		}
	}
}

// hasKeyAt reports whether the key at start in d, after its opening quote,
// is key, which has no quote or backslash.
func hasKeyAt(d []byte, start int, key string) bool {
	end := start + len(key)
	return end+1 < len(d) && d[end] == '"' && d[end+1] == ':' && string(d[start:end]) == key
}

// scanPlain returns the index of the first quote or backslash in d from i
// on, or len(d). It tests eight bytes at a time. A byte of x ^ pattern is
// zero where x has the pattern's byte, and (y - ones) &^ y & highs flags
// the lowest zero byte of y exactly. Higher flags may be false, but only
// the lowest is used.
func scanPlain(d []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(d) {
		x := binary.LittleEndian.Uint64(d[i:])
		quote, backslash := x^(ones*'"'), x^(ones*'\\')
		if found := ((quote-ones)&^quote | (backslash-ones)&^backslash) & highs; found != 0 {
			return i + bits.TrailingZeros64(found)/8
		}
		i += 8
	}
	for i < len(d) && d[i] != '"' && d[i] != '\\' {
		i++
	}
	return i
}

// flatTimestamp reads digits at i, quoted or not, as milliseconds.
func flatTimestamp(d []byte, i int) (ts int64, next int, ok bool) {
	quoted := d[i] == '"'
	if quoted {
		i++
	}
	start := i
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		if i-start >= 18 { // would overflow int64; the general parser reports it
			return 0, 0, false
		}
		ts = ts*10 + int64(d[i]-'0')
		i++
	}
	if i == start {
		return 0, 0, false
	}
	if quoted {
		if i >= len(d) || d[i] != '"' {
			return 0, 0, false
		}
		i++
	}
	return ts, i, true
}

// flatValue reads a string or an array of strings at i, adding it to the
// record as the field key when keep is set, and returns the index after it.
func (r *Reader) flatValue(d []byte, i int, key string, keep bool) (next int, ok bool) {
	first := len(r.values)
	if d[i] == '"' {
		end := scanPlain(d, i+1)
		if end >= len(d) || d[end] != '"' {
			return 0, false
		}
		if keep {
			r.values = append(r.values, unsafeString(d[i+1:end]))
			r.addField(key, first)
		}
		return end + 1, true
	}
	if d[i] != '[' {
		return 0, false
	}
	i++
	if i < len(d) && d[i] == ']' {
		i++
	} else {
		for {
			if i >= len(d) || d[i] != '"' {
				return 0, false
			}
			end := scanPlain(d, i+1)
			if end >= len(d) || d[end] != '"' {
				return 0, false
			}
			if keep {
				r.values = append(r.values, unsafeString(d[i+1:end]))
			}
			i = end + 1
			if i < len(d) && d[i] == ',' {
				i++
				continue
			}
			if i < len(d) && d[i] == ']' {
				i++
				break
			}
			return 0, false
		}
	}
	if keep {
		r.addField(key, first)
	}
	return i, true
}

// addField adds the field key with the values from r.values[first:] to the
// record. It sets the new element's members one by one, because appending
// a Field literal made the compiler build it on the stack and copy it with
// loads wider than its stores, which stalled on every field.
func (r *Reader) addField(key string, first int) {
	r.rec.Fields = append(r.rec.Fields, Field{})
	f := &r.rec.Fields[len(r.rec.Fields)-1]
	f.Key = key
	f.Values = r.values[first:len(r.values):len(r.values)]
}
