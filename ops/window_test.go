package ops

import (
	"testing"
	"time"
)

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func TestTumblingOf(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		window     Tumbling
		at         string
		start, end string
	}{
		{"hour in UTC", Tumbling{Size: time.Hour}, "2024-05-01T11:59:59.999Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"},
		{"start is inside", Tumbling{Size: time.Hour}, "2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z", "2024-05-01T13:00:00Z"},
		{"15 minutes", Tumbling{Size: 15 * time.Minute}, "2024-05-01T12:44:10Z", "2024-05-01T12:30:00Z", "2024-05-01T12:45:00Z"},
		{"day in UTC", Tumbling{Size: 24 * time.Hour}, "2024-05-01T23:59:59Z", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"},
		{"before 1970", Tumbling{Size: 24 * time.Hour}, "1969-12-31T10:00:00Z", "1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z"},
		{"week from the epoch (a Thursday)", Tumbling{Size: 7 * 24 * time.Hour}, "2024-05-01T10:00:00Z", "2024-04-25T00:00:00Z", "2024-05-02T00:00:00Z"},
		{"day in Berlin, summer", Tumbling{Size: 24 * time.Hour, Location: berlin}, "2024-05-01T22:30:00Z", "2024-05-01T22:00:00Z", "2024-05-02T22:00:00Z"},
		{"day in Berlin lasting 23 hours", Tumbling{Size: 24 * time.Hour, Location: berlin}, "2024-03-31T12:00:00Z", "2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z"},
		{"day in Berlin lasting 25 hours", Tumbling{Size: 24 * time.Hour, Location: berlin}, "2024-10-27T12:00:00Z", "2024-10-26T22:00:00Z", "2024-10-27T23:00:00Z"},
		{"hour at a half-hour offset", Tumbling{Size: time.Hour, Location: kolkata}, "2024-05-01T12:10:00Z", "2024-05-01T11:30:00Z", "2024-05-01T12:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.window.Of(ms(tt.at))
			want := Window{Start: ms(tt.start), End: ms(tt.end)}
			if got != want {
				t.Errorf("Of(%s) = [%s, %s), want [%s, %s)", tt.at,
					time.UnixMilli(got.Start).UTC().Format(time.RFC3339), time.UnixMilli(got.End).UTC().Format(time.RFC3339),
					tt.start, tt.end)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"90s": 90 * time.Second, "15m": 15 * time.Minute, "1h30m": 90 * time.Minute,
		"1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour,
		"1d12h": 36 * time.Hour, "250ms": 250 * time.Millisecond,
	}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0s", "-1h", "1.5d", "xd", "1x", "1us", "d", "100000w", "9999999999999999d"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestTumblingAcrossClockChanges(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	w := Tumbling{Size: 2 * time.Hour, Location: berlin}
	tests := []struct{ at, start, end string }{
		// Clocks go back at 01:00Z on 27 October 2024: 02:00-03:00 local
		// happens twice, so the 02:00 window lasts three hours.
		{"2024-10-26T23:30:00Z", "2024-10-26T22:00:00Z", "2024-10-27T00:00:00Z"},
		{"2024-10-27T00:30:00Z", "2024-10-27T00:00:00Z", "2024-10-27T03:00:00Z"},
		{"2024-10-27T01:30:00Z", "2024-10-27T00:00:00Z", "2024-10-27T03:00:00Z"},
		{"2024-10-27T02:30:00Z", "2024-10-27T00:00:00Z", "2024-10-27T03:00:00Z"},
		// Clocks go forward at 01:00Z on 31 March 2024: 02:00 local does
		// not exist, so the 02:00 window starts at 03:00 local and lasts an
		// hour.
		{"2024-03-31T00:30:00Z", "2024-03-30T23:00:00Z", "2024-03-31T01:00:00Z"},
		{"2024-03-31T01:30:00Z", "2024-03-31T01:00:00Z", "2024-03-31T02:00:00Z"},
	}
	for _, tt := range tests {
		got := w.Of(ms(tt.at))
		if got.Start != ms(tt.start) || got.End != ms(tt.end) {
			t.Errorf("Of(%s) = [%s, %s), want [%s, %s)", tt.at,
				time.UnixMilli(got.Start).UTC().Format(time.RFC3339), time.UnixMilli(got.End).UTC().Format(time.RFC3339), tt.start, tt.end)
		}
	}
}

// TestTumblingPartitionsTime checks, minute by minute over the days around
// clock changes in several zones, that the windows hold their event, touch
// each other and never overlap.
func TestTumblingPartitionsTime(t *testing.T) {
	sizes := []time.Duration{15 * time.Minute, time.Hour, 2 * time.Hour, 7 * time.Hour, 24 * time.Hour}
	for _, zone := range []string{"Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range sizes {
			w := Tumbling{Size: size, Location: loc}
			for _, day := range []string{"2024-03-30T00:00:00Z", "2024-04-06T00:00:00Z", "2024-10-26T00:00:00Z", "2024-11-02T00:00:00Z"} {
				from := ms(day)
				for ts := from; ts < from+3*86_400_000; ts += 60_000 {
					win := w.Of(ts)
					if win.Start > ts || ts >= win.End {
						t.Fatalf("%s %v: window [%d, %d) does not hold %d", zone, size, win.Start, win.End, ts)
					}
					if next := w.Of(win.End); next.Start != win.End {
						t.Fatalf("%s %v: window after [%d, %d) starts at %d", zone, size, win.Start, win.End, next.Start)
					}
				}
			}
		}
	}
}
