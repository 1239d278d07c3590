package ops

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds of values. KindNull is the zero Kind, so the zero Value is NULL.
const (
	KindNull   Kind = iota
	KindString      // Value.Str
	KindInt         // Value.Int
	KindFloat       // Value.Float
	KindBool        // Value.Int, 0 or 1
	KindList        // Value.List: a list of strings, as a field's values
	KindCounts      // Value.Counts: a HISTOGRAM result
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindString:
		return "string"
	case KindInt:
		return "integer"
	case KindFloat:
		return "float"
	case KindBool:
		return "boolean"
	case KindList:
		return "list"
	case KindCounts:
		return "histogram"
	}
	return fmt.Sprintf("kind %d", k)
}

// Value is the result of an expression or an aggregate. Strings and lists
// returned by an expression may share memory with the record it read;
// values in rows returned by an Engine do not.
type Value struct {
	Kind   Kind
	Str    string
	Int    int64
	Float  float64
	List   []string
	Counts []Bucket
}

// Bucket is one bucket of a HISTOGRAM: how many times a value occurred.
type Bucket struct {
	Value string
	N     int64
}

// Null is the NULL value.
var Null = Value{}

// StringValue, IntValue, FloatValue, BoolValue and ListValue build values.
func StringValue(s string) Value     { return Value{Kind: KindString, Str: s} }
func IntValue(n int64) Value         { return Value{Kind: KindInt, Int: n} }
func FloatValue(f float64) Value     { return Value{Kind: KindFloat, Float: f} }
func ListValue(items []string) Value { return Value{Kind: KindList, List: items} }
func BoolValue(b bool) Value {
	if b {
		return Value{Kind: KindBool, Int: 1}
	}
	return Value{Kind: KindBool}
}

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// Bool returns the value of a KindBool value; other kinds are false.
func (v Value) Bool() bool { return v.Kind == KindBool && v.Int != 0 }

// Text renders a scalar value as the string that COLLECT_SET,
// COUNT_DISTINCT and HISTOGRAM use for it: strings as they are, numbers in
// decimal, booleans as true or false.
func (v Value) Text() string {
	switch v.Kind {
	case KindString:
		return v.Str
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.Int != 0)
	case KindList:
		return strings.Join(v.List, ",")
	}
	return ""
}

// clone returns a copy of v that shares no memory with a record.
func (v Value) clone() Value {
	switch v.Kind {
	case KindString:
		v.Str = strings.Clone(v.Str)
	case KindList:
		items := make([]string, len(v.List))
		for i, s := range v.List {
			items[i] = strings.Clone(s)
		}
		v.List = items
	}
	return v
}

// Compare orders values: NULL first, then by kind, then by value. Numbers
// of different kinds compare by their numeric value, lists element by
// element.
func Compare(a, b Value) int {
	if isNumber(a.Kind) && isNumber(b.Kind) && a.Kind != b.Kind {
		return cmp.Compare(a.number(), b.number())
	}
	if a.Kind != b.Kind {
		return cmp.Compare(a.Kind, b.Kind)
	}
	switch a.Kind {
	case KindString:
		return strings.Compare(a.Str, b.Str)
	case KindInt, KindBool:
		return cmp.Compare(a.Int, b.Int)
	case KindFloat:
		return cmp.Compare(a.Float, b.Float)
	case KindList:
		return slices.Compare(a.List, b.List)
	case KindCounts:
		return slices.CompareFunc(a.Counts, b.Counts, func(x, y Bucket) int {
			return cmp.Or(strings.Compare(x.Value, y.Value), cmp.Compare(x.N, y.N))
		})
	}
	return 0
}

func isNumber(k Kind) bool { return k == KindInt || k == KindFloat }

func (v Value) number() float64 {
	if v.Kind == KindInt {
		return float64(v.Int)
	}
	return v.Float
}

// compareText orders HISTOGRAM buckets and COLLECT_SET members: two
// decimal numbers by their value (so -9 comes after -70), anything else
// by its bytes.
func compareText(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil && x != y {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// appendKey appends the binary encoding of v to dst. The encoding is
// unambiguous, so two tuples of values encode alike only when they are
// equal; decodeKey reverses it.
func appendKey(dst []byte, v Value) []byte {
	dst = append(dst, byte(v.Kind))
	switch v.Kind {
	case KindString:
		dst = binary.AppendUvarint(dst, uint64(len(v.Str)))
		dst = append(dst, v.Str...)
	case KindInt, KindBool:
		dst = binary.AppendVarint(dst, v.Int)
	case KindFloat:
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v.Float))
	case KindList:
		dst = binary.AppendUvarint(dst, uint64(len(v.List)))
		for _, s := range v.List {
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	return dst
}

// decodeKey reads n values written by appendKey.
func decodeKey(key string, n int) []Value {
	values := make([]Value, 0, n)
	b := []byte(key)
	for range n {
		var v Value
		v, b = decodeValue(b)
		values = append(values, v)
	}
	return values
}

func decodeValue(b []byte) (Value, []byte) {
	kind := Kind(b[0])
	b = b[1:]
	switch kind {
	case KindString:
		s, rest := decodeString(b)
		return StringValue(s), rest
	case KindInt, KindBool:
		n, size := binary.Varint(b)
		return Value{Kind: kind, Int: n}, b[size:]
	case KindFloat:
		return FloatValue(math.Float64frombits(binary.BigEndian.Uint64(b))), b[8:]
	case KindList:
		count, size := binary.Uvarint(b)
		b = b[size:]
		items := make([]string, count)
		for i := range items {
			items[i], b = decodeString(b)
		}
		return ListValue(items), b
	}
	return Null, b
}

func decodeString(b []byte) (string, []byte) {
	n, size := binary.Uvarint(b)
	end := size + int(n)
	return string(b[size:end]), b[end:]
}
