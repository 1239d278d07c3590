package query

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/ops"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/replay"
)

const (
	corpusDir = "../testdata/corpus/"
	casesDir  = "../testdata/cases/"
)

func testResolver(t *testing.T) *capture.Resolver {
	t.Helper()
	r := capture.NewResolver()
	capture.AddBuiltinWellKnown(r)
	if err := capture.AddBuiltinManufacturers(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func openDB(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// load loads names into db, reading the files ending in .jsonl (or
// .jsonl.gz) as records.
func load(t *testing.T, db *DB, cache *Cache, names ...string) []FileResult {
	t.Helper()
	var inputs []Input
	for _, n := range names {
		ext := filepath.Ext(strings.TrimSuffix(n, ".gz"))
		inputs = append(inputs, Input{Name: n, Records: ext == ".jsonl"})
	}
	results, err := db.Load(context.Background(), inputs, LoadOptions{Resolver: testResolver(t), Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	return results
}

// queryRows returns every row of a query.
func queryRows(t *testing.T, db *DB, sql string) [][]any {
	t.Helper()
	rows, err := db.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for {
		values, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, values)
	}
}

// queryValue returns the single value of a one-row, one-column query.
func queryValue(t *testing.T, db *DB, sql string) any {
	t.Helper()
	rows := queryRows(t, db, sql)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: got %v, want one value", sql, rows)
	}
	return rows[0][0]
}

// corpusFiles returns the corpus's captures and, to check that a file that
// is not a capture fails in both, its MANIFEST.tsv.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	names, err := replay.Expand([]string{corpusDir})
	if err != nil {
		t.Fatal(err)
	}
	return append(names, corpusDir+"MANIFEST.tsv")
}

// TestLoadMatchesReplayAndStats checks the frames per subtype of the whole
// corpus against what replay-pcap | stats computes with the same packages.
func TestLoadMatchesReplayAndStats(t *testing.T) {
	names := corpusFiles(t)
	var lines bytes.Buffer
	summary, err := replay.Decode(context.Background(), names, record.NewLineWriter(&lines),
		replay.DecodeOptions{Encoder: capture.NewEncoder(capture.DefaultFields, capture.StyleClassic, nil)})
	if err != nil {
		t.Fatal(err)
	}
	stats := &ops.SubtypeSummary{}
	reader := record.NewReader(&lines, "replay")
	for {
		rec, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		stats.Add(rec)
	}
	want := map[int64]string{}
	for _, row := range stats.Rows() {
		want[int64(row.TypeSubtype)] = fmt.Sprintf("%d frames from %d to %d", row.Frames, row.Earliest, row.Latest)
	}

	db := openDB(t, "")
	results := load(t, db, nil, names...)
	got := map[int64]string{}
	for _, row := range queryRows(t, db, `SELECT coalesce(type_subtype, -1), count(*), min(epoch_us(time) // 1000), max(epoch_us(time) // 1000)
		FROM packets GROUP BY ALL`) {
		got[row[0].(int64)] = fmt.Sprintf("%d frames from %d to %d", row[1], row[2], row[3])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per subtype:\n got %v\nwant %v", got, want)
	}

	total := summary.Totals().Written
	if n := queryValue(t, db, "SELECT count(*) FROM packets"); n != int64(total) {
		t.Errorf("packets has %v rows, replay wrote %d records", n, total)
	}
	var failed, wantFailed []string
	for _, r := range results {
		if r.Err != nil {
			failed = append(failed, r.Name)
		}
	}
	for _, f := range summary.Failed() {
		wantFailed = append(wantFailed, f.Name)
	}
	if !reflect.DeepEqual(failed, wantFailed) || len(failed) != 1 {
		t.Errorf("failed files %v, replay failed %v; want the MANIFEST.tsv alone", failed, wantFailed)
	}
}

func TestChannelsFromFrequency(t *testing.T) {
	db := openDB(t, "")
	load(t, db, nil, casesDir+"V7_channel_from_frequency.pcap")
	got := queryRows(t, db, `SELECT channel, frequency, signal_dbm, duration, country FROM beacons ORDER BY time`)
	want := [][]any{
		{int64(6), int64(2437), int64(-71), int64(872), "DE"},
		{int64(36), int64(5180), int64(-59), int64(144), "DE"},
		{int64(14), int64(2484), int64(-80), int64(760), "JP"},
		{int64(1), int64(5955), int64(-62), int64(136), nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("V7 beacons:\n got %v\nwant %v", got, want)
	}
}

func TestSSIDBytesLossless(t *testing.T) {
	db := openDB(t, "")
	load(t, db, nil, casesDir+"V9_ssid_bytes.pcap")
	rows := queryRows(t, db, `SELECT hex(ssid_bytes), ssid, malformed FROM packets ORDER BY time`)
	wantHex := []string{
		"B2E2CAD4", "F09FA78A", "4630394641373841", "0000000000000000",
		"42617220225A756D20416E6B6572225C0A47617374",
		"546869727479546872656542797465535349446973546F6F4C6F6E672D31323334",
	}
	if len(rows) != len(wantHex) {
		t.Fatalf("%d rows, want %d", len(rows), len(wantHex))
	}
	texts := map[string]bool{}
	for i, row := range rows {
		if row[0] != wantHex[i] {
			t.Errorf("frame %d: ssid_bytes %v, want %s", i+1, row[0], wantHex[i])
		}
		text := row[1].(string)
		back, err := capture.UnescapeText(text)
		if err != nil || fmt.Sprintf("%X", back) != wantHex[i] {
			t.Errorf("frame %d: ssid %q does not turn back into its bytes (%X, %v)", i+1, text, back, err)
		}
		texts[text] = true
		if malformed := row[2].(bool); malformed != (i == 5) {
			t.Errorf("frame %d: malformed %v, want it only for the 33-byte SSID", i+1, malformed)
		}
	}
	if len(texts) != len(wantHex) {
		t.Errorf("the ssid texts are not all different: %v", texts)
	}
	if texts[""] {
		t.Error("the hidden SSID of eight zero bytes became the wildcard")
	}
}

func TestVendorElementsAndWPS(t *testing.T) {
	db := openDB(t, "")
	load(t, db, nil, casesDir+"V11_three_vendor_elements.pcap", casesDir+"V5_probe_request_full_ie_set_with_and_without_fcs.pcap")
	got := queryRows(t, db, `SELECT vendor_oui, vendor_oui_type, list_transform(vendor_data, lambda d: hex(d)), wps_device_name, ssid
		FROM probes ORDER BY source_file, time`)
	v5 := []any{
		[]any{int64(4120), int64(20722), int64(6130)}, []any{int64(2), int64(4), int64(10)},
		[]any{"020000100000", "0A00010400000000"}, "Pixel 9", "",
	}
	want := [][]any{
		{[]any{int64(20722), int64(4120), int64(36940)}, []any{int64(4), int64(2), int64(51)}, []any{"020000100000"}, "Kuechen-Tablet", ""},
		v5, v5,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("vendor elements:\n got %v\nwant %v", got, want)
	}
	if n := queryValue(t, db, "SELECT count(*) FROM elements"); n != int64(2) {
		t.Errorf("elements has %v rows, want 2: the two copies of the V5 probe request share one", n)
	}
}

func TestRandomisedAndNames(t *testing.T) {
	db := openDB(t, "")
	load(t, db, nil, casesDir+"V4_truncated_vendor_and_extension_elements.pcap", casesDir+"V8_element_offsets_per_subtype.pcap")
	got := queryRows(t, db, `SELECT DISTINCT sa, sa_resolved, randomised FROM packets ORDER BY sa`)
	want := [][]any{
		{"3c:a6:2f:1a:2b:3c", "AVMAudio_1a:2b:3c", false},
		{"50:c7:bf:0e:d1:50", "TPLink_0e:d1:50", false},
		{"da:a1:19:6b:0c:42", "Google_6b:0c:42", true},
		{"dc:a6:32:5c:0f:e1", "RaspberryPi_5c:0f:e1", false},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		// Short names depend on the IEEE registry's spelling: compare the
		// address, the suffix of the name and the flag.
		if got[i][0] != want[i][0] || got[i][2] != want[i][2] || !strings.HasSuffix(got[i][1].(string), want[i][0].(string)[9:]) {
			t.Errorf("row %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if n := queryValue(t, db, "SELECT count(*) FROM packets WHERE bssid_resolved IS NULL AND bssid IS NOT NULL"); n != int64(0) {
		t.Errorf("%v addresses have no resolved name", n)
	}
}

func TestTimesKeepMicroseconds(t *testing.T) {
	db := openDB(t, "")
	results := load(t, db, nil, casesDir+"V10_pcapng_two_interfaces.pcapng", casesDir+"V10_pcapng_two_interfaces_truncated.pcapng")
	got := queryRows(t, db, `SELECT strftime(time, '%H:%M:%S.%f'), channel FROM packets WHERE source_file LIKE '%interfaces.pcapng' ORDER BY time`)
	want := [][]any{{"20:00:00.000038", int64(6)}, {"20:00:00.100493", nil}, {"20:00:00.200039", int64(6)}, {"20:00:00.300691", nil}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("times:\n got %v\nwant %v", got, want)
	}
	if r := results[1]; !r.CutShort || r.Frames != 3 || r.Err != nil {
		t.Errorf("truncated copy: %+v, want 3 frames and cut short", r)
	}
}

// TestRecordsLoadLikeCaptures loads the hand-built cases twice, as captures
// and as the records replay-pcap writes in each style, and compares every
// column.
func TestRecordsLoadLikeCaptures(t *testing.T) {
	captures, err := filepath.Glob(casesDir + "V*.pcap*")
	if err != nil || len(captures) < 10 {
		t.Fatalf("cases: %v %v", captures, err)
	}
	fields, err := capture.ParseFields("default,wlan.bssid,wlan_radio.frequency,frame.len,frame.time_epoch")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, style := range []capture.Style{capture.StyleClassic, capture.StyleTshark} {
		var inputs []string
		for _, c := range captures {
			out := filepath.Join(dir, fmt.Sprintf("%s.%s.jsonl", filepath.Base(c), style))
			var buf bytes.Buffer
			_, err := replay.Decode(context.Background(), []string{c}, record.NewLineWriter(&buf),
				replay.DecodeOptions{Encoder: capture.NewEncoder(fields, style, testResolver(t))})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, c, out)
		}

		db := openDB(t, "")
		load(t, db, nil, inputs...)
		columns := `time, type, type_subtype, subtype_name, channel, frequency, signal_dbm, duration, frame_len, malformed,
			ra, ra_resolved, da, da_resolved, ta, ta_resolved, sa, sa_resolved, staa, staa_resolved, bssid, bssid_resolved,
			ssid, ssid_bytes, vendor_oui, vendor_oui_type, vendor_data, country, wps_device_name, randomised,
			regexp_extract(source_file, '/(V[0-9]+_[^/]*)\.pcap', 1) AS capture`
		for _, pair := range [][2]string{{"NOT LIKE", "LIKE"}, {"LIKE", "NOT LIKE"}} {
			diff := queryRows(t, db, fmt.Sprintf(`SELECT %[1]s FROM packets WHERE source_file %[2]s '%%.jsonl'
				EXCEPT ALL SELECT %[1]s FROM packets WHERE source_file %[3]s '%%.jsonl'`, columns, pair[0], pair[1]))
			if len(diff) > 0 {
				t.Errorf("%s style: %d rows from %s files have no twin: first %v", style, len(diff), pair[0]+" .jsonl", diff[0])
			}
		}
		if n := queryValue(t, db, "SELECT count(*) FROM packets"); n.(int64) < 80 {
			t.Errorf("%s style: only %v rows", style, n)
		}
	}
}

func TestUnreadableInputsAreSkipped(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCapture, []byte("these are notes, not a capture\n"), 0o644)
	badLines := filepath.Join(dir, "records.jsonl")
	os.WriteFile(badLines, []byte(`{"timestamp":"1714561200000","wlan_fc_type_subtype":["4"]}
not json
{"timestamp":"1714561201000","wlan_fc_type_subtype":["0x0008"]}
`), 0o644)

	db := openDB(t, "")
	results := load(t, db, nil, notCapture, filepath.Join(dir, "missing.pcap"), dir, badLines, casesDir+"V7_channel_from_frequency.pcap")
	if r := results[0]; r.Err == nil || !strings.Contains(r.Err.Error(), "not a pcap or pcapng file") {
		t.Errorf("text file: %+v, want a format error", r)
	}
	if r := results[1]; !errors.Is(r.Err, os.ErrNotExist) {
		t.Errorf("missing file: %+v, want not found", r)
	}
	if r := results[2]; r.Err == nil || !strings.Contains(r.Err.Error(), "is a directory") {
		t.Errorf("directory: %+v, want an error", r)
	}
	if r := results[3]; r.Frames != 2 || r.Skipped != 1 || len(r.LineErrors) != 1 || !strings.Contains(r.LineErrors[0], ":2:") {
		t.Errorf("records: %+v, want 2 frames and line 2 skipped", r)
	}
	got := queryRows(t, db, "SELECT subtype_name, count(*) FROM packets GROUP BY ALL ORDER BY ALL")
	want := [][]any{{"Beacon frame", int64(5)}, {"Probe Request", int64(1)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	errs := queryValue(t, db, "SELECT count(*) FROM files WHERE error IS NOT NULL")
	if errs != int64(3) {
		t.Errorf("files has %v errors, want 3", errs)
	}
}

func TestGzipRecords(t *testing.T) {
	dir := t.TempDir()
	var lines bytes.Buffer
	replay.Decode(context.Background(), []string{casesDir + "V8_element_offsets_per_subtype.pcap"}, record.NewLineWriter(&lines),
		replay.DecodeOptions{Encoder: capture.NewEncoder(capture.DefaultFields, capture.StyleTshark, nil)})
	gz := filepath.Join(dir, "records.jsonl.gz")
	writeGzip(t, gz, lines.Bytes())

	db := openDB(t, "")
	results := load(t, db, nil, gz)
	if results[0].Err != nil || results[0].Frames != 4 {
		t.Fatalf("%+v, want 4 frames", results[0])
	}
	got := queryRows(t, db, "SELECT ssid FROM packets ORDER BY time")
	want := [][]any{{"OfficeNet-X"}, {"OfficeNet-A"}, {"OfficeNet-R"}, {"OfficeNet-P"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// copyFile copies a capture into dir and returns the copy's path.
func copyFile(t *testing.T, src, dir string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func fromCache(results []FileResult) []bool {
	out := make([]bool, len(results))
	for i, r := range results {
		out[i] = r.FromCache
	}
	return out
}

func TestCacheHitsAndMisses(t *testing.T) {
	ring := t.TempDir()
	cache := &Cache{Dir: t.TempDir()}
	a := copyFile(t, casesDir+"V7_channel_from_frequency.pcap", ring)
	b := copyFile(t, casesDir+"V8_element_offsets_per_subtype.pcap", ring)
	count := func(db *DB) any { return queryValue(t, db, "SELECT count(*) FROM packets") }

	first := load(t, openDB(t, ""), cache, a, b)
	if got := fromCache(first); !reflect.DeepEqual(got, []bool{false, false}) {
		t.Errorf("first load from cache %v, want none", got)
	}

	db := openDB(t, "")
	second := load(t, db, cache, a, b)
	if got := fromCache(second); !reflect.DeepEqual(got, []bool{true, true}) {
		t.Errorf("second load from cache %v, want both", got)
	}
	if n := count(db); n != int64(8) || second[0].Frames != 4 || second[0].Format != "pcap" {
		t.Errorf("from the cache: %v rows, %+v; want 8 rows, 4 frames and the format", n, second[0])
	}

	// Touching a file changes its modification time: it is decoded again.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(a, later, later); err != nil {
		t.Fatal(err)
	}
	c := copyFile(t, casesDir+"V11_three_vendor_elements.pcap", ring)
	db = openDB(t, "")
	third := load(t, db, cache, a, b, c)
	if got := fromCache(third); !reflect.DeepEqual(got, []bool{false, true, false}) {
		t.Errorf("after touching the first file and adding a third, from cache %v, want false true false", got)
	}
	if n := count(db); n != int64(9) {
		t.Errorf("%v rows, want 9", n)
	}

	// Growing a file changes its size.
	data, _ := os.ReadFile(casesDir + "V9_ssid_bytes.pcap")
	grown, _ := os.ReadFile(b)
	os.WriteFile(b, append(grown, data[24:]...), 0o644) // V9's records after its file header
	os.Chtimes(b, later, later)
	db = openDB(t, "")
	fourth := load(t, db, cache, a, b, c)
	if got := fromCache(fourth); !reflect.DeepEqual(got, []bool{true, false, true}) {
		t.Errorf("after growing the second file, from cache %v, want true false true", got)
	}
	if n := count(db); n != int64(15) {
		t.Errorf("%v rows, want 15 with the grown file's 6 new frames", n)
	}

	manifests, _ := filepath.Glob(filepath.Join(cache.Dir, "*.json"))
	parquets, _ := filepath.Glob(filepath.Join(cache.Dir, "*.parquet"))
	if len(manifests) != 3 || len(parquets) != 6 {
		t.Errorf("cache contains %d manifests and %d Parquet files, want 3 and 6: older versions of a file are removed", len(manifests), len(parquets))
	}
}

func TestCacheSkipsCutShortFiles(t *testing.T) {
	cache := &Cache{Dir: t.TempDir()}
	name := casesDir + "V10_pcapng_two_interfaces_truncated.pcapng"
	load(t, openDB(t, ""), cache, name)
	db := openDB(t, "")
	results := load(t, db, cache, name)
	if results[0].FromCache || results[0].Frames != 3 {
		t.Errorf("%+v: a file cut short (a ring file being written) must be decoded every time", results[0])
	}
	if n := queryValue(t, db, "SELECT count(*) FROM packets"); n != int64(3) {
		t.Errorf("%v rows, want 3", n)
	}
}

func TestCacheIgnoresBrokenEntry(t *testing.T) {
	cache := &Cache{Dir: t.TempDir()}
	name := casesDir + "V7_channel_from_frequency.pcap"
	load(t, openDB(t, ""), cache, name)
	parquets, _ := filepath.Glob(filepath.Join(cache.Dir, "*.frames.parquet"))
	if len(parquets) != 1 {
		t.Fatalf("cache contains %v", parquets)
	}
	os.Remove(parquets[0])
	db := openDB(t, "")
	results := load(t, db, cache, name)
	if results[0].FromCache || queryValue(t, db, "SELECT count(*) FROM packets") != int64(4) {
		t.Errorf("%+v: an entry without its frames must be decoded again", results[0])
	}
}

func TestCachePrune(t *testing.T) {
	ring := t.TempDir()
	cache := &Cache{Dir: t.TempDir()}
	keep := copyFile(t, casesDir+"V7_channel_from_frequency.pcap", ring)
	deleted := copyFile(t, casesDir+"V8_element_offsets_per_subtype.pcap", ring)
	load(t, openDB(t, ""), cache, keep, deleted)
	os.Remove(deleted)

	removed, err := cache.Prune(time.Now())
	if err != nil || removed != 1 {
		t.Errorf("Prune removed %d entries (%v), want the one of the deleted file", removed, err)
	}
	if removed, _ := cache.Prune(time.Now()); removed != 0 {
		t.Errorf("a second Prune within a day removed %d entries", removed)
	}
	files, _ := os.ReadDir(cache.Dir)
	if len(files) != 4 { // one entry of three files, and the marker
		t.Errorf("cache contains %d files, want 4", len(files))
	}
	if removed, _ := cache.Prune(time.Now().Add(maxUnused + 2*pruneEvery)); removed != 1 {
		t.Errorf("Prune a month later removed %d entries, want the unused one", removed)
	}
}

func TestPersistentDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wifi.duckdb")
	cache := &Cache{Dir: t.TempDir()}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	load(t, db, cache, casesDir+"V7_channel_from_frequency.pcap", casesDir+"V8_element_offsets_per_subtype.pcap")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(cache.Dir); err != nil {
		t.Fatal(err)
	}

	// Reopened without loading and without the cache, the tables and views
	// are all there.
	db = openDB(t, path)
	got := queryRows(t, db, `SELECT (SELECT count(*) FROM beacons), (SELECT count(*) FROM packets),
		(SELECT count(*) FROM files), (SELECT max(ssid) FROM packets),
		(SELECT count(*) FROM addresses) = (SELECT count(DISTINCT a) FROM (SELECT unnest([ra, da, ta, sa, staa, bssid]) AS a FROM packets))`)
	if want := []any{int64(4), int64(8), int64(2), "OfficeNet-X", true}; !reflect.DeepEqual(got[0], want) {
		t.Errorf("reopened database: got %v, want %v", got[0], want)
	}
	tables := queryRows(t, db, "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'load%' OR table_name LIKE 'loaded%'")
	if len(tables) != 0 {
		t.Errorf("the database keeps the load tables %v", tables)
	}
}

func TestQueryStatements(t *testing.T) {
	db := openDB(t, "")
	load(t, db, nil, casesDir+"V7_channel_from_frequency.pcap")
	got := queryValue(t, db, `CREATE TABLE five_ghz AS SELECT * FROM packets WHERE frequency > 5000;
		-- a comment; with a semicolon
		SELECT count(*) FROM five_ghz;`)
	if got != int64(2) {
		t.Errorf("got %v, want 2 frames above 5 GHz", got)
	}

	_, err := db.Query(context.Background(), "SELECT nope FROM packets")
	var stmtErr *StatementError
	if !errors.As(err, &stmtErr) || !stmtErr.Invalid() || stmtErr.Statement != "SELECT nope FROM packets" {
		t.Errorf("unknown column: %v, want an invalid statement error naming the statement", err)
	}
	if !strings.Contains(err.Error(), "nope") {
		t.Errorf("error %q does not carry DuckDB's message", err)
	}
	_, err = db.Query(context.Background(), "SELECT 1; SELEC 2")
	if !errors.As(err, &stmtErr) || stmtErr.Statement != "SELEC 2" {
		t.Errorf("syntax error in the second statement: %v", err)
	}
	_, err = db.Query(context.Background(), " -- nothing\n ; ")
	if !errors.Is(err, ErrNoStatement) {
		t.Errorf("empty SQL: %v, want ErrNoStatement", err)
	}
	_, err = db.Query(context.Background(), "SELECT error('boom')")
	if !errors.As(err, &stmtErr) || stmtErr.Invalid() {
		t.Errorf("a failing statement: %v, want a statement error that is not invalid SQL", err)
	}
}

func TestCopyParquet(t *testing.T) {
	db := openDB(t, "")
	load(t, db, nil, casesDir+"V9_ssid_bytes.pcap")
	out := filepath.Join(t.TempDir(), "out.parquet")
	if err := db.CopyParquet(context.Background(), "SELECT ssid_bytes, time FROM packets", out); err != nil {
		t.Fatal(err)
	}
	got := queryRows(t, db, fmt.Sprintf("SELECT count(*), count(DISTINCT ssid_bytes), typeof(any_value(time)) FROM read_parquet(%s)", quoteString(out)))
	if want := []any{int64(6), int64(6), "TIMESTAMP"}; !reflect.DeepEqual(got[0], want) {
		t.Errorf("Parquet file contains %v, want %v", got[0], want)
	}
}

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT ';'; SELECT \"a;b\" FROM t", []string{"SELECT ';'", "SELECT \"a;b\" FROM t"}},
		{"SELECT 'it''s; fine'", []string{"SELECT 'it''s; fine'"}},
		{"SELECT E'a\\';b'; SELECT 2", []string{"SELECT E'a\\';b'", "SELECT 2"}},
		{"SELECT $$a;b$$, $tag$c;d$tag$; SELECT $1", []string{"SELECT $$a;b$$, $tag$c;d$tag$", "SELECT $1"}},
		{"-- only; a comment\n", nil},
		{"/* a; b */ SELECT 1 -- end; here", []string{"/* a; b */ SELECT 1 -- end; here"}},
		{";;  ;", nil},
		{"SELECT 'unterminated;", []string{"SELECT 'unterminated;"}},
	}
	for _, c := range cases {
		if got := SplitStatements(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitStatements(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestValueFormats(t *testing.T) {
	ts := time.Date(2024, 5, 1, 20, 0, 0, 100493000, time.UTC)
	cases := []struct {
		typ  string
		v    any
		want string
	}{
		{"TIMESTAMP", ts, "2024-05-01T20:00:00.100493Z"},
		{"TIMESTAMP", ts.Truncate(time.Millisecond), "2024-05-01T20:00:00.100Z"},
		{"TIMESTAMP_NS", ts.Add(789), "2024-05-01T20:00:00.100493789Z"},
		{"DATE", ts.Truncate(24 * time.Hour), "2024-05-01"},
		{"TIME", ts, "20:00:00.100493"},
		{"BLOB", []byte{0xf0, 0x9f}, "f09f"},
		{"BLOB[]", []any{[]byte{1}, nil}, `["01",null]`},
		{"DOUBLE", 0.5, "0.5"},
		{"INTEGER", nil, ""},
		{"STRUCT(a TIMESTAMP)", map[string]any{"a": ts}, `{"a":"2024-05-01T20:00:00.100493Z"}`},
	}
	for _, c := range cases {
		if got := TextValue(c.typ, c.v); got != c.want {
			t.Errorf("TextValue(%s, %v) = %q, want %q", c.typ, c.v, got, c.want)
		}
	}
}

// columnNames returns the columns of a table or view, sorted.
func columnNames(t *testing.T, db *DB, table string) []string {
	t.Helper()
	var names []string
	for _, row := range queryRows(t, db, fmt.Sprintf("SELECT column_name FROM information_schema.columns WHERE table_name = '%s'", table)) {
		names = append(names, row[0].(string))
	}
	sort.Strings(names)
	return names
}

// TestDocumentedColumns keeps docs/query.md in step with the schema: every
// column of packets, files, addresses, elements and subtypes, and every view
// of one kind of frame, is described there.
func TestDocumentedColumns(t *testing.T) {
	doc, err := os.ReadFile("../docs/query.md")
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, "")
	load(t, db, nil, casesDir+"V7_channel_from_frequency.pcap")
	for _, table := range []string{"packets", "files", "addresses", "elements", "subtypes"} {
		names := columnNames(t, db, table)
		if len(names) == 0 {
			t.Errorf("%s has no columns", table)
		}
		for _, name := range names {
			if !bytes.Contains(doc, []byte("| `"+name+"` |")) {
				t.Errorf("docs/query.md does not describe the column %s.%s", table, name)
			}
		}
	}
	for _, v := range kindViews {
		if !bytes.Contains(doc, []byte("`"+v.name+"`")) {
			t.Errorf("docs/query.md does not name the view %s", v.name)
		}
	}
}

func writeGzip(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
