package ops

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// snapshotRecords are probe requests from a few addresses, with SSIDs,
// signals and vendor data, spread over two hours.
func snapshotRecords(n int) [][]string {
	var out [][]string
	for i := range n {
		out = append(out, []string{
			fmt.Sprint(1_700_000_000_000 + int64(i)*37_000),
			"wlan_fc_type_subtype", "4",
			"wlan_sa", fmt.Sprintf("02:00:00:00:00:%02x", i%7),
			"wlan_sa_resolved", fmt.Sprintf("02:00:00:00:00:%02x", i%7),
			"wlan_da", "ff:ff:ff:ff:ff:ff",
			"wlan_radio_signal_dbm", fmt.Sprint(-40 - i%30),
			"wlan_ssid", fmt.Sprintf("net%d", i%45),
			"wlan_tag_vendor_data", fmt.Sprintf("0050f2%02x", i%2),
		})
	}
	return out
}

func snapshotAdd(e *Engine, fields []string) {
	var ts int64
	fmt.Sscan(fields[0], &ts)
	e.Add(aggRecord(ts, fields[1:]...))
}

// TestSnapshotRoundTrip checks that an engine restored from Encode's
// output holds the same rows and, given the rest of the input, ends with
// the same rows, changelog and late count as the engine that never
// stopped, for tumbling and session windows and sets beyond the small size.
func TestSnapshotRoundTrip(t *testing.T) {
	queries := map[string]Query{
		"devices per hour": DeviceQuery("device_name", Tumbling{Size: time.Hour}),
		"devices":          DeviceQuery("device_name", nil),
		"fingerprint":      FingerprintQuery(Signatures()[0], 2*time.Minute, 2),
		"subtypes":         SubtypeQuery(Tumbling{Size: 10 * time.Minute}),
	}
	records := snapshotRecords(200)
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			whole, first := mustEngine(t, q), mustEngine(t, q)
			for _, e := range []*Engine{whole, first} {
				e.SetGrace(5 * time.Minute)
				e.TrackChanges()
			}
			var wholeChanges []string
			for _, fields := range records[:120] {
				snapshotAdd(whole, fields)
				snapshotAdd(first, fields)
				wholeChanges = append(wholeChanges, aggChanges(whole.Changes())...)
				first.Changes()
			}
			snapshotAdd(whole, records[0]) // late: older than the grace period
			snapshotAdd(first, records[0])
			whole.Changes()
			first.Changes()

			var buf bytes.Buffer
			if err := first.Encode(&buf); err != nil {
				t.Fatal(err)
			}
			restored := mustEngine(t, q)
			restored.SetGrace(5 * time.Minute)
			restored.TrackChanges()
			if err := restored.Decode(bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatal(err)
			}
			if got, want := aggRows(restored.Rows()), aggRows(first.Rows()); !slices.Equal(got, want) {
				t.Fatalf("restored rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			var restoredChanges []string
			wholeChanges = nil
			for _, fields := range records[120:] {
				snapshotAdd(whole, fields)
				snapshotAdd(restored, fields)
				wholeChanges = append(wholeChanges, aggChanges(whole.Changes())...)
				restoredChanges = append(restoredChanges, aggChanges(restored.Changes())...)
			}
			if !slices.Equal(restoredChanges, wholeChanges) {
				t.Errorf("changes after restore:\n%s\nwant:\n%s", strings.Join(restoredChanges, "\n"), strings.Join(wholeChanges, "\n"))
			}
			wantLate := int64(1)
			if q.Window == nil {
				wantLate = 0 // without windows nothing closes, so nothing is late
			}
			if restored.Late() != wantLate || whole.Late() != wantLate {
				t.Errorf("late records: restored %d, uninterrupted %d, want %d each", restored.Late(), whole.Late(), wantLate)
			}
			if got, want := aggRows(restored.Flush()), aggRows(whole.Flush()); !slices.Equal(got, want) {
				t.Errorf("final rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestSnapshotRejectsOtherQuery(t *testing.T) {
	devices := mustEngine(t, DeviceQuery("device_name", nil))
	var buf bytes.Buffer
	if err := devices.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	subtypes := mustEngine(t, SubtypeQuery(nil))
	err := subtypes.Decode(&buf)
	if err == nil || !strings.Contains(err.Error(), "another query") {
		t.Errorf("Decode of another query's state: %v, want an error naming another query", err)
	}
	if err := subtypes.Decode(strings.NewReader("not gob")); err == nil {
		t.Error("Decode of garbage returned no error")
	}
}

func TestSnapshotNeedsChangesRead(t *testing.T) {
	e := mustEngine(t, DeviceQuery("device_name", nil))
	e.TrackChanges()
	snapshotAdd(e, snapshotRecords(1)[0])
	if err := e.Encode(&bytes.Buffer{}); err == nil {
		t.Error("Encode with pending changes returned no error")
	}
	e.Changes()
	if err := e.Encode(&bytes.Buffer{}); err != nil {
		t.Errorf("Encode after Changes: %v", err)
	}
}
