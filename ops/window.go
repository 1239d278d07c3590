// Package ops aggregates records: grouped counts and statistics over
// tumbling, hopping and session windows in event time.
package ops

import (
	"fmt"
	"strings"
	"time"
)

// Tumbling describes fixed-size, non-overlapping windows in event time. A
// window is [Start, End). Windows follow the wall clock of Location: a
// window starts whenever the local time enters a new multiple of Size
// (counted from 1970-01-01 00:00 local time). In UTC, and in zones without
// daylight saving time, every window lasts Size. Where the clocks change,
// the window that holds the change is shorter or longer: a day window lasts
// 23 or 25 hours, and when the clocks go back, a 15-minute window of the
// repeated hour comes twice. Week windows start on Thursdays, as
// 1970-01-01 was one.
type Tumbling struct {
	Size     time.Duration
	Location *time.Location
	// Offset moves the windows' starts later by this much of wall-clock
	// time: with Size 1d and Offset 6h, days run from 06:00 to 06:00. It
	// is less than Size. Hopping windows are tumbling windows at several
	// offsets.
	Offset time.Duration
}

// Window is one window's bounds in milliseconds since the Unix epoch.
type Window struct {
	Start, End int64
}

// Of returns the window that holds the event time ts (milliseconds).
func (t Tumbling) Of(ts int64) Window {
	size := t.Size.Milliseconds()
	if t.Location == nil || t.Location == time.UTC {
		start := ts - floorMod64(ts-t.Offset.Milliseconds(), size)
		return Window{Start: start, End: start + size}
	}
	return Window{Start: t.start(ts), End: t.end(ts)}
}

// maxZoneSteps bounds the offset changes that start and end step over; a
// window rarely spans more than one.
const maxZoneSteps = 64

// zoneAt returns the UTC offset in force at ts and the bounds of the period
// with that offset (zero when the zone has no changes there).
func (t Tumbling) zoneAt(ts int64) (offset int64, from, until time.Time) {
	local := time.UnixMilli(ts).In(t.Location)
	_, seconds := local.Zone()
	from, until = local.ZoneBounds()
	return int64(seconds) * 1000, from, until
}

// slot returns the multiple of the window size (plus Offset) that the
// local time at ts falls in, as milliseconds since 1970-01-01 00:00 local
// time.
func (t Tumbling) slot(ts int64) int64 {
	offset, _, _ := t.zoneAt(ts)
	wall := ts + offset
	return wall - floorMod64(wall-t.Offset.Milliseconds(), t.Size.Milliseconds())
}

// start returns the first instant of the window that holds ts.
func (t Tumbling) start(ts int64) int64 {
	for range maxZoneSteps {
		offset, from, _ := t.zoneAt(ts)
		slot := t.slot(ts)
		candidate := slot - offset
		if from.IsZero() || from.UnixMilli() < candidate {
			return candidate
		}
		// The offset changed inside the slot: the window starts at the
		// change if the local time entered a new slot there.
		change := from.UnixMilli()
		if t.slot(change-1) != slot {
			return change
		}
		ts = change - 1
	}
	return ts
}

// end returns the first instant after the window that holds ts.
func (t Tumbling) end(ts int64) int64 {
	size := t.Size.Milliseconds()
	for range maxZoneSteps {
		offset, _, until := t.zoneAt(ts)
		slot := t.slot(ts)
		candidate := slot + size - offset
		if until.IsZero() || until.UnixMilli() > candidate {
			return candidate
		}
		change := until.UnixMilli()
		if t.slot(change) != slot {
			return change
		}
		ts = change
	}
	return ts + 1
}

func floorMod64(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// maxWindow bounds window sizes, far from time.Duration's limit.
const maxWindow = 100 * 365 * 24 * time.Hour

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
			if n > int(maxWindow/unit.size) {
				return 0, fmt.Errorf("invalid duration %q: want at most 100 years", s)
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
	if total > maxWindow {
		return 0, fmt.Errorf("invalid duration %q: want at most 100 years", s)
	}
	if total <= 0 || total%time.Millisecond != 0 {
		return 0, fmt.Errorf("invalid duration %q: want a positive duration that is a whole number of milliseconds", s)
	}
	return total, nil
}
