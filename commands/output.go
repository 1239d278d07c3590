package commands

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Output formats of reports.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputCSV   = "csv"
)

// report is a result table: named columns and typed cells (string, int64,
// float64, []string, timeCell or nil for no value).
type report struct {
	Columns []string
	Rows    [][]any
}

// timeCell is an event time in milliseconds, printed in loc.
type timeCell struct {
	ms  int64
	loc *time.Location
}

func (t timeCell) String() string {
	return time.UnixMilli(t.ms).In(t.loc).Format("2006-01-02T15:04:05.000Z07:00")
}

// resolveOutput picks the output format: the flag if given, else a table on
// a terminal and JSON lines otherwise.
func resolveOutput(flag string, io *IO) (string, error) {
	switch flag {
	case "":
		if io.OutIsTerminal {
			return outputTable, nil
		}
		return outputJSON, nil
	case outputTable, outputJSON, outputCSV:
		return flag, nil
	}
	return "", usagef("invalid --output %q: want table, json or csv", flag)
}

func (r *report) write(w io.Writer, format string) error {
	switch format {
	case outputJSON:
		return r.writeJSON(w)
	case outputCSV:
		return r.writeCSV(w)
	}
	return r.writeTable(w)
}

func cellText(v any) string {
	switch c := v.(type) {
	case nil:
		return ""
	case string:
		return c
	case int64:
		return strconv.FormatInt(c, 10)
	case int:
		return strconv.Itoa(c)
	case float64:
		return strconv.FormatFloat(c, 'f', -1, 64)
	case timeCell:
		return c.String()
	case []string:
		b, _ := json.Marshal(c)
		return string(b)
	}
	return fmt.Sprint(v)
}

func (r *report) writeTable(w io.Writer) error {
	table := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleLight),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.On},
				Lines:      tw.Lines{ShowHeaderLine: tw.On},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	header := make([]any, len(r.Columns))
	for i, c := range r.Columns {
		header[i] = c
	}
	table.Header(header...)
	for _, row := range r.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cellText(v)
		}
		if err := table.Append(cells); err != nil {
			return err
		}
	}
	return table.Render()
}

func (r *report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(r.Columns); err != nil {
		return err
	}
	for _, row := range r.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cellText(v)
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// jsonFlushSize is the size at which writeJSON hands its buffered lines to
// the writer.
const jsonFlushSize = 64 * 1024

// writeJSON writes one JSON object per row, with the keys in column order.
// The output is byte for byte what encoding/json gives for the
// orderedObject of each row.
func (r *report) writeJSON(w io.Writer) error {
	keys := make([][]byte, len(r.Columns))
	for i, c := range r.Columns {
		keys[i] = appendJSONKey(nil, c)
	}
	buf := make([]byte, 0, jsonFlushSize+4096)
	for _, row := range r.Rows {
		lineStart := len(buf)
		buf = append(buf, '{')
		for i, v := range row {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, keys[i]...)
			var err error
			if buf, err = appendJSONValue(buf, v); err != nil {
				// As json.Encoder, write the rows before the invalid one.
				if _, writeErr := w.Write(buf[:lineStart]); writeErr != nil {
					return writeErr
				}
				return err
			}
		}
		buf = append(buf, '}', '\n')
		if len(buf) >= jsonFlushSize {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		_, err := w.Write(buf)
		return err
	}
	return nil
}

type keyValue struct {
	key   string
	value any
}

// orderedObject is a JSON object that keeps its keys in column order.
type orderedObject []keyValue

func (o orderedObject) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, kv := range o {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONKey(buf, kv.key)
		var err error
		if buf, err = appendJSONValue(buf, kv.value); err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

// appendJSONKey appends s as an object key and the colon after it.
func appendJSONKey(buf []byte, s string) []byte {
	return append(appendJSONString(buf, s), ':')
}

// appendJSONValue appends v as json.Marshal encodes it. The cell types of
// reports are encoded here, because json.Marshal costs an allocation and a
// reflection per cell, and any other type goes to json.Marshal.
func appendJSONValue(buf []byte, v any) ([]byte, error) {
	switch c := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		return appendJSONString(buf, c), nil
	case int64:
		return strconv.AppendInt(buf, c, 10), nil
	case int:
		return strconv.AppendInt(buf, int64(c), 10), nil
	case bool:
		return strconv.AppendBool(buf, c), nil
	case float64:
		// encoding/json (Go 1.26) writes finite floats of magnitude 1e-6 to
		// 1e21, and zero, in the 'f' format. The others go to its own rules.
		if abs := math.Abs(c); abs == 0 || abs >= 1e-6 && abs < 1e21 {
			return strconv.AppendFloat(buf, c, 'f', -1, 64), nil
		}
	case []string:
		return appendJSONStrings(buf, c), nil
	case timeCell:
		return appendJSONTime(buf, c), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return buf, err
	}
	return append(buf, b...), nil
}

// appendJSONStrings appends a list of strings as json.Marshal encodes it.
func appendJSONStrings(buf []byte, list []string) []byte {
	if list == nil {
		return append(buf, "null"...)
	}
	buf = append(buf, '[')
	for i, s := range list {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, s)
	}
	return append(buf, ']')
}

// appendJSONTime appends the string of t.String as json.Marshal encodes
// it.
func appendJSONTime(buf []byte, t timeCell) []byte {
	start := len(buf)
	buf = time.UnixMilli(t.ms).In(t.loc).AppendFormat(append(buf, '"'), "2006-01-02T15:04:05.000Z07:00")
	if plainJSON(buf[start+1:]) {
		return append(buf, '"')
	}
	return appendJSONString(buf[:start], string(buf[start+1:]))
}

// appendJSONString appends s as json.Marshal encodes a string: quoted, and
// through json.Marshal when it needs escapes.
func appendJSONString(buf []byte, s string) []byte {
	if !plainJSON(s) {
		b, _ := json.Marshal(s) // a string always encodes
		return append(buf, b...)
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// plainJSON reports whether s encodes as a JSON string without escapes:
// printable ASCII without the quote and the backslash, and without <, >
// and &, which json.Marshal escapes for HTML.
func plainJSON[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
