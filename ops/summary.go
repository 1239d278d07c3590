package ops

import "github.com/wifiq/wifiq/record"

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
// and latest event time, over the whole input or per window. It is the
// Engine running SubtypeQuery.
type SubtypeSummary struct {
	// Window, if set, splits the counts into windows: Tumbling or Hopping.
	Window WindowSpec

	engine *Engine
	err    error
}

// SubtypeQuery counts frames per subtype with their earliest and latest
// event time, in the given windows (nil for none): ksqlDB's
//
//	SELECT wlan_fc_type_subtype[1], COUNT(*), MIN(ROWTIME), MAX(ROWTIME) ... GROUP BY wlan_fc_type_subtype[1]
func SubtypeQuery(window WindowSpec) Query {
	return Query{
		GroupBy: []Expr{TypeSubtype()},
		Window:  window,
		Aggregates: []Aggregate{
			{Name: "frames", Func: Count},
			{Name: "earliest", Func: Min, Arg: EventTime()},
			{Name: "latest", Func: Max, Arg: EventTime()},
		},
	}
}

// Add counts one record. When NewEngine rejects the window (a hop that
// does not divide the window size, say), Add counts nothing, Rows returns
// nothing and Err returns the reason.
func (s *SubtypeSummary) Add(rec *record.Record) {
	if s.engine == nil && s.err == nil {
		s.engine, s.err = NewEngine(SubtypeQuery(s.Window))
	}
	if s.err == nil {
		s.engine.Add(rec)
	}
}

// Err returns why the summary could not be computed, if it could not.
func (s *SubtypeSummary) Err() error { return s.err }

// Rows returns the summary ordered by window, then by subtype, with the
// records without a subtype first.
func (s *SubtypeSummary) Rows() []SubtypeRow {
	if s.engine == nil {
		return nil
	}
	var rows []SubtypeRow
	for _, r := range s.engine.Rows() {
		row := SubtypeRow{
			Window:      r.Window,
			TypeSubtype: NoSubtype,
			Name:        "(no frame control)",
			Frames:      r.Values[0].Int,
			Earliest:    r.Values[1].Int,
			Latest:      r.Values[2].Int,
		}
		if !r.Key[0].IsNull() {
			row.TypeSubtype = int(r.Key[0].Int)
			row.Name = SubtypeName(row.TypeSubtype)
		}
		rows = append(rows, row)
	}
	return rows
}
