package ops

// Group keys for repartitioning: a stream processor that runs as several
// instances sends each record to the instance that holds its group.

import "github.com/wifiq/wifiq/record"

// AppendGroupKey appends the encoding of rec's GROUP BY values to dst, the
// same bytes by which the engine tells groups apart. ok is false when
// Where leaves the record out, because such a record changes no group and
// no stream time. It does not change the engine's state.
func (e *Engine) AppendGroupKey(dst []byte, rec *record.Record) (key []byte, ok bool) {
	if e.query.Where != nil && !e.query.Where(rec) {
		return dst, false
	}
	e.scratch = e.scratch[:0]
	for _, g := range e.query.GroupBy {
		dst = appendKey(dst, g.eval(rec, &e.scratch))
	}
	return dst, true
}

// NewEmpty returns a new engine of the same query with no records and
// default settings: call SetGrace and TrackChanges on it as on e.
func (e *Engine) NewEmpty() (*Engine, error) { return NewEngine(e.query) }
