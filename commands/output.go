package commands

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
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

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, row := range r.Rows {
		obj := make(orderedObject, 0, len(row))
		for i, v := range row {
			if tc, ok := v.(timeCell); ok {
				v = tc.String()
			}
			obj = append(obj, keyValue{r.Columns[i], v})
		}
		if err := enc.Encode(obj); err != nil {
			return err
		}
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
		k, err := json.Marshal(kv.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.value)
		if err != nil {
			return nil, err
		}
		buf = append(buf, k...)
		buf = append(buf, ':')
		buf = append(buf, v...)
	}
	return append(buf, '}'), nil
}
