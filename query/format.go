package query

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// JSONValue converts a value that Rows.Next returned for a column of DuckDB
// type typ into one that encoding/json writes the way wifiq prints results.
// BLOB becomes lowercase hex and DATE 2006-01-02. TIME becomes 15:04:05.000
// and TIMESTAMP UTC with a Z, each with as many fraction digits as it needs
// (3, 6 or 9). NaN and infinities become strings. Lists and structs are
// converted element by element.
func JSONValue(typ string, v any) any {
	switch x := v.(type) {
	case []byte:
		return hex.EncodeToString(x)
	case time.Time:
		return formatTime(typ, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case []any:
		element := elementType(typ)
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONValue(element, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSONValue("", e)
		}
		return out
	}
	return v
}

// TextValue renders a value for a table or CSV cell: NULL as an empty cell,
// scalars as JSONValue writes them without quotes, lists and structs as
// compact JSON.
func TextValue(typ string, v any) string {
	switch x := JSONValue(typ, v).(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return string(x)
	case *big.Int:
		return x.String()
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
}

// elementType returns the element type of a list type ("INTEGER[]" gives
// "INTEGER", "TIMESTAMP[3]" gives "TIMESTAMP"), or "" for other types.
func elementType(typ string) string {
	if !strings.HasSuffix(typ, "]") {
		return ""
	}
	if i := strings.LastIndexByte(typ, '['); i > 0 {
		return typ[:i]
	}
	return ""
}

func formatTime(typ string, t time.Time) string {
	t = t.UTC()
	switch typ {
	case "DATE":
		return t.Format(time.DateOnly)
	case "TIME", "TIMETZ", "TIME WITH TIME ZONE", "TIME_NS":
		return t.Format("15:04:05" + fraction(t))
	}
	return t.Format("2006-01-02T15:04:05" + fraction(t) + "Z")
}

// fraction returns the layout of the shortest of milliseconds, microseconds
// and nanoseconds that shows t exactly.
func fraction(t time.Time) string {
	ns := t.Nanosecond()
	switch {
	case ns%1_000_000 == 0:
		return ".000"
	case ns%1000 == 0:
		return ".000000"
	}
	return ".000000000"
}
