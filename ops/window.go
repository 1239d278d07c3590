// Package ops aggregates records: grouped counts and statistics over
// tumbling, hopping and session windows in event time.
package ops

import (
	"fmt"
	"strings"
	"time"
)

// Tumbling describes fixed-size, non-overlapping windows in event time. A
// window is [Start, End). Sizes that are whole days follow the calendar days
// of Location, so a day window in a zone with daylight saving time lasts 23
// or 25 hours on the days the clocks change; other sizes are aligned to
// Location's wall clock (UTC: to the Unix epoch).
type Tumbling struct {
	Size     time.Duration
	Location *time.Location
}

// Window is one window's bounds in milliseconds since the Unix epoch.
type Window struct {
	Start, End int64
}

// Of returns the window that holds the event time ts (milliseconds).
func (t Tumbling) Of(ts int64) Window {
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	const day = 24 * time.Hour
	if t.Size%day == 0 {
		days := int(t.Size / day)
		local := time.UnixMilli(ts).In(loc)
		y, m, d := local.Date()
		// Count calendar days from 1970-01-01 so windows of several days are
		// aligned the same way in every zone.
		dayNumber := int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
		first := dayNumber - floorMod(dayNumber, days)
		start := time.Date(1970, 1, 1+first, 0, 0, 0, 0, loc)
		end := time.Date(1970, 1, 1+first+days, 0, 0, 0, 0, loc)
		return Window{Start: start.UnixMilli(), End: end.UnixMilli()}
	}
	size := t.Size.Milliseconds()
	_, offset := time.UnixMilli(ts).In(loc).Zone()
	wall := ts + int64(offset)*1000
	startWall := wall - floorMod64(wall, size)
	start := startWall - int64(offset)*1000
	return Window{Start: start, End: start + size}
}

func floorMod(a, b int) int {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func floorMod64(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// ParseDuration parses a window size: Go durations (90s, 15m, 1h30m) plus
// days and weeks (1d, 7d, 2w).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var total time.Duration
	rest := s
	for _, unit := range []struct {
		suffix string
		size   time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		if i := strings.Index(rest, unit.suffix); i > 0 {
			var n int
			if _, err := fmt.Sscanf(rest[:i], "%d", &n); err != nil || fmt.Sprint(n) != rest[:i] {
				return 0, fmt.Errorf("invalid duration %q: want a whole number before %q", s, unit.suffix)
			}
			total += time.Duration(n) * unit.size
			rest = rest[i+1:]
		}
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: want for example 90s, 15m, 1h, 1d or 1w", s)
		}
		total += d
	}
	if total <= 0 || total%time.Millisecond != 0 {
		return 0, fmt.Errorf("invalid duration %q: want a positive whole number of milliseconds", s)
	}
	return total, nil
}
