package commands

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/wifiq/wifiq/ops"
)

// TestReportJSONMatchesEncodingJSON checks that the row writer writes what
// encoding/json wrote for the rows before it had its own encoder.
func TestReportJSONMatchesEncodingJSON(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cells := []any{
		nil, "", "plain", `quote " and \ backslash`, "<tag> & amp", "a<b", "a>b", "a&b", "tab\tnew\nline\x01", "caf\u00e9 \u2028 \u2029",
		"invalid \xff utf-8", int64(0), int64(-9223372036854775808), 42, true, false,
		0.0, math.Copysign(0, -1), -51.8, 1e-6, 9.99e-7, 1e20, 1e21, -1e21, 123456789.125, 5e-324, math.MaxFloat64,
		[]string(nil), []string{}, []string{"a", "<b>", "c\"d", "\xfe"},
		timeCell{1714521600123, time.UTC}, timeCell{1714521600123, berlin}, timeCell{-1, time.UTC},
		histogramCell{{Value: "-70", N: 2}, {Value: "<x>", N: 1}},
		histogramCell(nil), []ops.Bucket{{Value: "a", N: 1}}, map[string]int{"k": 1}, uint8(7), float32(1.5),
	}
	columns := []string{"plain", "<html>", "quote\"", "caf\u00e9"}
	var rep report
	rep.Columns = columns
	for i := 0; i < len(cells); i += len(columns) {
		row := make([]any, len(columns))
		copy(row, cells[i:])
		rep.Rows = append(rep.Rows, row)
	}

	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	for _, row := range rep.Rows {
		obj := make(legacyObject, 0, len(row))
		for i, v := range row {
			if tc, ok := v.(timeCell); ok {
				v = tc.String()
			}
			obj = append(obj, keyValue{columns[i], v})
		}
		if err := enc.Encode(obj); err != nil {
			t.Fatal(err)
		}
	}

	var got bytes.Buffer
	if err := rep.writeJSON(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("writeJSON wrote\n%s\nencoding/json wrote\n%s", got.String(), want.String())
	}
}

// TestReportJSONInvalidFloat checks that a NaN cell fails its row and that
// the rows before it are written.
func TestReportJSONInvalidFloat(t *testing.T) {
	rep := report{Columns: []string{"x"}, Rows: [][]any{{1.5}, {math.NaN()}, {2.5}}}
	var got bytes.Buffer
	if err := rep.writeJSON(&got); err == nil {
		t.Error("writeJSON of NaN returned no error")
	}
	if got.String() != "{\"x\":1.5}\n" {
		t.Errorf("writeJSON wrote %q before the error, want the first row", got.String())
	}
}

// legacyObject is orderedObject as it encoded before the row writer: each
// key and value through json.Marshal.
type legacyObject []keyValue

func (o legacyObject) MarshalJSON() ([]byte, error) {
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
