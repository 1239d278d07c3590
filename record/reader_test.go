package record

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/wifiq/wifiq/capture"
)

func TestReaderShapes(t *testing.T) {
	input := strings.Join([]string{
		// wifiq classic style
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_ssid":["Caf\u00e9 \"Eck\""],"wlan_sa":["da:a1:19:6b:0c:42"]}`,
		// tshark -T ek: an index line, then the fields inside "layers"
		`{"index":{"_index":"packets-2024-05-01","_type":"doc"}}`,
		`{"timestamp":"1714561200100","layers":{"wlan_fc_type_subtype":["0x0008"],"wlan_ssid":["<MISSING>"]}}`,
		``,
		// numbers instead of strings, and a single value instead of an array
		`{"timestamp":1714561200200,"wlan_radio_signal_dbm":-61,"wlan_fc_type_subtype":"0x0004"}`,
	}, "\n")
	r := NewReader(strings.NewReader(input), "test")
	type want struct {
		ts     int64
		style  capture.Style
		key    string
		values []string
	}
	wants := []want{
		{1714561200000, capture.StyleClassic, "wlan_ssid", []string{`Café "Eck"`}},
		{1714561200100, capture.StyleTshark, "wlan_ssid", []string{"<MISSING>"}},
		{1714561200200, capture.StyleTshark, "wlan_radio_signal_dbm", []string{"-61"}},
	}
	for i, w := range wants {
		rec, err := r.Read()
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if rec.Timestamp != w.ts || rec.Style != w.style || !slices.Equal(rec.Get(w.key), w.values) {
			t.Errorf("record %d: timestamp %d style %v %s=%q; want %d %v %q",
				i+1, rec.Timestamp, rec.Style, w.key, rec.Get(w.key), w.ts, w.style, w.values)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("after the last record: %v, want io.EOF", err)
	}
}

// TestReaderBadLines checks that a bad line gives an error naming its line
// and reason, and that the good records around it are not lost.
func TestReaderBadLines(t *testing.T) {
	input := strings.Join([]string{
		`{"timestamp":"1714561200000","wlan_fc_type":["0"]}`,
		`not json`,
		`{"wlan_fc_type":["0"]}`,
		`{"timestamp":"1714561200","wlan_fc_type":["0"]}`,
		`{"timestamp":"soon"}`,
		`{"timestamp":"1714561200000","wlan_ssid":["unterminated]}`,
		`{"timestamp":"1714561200300","wlan_fc_type":["1"]}`,
	}, "\n")
	r := NewReader(strings.NewReader(input), "capture.json")
	var good []int64
	var reasons []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			reasons = append(reasons, le.Error())
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, rec.Timestamp)
	}
	if !slices.Equal(good, []int64{1714561200000, 1714561200300}) {
		t.Errorf("good records %v, want the first and the last", good)
	}
	wantParts := []string{
		"capture.json:2", "capture.json:3: record has no \"timestamp\"",
		"capture.json:4: timestamp 1714561200 is before 1973", "capture.json:5", "capture.json:6",
	}
	if len(reasons) != len(wantParts) {
		t.Fatalf("errors %q, want %d", reasons, len(wantParts))
	}
	for i, part := range wantParts {
		if !strings.Contains(reasons[i], part) {
			t.Errorf("error %q does not contain %q", reasons[i], part)
		}
	}
}

func TestCloneOutlivesNextRead(t *testing.T) {
	r := NewReader(strings.NewReader(`{"timestamp":"1714561200000","wlan_sa":["aa:aa:aa:aa:aa:aa"]}
{"timestamp":"1714561200001","wlan_sa":["bb:bb:bb:bb:bb:bb"]}`), "test")
	first, _ := r.Read()
	kept := first.Clone()
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if got, _ := kept.First("wlan_sa"); got != "aa:aa:aa:aa:aa:aa" || kept.Timestamp != 1714561200000 {
		t.Errorf("clone changed to %s at %d", got, kept.Timestamp)
	}
}

func TestDecodeSSID(t *testing.T) {
	tests := []struct {
		in    string
		style capture.Style
		want  string
	}{
		{"4b696f736b", capture.StyleTshark, "Kiosk"},
		{"<MISSING>", capture.StyleTshark, ""},
		{`\xb2\xe2\xca\xd4`, capture.StyleClassic, "\xb2\xe2\xca\xd4"},
		{"F09FA78A", capture.StyleClassic, "F09FA78A"},
	}
	for _, tt := range tests {
		if got := string(DecodeSSID(tt.in, tt.style)); got != tt.want {
			t.Errorf("DecodeSSID(%q, %v) = %q, want %q", tt.in, tt.style, got, tt.want)
		}
	}
}

// FuzzReader checks that no input line panics the reader or makes it lose
// the record on the following line.
func FuzzReader(f *testing.F) {
	f.Add(`{"timestamp":"1714561200000","wlan_ssid":["a\"b"]}`)
	f.Add(`{"index":{}}`)
	f.Add(`{"timestamp":"1714561200000","layers":{"x":[1,2]}}`)
	f.Fuzz(func(t *testing.T, line string) {
		line = strings.ReplaceAll(line, "\n", " ")
		r := NewReader(strings.NewReader(line+"\n"+`{"timestamp":"1714561200000","k":["v"]}`), "fuzz")
		var last *Record
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err == nil {
				last = rec.Clone()
			}
		}
		if last == nil || last.Timestamp != 1714561200000 {
			t.Fatalf("the record after %q was lost", line)
		}
	})
}

// TestReaderSkipsLongLine checks that a line over the limit is reported
// once and the records after it are still read.
func TestReaderSkipsLongLine(t *testing.T) {
	long := `{"timestamp":"1714561200000","wlan_ssid":["` + strings.Repeat("a", maxLine) + `"]}`
	input := long + "\n" + `{"timestamp":"1714561200001","wlan_fc_type":["0"]}` + "\n"
	r := NewReader(strings.NewReader(input), "big.json")
	_, err := r.Read()
	var le *LineError
	if !errors.As(err, &le) || le.Line != 1 || !strings.Contains(le.Reason, "longer than") {
		t.Fatalf("first Read: %v, want a LineError for line 1", err)
	}
	rec, err := r.Read()
	if err != nil || rec.Timestamp != 1714561200001 || r.Line() != 2 {
		t.Fatalf("second Read: %v, %v at line %d; want the record on line 2", rec, err, r.Line())
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("third Read: %v, want io.EOF", err)
	}
}

// TestReaderFullEK reads tshark -T ek output written without -e: one
// object per protocol, keys that repeat the protocol, flags and nulls.
func TestReaderFullEK(t *testing.T) {
	line := `{"timestamp":"1714582800000","layers":{"frame":{"frame_frame_number":"1","frame_frame_marked":false},` +
		`"wlan_radio":{"wlan_radio_wlan_radio_channel":"6","wlan_radio_wlan_radio_short_preamble":false},` +
		`"wlan":{"wlan_wlan_fc_type_subtype":"0x0008","wlan_wlan_tag":[null,null],"wlan_wlan_tag_number":["0","1"],` +
		`"wlan_wlan_fc_tree":{"wlan_wlan_fc_retry":false,"wlan_wlan_fc_subtype":"8"}},` +
		`"wlan_wlan_mgt":{"wlan_wlan_ssid":"4e:65:68:65:62","wps_wps_vendor_id":"0x00000000","wlan_wlan_tag_oui":["4120"]}}}`
	rec, err := NewReader(strings.NewReader(line), "ek").Read()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]string{
		"wlan_fc_type_subtype": {"0x0008"},
		"wlan_radio_channel":   {"6"},
		"wlan_tag_number":      {"0", "1"},
		"wlan_fc_subtype":      {"8"},
		"frame_number":         {"1"},
		"wlan_tag":             nil,
		"wlan_ssid":            {"4e:65:68:65:62"},
		"wps_vendor_id":        {"0x00000000"},
		"wlan_tag_oui":         {"4120"},
	} {
		if got := rec.Get(key); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if rec.Style != capture.StyleTshark {
		t.Errorf("style %v, want tshark", rec.Style)
	}
	if ssid := SSIDText(DecodeSSID(rec.Get("wlan_ssid")[0], rec.Style)); ssid != "Neheb" {
		t.Errorf("SSID %q, want Neheb from the colon-separated hex of full -T ek", ssid)
	}
}

func TestReaderInputHints(t *testing.T) {
	tests := []struct{ input, want string }{
		{"[\n", "use tshark -T ek"},
		{`{"timestamp":"1714561200000000","wlan_fc_type":["0"]}`, "looks like microseconds"},
	}
	for _, tt := range tests {
		_, err := NewReader(strings.NewReader(tt.input), "in").Read()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error saying %q", tt.input, err, tt.want)
		}
	}
	rec, err := NewReader(strings.NewReader("\xef\xbb\xbf"+`{"timestamp":"1714561200000"}`), "bom").Read()
	if err != nil || rec.Timestamp != 1714561200000 {
		t.Errorf("line with a byte order mark: %v, %v", rec, err)
	}
}

// Report rows carry null for a missing value and true or false for flags;
// a reader with TimestampOptional takes rows without a timestamp.
func TestReaderNullsBooleansAndRows(t *testing.T) {
	input := strings.Join([]string{
		`{"timestamp":"1714561200000","min_dbm":null,"known":true,"ssids":[null,"home",false]}`,
		`{"device":"Apple_dd:bc:d0","probes":3}`,
		`{"timestamp":"1714561200000","min_dbm":nullx}`,
	}, "\n")

	r := NewReader(strings.NewReader(input), "rows")
	rec, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Get("min_dbm") != nil {
		t.Errorf("min_dbm = %q, want no field for null", rec.Get("min_dbm"))
	}
	if got := rec.Get("known"); !slices.Equal(got, []string{"true"}) {
		t.Errorf("known = %q, want [true]", got)
	}
	if got := rec.Get("ssids"); !slices.Equal(got, []string{"home", "false"}) {
		t.Errorf("ssids = %q, want the array without its null", got)
	}
	if _, err := r.Read(); err == nil || !strings.Contains(err.Error(), `no "timestamp"`) {
		t.Errorf("row without timestamp: %v, want an error", err)
	}
	if _, err := r.Read(); err == nil || !strings.Contains(err.Error(), "min_dbm") {
		t.Errorf("nullx: %v, want an error naming the field", err)
	}

	r = NewReader(strings.NewReader(input), "rows")
	r.TimestampOptional = true
	r.Read()
	rec, err = r.Read()
	if err != nil {
		t.Fatalf("row without timestamp with TimestampOptional: %v", err)
	}
	if !rec.NoTimestamp || rec.Timestamp != 0 {
		t.Errorf("NoTimestamp %v, Timestamp %d; want true and 0", rec.NoTimestamp, rec.Timestamp)
	}
	if got := rec.Get("device"); !slices.Equal(got, []string{"Apple_dd:bc:d0"}) {
		t.Errorf("device = %q", got)
	}
}

// TestReadLine checks that ReadLine reads lines handed to it one by one
// as Read reads the first line of a file.
func TestReadLine(t *testing.T) {
	r := NewReader(nil, "topic t")
	for i, tc := range []struct{ line, want string }{
		{"\xef\xbb\xbf" + `{"timestamp":"1714561200000","wlan_sa":["a"]}`, "1 1714561200000 [a]"},
		{"\xef\xbb\xbf" + `{"timestamp":"1714561200001","wlan_sa":["b"]}`, "2 1714561200001 [b]"},
		{`{"index":{"_index":"packets"}}`, "nil"},
		{"  ", "nil"},
		{`{"timestamp":"1714561200","wlan_sa":["c"]}`, "error: topic t:5: timestamp 1714561200 is before 1973 in milliseconds"},
		{`{"timestamp":"1714561200002","wlan_sa":["` + strings.Repeat("x", maxLine) + `"]}`, "error: topic t:6: line longer than"},
		{`{"timestamp":"1714561200003","wlan_sa":["d"]}`, "7 1714561200003 [d]"},
	} {
		rec, err := r.ReadLine([]byte(tc.line))
		var got string
		switch {
		case err != nil:
			got = "error: " + err.Error()
		case rec == nil:
			got = "nil"
		default:
			got = fmt.Sprintf("%d %d %v", rec.Offset, rec.Timestamp, rec.Get("wlan_sa"))
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("line %d: got %q, want %q...", i+1, got, tc.want)
		}
	}
	if rec, err := r.Read(); rec != nil || err != io.EOF {
		t.Errorf("Read without input: %v, %v; want io.EOF", rec, err)
	}
}
