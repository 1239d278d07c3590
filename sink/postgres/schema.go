package postgres

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// columnType is the PostgreSQL type of a table column.
type columnType string

const (
	typeBigint      columnType = "bigint"
	typeDouble      columnType = "double precision"
	typeBoolean     columnType = "boolean"
	typeText        columnType = "text"
	typeTimestamptz columnType = "timestamp with time zone"
	typeTextArray   columnType = "text[]"
)

// maxIdentifierBytes is PostgreSQL's NAMEDATALEN-1: longer names are
// truncated by the server, so two long field names could land in one column.
const maxIdentifierBytes = 63

// maxValueBytes caps one field value. PostgreSQL accepts text up to 1 GB,
// but a value this large in a frame record is a broken record, not data.
const maxValueBytes = 1 << 20

// parseColumnType maps the name format_type() prints to a columnType.
func parseColumnType(name string) (columnType, bool) {
	switch columnType(name) {
	case typeBigint, typeDouble, typeBoolean, typeText, typeTimestamptz, typeTextArray:
		return columnType(name), true
	}
	return "", false
}

// inferType picks the narrowest type that every value fits: bigint, double
// precision, boolean, else text. An array column is text[], which keeps
// every occurrence, such as all SSIDs of a probe request.
func inferType(values []string, array bool) columnType {
	if array {
		return typeTextArray
	}
	candidates := []columnType{typeBigint, typeDouble, typeBoolean}
	for _, t := range candidates {
		fits := len(values) > 0
		for _, v := range values {
			if _, err := convertScalar(t, v); err != nil {
				fits = false
				break
			}
		}
		if fits {
			return t
		}
	}
	return typeText
}

// convertScalar turns one field value into the Go value that COPY writes
// into a column of type t.
func convertScalar(t columnType, v string) (any, error) {
	switch t {
	case typeBigint:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not a bigint", v)
		}
		return n, nil
	case typeDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("value %q is not a finite double precision number", v)
		}
		return f, nil
	case typeBoolean:
		switch v {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("value %q is not a boolean", v)
	case typeTimestamptz:
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
		// Reports write their times in RFC 3339, such as 2024-05-01T10:00:00.123Z.
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("value %q is neither milliseconds since the Unix epoch nor an RFC 3339 time", v)
		}
		return t.UTC(), nil
	case typeText:
		return v, checkText(v)
	}
	return nil, fmt.Errorf("column type %s is not written by this sink", t)
}

// checkText rejects what a PostgreSQL text value cannot contain.
func checkText(v string) error {
	switch {
	case len(v) > maxValueBytes:
		return fmt.Errorf("value of %d bytes is larger than the limit of %d bytes", len(v), maxValueBytes)
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("value %q contains a NUL byte, which PostgreSQL text cannot store", truncate(v))
	case !utf8.ValidString(v):
		return fmt.Errorf("value %q is not valid UTF-8", truncate(v))
	}
	return nil
}

// convertField turns the values of one record field into the value of a
// column of type t. A scalar column takes exactly one value.
func convertField(t columnType, values []string) (any, error) {
	if t == typeTextArray {
		for _, v := range values {
			if err := checkText(v); err != nil {
				return nil, err
			}
		}
		return values, nil
	}
	if len(values) != 1 {
		return nil, fmt.Errorf("%d values for a %s column, which holds one", len(values), t)
	}
	return convertScalar(t, values[0])
}

func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "..."
}
