package commands

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wifiq/wifiq/record"
)

// devCorpusRecords decodes the bundled captures into a record file (classic
// style) and returns its path.
func devCorpusRecords(t *testing.T) string {
	t.Helper()
	res := invokeCLI(t, nil, "replay-pcap", "-q", corpusDir+"*.cap", corpusDir+"*.pcap*",
		casesDir+"V5_probe_request_full_ie_set_with_and_without_fcs.pcap", casesDir+"V11_three_vendor_elements.pcap")
	if res.code != ExitOK {
		t.Fatalf("replay-pcap: exit %d: %s", res.code, res.stderr)
	}
	return devWriteFile(t, "corpus.jsonl", res.stdout)
}

func devWriteFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// devReadJSON is a DuckDB read_json call over a record file with the given
// fields declared: "timestamp" as text, the others as lists of text, as the
// records carry them.
func devReadJSON(path string, fields ...string) string {
	cols := []string{"timestamp: 'VARCHAR'"}
	for _, f := range fields {
		cols = append(cols, f+": 'VARCHAR[]'")
	}
	return fmt.Sprintf("read_json('%s', format='newline_delimited', columns={%s})", path, strings.Join(cols, ", "))
}

// devQuery runs SQL with wifiq query (DuckDB) and returns its rows.
func devQuery(t *testing.T, sql string) []map[string]any {
	t.Helper()
	res := invokeCLI(t, nil, "query", "--no-cache", "-o", "json", sql)
	if res.code != ExitOK {
		t.Fatalf("query: exit %d: %s\n%s", res.code, res.stderr, sql)
	}
	return jsonRows(t, res.stdout)
}

// devCanon renders a JSON cell so that wifiq's report and DuckDB's rows
// compare: times as milliseconds, lists sorted, NULL lists as empty.
func devCanon(t *testing.T, v any) string {
	t.Helper()
	switch c := v.(type) {
	case nil:
		return "NULL"
	case string:
		if ts, err := time.Parse("2006-01-02T15:04:05.000Z07:00", c); err == nil {
			return strconv.FormatInt(ts.UnixMilli(), 10)
		}
		return strconv.Quote(c)
	case float64:
		return strconv.FormatFloat(c, 'f', -1, 64)
	case []any:
		items := make([]string, len(c))
		for i, item := range c {
			items[i] = devCanon(t, item)
		}
		slices.Sort(items)
		return "[" + strings.Join(items, " ") + "]"
	case map[string]any:
		b, _ := json.Marshal(c)
		return string(b)
	}
	return fmt.Sprint(v)
}

// devListColumns are the columns whose NULL (DuckDB's empty aggregate or
// missing field) wifiq prints as an empty list.
var devListColumns = map[string]bool{"ssids": true, "mac_list": true, "vendor_data": true, "vendor_oui_types": true, "vendor_ouis": true}

// devTable renders rows as sorted lines of the given columns.
func devTable(t *testing.T, rows []map[string]any, columns ...string) []string {
	t.Helper()
	var lines []string
	for _, row := range rows {
		cells := make([]string, len(columns))
		for i, c := range columns {
			v, ok := row[c]
			if !ok {
				t.Fatalf("row %v has no column %q", row, c)
			}
			if v == nil && devListColumns[c] {
				v = []any{}
			}
			cells[i] = c + "=" + devCanon(t, v)
		}
		lines = append(lines, strings.Join(cells, " "))
	}
	slices.Sort(lines)
	return lines
}

func devCompareTables(t *testing.T, table string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("%s: first difference at row %d of %d (DuckDB has %d):\nwifiq  %s\nDuckDB %s", table, i, len(got), len(want), g, w)
			return
		}
	}
}

// devDeviceSQL is the device table in DuckDB's SQL, over the same records.
func devDeviceSQL(path string) string {
	return `WITH r AS (
  SELECT CAST(timestamp AS BIGINT) AS ts, wlan_fc_type_subtype[1] AS subtype,
         coalesce(device_name[1], wlan_sa_resolved[1], wlan_sa[1], wlan_ta_resolved[1], wlan_ta[1]) AS device,
         TRY_CAST(wlan_radio_signal_dbm[1] AS BIGINT) AS dbm, NULLIF(wlan_ssid[1], '') AS ssid, wlan_da[1] AS da
  FROM ` + devReadJSON(path, "wlan_fc_type_subtype", "device_name", "wlan_sa_resolved", "wlan_sa", "wlan_ta_resolved", "wlan_ta",
		"wlan_radio_signal_dbm", "wlan_ssid", "wlan_da") + `)
SELECT device, count(*) AS probes, min(ts) AS earliest, max(ts) AS latest, min(dbm) AS min_dbm, max(dbm) AS max_dbm,
       round(avg(dbm), 1) AS avg_dbm, list(DISTINCT ssid) FILTER (WHERE ssid IS NOT NULL) AS ssids,
       count(DISTINCT ssid) AS distinct_ssids, count(DISTINCT da) AS distinct_destinations
FROM r WHERE subtype = '4' GROUP BY device`
}

var devDeviceColumns = []string{"device", "probes", "earliest", "latest", "min_dbm", "max_dbm", "avg_dbm", "ssids", "distinct_ssids", "distinct_destinations"}

// TestStatsDevicesMatchesDuckDB compares the device table of the bundled
// captures with the same aggregation in DuckDB's SQL over the same records.
func TestStatsDevicesMatchesDuckDB(t *testing.T) {
	path := devCorpusRecords(t)
	res := invokeCLI(t, nil, "stats", "devices", "-o", "json", path)
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	got := devTable(t, jsonRows(t, res.stdout), devDeviceColumns...)
	want := devTable(t, devQuery(t, devDeviceSQL(path)), devDeviceColumns...)
	if len(want) < 20 {
		t.Fatalf("DuckDB found %d devices; the corpus has more than 20", len(want))
	}
	devCompareTables(t, "devices", got, want)
}

func TestStatsDevicesMatchesDuckDBOnSimulatedProbes(t *testing.T) {
	path := devWriteFile(t, "sim.jsonl", fpSimulatedRecords(true))
	res := invokeCLI(t, nil, "stats", "devices", "-o", "json", path)
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	got := devTable(t, jsonRows(t, res.stdout), devDeviceColumns...)
	want := devTable(t, devQuery(t, devDeviceSQL(path)), devDeviceColumns...)
	if len(want) < 30 {
		t.Fatalf("DuckDB found %d devices, want the simulation's many addresses", len(want))
	}
	devCompareTables(t, "devices", got, want)
}

func TestStatsDevicesNamesAndSSIDs(t *testing.T) {
	in := `{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["f0:18:98:4d:5e:6f"],"wlan_sa_resolved":["Apple_4d:5e:6f"],"device_name":["kitchen tablet"],"wlan_ssid":["Caf\\xc3"],"wlan_radio_signal_dbm":["-61"],"wlan_da":["ff:ff:ff:ff:ff:ff"]}
{"timestamp":"1714561260000","wlan_fc_type_subtype":["0x0004"],"wlan_sa":["f0:18:98:4d:5e:6f"],"wlan_sa_resolved":["Apple_4d:5e:6f"],"device_name":["kitchen tablet"],"wlan_ssid":["436166c3"],"wlan_radio_signal_dbm":["-64"],"wlan_da":["ff:ff:ff:ff:ff:ff"]}
{"timestamp":"1714561320000","wlan_fc_type_subtype":["4"],"wlan_sa":["f0:18:98:4d:5e:6f"],"wlan_sa_resolved":["Apple_4d:5e:6f"],"wlan_ssid":["a\\\\x41"]}
{"timestamp":"1714561380000","wlan_fc_type_subtype":["0x0004"],"wlan_sa":["f0:18:98:4d:5e:6f"],"wlan_sa_resolved":["Apple_4d:5e:6f"],"wlan_ssid":["6141"]}
{"timestamp":"1714561440000","wlan_fc_type_subtype":["4"],"wlan_sa":["f0:18:98:4d:5e:6f"],"wlan_sa_resolved":["Apple_4d:5e:6f"],"wlan_ssid":[""]}
{"timestamp":"1714561500000","wlan_fc_type_subtype":["8"],"wlan_sa":["00:11:22:33:44:55"],"wlan_ssid":["beacon"]}
`
	res := invokeCLI(t, strings.NewReader(in), "stats", "devices", "-o", "csv")
	want := `device,probes,earliest,latest,min_dbm,max_dbm,avg_dbm,ssids,distinct_ssids,distinct_destinations
Apple_4d:5e:6f,3,2024-05-01T11:02:00.000Z,2024-05-01T11:04:00.000Z,,,,"[""aA"",""a\\\\x41""]",2,0
kitchen tablet,2,2024-05-01T11:00:00.000Z,2024-05-01T11:01:00.000Z,-64,-61,-62.5,"[""Caf\\xc3""]",1,1
`
	if res.code != ExitOK || res.stdout != want {
		t.Errorf("exit %d\n%s\nwant\n%s%s", res.code, res.stdout, want, res.stderr)
	}

	res = invokeCLI(t, strings.NewReader(in), "stats", "devices", "-o", "csv", "--device-field", "")
	if !strings.Contains(res.stdout, "\nApple_4d:5e:6f,5,") {
		t.Errorf("with --device-field \"\" all five probes should count for Apple_4d:5e:6f:\n%s", res.stdout)
	}
}

func TestStatsDevicesWindows(t *testing.T) {
	// 21:30 and 22:30 UTC on 1 May: one UTC day, two Berlin days.
	in := `{"timestamp":"1714599000000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"]}
{"timestamp":"1714602600000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"]}
`
	res := invokeCLI(t, strings.NewReader(in), "stats", "devices", "--window", "1d", "--tz", "Europe/Berlin", "-o", "csv")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if res.code != ExitOK || len(lines) != 3 || !strings.HasPrefix(lines[0], "window_start,window_end,device,") ||
		!strings.HasPrefix(lines[2], "2024-05-02T00:00:00.000+02:00,2024-05-03T00:00:00.000+02:00,02:00:00:00:00:01,1,") {
		t.Errorf("exit %d, want a header and a row per Berlin day:\n%s%s", res.code, res.stdout, res.stderr)
	}

	res = invokeCLI(t, strings.NewReader(in), "stats", "devices", "--window", "2h", "--hop", "1h", "-o", "csv")
	if n := strings.Count(res.stdout, "\n"); res.code != ExitOK || n != 4 {
		t.Errorf("2h windows hopping by 1h over two records an hour apart: %d lines, want a header and 3 windows:\n%s%s", n, res.stdout, res.stderr)
	}
}

func TestStatsHoppingSubtypes(t *testing.T) {
	in := `{"timestamp":"1714561200000","wlan_fc_type_subtype":["8"]}
{"timestamp":"1714564800000","wlan_fc_type_subtype":["8"]}
`
	res := invokeCLI(t, strings.NewReader(in), "stats", "--window", "2h", "--hop", "1h", "-o", "csv")
	want := `window_start,window_end,type_subtype,name,frames,earliest,latest
2024-05-01T10:00:00.000Z,2024-05-01T12:00:00.000Z,8,Beacon frame,1,2024-05-01T11:00:00.000Z,2024-05-01T11:00:00.000Z
2024-05-01T11:00:00.000Z,2024-05-01T13:00:00.000Z,8,Beacon frame,2,2024-05-01T11:00:00.000Z,2024-05-01T12:00:00.000Z
2024-05-01T12:00:00.000Z,2024-05-01T14:00:00.000Z,8,Beacon frame,1,2024-05-01T12:00:00.000Z,2024-05-01T12:00:00.000Z
`
	if res.code != ExitOK || res.stdout != want {
		t.Errorf("exit %d\n%s\nwant\n%s%s", res.code, res.stdout, want, res.stderr)
	}
}

func TestStatsReportsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"stats", "--hop", "15m"}, "--hop 15m needs --window"},
		{[]string{"stats", "--window", "1h", "--hop", "25m"}, "not a whole multiple of the hop"},
		{[]string{"stats", "devices", "--window", "1d", "--hop", "1m"}, "1440 windows"},
		{[]string{"stats", "devices", "--window", "1d", "--hop", "soon"}, `"soon"`},
		{[]string{"stats", "devices", "--tz", "Mars/Olympus"}, "Mars/Olympus"},
		{[]string{"stats", "probes-per-day", "--window", ""}, "needs a --window"},
		{[]string{"stats", "probes-per-day", "--signature", "dna"}, `unknown signature "dna"`},
		{[]string{"stats", "probes-per-day", "--gap", "-5m"}, `"-5m"`},
		{[]string{"stats", "devices", "-o", "xml"}, `"xml"`},
	}
	for _, tt := range tests {
		res := invokeCLI(t, strings.NewReader(""), tt.args...)
		if res.code != ExitUsage || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %s", tt.args, res.code, res.stderr, ExitUsage, tt.want)
		}
	}
}

func TestStatsDevicesBadInput(t *testing.T) {
	in := `{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"]}
not json
{"timestamp":"1714561200","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"]}
{"timestamp":"1714561200000","wlan_sa":["02:00:00:00:00:01"]}
`
	res := invokeCLI(t, strings.NewReader(in), "stats", "devices", "-o", "csv")
	if res.code != ExitPartial || !strings.Contains(res.stdout, "02:00:00:00:00:01,1,") {
		t.Errorf("exit %d, stdout %q; want %d and the one good probe counted", res.code, res.stdout, ExitPartial)
	}
	for _, want := range []string{"line=2", "looks like seconds", "add -e wlan.fc.type_subtype", "2 input lines"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, res.stderr)
		}
	}

	res = invokeCLI(t, strings.NewReader(`{"timestamp":"1714561200000","wlan_fc_type_subtype":["8"]}`+"\n"), "stats", "probes-per-day", "-o", "csv")
	if res.code != ExitOK || !strings.Contains(res.stderr, "no probe requests") {
		t.Errorf("a beacon alone: exit %d, stderr %q; want 0 and a warning that there are no probe requests", res.code, res.stderr)
	}
}

// TestStatsProbesPerDayMatchesDuckDB counts probes and addresses per
// Berlin day over the simulated records, which span the 25-hour day of 27
// October 2024, and compares with DuckDB.
func TestStatsProbesPerDayMatchesDuckDB(t *testing.T) {
	path := devWriteFile(t, "sim.jsonl", fpSimulatedRecords(true))
	res := invokeCLI(t, nil, "stats", "probes-per-day", "--tz", "Europe/Berlin", "-o", "json", path)
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	rows := jsonRows(t, res.stdout)
	for _, row := range rows {
		start, _ := time.Parse(time.RFC3339, row["window_start"].(string))
		row["day"] = start.Format(time.DateOnly)
		if est := row["estimated_devices"].(float64); est < 1 || est > row["macs"].(float64) {
			t.Errorf("day %s: %v devices estimated from %v addresses", row["day"], est, row["macs"])
		}
	}
	columns := []string{"day", "probes", "macs", "randomised_macs", "randomised_pct"}
	got := devTable(t, rows, columns...)

	sql := `WITH p AS (
  SELECT CAST(timezone('Europe/Berlin', to_timestamp(CAST(timestamp AS BIGINT) / 1000)) AS DATE)::VARCHAR AS day,
         coalesce(wlan_sa[1], wlan_ta[1]) AS sa
  FROM ` + devReadJSON(path, "wlan_fc_type_subtype", "wlan_sa", "wlan_ta") + ` WHERE wlan_fc_type_subtype[1] = '4')
SELECT day, count(*) AS probes, count(DISTINCT sa) AS macs,
       count(DISTINCT sa) FILTER (WHERE instr('2367abef', substr(sa, 2, 1)) > 0) AS randomised_macs,
       round(100.0 * count(DISTINCT sa) FILTER (WHERE instr('2367abef', substr(sa, 2, 1)) > 0) / count(DISTINCT sa), 1) AS randomised_pct
FROM p GROUP BY day`
	want := devTable(t, devQuery(t, sql), columns...)
	if len(want) != 2 {
		t.Fatalf("DuckDB found %d Berlin days, want 2: %v", len(want), want)
	}
	devCompareTables(t, "probes per day", got, want)
}

func TestProbeFilterKeepsLineNumbersAndBadLines(t *testing.T) {
	long := `{"timestamp":"1714561200000","wlan_fc_type_subtype":["8"],"wlan_ssid":["` + strings.Repeat("x", 300_000) + `"]}`
	in := strings.Join([]string{
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["8"],"wlan_sa":["00:11:22:33:44:55"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["0x0005"],"wlan_sa":["00:11:22:33:44:55"]}`,
		`not a record`,
		long,
		`{"index":{"_index":"packets-2024-05-01","_type":"doc"}}`,
		`{"timestamp":"1714561200000","layers":{"wlan_fc_type_subtype":["0x0004"],"wlan_sa":["02:00:00:00:00:01"]}}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:02"]}`,
		`{"timestamp":"1714561200","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:03"]}`,
		`{"timestamp":"1714561201000", "wlan_fc_type_subtype": ["4"], "wlan_sa":["02:00:00:00:00:04"]}`,
		`{"timestamp":"1714561202000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:05"]}`, // no newline at the end
	}, "\n")
	res := invokeCLI(t, strings.NewReader(in), "stats", "devices", "-o", "csv")
	for _, device := range []string{"02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:04", "02:00:00:00:00:05"} {
		if !strings.Contains(res.stdout, "\n"+device+",1,") {
			t.Errorf("probe of %s not counted:\n%s", device, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "00:11:22:33:44:55") || strings.Contains(res.stdout, "02:00:00:00:00:03") {
		t.Errorf("a beacon, a probe response or a record with a timestamp in seconds was counted:\n%s", res.stdout)
	}
	for _, want := range []string{"line=3 ", "line=8 ", "looks like seconds"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, res.stderr)
		}
	}
	if res.code != ExitPartial {
		t.Errorf("exit %d, want %d", res.code, ExitPartial)
	}
}

// lineOnlyFilter hides probeFilter's ValueFilter methods, so that the
// record reader asks KeepLine about every line.
type lineOnlyFilter struct{ *probeFilter }

func (f lineOnlyFilter) Unfiltered() io.Reader  { return f.probeFilter.Unfiltered() }
func (f lineOnlyFilter) KeepLine(b []byte) bool { return f.probeFilter.KeepLine(b) }

// TestProbeFilterWhileParsingAgrees checks that the filter that the record
// reader applies while it parses a line (KeepValue) keeps and leaves out
// the same lines as the search of each line (KeepLine), and counts them
// the same.
func TestProbeFilterWhileParsingAgrees(t *testing.T) {
	lines := []string{
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["8"],"wlan_sa":["02:00:00:00:00:02"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["0x0004"],"wlan_sa":["02:00:00:00:00:03"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["0x0028"],"wlan_sa":["02:00:00:00:00:04"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["probe"],"wlan_sa":["02:00:00:00:00:05"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":"8","wlan_sa":["02:00:00:00:00:06"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":[],"wlan_sa":["02:00:00:00:00:07"],"wlan_fc_type_subtype":["8"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["8","4"],"wlan_sa":["02:00:00:00:00:08"]}`,
		`{"timestamp":"1714561200000","wlan_ssid":["a\"b"],"wlan_fc_type_subtype":["8"],"wlan_sa":["02:00:00:00:00:09"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_ssid":["a\"b"],"wlan_sa":["02:00:00:00:00:0a"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["8"],"wlan_ssid":["a\"b"],"wlan_sa":["02:00:00:00:00:0b"]}`,
		`{"timestamp":"1714561200000", "wlan_fc_type_subtype":["8"], "wlan_sa":["02:00:00:00:00:0c"]}`,
		`{"timestamp":"1714561200000","wlan_sa":["02:00:00:00:00:0d"]}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["5"],"wlan_sa":["02:00:00:00:00:0e"],"bad":}`,
		`{"timestamp":"1714561200000","layers":{"wlan_fc_type_subtype":["0x0008"],"wlan_sa":["02:00:00:00:00:0f"]}}`,
		`{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:10"],"bad":}`,
		`{"timestamp":"1714561200","wlan_fc_type_subtype":["8"],"wlan_sa":["02:00:00:00:00:11"]}`,
	}
	read := func(lineOnly bool) (got []string, leftOut int64) {
		filter := &probeFilter{in: bufio.NewReader(strings.NewReader(strings.Join(lines, "\n"))), leftOut: &leftOut}
		var in io.Reader = filter
		if lineOnly {
			in = lineOnlyFilter{filter}
		} else if _, ok := in.(record.ValueFilter); !ok {
			t.Fatal("probeFilter is no record.ValueFilter")
		}
		r := record.NewReader(in, "test")
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				return got, leftOut
			}
			if err != nil {
				got = append(got, err.Error())
				continue
			}
			got = append(got, fmt.Sprintf("%d %q", rec.Offset, rec.Get("wlan_sa")))
		}
	}
	byLine, byLineLeftOut := read(true)
	byValue, byValueLeftOut := read(false)
	if !slices.Equal(byValue, byLine) || byValueLeftOut != byLineLeftOut {
		t.Errorf("while parsing: %d left out, read\n%s\nby line: %d left out, read\n%s",
			byValueLeftOut, strings.Join(byValue, "\n"), byLineLeftOut, strings.Join(byLine, "\n"))
	}
	// Lines 2, 4, 7, 8, 9, 11, 12, 14, 15 and 17 are records of other
	// subtypes, some broken after the subtype.
	if byLineLeftOut != 10 {
		t.Errorf("%d lines left out, want 10:\n%s", byLineLeftOut, strings.Join(byLine, "\n"))
	}
}

func TestParseSubtype(t *testing.T) {
	for in, want := range map[string]int{"4": 4, "0x0004": 4, "0X04": 4, "40": 40, "0x0028": 40, "0x162": 0x162} {
		if got, ok := parseSubtype([]byte(in)); !ok || got != want {
			t.Errorf("parseSubtype(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "0x", "x4", "4.0", "-4", "123456789", "0xg"} {
		if got, ok := parseSubtype([]byte(in)); ok {
			t.Errorf("parseSubtype(%q) = %d, want not a number", in, got)
		}
	}
}

// TestRecordInputsNameDirectoriesAndCaptures checks that a directory, a
// capture or a gzip file among the inputs is skipped with one message that
// names what to do, while the other inputs are read.
func TestRecordInputsNameDirectoriesAndCaptures(t *testing.T) {
	good := devWriteFile(t, "good.jsonl", `{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"]}`+"\n")
	gz := devWriteFile(t, "records.jsonl.gz", "\x1f\x8b\x08\x00rest")
	for input, want := range map[string]string{
		t.TempDir():                           "is a directory",
		corpusDir + "aircrack-ng__n-02.cap":   "is a capture, not records: decode it with wifiq replay-pcap",
		corpusDir + "libwifi__probe_req.pcap": "is a capture",
		corpusDir + "aircrack-ng__MOM1.cap":   "is a capture",
		gz:                                    "is compressed with gzip",
	} {
		res := invokeCLI(t, nil, "stats", "devices", "-o", "csv", input, good)
		if res.code != ExitPartial || !strings.Contains(res.stderr, want) || !strings.Contains(res.stdout, "02:00:00:00:00:01,1,") {
			t.Errorf("%s and a record file: exit %d, stdout\n%s\nstderr\n%s\nwant %d, the record's row and %q", input, res.code, res.stdout, res.stderr, ExitPartial, want)
		}
		if strings.Contains(res.stderr, "skipped a line") {
			t.Errorf("%s: lines reported one by one:\n%s", input, res.stderr)
		}
	}
}

// TestStandardInputNamesCapturesAndGzip checks that a capture or a gzip
// file on standard input stops the report with one message that names what
// to do, where every line used to give an invalid-record warning.
func TestStandardInputNamesCapturesAndGzip(t *testing.T) {
	capture, err := os.ReadFile(corpusDir + "aircrack-ng__n-02.cap")
	if err != nil {
		t.Fatal(err)
	}
	for input, want := range map[string]string{
		string(capture):              "standard input is a capture, not records: decode it with wifiq replay-pcap -",
		"\x1f\x8b\x08\x00compressed": "standard input is compressed with gzip",
	} {
		for _, args := range [][]string{{"stats"}, {"stats", "devices"}} {
			res := invokeCLI(t, strings.NewReader(input), args...)
			if res.code != ExitFailure || !strings.Contains(res.stderr, want) || strings.Contains(res.stderr, "skipped a line") {
				t.Errorf("%v: exit %d, stderr:\n%s\nwant %d and only %q", args, res.code, res.stderr, ExitFailure, want)
			}
		}
	}
	res := invokeCLI(t, strings.NewReader(`{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["02:00:00:00:00:01"]}`+"\n"), "stats", "devices", "-o", "csv")
	if res.code != ExitOK || !strings.Contains(res.stdout, "02:00:00:00:00:01,1,") {
		t.Errorf("records on standard input: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}
