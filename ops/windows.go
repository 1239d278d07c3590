package ops

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// WindowSpec assigns records to windows of event time: Tumbling, Hopping
// or Session. A Query without one has a single window over all time.
type WindowSpec interface {
	// appendWindows appends the windows that hold the event time ts.
	appendWindows(dst []Window, ts int64) []Window
	// Validate returns why the windows cannot be used, or nil.
	Validate() error
}

func (t Tumbling) appendWindows(dst []Window, ts int64) []Window {
	return append(dst, t.Of(ts))
}

func (t Tumbling) Validate() error {
	if t.Size <= 0 || t.Size%time.Millisecond != 0 {
		return fmt.Errorf("invalid tumbling window size %v: want a positive whole number of milliseconds", t.Size)
	}
	if t.Offset < 0 || t.Offset >= t.Size {
		return fmt.Errorf("invalid tumbling window offset %v: want at least 0 and less than the size %v", t.Offset, t.Size)
	}
	return nil
}

// Hopping describes windows of Size that start every Advance, so that they
// overlap when Advance is less than Size and each record falls into
// Size/Advance of them. Size must be a whole multiple of Advance. The
// windows are the tumbling windows of Size at the offsets 0, Advance,
// 2*Advance and so on. They follow the wall clock of Location as Tumbling's
// do: a 1d window that hops by 1h runs from a local hour to the same local
// hour of the next day, 23 or 25 hours when the clocks change.
type Hopping struct {
	Size, Advance time.Duration
	Location      *time.Location
}

// MaxHops bounds the windows a hopping window puts each record into.
const MaxHops = 1000

func (h Hopping) Validate() error {
	if h.Advance <= 0 || h.Advance%time.Millisecond != 0 {
		return fmt.Errorf("hop %v is not a positive whole number of milliseconds", h.Advance)
	}
	if h.Size <= 0 || h.Size%h.Advance != 0 {
		return fmt.Errorf("window size %v is not a whole multiple of the hop %v", h.Size, h.Advance)
	}
	if n := h.Size / h.Advance; n > MaxHops {
		return fmt.Errorf("a window of %v hopping by %v puts every record into %d windows, more than %d; use a longer hop", h.Size, h.Advance, n, MaxHops)
	}
	return nil
}

// Of appends the windows that hold ts to dst, earliest start first.
func (h Hopping) Of(dst []Window, ts int64) []Window {
	first := len(dst)
	for offset := time.Duration(0); offset < h.Size; offset += h.Advance {
		dst = append(dst, Tumbling{Size: h.Size, Location: h.Location, Offset: offset}.Of(ts))
	}
	slices.SortFunc(dst[first:], func(a, b Window) int { return cmp.Compare(a.Start, b.Start) })
	return dst
}

func (h Hopping) appendWindows(dst []Window, ts int64) []Window { return h.Of(dst, ts) }

// Session describes session windows. The records of one group key that
// follow each other within Gap (a pause of exactly Gap included) form a
// session. Its window starts at its first record's time and ends at its
// last record's time, so Window.End is inclusive here, unlike for the other
// windows. A record that arrives late may join two sessions into one.
type Session struct {
	Gap time.Duration
}

func (s Session) Validate() error {
	if s.Gap < 0 || s.Gap%time.Millisecond != 0 {
		return fmt.Errorf("invalid session gap %v: want a whole number of milliseconds, 0 or more", s.Gap)
	}
	return nil
}

// appendWindows returns the window of a session of ts alone; the engine
// merges it with the key's other sessions.
func (s Session) appendWindows(dst []Window, ts int64) []Window {
	return append(dst, Window{Start: ts, End: ts})
}
