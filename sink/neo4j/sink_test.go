package neo4j

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/wifiq/wifiq/record"
)

// fakeServer records the transactions a Sink commits and rejects any
// transaction that contains an event whose wlan_seq is listed in bad.
type fakeServer struct {
	bad          map[string]bool
	down         int // transactions that fail with a lost connection first
	transactions [][]map[string]any
	offsets      map[int32]int64
}

func (f *fakeServer) write(ctx context.Context, queries []Query, offsets []offsetRow) error {
	if f.down > 0 {
		f.down--
		return &driver.ConnectivityError{Inner: errors.New("connection refused")}
	}
	var events []map[string]any
	for _, q := range queries {
		for _, e := range q.Params["events"].([]any) {
			event := e.(map[string]any)
			if f.bad[event["wlan_seq"].([]string)[0]] {
				return &recordError{&driver.Neo4jError{Code: "Neo.ClientError.Statement.TypeError", Msg: "bad value"}}
			}
			events = append(events, event)
		}
	}
	f.transactions = append(f.transactions, events)
	if f.offsets == nil {
		f.offsets = map[int32]int64{}
	}
	for _, o := range offsets {
		f.offsets[o.partition] = max(f.offsets[o.partition], o.next)
	}
	return nil
}

func testSink(t *testing.T, f *fakeServer, deadLetter io.Writer) *Sink {
	t.Helper()
	mode, err := CypherMode("CREATE (:Frame {seq: event.wlan_seq[0]})")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return newSink(Options{Mode: mode, DeadLetter: deadLetter, RetryFor: time.Minute}, log, f.write)
}

func seqRecord(seq string) *record.Record {
	return &record.Record{Timestamp: 1714564800000, Fields: []record.Field{{Key: "wlan_seq", Values: []string{seq}}}}
}

func TestFlushWritesOneTransaction(t *testing.T) {
	f := &fakeServer{}
	s := testSink(t, f, nil)
	for i, seq := range []string{"0", "1", "2"} {
		s.Add(seqRecord(seq), &Position{Topic: "t", Partition: 0, Offset: int64(10 + i)})
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.transactions) != 1 || len(f.transactions[0]) != 3 {
		t.Fatalf("transactions %v, want one of 3 events", f.transactions)
	}
	if got := f.offsets[0]; got != 13 {
		t.Errorf("stored offset %d, want 13", got)
	}
	if event := f.transactions[0][1]; event["timestamp"] != int64(1714564800000) {
		t.Errorf("event timestamp %v, want the integer 1714564800000", event["timestamp"])
	}
	if c := s.Counts(); c.Written != 3 || c.Rejected != 0 || c.Transactions != 1 {
		t.Errorf("counts %+v", c)
	}
	if s.Pending() != 0 {
		t.Errorf("%d records still pending after Flush", s.Pending())
	}
}

func TestFlushIsolatesRejectedRecords(t *testing.T) {
	f := &fakeServer{bad: map[string]bool{"1": true, "4": true}}
	var dead bytes.Buffer
	s := testSink(t, f, &dead)
	for i := range 5 {
		s.Add(seqRecord(string(rune('0'+i))), &Position{Topic: "t", Partition: 0, Offset: int64(i)})
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	var written []string
	for _, tx := range f.transactions {
		for _, e := range tx {
			written = append(written, e["wlan_seq"].([]string)[0])
		}
	}
	if got := strings.Join(written, ","); got != "0,2,3" {
		t.Errorf("written %s, want 0,2,3", got)
	}
	if got := f.offsets[0]; got != 5 {
		t.Errorf("stored offset %d, want 5: the trailing rejected record counts as done", got)
	}
	lines := strings.Split(strings.TrimSpace(dead.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("dead letter has %d lines, want 2:\n%s", len(lines), dead.String())
	}
	var first deadLetterLine
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.Reason, "TypeError") {
		t.Errorf("reason %q does not name the server's error", first.Reason)
	}
	if first.Offset == nil || *first.Offset != 1 {
		t.Errorf("dead letter offset %v, want 1", first.Offset)
	}
	if !strings.Contains(string(first.Record), `"wlan_seq":["1"]`) {
		t.Errorf("dead letter record %s, want the record with wlan_seq 1", first.Record)
	}
	if c := s.Counts(); c.Written != 3 || c.Rejected != 2 {
		t.Errorf("counts %+v, want 3 written and 2 rejected", c)
	}
}

func TestFlushRetriesLostConnection(t *testing.T) {
	f := &fakeServer{down: 2}
	s := testSink(t, f, nil)
	s.Add(seqRecord("0"), nil)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.transactions) != 1 {
		t.Errorf("%d transactions committed, want 1 after two failed attempts", len(f.transactions))
	}
	if f.down != 0 {
		t.Errorf("%d failing attempts left, want 0", f.down)
	}
}

func TestFlushGivesUpAfterRetryFor(t *testing.T) {
	f := &fakeServer{down: 1000}
	s := testSink(t, f, nil)
	s.opts.RetryFor = 600 * time.Millisecond
	s.Add(seqRecord("0"), nil)
	err := s.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "after retrying for 600ms") {
		t.Fatalf("Flush returned %v, want a failure after retrying", err)
	}
	if s.Pending() != 1 {
		t.Errorf("%d records pending, want the 1 unwritten record kept", s.Pending())
	}
}

func TestRejectedMessageMovesOffset(t *testing.T) {
	f := &fakeServer{}
	var dead bytes.Buffer
	s := testSink(t, f, &dead)
	s.Add(seqRecord("0"), &Position{Topic: "t", Partition: 1, Offset: 7})
	s.Reject([]byte("not json"), "not a record: invalid JSON", &Position{Topic: "t", Partition: 1, Offset: 8})
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.offsets[1]; got != 9 {
		t.Errorf("stored offset %d, want 9", got)
	}
	if !strings.Contains(dead.String(), `"value":"not json"`) {
		t.Errorf("dead letter %q does not hold the message value", dead.String())
	}
}

func TestProbeEventRejectsBadRecords(t *testing.T) {
	cases := map[string]*record.Record{
		"missing wlan_sa": {Fields: []record.Field{{Key: "wlan_ssid", Values: []string{"x"}}}},
		"invalid wlan_sa": {Fields: []record.Field{{Key: "wlan_sa", Values: []string{"nope"}}}},
		"not a probe":     {Fields: []record.Field{{Key: "wlan_fc_type_subtype", Values: []string{"8"}}, {Key: "wlan_sa", Values: []string{"00:11:22:33:44:55"}}}},
	}
	for want, rec := range cases {
		if _, err := probeEvent(rec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("probeEvent: error %v, want one that says %q", err, want)
		}
	}
}

func TestProbeQueriesGroupPairs(t *testing.T) {
	var events []map[string]any
	for i, ssid := range []string{"home", "home", "", "work"} {
		rec := &record.Record{Timestamp: int64(100 + i), Fields: []record.Field{
			{Key: "wlan_sa", Values: []string{"00:11:22:33:44:55"}},
			{Key: "wlan_ssid", Values: []string{ssid}},
		}}
		e, err := probeEvent(rec)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	queries := probeQueries(events)
	if len(queries) != 2 {
		t.Fatalf("%d queries, want devices and pairs", len(queries))
	}
	devices := queries[0].Params["devices"].([]any)
	if len(devices) != 1 || devices[0].(map[string]any)["last"] != int64(103) {
		t.Errorf("devices %v, want one with last 103", devices)
	}
	pairs := queries[1].Params["pairs"].([]any)
	if len(pairs) != 2 {
		t.Fatalf("pairs %v, want home and work (the wildcard probe has none)", pairs)
	}
	home := pairs[0].(map[string]any)
	if times := home["times"].([]int64); len(times) != 2 || home["first"] != int64(100) || home["last"] != int64(101) {
		t.Errorf("home pair %v, want times 100 and 101", home)
	}
}

func TestResolveConnectionKeepsPasswordOffArgv(t *testing.T) {
	env := map[string]string{"NEO4J_PASSWORD": "from-env", "WIFIQ_NEO4J_URI": "bolt://127.0.0.1:1"}
	c, err := ResolveConnection("", "", "", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.URI != "bolt://127.0.0.1:1" || c.User != "neo4j" || c.Password != "from-env" {
		t.Errorf("connection %+v", c)
	}
	if strings.Contains(c.Describe(), "from-env") {
		t.Errorf("Describe %q shows the password", c.Describe())
	}
	if _, err := ResolveConnection("bolt://neo4j:secret@127.0.0.1:1", "", "", func(string) string { return "x" }); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("URI with a password: error %v, want a rejection that does not repeat it", err)
	}
	if _, err := ResolveConnection("", "", "", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "missing Neo4j password") {
		t.Errorf("no password: error %v", err)
	}
}
