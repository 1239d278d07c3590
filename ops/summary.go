package ops

import (
	"sort"

	"github.com/wifiq/wifiq/record"
)

// NoSubtype is the TypeSubtype of the row that counts records without a
// wlan_fc_type_subtype (frames cut off before their frame control field).
const NoSubtype = -1

// SubtypeRow is one row of the subtype summary: the frames of one subtype
// (in one window, when windows are used).
type SubtypeRow struct {
	Window      Window // zero when the summary has no windows
	TypeSubtype int
	Name        string
	Frames      int64
	Earliest    int64 // event time in milliseconds
	Latest      int64
}

// SubtypeSummary counts frames per wlan.fc.type_subtype with their earliest
// and latest event time, over the whole input or per tumbling window.
type SubtypeSummary struct {
	// Window, if set, splits the counts into tumbling windows.
	Window *Tumbling

	rows map[subtypeKey]*SubtypeRow
}

type subtypeKey struct {
	window      int64
	typeSubtype int
}

// Add counts one record.
func (s *SubtypeSummary) Add(rec *record.Record) {
	if s.rows == nil {
		s.rows = map[subtypeKey]*SubtypeRow{}
	}
	ts, ok := rec.TypeSubtype()
	if !ok {
		ts = NoSubtype
	}
	key := subtypeKey{typeSubtype: ts}
	var w Window
	if s.Window != nil {
		w = s.Window.Of(rec.Timestamp)
		key.window = w.Start
	}
	row := s.rows[key]
	if row == nil {
		name := "(no frame control)"
		if ts != NoSubtype {
			name = SubtypeName(ts)
		}
		row = &SubtypeRow{Window: w, TypeSubtype: ts, Name: name, Earliest: rec.Timestamp, Latest: rec.Timestamp}
		s.rows[key] = row
	}
	row.Frames++
	row.Earliest = min(row.Earliest, rec.Timestamp)
	row.Latest = max(row.Latest, rec.Timestamp)
}

// Rows returns the summary ordered by window, then by subtype.
func (s *SubtypeSummary) Rows() []SubtypeRow {
	rows := make([]SubtypeRow, 0, len(s.rows))
	for _, r := range s.rows {
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Window.Start != rows[j].Window.Start {
			return rows[i].Window.Start < rows[j].Window.Start
		}
		return rows[i].TypeSubtype < rows[j].TypeSubtype
	})
	return rows
}
