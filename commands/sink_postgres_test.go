package commands

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// requirePostgres skips the test unless the environment names a server,
// as `. /tmp/wifiq-servers/postgres/env` after scripts/postgres.sh start
// does; WIFIQ_REQUIRE_SERVERS=1 turns the skip into a failure.
func requirePostgres(t *testing.T) *pgx.Conn {
	t.Helper()
	if os.Getenv("PGHOST") == "" {
		if os.Getenv("WIFIQ_REQUIRE_SERVERS") == "1" {
			t.Fatal("PGHOST is not set: run scripts/postgres.sh start and source its env file")
		}
		t.Skip("PGHOST is not set: run scripts/postgres.sh start and source its env file")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "")
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// invokeSinkCLI runs wifiq in process, bounded to two minutes.
func invokeSinkCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &Globals{IO: &IO{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}}
	g.Log = slog.New(slog.NewTextHandler(&errOut, nil))
	root := NewRoot(g, "test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := Run(ctx, root, g, args)
	return cliResult{out.String(), errOut.String(), code}
}

// uniqueTable returns a table name no other run uses and drops the table
// and its stored offsets at the end of the test.
func uniqueTable(t *testing.T, conn *pgx.Conn, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
		conn.Exec(ctx, `DELETE FROM wifiq_offsets WHERE "table" = $1`, name)
	})
	return name
}

func columnTypes(t *testing.T, conn *pgx.Conn, table string) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, pgx.Identifier{table}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error { types[name] = typ; return nil }); err != nil {
		t.Fatal(err)
	}
	return types
}

func countRows(t *testing.T, conn *pgx.Conn, table string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSinkPostgresCaptureTypes(t *testing.T) {
	conn := requirePostgres(t)
	records := invokeCLI(t, nil, "replay-pcap", "-q", corpusDir+"aircrack-ng__wpa.cap")
	if records.code != ExitOK {
		t.Fatalf("replay-pcap: exit %d: %s", records.code, records.stderr)
	}
	table := uniqueTable(t, conn, "frames")

	res := invokeSinkCLI(t, records.stdout, "sink", "postgres", "--table", table)
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}

	lines := int64(strings.Count(records.stdout, "\n"))
	if got := countRows(t, conn, table); got != lines {
		t.Errorf("rows = %d, want %d", got, lines)
	}
	types := columnTypes(t, conn, table)
	for column, want := range map[string]string{
		"timestamp":             "timestamp with time zone",
		"wlan_fc_type_subtype":  "bigint",
		"wlan_radio_signal_dbm": "bigint",
		"wlan_sa":               "text",
		"wlan_tag_oui":          "text[]",
	} {
		if types[column] != want {
			t.Errorf("column %s has type %q, want %q", column, types[column], want)
		}
	}
}

func TestSinkPostgresUpsertIdempotent(t *testing.T) {
	conn := requirePostgres(t)
	table := uniqueTable(t, conn, `odd "name"; drop`)
	input := `{"timestamp":"1700000000000","wlan_sa":["aa:bb"],"Odd \"col\"":["1"],"wlan_ssid":["a","b"],"last_seen":["1700000000500"]}
{"timestamp":"1700000001000","wlan_sa":["cc:dd"],"Odd \"col\"":["2"],"wlan_ssid":["c"],"last_seen":["1700000001500"]}
{"timestamp":"1700000002000","wlan_sa":["aa:bb"],"Odd \"col\"":["3"],"wlan_ssid":["a"],"last_seen":["1700000002500"]}
`
	args := []string{"sink", "postgres", "--table", table, "--pk", "wlan_sa", "--timestamp-fields", "last_seen"}
	for run := 1; run <= 2; run++ {
		res := invokeSinkCLI(t, input, args...)
		if res.code != ExitOK {
			t.Fatalf("run %d: exit %d: %s", run, res.code, res.stderr)
		}
	}

	if got := countRows(t, conn, table); got != 2 {
		t.Errorf("rows = %d, want 2 (one per key)", got)
	}
	var odd int64
	var ssids []string
	var lastSeen time.Time
	err := conn.QueryRow(context.Background(), `SELECT "Odd ""col""", wlan_ssid, last_seen FROM `+pgx.Identifier{table}.Sanitize()+
		` WHERE wlan_sa = 'aa:bb'`).Scan(&odd, &ssids, &lastSeen)
	if err != nil {
		t.Fatal(err)
	}
	if odd != 3 {
		t.Errorf("odd column = %d, want 3 (the last record of the key)", odd)
	}
	if strings.Join(ssids, ",") != "a" {
		t.Errorf("wlan_ssid = %q, want [a]", ssids)
	}
	if lastSeen.UnixMilli() != 1700000002500 {
		t.Errorf("last_seen = %v, want 1700000002500 ms", lastSeen)
	}
}

func TestSinkPostgresNewFieldAddsColumn(t *testing.T) {
	conn := requirePostgres(t)
	table := uniqueTable(t, conn, "evolve")
	first := `{"timestamp":"1700000000000","wlan_sa":["aa"]}` + "\n"
	second := `{"timestamp":"1700000001000","wlan_sa":["bb"],"wlan_radio_frequency":["2437"]}` + "\n"

	for _, input := range []string{first, second} {
		if res := invokeSinkCLI(t, input, "sink", "postgres", "--table", table); res.code != ExitOK {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
	}

	if typ := columnTypes(t, conn, table)["wlan_radio_frequency"]; typ != "bigint" {
		t.Errorf("new column type = %q, want bigint", typ)
	}
	if got := countRows(t, conn, table); got != 2 {
		t.Errorf("rows = %d, want 2", got)
	}
}

func TestSinkPostgresPoisonToDeadLetter(t *testing.T) {
	conn := requirePostgres(t)
	table := uniqueTable(t, conn, "poison")
	deadLetter := filepath.Join(t.TempDir(), "rejected.jsonl")
	// Random letters do not compress, so the key is too large for a btree
	// index entry (at most 2704 bytes) and the server refuses the row.
	random := rand.New(rand.NewPCG(1, 2))
	letters := make([]byte, 10000)
	for i := range letters {
		letters[i] = byte('a' + random.IntN(26))
	}
	huge := string(letters)
	input := `{"timestamp":"1700000000000","wlan_sa":["aa"],"wlan_radio_channel":["6"]}
{"timestamp":"1700000001000","wlan_sa":["bb"],"wlan_radio_channel":["six"]}
{"timestamp":"1700000002000","wlan_sa":["cc","ce"],"wlan_radio_channel":["1"]}
{"timestamp":"1700000003000","wlan_sa":["nul\u0000"],"wlan_radio_channel":["11"]}
{"timestamp":"1700000004000","wlan_sa":["` + huge + `"],"wlan_radio_channel":["11"]}
{"timestamp":"1700000005000","wlan_sa":["dd"],"wlan_radio_channel":["1"]}
`
	// The first batch types the column, so the poison comes in a second one.
	res := invokeSinkCLI(t, input, "sink", "postgres", "--table", table, "--pk", "wlan_sa", "--batch-size", "1", "--dead-letter", deadLetter)

	if res.code != ExitPartial {
		t.Errorf("exit %d, want %d: %s", res.code, ExitPartial, res.stderr)
	}
	if !strings.Contains(res.stderr, "4 records rejected") {
		t.Errorf("stderr lacks the count of rejected records: %s", res.stderr)
	}
	if got := countRows(t, conn, table); got != 2 {
		t.Errorf("rows = %d, want 2", got)
	}
	data, err := os.ReadFile(deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	lines := jsonRows(t, string(data))
	if len(lines) != 4 {
		t.Fatalf("dead letters = %d, want 4: %s", len(lines), data)
	}
	for i, want := range []string{"not a bigint", "2 values", "NUL byte", "rejected by the server"} {
		if reason, _ := lines[i]["reason"].(string); !strings.Contains(reason, want) {
			t.Errorf("dead letter %d reason %q lacks %q", i, reason, want)
		}
	}
}

func TestSinkPostgresRejectsPasswordInDSN(t *testing.T) {
	for _, dsn := range []string{"postgres://u:secret@127.0.0.1/db", "host=127.0.0.1 password=secret"} {
		res := invokeSinkCLI(t, "", "sink", "postgres", "--table", "t", "--dsn", dsn)
		if res.code != ExitUsage {
			t.Errorf("%s: exit %d, want %d", dsn, res.code, ExitUsage)
		}
		if !strings.Contains(res.stderr, "PGPASSWORD") {
			t.Errorf("%s: message lacks the fix: %s", dsn, res.stderr)
		}
		if strings.Contains(res.stderr, "secret") {
			t.Errorf("%s: message shows the password: %s", dsn, res.stderr)
		}
	}
}

// TestSinkPostgresFromKafkaResumes sinks a topic into a table without a
// primary key, three times with records produced in between: the offsets
// stored with the rows make each record land exactly once.
func TestSinkPostgresFromKafkaResumes(t *testing.T) {
	conn := requirePostgres(t)
	brokers := fakeKafka(t, 2, "probes")
	table := uniqueTable(t, conn, "resume")
	lines, times := recordLines(30)
	run := func() {
		t.Helper()
		code, _, stderr := wifiqKafka(t, "", "sink", "postgres", "--table", table, "--from", "kafka:probes", "--brokers", brokers)
		if code != ExitOK {
			t.Fatalf("sink: exit %d\n%s", code, stderr)
		}
	}
	produceValues(t, brokers, "probes", lines[:20], times[:20])
	run()
	run() // nothing new: nothing applied twice
	produceValues(t, brokers, "probes", lines[20:], times[20:])
	run()

	var rows, distinct int
	err := conn.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT wlan_seq) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&rows, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 30 || distinct != 30 {
		t.Errorf("%d rows, %d distinct; want each of the 30 records once", rows, distinct)
	}
}

// The rows of a report, which have no "timestamp", RFC 3339 times and
// nulls, go into a table as they are.
func TestSinkPostgresReportRows(t *testing.T) {
	conn := requirePostgres(t)
	table := uniqueTable(t, conn, "devices")
	records := invokeCLI(t, nil, "replay-pcap", "-q", corpusDir+"aircrack-ng__n-02.cap")
	devices := invokeCLI(t, strings.NewReader(records.stdout), "stats", "devices", "-o", "json")
	if devices.code != ExitOK || !strings.Contains(devices.stdout, `"min_dbm":null`) {
		t.Fatalf("stats devices -o json: exit %d, want rows with null values: %s%s", devices.code, devices.stdout, devices.stderr)
	}
	rows := strings.Count(devices.stdout, "\n")

	res := invokeSinkCLI(t, devices.stdout, "sink", "postgres", "--table", table, "--pk", "device", "--timestamp-fields", "earliest,latest")
	if res.code != ExitOK {
		t.Fatalf("sink postgres: exit %d: %s", res.code, res.stderr)
	}
	ctx := context.Background()
	var count int
	var earliest time.Time
	if err := conn.QueryRow(ctx, "SELECT count(*), min(earliest) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&count, &earliest); err != nil {
		t.Fatal(err)
	}
	if count != rows {
		t.Errorf("%d rows in the table, want the report's %d", count, rows)
	}
	if want := time.Date(2017, 7, 18, 1, 38, 32, 55_000_000, time.UTC); !earliest.Equal(want) {
		t.Errorf("earliest probe request %v, want %v", earliest.UTC(), want)
	}
	var timestampColumns int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.columns WHERE table_name = $1 AND column_name = 'timestamp'", table).Scan(&timestampColumns); err != nil {
		t.Fatal(err)
	}
	if timestampColumns != 0 {
		t.Errorf("the table has a timestamp column, want none for rows without a timestamp")
	}
}

// A field with one value in the first batch and several later turns its
// text column into text[], instead of rejecting the later records.
func TestSinkPostgresColumnBecomesArray(t *testing.T) {
	conn := requirePostgres(t)
	table := uniqueTable(t, conn, "arrays")
	input := `{"timestamp":"1714561200000","wlan_tag_vendor_data":["0050f2"],"wlan_tag_vendor_oui_type":["2"],"wlan_seq":["1"]}` + "\n" +
		`{"timestamp":"1714561200001","wlan_tag_vendor_data":["0050f2","506f9a"],"wlan_tag_vendor_oui_type":["2","4"],"wlan_seq":["2"]}` + "\n"
	res := invokeSinkCLI(t, input, "sink", "postgres", "--table", table, "--batch-size", "1")
	if res.code != ExitOK {
		t.Fatalf("sink postgres: exit %d: %s", res.code, res.stderr)
	}
	ctx := context.Background()
	// A text column and a bigint column, both typed from a first record
	// with one value.
	for _, column := range []string{"wlan_tag_vendor_data", "wlan_tag_vendor_oui_type"} {
		var dataType string
		if err := conn.QueryRow(ctx, "SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = $2", table, column).Scan(&dataType); err != nil {
			t.Fatal(err)
		}
		if dataType != "ARRAY" {
			t.Errorf("%s is %s, want ARRAY", column, dataType)
		}
	}
	var types []string
	if err := conn.QueryRow(ctx, "SELECT array_agg(wlan_tag_vendor_oui_type::text ORDER BY wlan_seq) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&types); err != nil {
		t.Fatal(err)
	}
	if want := []string{"{2}", "{2,4}"}; !slices.Equal(types, want) {
		t.Errorf("wlan_tag_vendor_oui_type %q, want %q", types, want)
	}
	rows, err := conn.Query(ctx, "SELECT wlan_tag_vendor_data FROM "+pgx.Identifier{table}.Sanitize()+" ORDER BY wlan_seq")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for rows.Next() {
		var v []string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"0050f2"}, {"0050f2", "506f9a"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values %v, want %v", got, want)
	}
}

// A record rejected from a topic names its topic, partition and offset in
// the warning and in the dead letter.
func TestSinkPostgresDeadLetterPosition(t *testing.T) {
	conn := requirePostgres(t)
	brokers := fakeKafka(t, 1, "poison")
	table := uniqueTable(t, conn, "position")
	deadLetter := filepath.Join(t.TempDir(), "rejected.jsonl")
	lines := []string{
		`{"timestamp":"1700000000000","wlan_radio_channel":["6"]}`,
		`{"timestamp":"1700000001000","wlan_radio_channel":["six"]}`,
	}
	produceValues(t, brokers, "poison", lines, []int64{1700000000000, 1700000001000})
	code, _, stderr := wifiqKafka(t, "", "sink", "postgres", "--table", table, "--from", "kafka:poison", "--brokers", brokers,
		"--batch-size", "1", "--dead-letter", deadLetter)
	if code != ExitPartial {
		t.Fatalf("exit %d, want %d: %s", code, ExitPartial, stderr)
	}
	if !strings.Contains(stderr, "topic=poison partition=0 offset=1") {
		t.Errorf("the warning does not name the message: %s", stderr)
	}
	data, err := os.ReadFile(deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	rows := jsonRows(t, string(data))
	if len(rows) != 1 || rows[0]["topic"] != "poison" || rows[0]["partition"] != 0.0 || rows[0]["offset"] != 1.0 {
		t.Errorf("dead letters %v, want one with topic poison, partition 0, offset 1", rows)
	}
}

// --retry-for is the time the sink keeps retrying: with waits of 0.5, 1
// and 2 s, a 3 s limit gives four attempts, the last one at the limit.
func TestSinkPostgresRetriesForTheWholeTime(t *testing.T) {
	if testing.Short() {
		t.Skip("retries for 3 seconds; skipped with -short")
	}
	t.Setenv("PGHOST", "127.0.0.1")
	t.Setenv("PGPORT", "1") // nothing listens there
	t.Setenv("PGCONNECT_TIMEOUT", "1")
	input := `{"timestamp":"1700000000000","wlan_sa":["aa"]}` + "\n"
	res := invokeSinkCLI(t, input, "sink", "postgres", "--table", "unreachable", "--retry-for", "3s")
	if res.code == ExitOK {
		t.Fatalf("exit 0 without a server: %s", res.stderr)
	}
	if got := strings.Count(res.stderr, "will retry"); got != 3 {
		t.Errorf("%d retries logged, want 3 (waits of 0.5, 1 and 1.5 s):\n%s", got, res.stderr)
	}
	if !strings.Contains(res.stderr, "after retrying for 3s") {
		t.Errorf("the error does not name the retry time:\n%s", res.stderr)
	}
}
