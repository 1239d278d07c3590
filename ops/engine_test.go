package ops

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
)

// aggRecord builds a classic-style record at ts (ms) from key, value
// pairs; a value with commas becomes several values.
func aggRecord(ts int64, pairs ...string) *record.Record {
	rec := &record.Record{Timestamp: ts, Style: capture.StyleClassic}
	for i := 0; i+1 < len(pairs); i += 2 {
		rec.Set(pairs[i], strings.Split(pairs[i+1], ",")...)
	}
	return rec
}

func mustEngine(t *testing.T, q Query) *Engine {
	t.Helper()
	e, err := NewEngine(q)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// aggRows renders rows as "key|window|values" lines for comparison.
func aggRows(rows []Row) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		var b strings.Builder
		for _, k := range r.Key {
			fmt.Fprintf(&b, "%s ", aggText(k))
		}
		if r.Window != (Window{}) {
			fmt.Fprintf(&b, "[%d,%d] ", r.Window.Start, r.Window.End)
		}
		for i, v := range r.Values {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(aggText(v))
		}
		out = append(out, b.String())
	}
	return out
}

func aggText(v Value) string {
	switch v.Kind {
	case KindNull:
		return "NULL"
	case KindList:
		return "[" + strings.Join(v.List, " ") + "]"
	case KindCounts:
		var parts []string
		for _, c := range v.Counts {
			parts = append(parts, fmt.Sprintf("%s:%d", c.Value, c.N))
		}
		return "{" + strings.Join(parts, " ") + "}"
	case KindFloat:
		return fmt.Sprintf("%g", v.Float)
	}
	return v.Text()
}

func TestEachAggregate(t *testing.T) {
	records := []*record.Record{
		aggRecord(1000, "dev", "a", "dbm", "-70", "wlan_ssid", "home", "tags", "1,2"),
		aggRecord(2000, "dev", "a", "dbm", "-9", "wlan_ssid", "", "tags", "2,3"),
		aggRecord(3000, "dev", "a", "wlan_ssid", "cafe"), // no signal: NULL for the dBm aggregates
		aggRecord(4000, "dev", "a", "dbm", "-70", "wlan_ssid", "home"),
		aggRecord(500, "dev", "b", "dbm", "x"), // not a number: NULL
	}
	dbm := FieldInt("dbm")
	tests := []struct {
		agg  Aggregate
		want []string // rows of a, then b
	}{
		{Aggregate{Func: Count}, []string{"a 4", "b 1"}},
		{Aggregate{Func: Count, Arg: dbm}, []string{"a 3", "b 0"}},
		{Aggregate{Func: Min, Arg: dbm}, []string{"a -70", "b NULL"}},
		{Aggregate{Func: Max, Arg: dbm}, []string{"a -9", "b NULL"}},
		{Aggregate{Func: Min, Arg: Field("wlan_ssid")}, []string{"a ", "b NULL"}},
		{Aggregate{Func: Max, Arg: Field("wlan_ssid")}, []string{"a home", "b NULL"}},
		{Aggregate{Func: Min, Arg: EventTime()}, []string{"a 1000", "b 500"}},
		{Aggregate{Func: Avg, Arg: dbm}, []string{"a -49.666666666666664", "b NULL"}},
		{Aggregate{Func: CollectSet, Arg: DirectedSSID()}, []string{"a [cafe home]", "b []"}},
		{Aggregate{Func: CollectSet, Arg: dbm}, []string{"a [-70 -9]", "b []"}},
		{Aggregate{Func: CollectSet, Arg: FieldValues("tags")}, []string{"a [1 2 3]", "b []"}},
		{Aggregate{Func: CountDistinct, Arg: Field("wlan_ssid")}, []string{"a 3", "b 0"}},
		{Aggregate{Func: CountDistinct, Arg: FieldValues("tags")}, []string{"a 3", "b 0"}},
		{Aggregate{Func: Histogram, Arg: dbm}, []string{"a {-70:2 -9:1}", "b NULL"}},
		{Aggregate{Func: LatestByOffset, Arg: dbm}, []string{"a -70", "b NULL"}},
		{Aggregate{Func: LatestByOffset, Arg: Field("wlan_ssid")}, []string{"a home", "b NULL"}},
		{Aggregate{Func: EarliestByOffset, Arg: Field("wlan_ssid")}, []string{"a home", "b NULL"}},
		{Aggregate{Func: EarliestByOffset, Arg: EventTime()}, []string{"a 1000", "b 500"}},
	}
	for _, tt := range tests {
		name := tt.agg.Func.String()
		if tt.agg.hasArg() {
			name += "(" + tt.agg.Arg.Name + ")"
		}
		t.Run(name, func(t *testing.T) {
			tt.agg.Name = "value"
			e := mustEngine(t, Query{GroupBy: []Expr{Field("dev")}, Aggregates: []Aggregate{tt.agg}})
			for _, rec := range records {
				e.Add(rec)
			}
			if got := aggRows(e.Rows()); !slices.Equal(got, tt.want) {
				t.Errorf("rows %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAggregateKinds checks the kinds of results, which reports print.
func TestAggregateKinds(t *testing.T) {
	e := mustEngine(t, Query{Aggregates: []Aggregate{
		{Name: "n", Func: Count},
		{Name: "avg", Func: Avg, Arg: FieldInt("x")},
		{Name: "set", Func: CollectSet, Arg: Field("s")},
		{Name: "h", Func: Histogram, Arg: Field("s")},
		{Name: "rnd", Func: LatestByOffset, Arg: Randomised()},
	}})
	e.Add(aggRecord(1, "x", "3", "s", "q", "wlan_sa", "da:a1:19:00:00:01"))
	rows := e.Rows()
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	want := []Kind{KindInt, KindFloat, KindList, KindCounts, KindBool}
	for i, v := range rows[0].Values {
		if v.Kind != want[i] {
			t.Errorf("column %d is a %v, want a %v", i, v.Kind, want[i])
		}
	}
	if !rows[0].Get("rnd").Bool() {
		t.Errorf("da:a1:19:00:00:01 is not randomised, want true: 0xda has bit 0x02 set")
	}
}

func TestIntAverageOverflowsToFloat(t *testing.T) {
	e := mustEngine(t, Query{Aggregates: []Aggregate{{Name: "avg", Func: Avg, Arg: FieldInt("x")}}})
	for _, x := range []string{"9223372036854775807", "9223372036854775807", "-2"} {
		e.Add(aggRecord(1, "x", x))
	}
	got := e.Rows()[0].Values[0].Float
	if want := (2*9223372036854775807.0 - 2) / 3; got != want {
		t.Errorf("avg %g, want %g", got, want)
	}
}

func TestSetsStayExactBeyondSmallSize(t *testing.T) {
	e := mustEngine(t, Query{Aggregates: []Aggregate{
		{Name: "distinct", Func: CountDistinct, Arg: Field("v")},
		{Name: "set", Func: CollectSet, Arg: Field("v")},
		{Name: "h", Func: Histogram, Arg: Field("v")},
	}})
	for i := range 1000 {
		e.Add(aggRecord(int64(i), "v", fmt.Sprint(i%300)))
	}
	r := e.Rows()[0]
	if n := r.Values[0].Int; n != 300 {
		t.Errorf("COUNT_DISTINCT %d, want 300", n)
	}
	if set := r.Values[1].List; len(set) != 300 || set[0] != "0" || set[299] != "299" || set[10] != "10" {
		t.Errorf("COLLECT_SET has %d members from %q to %q, want 0 to 299 in numeric order", len(set), set[0], set[len(set)-1])
	}
	if h := r.Values[2].Counts; len(h) != 300 || h[0] != (Bucket{"0", 4}) || h[299] != (Bucket{"299", 3}) {
		t.Errorf("HISTOGRAM has %d buckets, first %v, last %v; want 300, 0:4 and 299:3", len(h), h[0], h[len(h)-1])
	}
}

func TestHavingAndRowGet(t *testing.T) {
	e := mustEngine(t, Query{
		GroupBy:    []Expr{Field("dev")},
		Aggregates: []Aggregate{{Name: "probes", Func: Count}},
		Having:     func(r Row) bool { return r.Get("probes").Int > 1 && r.Get("dev").Str != "c" },
	})
	for _, dev := range []string{"a", "a", "b", "c", "c"} {
		e.Add(aggRecord(1, "dev", dev))
	}
	if got := aggRows(e.Rows()); !slices.Equal(got, []string{"a 2"}) {
		t.Errorf("rows %q, want only a: b has one probe, c is left out by name", got)
	}
	if v := e.Rows()[0].Get("nope"); !v.IsNull() {
		t.Errorf("Get of an unknown column = %v, want NULL", v)
	}
}

func TestWhereAndNullKeys(t *testing.T) {
	e := mustEngine(t, Query{
		Where:      IsProbeRequest,
		GroupBy:    []Expr{Field("wlan_sa"), FieldValues("wlan_tag_oui")},
		Aggregates: []Aggregate{{Name: "n", Func: Count}},
	})
	e.Add(aggRecord(1, "wlan_fc_type_subtype", "4", "wlan_sa", "b", "wlan_tag_oui", "1,2"))
	e.Add(aggRecord(2, "wlan_fc_type_subtype", "0x0004", "wlan_sa", "b", "wlan_tag_oui", "1,2"))
	e.Add(aggRecord(3, "wlan_fc_type_subtype", "4", "wlan_sa", "b", "wlan_tag_oui", "1"))
	e.Add(aggRecord(4, "wlan_fc_type_subtype", "4"))
	e.Add(aggRecord(5, "wlan_fc_type_subtype", "8", "wlan_sa", "b"))
	want := []string{"NULL NULL 1", "b [1] 1", "b [1 2] 2"}
	if got := aggRows(e.Rows()); !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q (NULL keys first, beacons left out)", got, want)
	}
}

func TestNewEngineRejects(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"no aggregates", Query{}, "no aggregates"},
		{"AVG of a string", Query{Aggregates: []Aggregate{{Name: "a", Func: Avg, Arg: Field("x")}}}, "AVG takes a number"},
		{"MIN of a list", Query{Aggregates: []Aggregate{{Name: "m", Func: Min, Arg: FieldValues("x")}}}, "not the list"},
		{"MAX without argument", Query{Aggregates: []Aggregate{{Name: "m", Func: Max}}}, "needs an argument"},
		{"hop not a fraction", Query{Window: Hopping{Size: time.Hour, Advance: 25 * time.Minute}, Aggregates: []Aggregate{{Name: "n", Func: Count}}}, "whole multiple"},
		{"too many hops", Query{Window: Hopping{Size: 24 * time.Hour, Advance: time.Minute}, Aggregates: []Aggregate{{Name: "n", Func: Count}}}, "1440 windows"},
		{"negative gap", Query{Window: Session{Gap: -time.Second}, Aggregates: []Aggregate{{Name: "n", Func: Count}}}, "invalid session gap"},
	}
	for _, tt := range tests {
		if _, err := NewEngine(tt.q); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

func countQuery(w WindowSpec) Query {
	return Query{Window: w, Aggregates: []Aggregate{{Name: "n", Func: Count}}}
}

func TestTumblingWindowEdges(t *testing.T) {
	e := mustEngine(t, countQuery(Tumbling{Size: time.Hour}))
	hour := int64(3_600_000)
	for _, ts := range []int64{10 * hour, 11*hour - 1, 11 * hour, 11*hour + 1, 12*hour - 1} {
		e.Add(aggRecord(ts))
	}
	want := []string{
		fmt.Sprintf("[%d,%d] 2", 10*hour, 11*hour),
		fmt.Sprintf("[%d,%d] 3", 11*hour, 12*hour),
	}
	if got := aggRows(e.Rows()); !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q: a record at a window's end belongs to the next", got, want)
	}
}

func TestHoppingWindowEdges(t *testing.T) {
	e := mustEngine(t, countQuery(Hopping{Size: time.Hour, Advance: 15 * time.Minute}))
	quarter := int64(900_000)
	e.Add(aggRecord(4 * quarter))   // exactly on a hop: in the windows starting at 1, 2, 3 and 4 quarters
	e.Add(aggRecord(5*quarter - 1)) // just before the next hop: the same four windows
	want := []string{
		fmt.Sprintf("[%d,%d] 2", 1*quarter, 5*quarter),
		fmt.Sprintf("[%d,%d] 2", 2*quarter, 6*quarter),
		fmt.Sprintf("[%d,%d] 2", 3*quarter, 7*quarter),
		fmt.Sprintf("[%d,%d] 2", 4*quarter, 8*quarter),
	}
	if got := aggRows(e.Rows()); !slices.Equal(got, want) {
		t.Errorf("rows\n%q\nwant\n%q", got, want)
	}
}

// TestDayWindowsAcrossDSTInBerlin counts records per calendar day in
// Berlin over both clock changes of 2024, with records on the edges.
func TestDayWindowsAcrossDSTInBerlin(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	e := mustEngine(t, Query{
		GroupBy:    []Expr{Day(berlin)},
		Window:     Tumbling{Size: 24 * time.Hour, Location: berlin},
		Aggregates: []Aggregate{{Name: "n", Func: Count}},
	})
	for _, at := range []string{
		"2024-03-30T22:59:59.999Z", // 23:59:59.999 on 30 March, CET
		"2024-03-30T23:00:00Z",     // midnight: 31 March starts
		"2024-03-31T01:30:00Z",     // 03:30 CEST, after the clocks went forward
		"2024-03-31T21:59:59.999Z", // the last instant of the 23-hour day
		"2024-03-31T22:00:00Z",     // 1 April
		"2024-10-26T22:00:00Z",     // midnight: 27 October starts
		"2024-10-27T00:30:00Z",     // 02:30 CEST
		"2024-10-27T01:30:00Z",     // 02:30 CET, the hour that comes twice
		"2024-10-27T22:59:59.999Z", // the last instant of the 25-hour day
		"2024-10-27T23:00:00Z",     // 28 October
	} {
		e.Add(aggRecord(ms(at)))
	}
	want := []string{
		fmt.Sprintf("2024-03-30 [%d,%d] 1", ms("2024-03-29T23:00:00Z"), ms("2024-03-30T23:00:00Z")),
		fmt.Sprintf("2024-03-31 [%d,%d] 3", ms("2024-03-30T23:00:00Z"), ms("2024-03-31T22:00:00Z")),
		fmt.Sprintf("2024-04-01 [%d,%d] 1", ms("2024-03-31T22:00:00Z"), ms("2024-04-01T22:00:00Z")),
		fmt.Sprintf("2024-10-27 [%d,%d] 4", ms("2024-10-26T22:00:00Z"), ms("2024-10-27T23:00:00Z")),
		fmt.Sprintf("2024-10-28 [%d,%d] 1", ms("2024-10-27T23:00:00Z"), ms("2024-10-28T23:00:00Z")),
	}
	if got := aggRows(e.Rows()); !slices.Equal(got, want) {
		t.Errorf("rows\n%q\nwant\n%q", got, want)
	}
}

// TestHoppingDaysAcrossDSTInBerlin checks that day windows hopping by 12
// hours run from local midnight or noon to the same local time a day later.
func TestHoppingDaysAcrossDSTInBerlin(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	e := mustEngine(t, countQuery(Hopping{Size: 24 * time.Hour, Advance: 12 * time.Hour, Location: berlin}))
	e.Add(aggRecord(ms("2024-03-31T08:00:00Z"))) // 10:00 CEST on the 23-hour day
	want := []string{
		fmt.Sprintf("[%d,%d] 1", ms("2024-03-30T11:00:00Z"), ms("2024-03-31T10:00:00Z")), // noon CET to noon CEST: 23 hours
		fmt.Sprintf("[%d,%d] 1", ms("2024-03-30T23:00:00Z"), ms("2024-03-31T22:00:00Z")), // the local day
	}
	if got := aggRows(e.Rows()); !slices.Equal(got, want) {
		t.Errorf("rows\n%q\nwant\n%q", got, want)
	}
}

func sessionQuery(gap time.Duration) Query {
	return Query{
		GroupBy: []Expr{Field("k")},
		Window:  Session{Gap: gap},
		Aggregates: []Aggregate{
			{Name: "n", Func: Count},
			{Name: "macs", Func: CollectSet, Arg: Field("sa")},
		},
	}
}

func TestSessionGapIsInclusive(t *testing.T) {
	e := mustEngine(t, sessionQuery(5*time.Minute))
	gap := int64(300_000)
	e.Add(aggRecord(0, "k", "a", "sa", "1"))
	e.Add(aggRecord(gap, "k", "a", "sa", "2"))     // exactly the gap: same session
	e.Add(aggRecord(3*gap+1, "k", "a", "sa", "3")) // more than the gap after: new session
	e.Add(aggRecord(3*gap+1, "k", "b", "sa", "4")) // another key: its own session
	want := []string{
		fmt.Sprintf("a [0,%d] 2 [1 2]", gap),
		fmt.Sprintf("a [%d,%d] 1 [3]", 3*gap+1, 3*gap+1),
		fmt.Sprintf("b [%d,%d] 1 [4]", 3*gap+1, 3*gap+1),
	}
	if got := aggRows(e.Rows()); !slices.Equal(got, want) {
		t.Errorf("rows\n%q\nwant\n%q", got, want)
	}
}

// TestSessionMergedByLateRecord: two sessions ten minutes apart, then a
// record between them that is within the gap of both joins them.
func TestSessionMergedByLateRecord(t *testing.T) {
	e := mustEngine(t, sessionQuery(5*time.Minute))
	e.TrackChanges()
	minute := int64(60_000)
	e.Add(aggRecord(0, "k", "a", "sa", "1"))
	e.Add(aggRecord(2*minute, "k", "a", "sa", "2"))
	e.Add(aggRecord(10*minute, "k", "a", "sa", "3"))
	e.Add(aggRecord(12*minute, "k", "a", "sa", "4"))
	before := aggRows(e.Rows())
	if len(before) != 2 {
		t.Fatalf("before the late record: %q, want two sessions", before)
	}
	first := e.Changes()
	if len(first) != 2 || first[0].Deleted || first[1].Deleted {
		t.Fatalf("changes before the late record: %v, want two rows", aggChanges(first))
	}

	e.Add(aggRecord(6*minute, "k", "a", "sa", "5")) // 4 minutes after the first session, 4 before the second
	want := []string{fmt.Sprintf("a [0,%d] 5 [1 2 3 4 5]", 12*minute)}
	if got := aggRows(e.Rows()); !slices.Equal(got, want) {
		t.Errorf("after the late record: %q, want %q", got, want)
	}
	if n := e.Groups(); n != 1 {
		t.Errorf("%d groups held, want 1", n)
	}
	changes := aggChanges(e.Changes())
	wantChanges := []string{
		fmt.Sprintf("delete a [%d,%d]", 10*minute, 12*minute), // merged away
		fmt.Sprintf("delete a [0,%d]", 2*minute),              // its bounds moved
		fmt.Sprintf("upsert a [0,%d] 5 [1 2 3 4 5]", 12*minute),
	}
	if !slices.Equal(changes, wantChanges) {
		t.Errorf("changelog\n%q\nwant\n%q", changes, wantChanges)
	}
}

func aggChanges(changes []Change) []string {
	var out []string
	for _, c := range changes {
		verb := "upsert "
		if c.Deleted {
			verb = "delete "
		}
		out = append(out, strings.TrimSpace(verb+aggRows([]Row{c.Row})[0]))
	}
	return out
}

// TestSessionsDoNotDependOnOrder adds the same records in time order and
// shuffled: every session and aggregate (the order-free ones) must match.
func TestSessionsDoNotDependOnOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var records []*record.Record
	ts := int64(0)
	for range 2000 {
		ts += rng.Int64N(200_000) // pauses up to 200 s against a 100 s gap
		records = append(records, aggRecord(ts, "k", fmt.Sprint(rng.IntN(3)), "sa", fmt.Sprint(rng.IntN(50)), "dbm", fmt.Sprint(-30-rng.IntN(60))))
	}

	q := Query{
		GroupBy: []Expr{Field("k")},
		Window:  Session{Gap: 100 * time.Second},
		Aggregates: []Aggregate{
			{Name: "n", Func: Count},
			{Name: "macs", Func: CountDistinct, Arg: Field("sa")},
			{Name: "set", Func: CollectSet, Arg: Field("sa")},
			{Name: "min", Func: Min, Arg: FieldInt("dbm")},
			{Name: "max", Func: Max, Arg: FieldInt("dbm")},
			{Name: "avg", Func: Avg, Arg: FieldInt("dbm")},
			{Name: "h", Func: Histogram, Arg: FieldInt("dbm")},
		},
	}
	inOrder := mustEngine(t, q)
	for _, rec := range records {
		inOrder.Add(rec)
	}
	shuffled := mustEngine(t, q)
	for _, i := range rng.Perm(len(records)) {
		shuffled.Add(records[i])
	}

	want, got := aggRows(inOrder.Flush()), aggRows(shuffled.Flush())
	if len(want) < 20 {
		t.Fatalf("only %d sessions; the test needs many", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("first difference at row %d:\n got %s\nwant %s", i, got[i], want[i])
				break
			}
		}
		t.Errorf("%d sessions shuffled, %d in order", len(got), len(want))
	}
}

// TestSourcesHoldStreamTime checks the stream time of AddFrom: the
// smallest of the sources' latest event times, held back by a source that
// WaitForSource names until its first record, and released by
// RemoveSource. It survives Encode and Decode.
func TestSourcesHoldStreamTime(t *testing.T) {
	minute := int64(60_000)
	e := mustEngine(t, countQuery(Tumbling{Size: time.Minute}))
	e.SetGrace(10 * time.Second)
	e.WaitForSource(1)
	for _, ts := range []int64{0, 5 * minute, 10 * minute} {
		e.AddFrom(aggRecord(ts), 0) // source 0 reads far ahead
	}
	if _, started := e.StreamTime(); started {
		t.Error("the stream time started before the waiting source's first record")
	}
	if !e.AddFrom(aggRecord(30_000), 1) {
		t.Error("source 1's first record, 9.5 minutes behind source 0, was dropped as late")
	}
	if st, _ := e.StreamTime(); st != 30_000 {
		t.Errorf("stream time %d, want 30000, source 1's latest", st)
	}
	if closed := e.CloseExpired(); len(closed) != 0 {
		t.Errorf("closed %q while source 1 is at 30 s", aggRows(closed))
	}

	var snapshot bytes.Buffer
	if err := e.Encode(&snapshot); err != nil {
		t.Fatal(err)
	}
	restored := mustEngine(t, countQuery(Tumbling{Size: time.Minute}))
	if err := restored.Decode(&snapshot); err != nil {
		t.Fatal(err)
	}
	restored.SetGrace(10 * time.Second)
	restored.RemoveSource(1)
	if st, _ := restored.StreamTime(); st != 10*minute {
		t.Errorf("stream time %d after source 1 left, want %d, source 0's latest", st, 10*minute)
	}
	if restored.AddFrom(aggRecord(minute+5_000), 1) {
		t.Error("a record of a closed window was added after source 1 came back")
	}
	if n := restored.Late(); n != 1 {
		t.Errorf("%d late records, want 1", n)
	}
}

func TestGraceDropsLateRecordsAndCloses(t *testing.T) {
	e := mustEngine(t, countQuery(Tumbling{Size: time.Minute}))
	e.SetGrace(10 * time.Second)
	minute := int64(60_000)
	for _, ts := range []int64{0, 30_000, minute + 5_000} {
		e.Add(aggRecord(ts))
	}
	if !e.Add(aggRecord(50_000)) {
		t.Errorf("a record 15 s behind, within the grace period, was dropped")
	}

	if closed := e.CloseExpired(); len(closed) != 0 {
		t.Errorf("closed %q at stream time 65 s; the first window closes at 70 s", aggRows(closed))
	}
	e.Add(aggRecord(minute + 10_000)) // stream time 70 s: [0, 60 s) closes
	if e.Add(aggRecord(59_999)) {
		t.Errorf("a record for the closed window was added")
	}
	if n := e.Late(); n != 1 {
		t.Errorf("%d late records, want 1", n)
	}

	closed := aggRows(e.CloseExpired())
	if want := []string{fmt.Sprintf("[0,%d] 3", minute)}; !slices.Equal(closed, want) {
		t.Errorf("closed %q, want %q", closed, want)
	}
	if n := e.Groups(); n != 1 {
		t.Errorf("%d groups held after closing, want the open one", n)
	}
	rest := aggRows(e.Flush())
	if want := []string{fmt.Sprintf("[%d,%d] 2", minute, 2*minute)}; !slices.Equal(rest, want) {
		t.Errorf("flushed %q, want %q", rest, want)
	}
}

func TestSessionGraceCloses(t *testing.T) {
	e := mustEngine(t, sessionQuery(time.Minute))
	e.SetGrace(5 * time.Second)
	e.Add(aggRecord(1000, "k", "a"))
	e.Add(aggRecord(66_000, "k", "b"))
	if closed := e.CloseExpired(); len(closed) != 0 {
		t.Errorf("closed %q at 66 s; a's session can grow until 61 s plus 5 s of grace", aggRows(closed))
	}
	if !e.Add(aggRecord(61_000, "k", "a")) {
		t.Errorf("a record within the grace period was dropped")
	}
	e.Add(aggRecord(126_001, "k", "b"))
	closed := aggRows(e.CloseExpired())
	if want := []string{"a [1000,61000] 2 []"}; !slices.Equal(closed, want) {
		t.Errorf("closed %q, want %q", closed, want)
	}
	if e.Add(aggRecord(121_000, "k", "a")) {
		t.Errorf("a record older than the grace period, which a's closed session might take, was added")
	}
	if n := e.Late(); n != 1 {
		t.Errorf("%d late records, want 1", n)
	}
}

func TestChangesFollowHaving(t *testing.T) {
	e := mustEngine(t, Query{
		GroupBy:    []Expr{Field("k")},
		Aggregates: []Aggregate{{Name: "n", Func: Count}, {Name: "last", Func: LatestByOffset, Arg: Field("v")}},
		Having:     func(r Row) bool { return r.Get("last").Str != "hide" },
	})
	e.TrackChanges()
	e.Add(aggRecord(1, "k", "a", "v", "show"))
	e.Add(aggRecord(2, "k", "a", "v", "again"))
	if got := aggChanges(e.Changes()); !slices.Equal(got, []string{"upsert a 2 again"}) {
		t.Errorf("changes %q: want one upsert with the latest state", got)
	}
	e.Add(aggRecord(3, "k", "a", "v", "hide"))
	if got := aggChanges(e.Changes()); !slices.Equal(got, []string{"delete a"}) {
		t.Errorf("changes %q: want a tombstone once HAVING fails", got)
	}
	if got := e.Changes(); len(got) != 0 {
		t.Errorf("changes %q without new records, want none", aggChanges(got))
	}
}

func TestKeyEncodingRoundTrip(t *testing.T) {
	values := []Value{Null, StringValue(""), StringValue("a\x00b"), IntValue(-5), IntValue(1 << 60), FloatValue(-0.25),
		BoolValue(true), BoolValue(false), ListValue(nil), ListValue([]string{"", "x", "yz"})}
	var key []byte
	for _, v := range values {
		key = appendKey(key, v)
	}
	got := decodeKey(string(key), len(values))
	for i := range values {
		if Compare(got[i], values[i]) != 0 || got[i].Kind != values[i].Kind {
			t.Errorf("value %d: %+v came back as %+v", i, values[i], got[i])
		}
	}
	// A list of two items must not encode like two strings.
	a := appendKey(nil, ListValue([]string{"a", "b"}))
	b := appendKey(appendKey(nil, StringValue("a")), StringValue("b"))
	if string(a) == string(b) {
		t.Errorf("a list and two strings encode alike")
	}
}

func TestExpressions(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	classic := aggRecord(ms("2024-03-30T23:30:00Z"), "wlan_ta", "02:00:00:00:00:01", "wlan_ssid", `caf\xc3`,
		"wlan_tag_vendor_data", "02:00:00:10:00:00", "wlan_fc_type_subtype", "4")
	tshark := aggRecord(ms("2024-03-30T23:30:00Z"), "wlan_sa", "00:11:22:33:44:55", "wlan_sa_resolved", "Cimsys_33:44:55",
		"wlan_ssid", "636166c3,<MISSING>", "wlan_tag_vendor_data", "020000100000", "wlan_fc_type_subtype", "0x0004")
	tshark.Style = capture.StyleTshark
	tests := []struct {
		expr Expr
		rec  *record.Record
		want string
	}{
		{SourceAddress(), classic, "02:00:00:00:00:01"},
		{Randomised(), classic, "true"},
		{Randomised(), tshark, "false"},
		{Randomised(), aggRecord(1, "wlan_sa", "zz"), "NULL"},
		{SourceDevice("device_name"), tshark, "Cimsys_33:44:55"},
		{SourceDevice("device_name"), aggRecord(1, "device_name", "kitchen tablet", "wlan_sa", "x"), "kitchen tablet"},
		{SourceDevice(""), classic, "02:00:00:00:00:01"},
		{SSID(), classic, `caf\xc3`},
		{SSID(), tshark, `caf\xc3`},
		{SSIDs(), tshark, `[caf\xc3 ]`},
		{DirectedSSID(), aggRecord(1, "wlan_ssid", ""), "NULL"},
		{VendorData(), classic, "[02:00:00:10:00:00]"},
		{VendorData(), tshark, "[02:00:00:10:00:00]"},
		{TypeSubtype(), tshark, "4"},
		{Day(berlin), classic, "2024-03-31"},
		{Day(nil), classic, "2024-03-30"},
		{When(Randomised(), SourceAddress()), tshark, "NULL"},
		{LengthWithoutSSID(), aggRecord(1, "frame_len", "100", "wlan_ssid", `ab\x00`), "97"},
		{ElementLengths(), aggRecord(1, "wlan_tag_number", "0,1,221", "wlan_tag_length", "5,8,7"), "[0 1/8 221/7]"},
		{ElementLengths(), aggRecord(1, "wlan_tag_number", "0,1", "wlan_tag_length", "5"), "NULL"},
	}
	for _, tt := range tests {
		if got := aggText(tt.expr.Eval(tt.rec)); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.expr.Name, got, tt.want)
		}
	}
}

// TestSharedArgumentsAndSets checks that an argument several aggregates
// take is evaluated once, and that COUNT_DISTINCT counts the set of a
// COLLECT_SET over the same argument, also across a session merge.
func TestSharedArgumentsAndSets(t *testing.T) {
	e := mustEngine(t, FingerprintQuery(Signatures()[0], time.Minute, 1))
	if n := len(e.argExprs); n != 3 {
		t.Errorf("%d distinct arguments, want 3: the source address, the event time and the signal", n)
	}
	if p := e.plans[1]; p.op != opSharedDistinct || p.shared != 2 {
		t.Errorf("macs is planned as %+v, want the set of mac_list", p)
	}
	probe := func(ts int64, sa string) *record.Record {
		return aggRecord(ts, "wlan_fc_type_subtype", "4", "wlan_sa", sa, "wlan_radio_signal_dbm", "-50")
	}
	e.Add(probe(0, "02:00:00:00:00:01"))
	e.Add(probe(120_000, "02:00:00:00:00:02"))
	e.Add(probe(60_000, "02:00:00:00:00:03")) // joins the two sessions
	rows := e.Rows()
	if len(rows) != 1 || rows[0].Get("macs").Int != 3 || len(rows[0].Get("mac_list").List) != 3 {
		t.Errorf("rows %q, want one session with 3 addresses", aggRows(rows))
	}
}

// TestTumblingOffsetPartitionsTime checks windows moved by an offset, which
// hopping windows are made of: they hold their event, touch each other and
// start at the offset's local time or where the clocks change.
func TestTumblingOffsetPartitionsTime(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, w := range []Tumbling{
		{Size: 24 * time.Hour, Offset: 6 * time.Hour, Location: berlin},
		{Size: 2 * time.Hour, Offset: 30 * time.Minute, Location: berlin},
		{Size: 24 * time.Hour, Offset: 6 * time.Hour},
	} {
		for _, day := range []string{"2024-03-30T00:00:00Z", "2024-10-26T00:00:00Z"} {
			from := ms(day)
			for ts := from; ts < from+3*86_400_000; ts += 60_000 {
				win := w.Of(ts)
				if win.Start > ts || ts >= win.End {
					t.Fatalf("%+v: window [%d, %d) does not hold %d", w, win.Start, win.End, ts)
				}
				if next := w.Of(win.End); next.Start != win.End {
					t.Fatalf("%+v: window after [%d, %d) starts at %d", w, win.Start, win.End, next.Start)
				}
				loc := w.Location
				if loc == nil {
					loc = time.UTC
				}
				// A window starts at a multiple of the size after the offset,
				// local time, or where the clocks change.
				start := time.UnixMilli(win.Start).In(loc)
				_, offsetBefore := start.Add(-time.Millisecond).Zone()
				_, offsetAt := start.Zone()
				sinceMidnight := time.Duration(start.Hour())*time.Hour + time.Duration(start.Minute())*time.Minute
				if (sinceMidnight-w.Offset)%w.Size != 0 && offsetBefore == offsetAt {
					t.Fatalf("%+v: window starts at %s, not at a multiple of the size after the offset", w, start)
				}
			}
		}
	}
}

// TestHistogramKeepsNoRecordMemory checks a string HISTOGRAM with more
// values than its small form holds, fed by a record.Reader, which reuses
// the memory of its records: every bucket must keep its own value.
func TestHistogramKeepsNoRecordMemory(t *testing.T) {
	var lines strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&lines, `{"timestamp":"%d","v":["value-%d"]}`+"\n", 1714521600000+i, i%300)
	}
	e := mustEngine(t, Query{Aggregates: []Aggregate{{Name: "h", Func: Histogram, Arg: Field("v")}}})
	r := record.NewReader(strings.NewReader(lines.String()), "test")
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		e.Add(rec)
	}
	h := e.Rows()[0].Values[0].Counts
	if len(h) != 300 {
		t.Fatalf("HISTOGRAM has %d buckets, want 300", len(h))
	}
	for _, b := range h {
		var n int
		if _, err := fmt.Sscanf(b.Value, "value-%d", &n); err != nil {
			t.Fatalf("bucket value %q is not one of the input's", b.Value)
		}
		if want := int64(3); n >= 1000%300 {
			if b.N != want {
				t.Errorf("bucket %q counts %d, want %d", b.Value, b.N, want)
			}
		} else if b.N != want+1 {
			t.Errorf("bucket %q counts %d, want %d", b.Value, b.N, want+1)
		}
	}
}

// TestBatchedEngineMatchesRecordAtATime feeds the same records to two
// engines with more groups than batchMinGroups, so that Add queues updates.
// One engine's changelog is read after every record, which flushes the
// queued updates each time, and the other's only now and then. The rows,
// the groups and the late records must agree.
func TestBatchedEngineMatchesRecordAtATime(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	query := DeviceQuery("device_name", Tumbling{Size: 20 * time.Minute})
	stepwise, batched := mustEngine(t, query), mustEngine(t, query)
	for _, e := range []*Engine{stepwise, batched} {
		e.SetGrace(30 * time.Second)
		e.TrackChanges()
	}
	for i := range 36_000 {
		ts := 1714521600000 + int64(i)*50 - rng.Int64N(60_000) // some late
		dev := fmt.Sprintf("02:00:00:%02x:%02x:00", rng.IntN(80), rng.IntN(256))
		rec := aggRecord(ts, "wlan_fc_type_subtype", "4", "wlan_sa", dev,
			"wlan_radio_signal_dbm", fmt.Sprint(-40-rng.IntN(50)), "wlan_ssid", fmt.Sprintf("net-%d", rng.IntN(70)),
			"wlan_da", fmt.Sprintf("ff:ff:ff:ff:ff:%02x", rng.IntN(3)))
		if a, b := stepwise.Add(rec), batched.Add(rec); a != b {
			t.Fatalf("record %d: Add returned %v and %v", i, a, b)
		}
		stepwise.Changes()
		if i%5000 == 2499 { // not after the last record, which stays queued
			stepwise.CloseExpired()
			batched.Changes()
			batched.CloseExpired()
		}
	}
	if len(batched.batch.updates) == 0 {
		t.Fatalf("no updates are queued at the end, with %d groups; the test needs some", len(batched.groups))
	}
	// Rows first: Groups flushes the queued updates too.
	if !reflect.DeepEqual(stepwise.Rows(), batched.Rows()) {
		t.Error("the rows differ")
	}
	if stepwise.Groups() != batched.Groups() {
		t.Errorf("groups %d and %d, want equal", stepwise.Groups(), batched.Groups())
	}
	if stepwise.Late() != batched.Late() || stepwise.Late() == 0 {
		t.Errorf("late records %d and %d, want equal and some", stepwise.Late(), batched.Late())
	}
}
