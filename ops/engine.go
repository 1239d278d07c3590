package ops

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/wifiq/wifiq/record"
)

// Query describes a grouped aggregation the way a ksqlDB CREATE TABLE AS
// SELECT does:
//
//	SELECT GroupBy..., Aggregates... FROM records
//	WHERE Where  WINDOW Window  GROUP BY GroupBy...  HAVING Having
type Query struct {
	// Where is the record filter: only records for which it returns true
	// are aggregated. Nil aggregates every record.
	Where func(*record.Record) bool
	// WhereFields are the record fields Where reads. Nil with a Where
	// means unknown, so Fields names no projection.
	WhereFields []string
	// GroupBy are the key columns; none puts every record in one group.
	GroupBy []Expr
	// Window splits each group into windows of event time; nil is a
	// single window over all time.
	Window     WindowSpec
	Aggregates []Aggregate
	// Having selects the rows to return; nil returns all.
	Having func(Row) bool
}

// Row is the result of one group in one window.
type Row struct {
	Key []Value
	// Window is zero when the query has no windows.
	Window Window
	// Values are the aggregates' results, in Query.Aggregates order.
	Values  []Value
	columns *columns
}

// columns maps column names to their place in a Row.
type columns struct {
	key, aggregate map[string]int
}

// Get returns the key or aggregate column called name, NULL when there is
// none.
func (r Row) Get(name string) Value {
	if r.columns == nil {
		return Null
	}
	if i, ok := r.columns.aggregate[name]; ok {
		return r.Values[i]
	}
	if i, ok := r.columns.key[name]; ok {
		return r.Key[i]
	}
	return Null
}

// Change is one entry of a changelog: the new row of a group and window,
// or, when Deleted, a tombstone that removes the row with Row's key and
// window. Tombstones follow when sessions merge, when a session's bounds
// move and when a row stops passing HAVING.
type Change struct {
	Row     Row
	Deleted bool
}

// Engine computes a Query incrementally: Add updates the state of the
// groups a record falls into, and the rows can be read at any time.
//
// The engine serves bounded input (read everything, then Flush) and a
// stream processor that reads without end. For the latter, SetGrace makes
// it drop records that arrive after their window closed, CloseExpired
// evicts the windows that can no longer change, and TrackChanges records
// which rows changed, as a changelog. It is not safe for concurrent use.
type Engine struct {
	query   Query
	columns *columns
	gap     int64 // session gap in ms; -1 when the windows are not sessions

	groups   map[string]*group   // key + window start, without sessions
	sessions map[string][]*group // key, with sessions: sorted by start

	seq        int64 // records added, numbering them for *_BY_OFFSET
	streamTime int64 // the largest event time added, or see sources
	started    bool
	// sources are the largest event times of the inputs that AddFrom
	// names, such as the partitions of a Kafka topic. With sources the
	// stream time is the smallest of them, so that an input read ahead of
	// the others does not make their records late.
	sources map[int32]int64
	grace   int64 // ms; -1 when late records are not dropped
	late    int64

	track   bool
	changed []*group
	removed []Change

	// argExprs are the distinct arguments of the aggregates, evaluated
	// once per record into args. plans[i] is the computation of aggregate i.
	argExprs []Expr
	plans    []plan

	keyBuf  []byte
	scratch []string
	windows []Window
	args    []Value
	batch   updateBatch

	// strings interns the members of the groups' sets.
	strings *interner
}

// group is the state of one key in one window.
type group struct {
	key    string // GroupBy values, encoded by appendKey
	window Window
	states []aggState // one per aggregate
	// inlineKey holds the bytes of a short map key, so that the map's key
	// comparison reads the cache line that the group's update reads next.
	inlineKey [inlineKeySize]byte

	// For TrackChanges: whether the group changed since the last Changes,
	// and the window of the row the changelog holds for it, if any.
	changed       bool
	emitted       bool
	emittedWindow Window
}

// NewEngine validates q and returns an engine with no records.
func NewEngine(q Query) (*Engine, error) {
	if len(q.Aggregates) == 0 {
		return nil, errors.New("query has no aggregates")
	}
	cols := &columns{key: map[string]int{}, aggregate: map[string]int{}}
	for i, e := range q.GroupBy {
		if e.eval == nil {
			return nil, fmt.Errorf("group by column %d has no expression", i+1)
		}
		cols.key[e.Name] = i
	}
	e := &Engine{query: q, columns: cols, gap: -1, grace: -1, strings: newInterner()}
	for i, a := range q.Aggregates {
		if _, err := a.resultKind(); err != nil {
			return nil, err
		}
		cols.aggregate[a.Name] = i
		p := newPlan(a, e.argIndex(a))
		p.strings = e.strings
		e.plans = append(e.plans, p)
	}
	e.shareSets()
	e.args = make([]Value, len(e.argExprs))
	if q.Window != nil {
		if err := q.Window.Validate(); err != nil {
			return nil, err
		}
	}
	if s, ok := sessionSpec(q.Window); ok {
		e.gap = s.Gap.Milliseconds()
		e.sessions = map[string][]*group{}
	} else {
		e.groups = map[string]*group{}
		e.batch = updateBatch{
			arena:   make([]byte, 0, batchArenaSize),
			args:    make([]Value, 0, batchUpdates*len(e.argExprs)),
			updates: make([]pendingUpdate, 0, batchUpdates),
		}
	}
	return e, nil
}

// argIndex returns the index of a's argument in e.argExprs, adding it when
// no argument with the same identity is there; -1 for COUNT(*).
func (e *Engine) argIndex(a Aggregate) int {
	if !a.hasArg() {
		return -1
	}
	if a.Arg.id != "" {
		for i, other := range e.argExprs {
			if other.id == a.Arg.id {
				return i
			}
		}
	}
	e.argExprs = append(e.argExprs, a.Arg)
	return len(e.argExprs) - 1
}

// shareSets makes each COUNT_DISTINCT of the same argument as a
// COLLECT_SET count that set instead of keeping its own.
func (e *Engine) shareSets() {
	for i, p := range e.plans {
		if p.op != opCountDistinct {
			continue
		}
		for j, other := range e.plans {
			if other.op == opCollectSet && other.arg == p.arg {
				e.plans[i].op, e.plans[i].shared = opSharedDistinct, j
				break
			}
		}
	}
}

func sessionSpec(w WindowSpec) (Session, bool) {
	switch s := w.(type) {
	case Session:
		return s, true
	case *Session:
		return *s, s != nil
	}
	return Session{}, false
}

// Fields returns the record fields the query reads: those of Where, the
// group keys and the aggregates' arguments. A reader may leave the other
// fields out of the records it passes to Add (record.Reader.Project). It
// returns nil when some expression does not name its fields, and then
// every field is needed.
func (e *Engine) Fields() []string {
	lists := [][]string{noFields}
	if e.query.Where != nil {
		lists = append(lists, e.query.WhereFields)
	}
	for _, g := range e.query.GroupBy {
		lists = append(lists, g.fields)
	}
	for _, a := range e.argExprs {
		lists = append(lists, a.fields)
	}
	return unionFields(lists...)
}

// Columns returns the names of the key columns and then of the aggregates.
func (e *Engine) Columns() []string {
	names := make([]string, 0, len(e.query.GroupBy)+len(e.query.Aggregates))
	for _, g := range e.query.GroupBy {
		names = append(names, g.Name)
	}
	for _, a := range e.query.Aggregates {
		names = append(names, a.Name)
	}
	return names
}

// SetGrace makes the engine drop late records. The stream time is the
// largest event time added (with AddFrom, the smallest of its sources'
// largest event times). A tumbling or hopping window closes when the
// stream time reaches its end plus grace, and a record for a closed window
// is late. A session closes when the stream time passes its end plus the
// gap plus grace, and a record older than the stream time minus grace is
// late, because it might belong to a closed session. Without SetGrace no
// record is late, which suits bounded input.
func (e *Engine) SetGrace(grace time.Duration) { e.grace = grace.Milliseconds() }

// StreamTime returns the largest event time added, and false before the
// first record.
func (e *Engine) StreamTime() (int64, bool) { return e.streamTime, e.started }

// Late returns the number of records dropped because every window they
// fall into had closed. A record that still falls into an open hopping
// window is added there and not counted.
func (e *Engine) Late() int64 { return e.late }

// Groups returns the number of groups held: keys times open windows.
func (e *Engine) Groups() int {
	if e.sessions == nil {
		e.flushBatch()
		return len(e.groups)
	}
	n := 0
	for _, list := range e.sessions {
		n += len(list)
	}
	return n
}

// TrackChanges makes the engine record the rows that change, for Changes.
func (e *Engine) TrackChanges() { e.track = true }

// Add aggregates one record. It returns false when Where leaves the record
// out or the record is late. Add does not keep rec or its memory.
func (e *Engine) Add(rec *record.Record) bool {
	if e.query.Where != nil && !e.query.Where(rec) {
		return false
	}
	if ts := rec.Timestamp; !e.started || ts > e.streamTime {
		e.streamTime, e.started = ts, true
	}
	return e.addRecord(rec)
}

// AddFrom is Add for a record of one of several inputs, source, each in
// roughly the order of event time, such as the partitions of a Kafka topic.
// The stream time is then the smallest of the inputs' largest event times,
// not the largest event time of all, so that a backlog read faster from
// one partition than from another does not make the other's records late.
// An engine is fed either by Add or by AddFrom.
func (e *Engine) AddFrom(rec *record.Record, source int32) bool {
	// Every record of the input moves its event time, even one that Where
	// leaves out.
	if e.sources == nil {
		e.sources = map[int32]int64{}
	}
	if last, ok := e.sources[source]; !ok || rec.Timestamp > last {
		e.sources[source] = rec.Timestamp
	}
	e.advanceToSources()
	if e.query.Where != nil && !e.query.Where(rec) {
		return false
	}
	return e.addRecord(rec)
}

// WaitForSource makes source hold the stream time where it is until its
// first record, for an input known to have records to deliver, such as a
// partition with a backlog. Otherwise the inputs read first would move the
// stream time past the records of the others. It does nothing for a source
// that has delivered records.
func (e *Engine) WaitForSource(source int32) {
	if e.sources == nil {
		e.sources = map[int32]int64{}
	}
	if _, ok := e.sources[source]; !ok {
		e.sources[source] = waiting
	}
}

// waiting is the event time of a source that WaitForSource added.
const waiting = math.MinInt64

// RemoveSource stops source from holding the stream time back, for an
// input that has been idle for a while or moved elsewhere. Its next
// record, if any, makes it a source again.
func (e *Engine) RemoveSource(source int32) {
	delete(e.sources, source)
	e.advanceToSources()
}

// advanceToSources moves the stream time to the smallest of the sources'
// event times when that is later.
func (e *Engine) advanceToSources() {
	first := true
	var low int64
	for _, ts := range e.sources {
		if first || ts < low {
			low, first = ts, false
		}
	}
	if !first && low != waiting && (!e.started || low > e.streamTime) {
		e.streamTime, e.started = low, true
	}
}

// addRecord aggregates a record that Where passed, at the current stream
// time.
func (e *Engine) addRecord(rec *record.Record) bool {
	ts := rec.Timestamp
	e.seq++

	e.scratch = e.scratch[:0]
	e.keyBuf = e.keyBuf[:0]
	// Index the expressions, because range would copy each Expr for
	// every record.
	for i := range e.query.GroupBy {
		e.keyBuf = appendKey(e.keyBuf, e.query.GroupBy[i].eval(rec, &e.scratch))
	}
	for i := range e.argExprs {
		e.args[i] = e.argExprs[i].eval(rec, &e.scratch)
	}

	if e.sessions != nil {
		return e.addToSession(ts)
	}
	return e.addToWindows(ts)
}

func (e *Engine) addToWindows(ts int64) bool {
	e.windows = e.windows[:0]
	if e.query.Window == nil {
		e.windows = append(e.windows, Window{})
	} else {
		e.windows = e.query.Window.appendWindows(e.windows, ts)
	}
	if e.grace >= 0 && e.query.Window != nil {
		open := e.windows[:0]
		for _, w := range e.windows {
			if w.End > e.streamTime-e.grace {
				open = append(open, w)
			}
		}
		e.windows = open
	}
	if len(e.windows) == 0 {
		e.late++
		return false
	}

	keyLen := len(e.keyBuf)
	b := &e.batch
	size, ok := e.batchable(keyLen, len(e.windows))
	if !ok || len(e.groups) < batchMinGroups {
		// Too large to queue, or few groups: update at once, after the
		// queued updates.
		e.flushBatch()
		for _, w := range e.windows {
			e.keyBuf = binary.BigEndian.AppendUint64(e.keyBuf[:keyLen], uint64(w.Start))
			g := e.groups[string(e.keyBuf)]
			if g == nil {
				g = e.newGroup("", w)
				mapKey := g.storeKey(e.keyBuf) // the group's key is its first part
				g.key = mapKey[:keyLen]
				e.groups[mapKey] = g
			}
			e.update(g, e.args, e.seq)
		}
		e.keyBuf = e.keyBuf[:keyLen]
		return true
	}
	if len(b.arena)+size > cap(b.arena) || len(b.updates)+len(e.windows) > batchUpdates {
		e.flushBatch()
	}
	args := b.queueArgs(e.args)
	for _, w := range e.windows {
		e.keyBuf = binary.BigEndian.AppendUint64(e.keyBuf[:keyLen], uint64(w.Start))
		b.updates = append(b.updates, pendingUpdate{key: b.queueKey(e.keyBuf), keyLen: keyLen, window: w, seq: e.seq, args: args})
	}
	e.keyBuf = e.keyBuf[:keyLen]
	if len(b.updates) >= batchUpdates {
		e.flushBatch()
	}
	return true
}

// addToSession puts the record at ts into the sessions of its key: a new
// session, or the one or two sessions within the gap of ts, merged.
func (e *Engine) addToSession(ts int64) bool {
	list := e.sessions[string(e.keyBuf)]
	// Sessions of a key are sorted and more than the gap apart, so ts is
	// within the gap of at most two of them, and they are adjacent.
	i, _ := slices.BinarySearchFunc(list, ts, func(g *group, ts int64) int {
		return cmp.Compare(g.window.End+e.gap, ts)
	})
	j := i
	for j < len(list) && list[j].window.Start-e.gap <= ts {
		j++
	}

	merged := Window{Start: ts, End: ts}
	for _, g := range list[i:j] {
		merged.Start = min(merged.Start, g.window.Start)
		merged.End = max(merged.End, g.window.End)
	}
	// A record older than the grace period might belong to a session that
	// CloseExpired already removed, so it is late whatever its neighbours.
	if e.grace >= 0 && ts < e.streamTime-e.grace {
		e.late++
		return false
	}

	var g *group
	if i == j {
		g = e.newGroup(string(e.keyBuf), merged)
		list = slices.Insert(list, i, g)
	} else {
		g = list[i]
		for _, other := range list[i+1 : j] {
			for k, p := range e.plans {
				p.merge(&g.states[k], &other.states[k])
			}
			e.forget(other)
		}
		list = slices.Delete(list, i+1, j)
		g.window = merged
	}
	e.sessions[g.key] = list
	e.update(g, e.args, e.seq)
	return true
}

// inlineKeySize is the longest map key a group stores inline: a device
// name or address with its window start.
const inlineKeySize = 40

// storeKey returns key as a string, stored in g when it fits. The string
// keeps g in memory as long as a map holds it, which the map's value does
// anyway.
func (g *group) storeKey(key []byte) string {
	if len(key) == 0 || len(key) > inlineKeySize {
		return string(key)
	}
	n := copy(g.inlineKey[:], key)
	return unsafe.String(&g.inlineKey[0], n)
}

func (e *Engine) newGroup(key string, w Window) *group {
	return &group{key: key, window: w, states: make([]aggState, len(e.plans))}
}

// countStar is the argument of COUNT(*): a value that is never NULL.
var countStar = BoolValue(true)

// update adds the arguments of the record numbered seq to g.
func (e *Engine) update(g *group, args []Value, seq int64) {
	states := g.states[:len(e.plans)]
	for i := range e.plans {
		p := &e.plans[i]
		switch {
		case p.op == opSharedDistinct:
			// It reads another aggregate's set.
		case p.arg < 0:
			p.addRef(&states[i], &countStar, seq)
		default:
			p.addRef(&states[i], &args[p.arg], seq)
		}
	}
	if e.track && !g.changed {
		g.changed = true
		e.changed = append(e.changed, g)
	}
}
