package ops

// Saving and restoring an engine's state, for checkpoints of stream
// processors.

import (
	"cmp"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"slices"
)

// SnapshotVersion is the version of the format that Encode writes. Decode
// rejects other versions, so a changed format never restores wrong state.
const SnapshotVersion = 1

// engineSnapshot is the gob-encoded state of an Engine.
type engineSnapshot struct {
	Version int
	// Columns and Ops identify the query: a snapshot restores only into an
	// engine of the same columns and aggregate operations.
	Columns    []string
	Ops        []uint8
	Seq        int64
	StreamTime int64
	Started    bool
	Late       int64
	Groups     []groupSnapshot
	// Sources are the event times of AddFrom's inputs; snapshots written
	// before they existed have none.
	Sources map[int32]int64
}

type groupSnapshot struct {
	Key           string
	Start, End    int64
	States        []stateSnapshot
	Emitted       bool
	EmittedWindow Window
}

// stateSnapshot is an aggState with its set or histogram as plain lists.
type stateSnapshot struct {
	N        int64
	X        uint64
	S        string
	Has      bool
	Overflow bool
	Set      []string
	Buckets  []Bucket
	IntHist  []int64 // value, count, value, count, ...
	Value    *Value  // a non-scalar value kept by *_BY_OFFSET
}

// Encode writes the engine's groups, stream time, late count and record
// numbering to w. Call it after Changes, because changes not yet read are
// not saved; Encode fails when some are pending. Grace and TrackChanges
// are settings, not state: the caller sets them again after Decode.
func (e *Engine) Encode(w io.Writer) error {
	e.flushBatch()
	if len(e.removed) > 0 || slices.ContainsFunc(e.changed, func(g *group) bool { return g.changed }) {
		return errors.New("unable to encode the engine state: changes are pending, so call Changes first")
	}
	snap := engineSnapshot{
		Version: SnapshotVersion, Columns: e.Columns(), Ops: e.ops(),
		Seq: e.seq, StreamTime: e.streamTime, Started: e.started, Late: e.late, Sources: e.sources,
	}
	e.eachGroup(func(g *group) {
		gs := groupSnapshot{Key: g.key, Start: g.window.Start, End: g.window.End, Emitted: g.emitted, EmittedWindow: g.emittedWindow}
		for i := range g.states {
			gs.States = append(gs.States, snapshotState(&g.states[i]))
		}
		snap.Groups = append(snap.Groups, gs)
	})
	// Map order is random; sorting makes equal states encode equally.
	slices.SortFunc(snap.Groups, func(a, b groupSnapshot) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Start, b.Start))
	})
	return gob.NewEncoder(w).Encode(&snap)
}

func (e *Engine) ops() []uint8 {
	ops := make([]uint8, len(e.plans))
	for i, p := range e.plans {
		ops[i] = uint8(p.op)
	}
	return ops
}

func snapshotState(st *aggState) stateSnapshot {
	s := stateSnapshot{N: st.n, X: st.x, S: st.s, Has: st.has, Overflow: st.overflow}
	switch p := st.p.(type) {
	case *stringSet:
		p.each(func(v string) { s.Set = append(s.Set, v) })
		slices.Sort(s.Set)
	case *histogram:
		p.each(func(v string, n int64) { s.Buckets = append(s.Buckets, Bucket{Value: v, N: n}) })
		slices.SortFunc(s.Buckets, func(a, b Bucket) int { return cmp.Compare(a.Value, b.Value) })
	case *intHistogram:
		p.each(func(v, n int64) { s.IntHist = append(s.IntHist, v, n) })
	case Value:
		v := p
		s.Value = &v
	}
	return s
}

// Decode replaces the engine's state with the one Encode wrote. The engine
// must run the same query as the one that was encoded: Decode fails when
// the columns or aggregate operations differ, or the version is not
// SnapshotVersion.
func (e *Engine) Decode(r io.Reader) error {
	var snap engineSnapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("unable to decode the engine state: %w", err)
	}
	if snap.Version != SnapshotVersion {
		return fmt.Errorf("engine state has format version %d, but this wifiq reads version %d", snap.Version, SnapshotVersion)
	}
	if !slices.Equal(snap.Columns, e.Columns()) || !slices.Equal(snap.Ops, e.ops()) {
		return fmt.Errorf("engine state is of another query (columns %v), not of this one (columns %v)", snap.Columns, e.Columns())
	}

	e.flushBatch() // the decoded groups replace the groups it updates
	e.seq, e.streamTime, e.started, e.late = snap.Seq, snap.StreamTime, snap.Started, snap.Late
	e.sources = snap.Sources
	e.changed, e.removed = e.changed[:0], nil
	if e.sessions != nil {
		clear(e.sessions)
	} else {
		clear(e.groups)
	}
	for _, gs := range snap.Groups {
		if len(gs.States) != len(e.plans) {
			return fmt.Errorf("engine state has a group with %d aggregate states, want %d", len(gs.States), len(e.plans))
		}
		g := e.newGroup(gs.Key, Window{Start: gs.Start, End: gs.End})
		g.emitted, g.emittedWindow = gs.Emitted, gs.EmittedWindow
		for i, s := range gs.States {
			g.states[i] = restoreState(s)
		}
		if e.sessions != nil {
			e.sessions[gs.Key] = append(e.sessions[gs.Key], g)
			continue
		}
		mapKey := string(binary.BigEndian.AppendUint64([]byte(gs.Key), uint64(gs.Start)))
		e.groups[mapKey] = g
	}
	for key, list := range e.sessions {
		slices.SortFunc(list, func(a, b *group) int { return cmp.Compare(a.window.Start, b.window.Start) })
		e.sessions[key] = list
	}
	return nil
}

func restoreState(s stateSnapshot) aggState {
	st := aggState{n: s.N, x: s.X, s: s.S, has: s.Has, overflow: s.Overflow}
	switch {
	case s.Set != nil:
		set := &stringSet{}
		for _, v := range s.Set {
			set.add(v)
		}
		st.p = set
	case s.Buckets != nil:
		h := &histogram{}
		for _, b := range s.Buckets {
			h.addN(b.Value, b.N)
		}
		st.p = h
	case s.IntHist != nil:
		h := &intHistogram{}
		for i := 0; i+1 < len(s.IntHist); i += 2 {
			h.addN(s.IntHist[i], s.IntHist[i+1])
		}
		st.p = h
	case s.Value != nil:
		st.p = *s.Value
	}
	return st
}
