package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// invokeQueryCLI runs wifiq as invokeCLI does, with a temporary user cache
// directory, so that no test writes to the real cache.
func invokeQueryCLI(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	return invokeCLI(t, stdin, args...)
}

// jsonRows parses JSON lines output.
func jsonRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		rows = append(rows, row)
	}
	return rows
}

// TestQueryCountsMatchStats compares frames per subtype with what
// replay-pcap | stats prints for the same captures.
func TestQueryCountsMatchStats(t *testing.T) {
	inputs := []string{corpusDir + "*.cap", corpusDir + "*.pcap*"}
	records := invokeCLI(t, nil, append([]string{"replay-pcap", "-q"}, inputs...)...)
	if records.code != ExitOK {
		t.Fatalf("replay-pcap: exit %d: %s", records.code, records.stderr)
	}
	stats := invokeCLI(t, strings.NewReader(records.stdout), "stats", "-o", "json")
	want := map[string]any{}
	for _, row := range jsonRows(t, stats.stdout) {
		want[fmt.Sprint(row["type_subtype"])] = row["frames"]
	}

	res := invokeQueryCLI(t, nil, append([]string{"query", "--cache-dir", t.TempDir(),
		"SELECT type_subtype, count(*) AS frames FROM packets GROUP BY ALL"}, inputs...)...)
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	got := map[string]any{}
	for _, row := range jsonRows(t, res.stdout) {
		got[fmt.Sprint(row["type_subtype"])] = row["frames"]
	}
	if !reflect.DeepEqual(got, want) || len(got) < 20 {
		t.Errorf("frames per subtype:\n got %v\nwant %v", got, want)
	}
}

func TestQueryOutputFormats(t *testing.T) {
	v7 := casesDir + "V7_channel_from_frequency.pcap"
	sql := "SELECT channel, ssid, ssid_bytes, time, vendor_oui FROM beacons ORDER BY time LIMIT 2"

	res := invokeQueryCLI(t, nil, "query", "--no-cache", sql, v7)
	want := `{"channel":6,"ssid":"Nachbar-Kanal1","ssid_bytes":"4e6163686261722d4b616e616c31","time":"2024-05-01T17:00:00.000037Z","vendor_oui":[]}
{"channel":36,"ssid":"Lab-5G","ssid_bytes":"4c61622d3547","time":"2024-05-01T17:00:00.102474Z","vendor_oui":[]}
`
	if res.code != ExitOK || res.stdout != want {
		t.Errorf("JSON lines (the default into a pipe): exit %d\n%s\nwant\n%s%s", res.code, res.stdout, want, res.stderr)
	}

	res = invokeQueryCLI(t, nil, "query", "--no-cache", "-o", "csv", sql, v7)
	want = `channel,ssid,ssid_bytes,time,vendor_oui
6,Nachbar-Kanal1,4e6163686261722d4b616e616c31,2024-05-01T17:00:00.000037Z,[]
36,Lab-5G,4c61622d3547,2024-05-01T17:00:00.102474Z,[]
`
	if res.code != ExitOK || res.stdout != want {
		t.Errorf("CSV: exit %d\n%s\nwant\n%s%s", res.code, res.stdout, want, res.stderr)
	}

	res = invokeQueryCLI(t, nil, "query", "--no-cache", "-o", "table", sql, v7)
	lines := strings.Split(strings.TrimRight(res.stdout, "\n"), "\n")
	if res.code != ExitOK || len(lines) != 4 || !strings.Contains(lines[0], "ssid_bytes") || !strings.Contains(lines[3], "Lab-5G") {
		t.Errorf("table: exit %d, want a header, a rule and two rows:\n%s%s", res.code, res.stdout, res.stderr)
	}

	dir := t.TempDir()
	parquet := filepath.Join(dir, "beacons.parquet")
	res = invokeQueryCLI(t, nil, "query", "--no-cache", "-o", "parquet", "--out", parquet, "SELECT * FROM beacons", v7)
	if res.code != ExitOK || res.stdout != "" {
		t.Fatalf("parquet: exit %d, stdout %q: %s", res.code, res.stdout, res.stderr)
	}
	back := invokeQueryCLI(t, nil, "query", "--no-cache", "-o", "csv",
		fmt.Sprintf("SELECT count(*) AS n, max(channel) AS top FROM read_parquet('%s')", parquet))
	if back.stdout != "n,top\n4,36\n" {
		t.Errorf("the Parquet file reads back as %q (exit %d): %s", back.stdout, back.code, back.stderr)
	}

	csvFile := filepath.Join(dir, "channels.csv")
	res = invokeQueryCLI(t, nil, "query", "--no-cache", "--out", csvFile, "SELECT channel FROM packets ORDER BY channel", v7)
	data, _ := os.ReadFile(csvFile)
	if res.code != ExitOK || string(data) != "channel\n1\n6\n14\n36\n" || res.stdout != "" {
		t.Errorf("--out .csv: exit %d, file %q, stdout %q", res.code, data, res.stdout)
	}
}

func TestQueryStandardInput(t *testing.T) {
	capture, err := os.ReadFile(casesDir + "V8_element_offsets_per_subtype.pcap")
	if err != nil {
		t.Fatal(err)
	}
	records := invokeCLI(t, nil, "replay-pcap", "-q", casesDir+"V8_element_offsets_per_subtype.pcap")
	sql := "SELECT subtype_name, ssid FROM packets ORDER BY time"
	want := `{"subtype_name":"Authentication","ssid":"OfficeNet-X"}
{"subtype_name":"Association Request","ssid":"OfficeNet-A"}
{"subtype_name":"Reassociation Request","ssid":"OfficeNet-R"}
{"subtype_name":"Probe Response","ssid":"OfficeNet-P"}
`
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"capture, no input", string(capture), nil},
		{"capture, -", string(capture), []string{"-"}},
		{"records, no input", records.stdout, nil},
		{"records, --records -", records.stdout, []string{"--records", "-"}},
	} {
		res := invokeQueryCLI(t, strings.NewReader(c.stdin), append([]string{"query", sql}, c.args...)...)
		if res.code != ExitOK || res.stdout != want {
			t.Errorf("%s: exit %d\n%s\nwant\n%s%s", c.name, res.code, res.stdout, want, res.stderr)
		}
	}
}

func TestQueryEmptyStandardInput(t *testing.T) {
	res := invokeQueryCLI(t, strings.NewReader(""), "query", "-o", "csv", "SELECT count(*) AS n FROM packets")
	if res.code != ExitOK || res.stdout != "n\n0\n" {
		t.Errorf("exit %d, %q, want no frames and no error: %s", res.code, res.stdout, res.stderr)
	}
}

func TestQueryCacheReuse(t *testing.T) {
	ring := t.TempDir()
	for _, name := range []string{"V7_channel_from_frequency.pcap", "V9_ssid_bytes.pcap"} {
		data, _ := os.ReadFile(casesDir + name)
		os.WriteFile(filepath.Join(ring, name), data, 0o644)
	}
	cacheDir := t.TempDir()
	run := func() cliResult {
		return invokeQueryCLI(t, nil, "query", "-v", "--cache-dir", cacheDir, "-o", "csv", "SELECT count(*) AS n FROM packets", ring)
	}

	for i, wantCached := range []string{"from_cache=0", "from_cache=2"} {
		res := run()
		if res.code != ExitOK || res.stdout != "n\n10\n" || !strings.Contains(res.stderr, wantCached) {
			t.Errorf("run %d: exit %d, %q, want 10 frames and %s:\n%s", i+1, res.code, res.stdout, wantCached, res.stderr)
		}
	}

	later := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(ring, "V9_ssid_bytes.pcap"), later, later)
	data, _ := os.ReadFile(casesDir + "V8_element_offsets_per_subtype.pcap")
	os.WriteFile(filepath.Join(ring, "V8_element_offsets_per_subtype.pcap"), data, 0o644)
	res := run()
	if res.stdout != "n\n14\n" || !strings.Contains(res.stderr, "files=3 from_cache=1") {
		t.Errorf("after touching one file and adding one: %q, want 14 frames and one file from the cache:\n%s", res.stdout, res.stderr)
	}
	res = invokeQueryCLI(t, nil, "query", "--cache-dir", cacheDir, "-o", "csv",
		"SELECT count(*) FILTER (WHERE from_cache) AS cached, count(*) AS files FROM files", ring)
	if res.stdout != "cached,files\n3,3\n" {
		t.Errorf("files table: %q", res.stdout)
	}
}

func TestQueryDefaultCacheDirectory(t *testing.T) {
	home := t.TempDir()
	var out, errOut bytes.Buffer
	g := &Globals{IO: &IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, Log: slog.New(slog.NewTextHandler(&errOut, nil))}
	root := NewRoot(g, "test")
	t.Setenv("XDG_CACHE_HOME", home)
	code := Run(context.Background(), root, g, []string{"query", "SELECT 1", casesDir + "V7_channel_from_frequency.pcap"})
	manifests, _ := filepath.Glob(filepath.Join(home, "wifiq", "query", "*.json"))
	if code != ExitOK || len(manifests) != 1 {
		t.Errorf("exit %d, %d cache entries under $XDG_CACHE_HOME/wifiq/query, want 1: %s", code, len(manifests), errOut.String())
	}
}

func TestQueryDatabaseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifi.duckdb")
	res := invokeQueryCLI(t, nil, "query", "--db", path, "-o", "csv", "SELECT count(*) AS n FROM packets",
		casesDir+"V7_channel_from_frequency.pcap", casesDir+"V12_data_and_control_frames.pcap")
	if res.code != ExitOK || res.stdout != "n\n11\n" {
		t.Fatalf("load: exit %d, %q: %s", res.code, res.stdout, res.stderr)
	}
	res = invokeQueryCLI(t, nil, "query", "--db", path, "-o", "csv",
		"SELECT (SELECT count(*) FROM beacons) AS beacons, (SELECT count(*) FROM data_frames) AS data, (SELECT count(*) FROM files) AS files")
	if res.code != ExitOK || res.stdout != "beacons,data,files\n4,2,2\n" {
		t.Errorf("query without inputs: exit %d, %q: %s", res.code, res.stdout, res.stderr)
	}
	// A run with inputs replaces what the database held.
	res = invokeQueryCLI(t, nil, "query", "--db", path, "-o", "csv", "SELECT count(*) AS n FROM packets", casesDir+"V9_ssid_bytes.pcap")
	if res.stdout != "n\n6\n" {
		t.Errorf("reload: %q: %s", res.stdout, res.stderr)
	}
}

func TestQuerySQLFile(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.sql")
	os.WriteFile(report, []byte(`-- frames on 5 GHz; the last statement is printed
CREATE TABLE five AS SELECT * FROM packets WHERE frequency > 5000;
SELECT count(*) AS n, string_agg(ssid, ',' ORDER BY ssid) AS ssids FROM five;
`), 0o644)
	res := invokeQueryCLI(t, nil, "query", "--no-cache", "-o", "csv", "-f", report, casesDir+"V7_channel_from_frequency.pcap")
	if res.code != ExitOK || res.stdout != "n,ssids\n2,\"Lab-5G,Lab-6G\"\n" {
		t.Errorf("exit %d, %q: %s", res.code, res.stdout, res.stderr)
	}
}

func TestQueryErrors(t *testing.T) {
	v7 := casesDir + "V7_channel_from_frequency.pcap"
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("not a capture\n"), 0o644)
	sqlOK := "SELECT count(*) AS n FROM packets"
	cases := []struct {
		name       string
		args       []string
		code       int
		stderr     []string
		wantStdout string
	}{
		{"syntax error", []string{"SELEC count(*) FROM packets", v7}, ExitUsage,
			[]string{"invalid SQL", "Parser Error", "SELEC count(*) FROM packets"}, ""},
		{"unknown table", []string{"SELECT * FROM pakets", v7}, ExitUsage, []string{"invalid SQL", "pakets"}, ""},
		{"unknown column", []string{"SELECT nope FROM packets", v7}, ExitUsage, []string{"nope"}, ""},
		{"empty SQL", []string{" -- nothing\n;", v7}, ExitUsage, []string{"contains no statement"}, ""},
		{"no SQL", nil, ExitUsage, []string{"missing SQL"}, ""},
		{"missing file", []string{sqlOK, filepath.Join(dir, "missing.pcap")}, ExitFailure,
			[]string{"no input could be read", "missing.pcap", "no such file"}, ""},
		{"missing file among captures", []string{"-o", "csv", sqlOK, filepath.Join(dir, "missing.pcap"), v7}, ExitPartial,
			[]string{"missing.pcap", "1 of 2 inputs"}, "n\n4\n"},
		{"only a text file", []string{sqlOK, notes}, ExitFailure, []string{"no input could be read", "notes.txt"}, ""},
		{"pattern without match", []string{sqlOK, filepath.Join(dir, "mon0_*")}, ExitUsage, []string{"matches no file"}, ""},
		{"parquet to stdout", []string{"-o", "parquet", sqlOK, v7}, ExitUsage, []string{"--out FILE"}, ""},
		{"unknown format", []string{"-o", "xml", sqlOK, v7}, ExitUsage, []string{`invalid --output "xml"`}, ""},
		{"database name with ?", []string{"--db", filepath.Join(dir, "a?b.duckdb"), sqlOK}, ExitUsage, []string{"invalid --db"}, ""},
		{"missing SQL file", []string{"-f", filepath.Join(dir, "none.sql"), v7}, ExitUsage, []string{"none.sql"}, ""},
		{"statement fails", []string{"SELECT error('boom from the test')", v7}, ExitFailure, []string{"boom from the test"}, ""},
		{"not a capture among captures", []string{"-o", "csv", sqlOK, notes, v7}, ExitPartial,
			[]string{"notes.txt", "not a pcap or pcapng file", "1 of 2 inputs"}, "n\n4\n"},
	}
	for _, c := range cases {
		res := invokeQueryCLI(t, nil, append([]string{"query", "--no-cache"}, c.args...)...)
		if res.code != c.code {
			t.Errorf("%s: exit %d, want %d: %s", c.name, res.code, c.code, res.stderr)
		}
		for _, want := range c.stderr {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("%s: stderr does not say %q:\n%s", c.name, want, res.stderr)
			}
		}
		if res.stdout != c.wantStdout {
			t.Errorf("%s: stdout %q, want %q", c.name, res.stdout, c.wantStdout)
		}
		if strings.Contains(res.stderr, "panic") {
			t.Errorf("%s: panicked:\n%s", c.name, res.stderr)
		}
	}
}

func TestQueryDirectoryOfCapturesAndRecords(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile(casesDir + "V7_channel_from_frequency.pcap")
	os.WriteFile(filepath.Join(dir, "mon0_00001.pcap"), data, 0o644)
	records := invokeCLI(t, nil, "replay-pcap", "-q", casesDir+"V8_element_offsets_per_subtype.pcap")
	os.WriteFile(filepath.Join(dir, "v8.jsonl"), []byte(records.stdout), 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("ring buffer of mon0\n"), 0o644)

	res := invokeQueryCLI(t, nil, "query", "--no-cache", "-o", "csv",
		"SELECT format, frames FROM files ORDER BY source_file", dir)
	if res.code != ExitOK || res.stdout != "format,frames\npcap,4\nrecords,4\n" {
		t.Errorf("exit %d, %q, want the capture and the record file and no README: %s", res.code, res.stdout, res.stderr)
	}
}

func TestQueryRecordsWithBadLines(t *testing.T) {
	in := `{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"],"wlan_sa":["da:a1:19:6b:0c:42"]}
garbage
{"timestamp":"1714561260000","wlan_fc_type_subtype":["4"],"wlan_sa":["3c:a6:2f:1a:2b:3c"]}
`
	res := invokeQueryCLI(t, strings.NewReader(in), "query", "-o", "csv", "SELECT sa, randomised FROM probes ORDER BY time")
	if res.code != ExitPartial || res.stdout != "sa,randomised\nda:a1:19:6b:0c:42,true\n3c:a6:2f:1a:2b:3c,false\n" {
		t.Errorf("exit %d, %q, want exit 3 and both good records", res.code, res.stdout)
	}
	for _, want := range []string{"stdin:2", "skipped lines that are not records: 1"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, res.stderr)
		}
	}
}
